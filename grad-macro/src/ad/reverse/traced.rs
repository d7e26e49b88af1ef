//! The sweep of a `_trace` companion: the same sweep, recording each node's adjoint where it is
//! complete (`ad::trace::record`), with the iteration of each loop around it: a reversed loop
//! counts its iterations as the forward loop did (from the last down, or from the first up when
//! it walks forwards), so that each adjoint meets its node's value in the table.

use super::*;
use crate::ad::trace::record::{self, Arg};
use crate::ir::{Carry, Loop};

/// What the sweep records: the nodes (their number in the table) and the loops (by their
/// iteration counter), copies made for recomputation included, and the counters of the
/// reversed loops around the code being reversed.
pub struct Tracing {
    pub nodes: HashMap<Var, usize>,
    pub loops: HashMap<Var, usize>,
    pub(super) path: Vec<Var>,
}

impl Tracing {
    pub fn new(nodes: HashMap<Var, usize>, loops: HashMap<Var, usize>) -> Tracing {
        Tracing {
            nodes,
            loops,
            path: Vec::new(),
        }
    }
}

/// A reversed loop's counter: the loop's number, the counter, the counters around it.
pub(super) struct Counted {
    id: usize,
    counter: Var,
    outer: Vec<Var>,
}

impl Rev {
    /// Records the adjoint `d` of `var`, when it is a node.
    pub(super) fn record_adjoint(&mut self, var: Var, d: Option<Operand>) {
        let Some(t) = &self.trace else { return };
        let Some(&id) = t.nodes.get(&var) else {
            return;
        };
        let path = t.path.clone();
        let d = d.unwrap_or(Operand::Lit(0.0));
        let inst = record::record(
            &mut self.b,
            "adjoint",
            &[Arg::Num(id), Arg::Path(&path), Arg::Float(d)],
        );
        self.b.push(inst);
    }

    /// Nodes and loops copied (`map`: original to copy) are the same nodes and loops.
    pub(super) fn traced_copies(&mut self, map: &HashMap<Var, Var>) {
        let Some(t) = &mut self.trace else { return };
        for (o, c) in map {
            if let Some(&id) = t.nodes.get(o) {
                t.nodes.insert(*c, id);
            }
            if let Some(&id) = t.loops.get(o) {
                t.loops.insert(*c, id);
            }
        }
    }

    /// Starts the reverse of a loop with carried values `carried`: its counter, around what the
    /// reversed body records.
    pub(super) fn enter_counted(&mut self, carried: &[Carry], span: Span) -> Option<Counted> {
        let id = {
            let t = self.trace.as_ref()?;
            carried.iter().find_map(|c| t.loops.get(&c.phi).copied())?
        };
        let counter = record::counter(&mut self.b, span);
        let t = self.trace.as_mut()?;
        let outer = t.path.clone();
        t.path.push(counter);
        Some(Counted { id, counter, outer })
    }

    /// The reversed body is built.
    pub(super) fn leave_counted(&mut self, counted: &Option<Counted>) {
        if let (Some(t), Some(_)) = (&mut self.trace, counted) {
            t.path.pop();
        }
    }

    /// The reversed loop `lp` counts its iterations: up from 0 when it walks `forwards`,
    /// otherwise down from the last the forward loop ran.
    pub(super) fn count(&mut self, lp: &mut Loop, counted: Option<Counted>, forwards: bool) {
        let Some(Counted { id, counter, outer }) = counted else {
            return;
        };
        let init = if forwards {
            record::zero(&mut self.b)
        } else {
            record::query(&mut self.b, "last", &[Arg::Num(id), Arg::Path(&outer)])
        };
        record::count(&mut self.b, lp, counter, init, forwards);
    }
}
