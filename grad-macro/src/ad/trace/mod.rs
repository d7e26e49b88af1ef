//! The derivation of a function, as the lecture notes show it: its nodes (each input, then
//! each operation on differentiated values, in loops and branches too, named as in the source
//! or `ξ1`, `ξ2`, ...: `nodes`), each node's local derivatives, and, for straight-line code,
//! the formula of each gradient component. It gives the table in the `_grad` companion's
//! documentation, the `_trace` companion (the same table with numbers, recorded as the
//! function and its sweep run: `record`), and the `_graph` companion (the graph in Graphviz
//! DOT).

mod arrays;
mod nodes;
pub mod record;
mod render;

use render::*;

use crate::ir::{ArrayInit, Func, Inst, Kind, Name, Op, Operand, StoreOp, Var};
use rustc_hash::FxHashMap as HashMap;

/// A node that is an operation: its name, its expression, and for each operand with a
/// derivative its local derivative; the loops it is in and its place in the function's order.
pub struct OpNode {
    pub name: String,
    pub expr: String,
    pub local: Vec<Local>,
    /// The loops around it (indices into [`Derivation::loops`]), outermost first.
    pub loops: Vec<usize>,
    /// Its place among the nodes and loops, in the order the function's text has them.
    pub order: usize,
    /// In an arm of an `if`: its condition, and whether the arm is `then`.
    pub arm: Option<(String, bool)>,
    /// A call of another `#[grad]` function (drawn as a box).
    pub call: bool,
}

/// A local derivative: the operand as the expression names it, the derivative as a formula,
/// and the nodes whose value the operand may be (a loop's carried value is its value from the
/// iteration before, or the one it starts from; an `if`'s, the value of the arm taken).
pub struct Local {
    pub operand: String,
    /// The operand (its `may_be` is known once the whole body is walked).
    pub var: Option<Var>,
    pub formula: String,
    pub may_be: Vec<Cand>,
}

/// A node an operand may be, and whether as the value of the iteration before (a value a loop
/// carries).
pub type Cand = (String, bool);

/// A loop: how it reads (`for i in 0..n`), the loops around it, its place in the order, and
/// its carried values (each value's name inside the loop, the node that gives its next value).
pub struct LoopNode {
    pub header: String,
    pub parent: Option<usize>,
    pub order: usize,
    pub carried: Vec<(String, Vec<String>)>,
}

pub struct Derivation {
    /// The inputs: variable, name, differentiated, and (if so) its accumulated derivative.
    pub inputs: Vec<(Var, String, Option<Operand>)>,
    pub nodes: Vec<OpNode>,
    pub loops: Vec<LoopNode>,
    /// Whether there is an `if` (a node shown in the table ran only when its arm did).
    pub branches: bool,
    /// Each `wrt` parameter's gradient component as a formula of the nodes (straight-line
    /// code only).
    pub formulas: Vec<(String, String)>,
    /// The primal and the reverse sweep, recording each node's value, local derivatives and
    /// adjoint as they run (`record`): what `_trace` runs.
    pub program: Func,
    /// The row that is the function's value, in `program` (`Recorder::value`).
    pub result_row: Operand,
    /// The `wrt` parameters, in the gradient's order.
    pub wrt: Vec<Var>,
}

/// Why a function's derivation is not shown, and where in its body (if in one place).
pub struct NotShown {
    pub why: &'static str,
    pub at: Option<proc_macro2::Span>,
}

impl From<&'static str> for NotShown {
    fn from(why: &'static str) -> NotShown {
        NotShown { why, at: None }
    }
}

/// Why a function has no derivation: what the table does not show node by node.
pub fn supported(f: &Func) -> Result<(), NotShown> {
    let mut why = Ok(());
    crate::ir::walk(&f.body, &mut |i| {
        let bad = match i {
            // A whole-array `+=` (element by element) is no node.
            Inst::Assign { arr, op, .. } if f.info(*arr).active && *op != StoreOp::Set => {
                Some("a whole-array `+=` or `-=` on an array that carries derivatives")
            }
            Inst::NewArray {
                var,
                init: ArrayInit::Pulled { .. },
            } if f.info(*var).active => Some("a call returning an array"),
            _ => None,
        };
        if let (Some(bad), true) = (bad, why.is_ok()) {
            let at = match i {
                Inst::Op { var, .. } | Inst::NewArray { var, .. } => Some(f.info(*var).span),
                Inst::Assign { span, .. } => Some(*span),
                _ => None,
            };
            why = Err(NotShown { why: bad, at });
        }
    });
    why
}

/// Whether `f` is straight-line code of floats (its gradient components are short formulas;
/// an array's derivative is an array).
fn straight(f: &Func) -> bool {
    !f.body.insts.iter().any(|i| match i {
        Inst::Loop(_) | Inst::If { .. } => true,
        Inst::Load { arr, .. } | Inst::Store { arr, .. } => f.info(*arr).active,
        Inst::NewArray { var, .. } => f.info(*var).active,
        _ => false,
    })
}

pub fn derive(primal: &Func, wrt: &[Var], function: &str) -> Result<Derivation, NotShown> {
    supported(primal)?;
    let mut split = primal.clone();
    arrays::split_accumulations(&mut split);
    let primal = &split;
    if !primal.body.yields[0]
        .as_var()
        .is_some_and(|v| primal.info(v).active)
    {
        return Err("a result that does not depend on the differentiated inputs".into());
    }
    let mut walk = nodes::Walk::new(primal, function);
    let mut inputs = Vec::new();
    // The inputs' records, first: each float's row, each array's elements'.
    let mut registered = Vec::new();
    for &p in &primal.params {
        if let Name::Source(s) = &primal.info(p).name {
            let s = walk.unique(s.clone());
            walk.names.insert(p, s.clone());
            walk.may_be.insert(p, vec![(s.clone(), false)]);
            if primal.info(p).kind == Kind::Float {
                let (inst, row) = record::row_of(
                    &mut walk.b,
                    "input",
                    &[record::Arg::Str(&s), record::Arg::Float(Operand::Var(p))],
                );
                registered.push(inst);
                walk.shadows.insert(p, Operand::Var(row));
                inputs.push((p, s.clone(), None));
            } else if wrt.contains(&p) {
                registered.push(record::record(
                    &mut walk.b,
                    "input_array",
                    &[
                        record::Arg::Num(p.0 as usize),
                        record::Arg::Str(&s),
                        record::Arg::Array(p),
                    ],
                ));
                walk.array_may.fill(p, vec![(s.clone(), false)]);
                inputs.push((p, s.clone(), None));
            }
        }
    }
    let mut body = primal.body.clone();
    walk.block(&mut body, &[], None);
    body.insts.splice(0..0, registered);
    let result_row = walk.shadow(&primal.body.yields[0]);
    let nodes::Walk {
        mut b,
        names,
        defs,
        labels,
        nodes,
        loops,
        ids,
        counters,
        branches,
        may_be,
        ..
    } = walk;
    let mut nodes = nodes;
    for n in &mut nodes {
        for l in &mut n.local {
            let mut seen = std::collections::HashSet::new();
            l.may_be = l
                .var
                .and_then(|v| may_be.get(&v).cloned())
                .unwrap_or_default()
                .into_iter()
                .filter(|c| seen.insert(c.clone()))
                .collect();
        }
    }
    let mut traced = primal.clone();
    traced.body = body;
    traced.vars = std::mem::take(&mut b.vars);
    traced.externs = std::mem::take(&mut b.externs);
    let (program, errors) = crate::ad::reverse::reverse_traced(
        &traced,
        wrt,
        crate::ad::reverse::Tracing::new(ids, counters),
    );
    if !errors.is_empty() {
        return Err("what the reverse sweep refuses".into());
    }
    for (v, _, d) in &mut inputs {
        if let Some(j) = wrt.iter().position(|w| w == v) {
            *d = Some(program.body.yields[1 + j]);
        }
    }
    // The gradient components as formulas of the nodes: the sweep's code, read back.
    let formulas = if straight(primal) {
        let mut sweep: HashMap<Var, (Op, Vec<Operand>)> = HashMap::default();
        for inst in &program.body.insts {
            if let Inst::Op { var, op, args } = inst {
                if !names.contains_key(var) {
                    sweep.insert(*var, (*op, args.clone()));
                }
            }
        }
        inputs
            .iter()
            .filter_map(|(_, name, d)| {
                let render = Render {
                    names: &names,
                    defs: &defs,
                    func: &program,
                    labels: &labels,
                    budget: std::cell::Cell::new(BUDGET),
                };
                Some((name.clone(), shorten(render.swept(&sweep, (*d)?, 0).0)))
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Derivation {
        inputs,
        nodes,
        loops,
        branches,
        formulas,
        program,
        result_row,
        wrt: wrt.to_vec(),
    })
}

#[derive(Clone)]
enum Def {
    Op(Op, Vec<Operand>),
    Opaque(String, Vec<Var>, u8),
    Cond(crate::ir::Cond),
    /// An element of an array of data: `x[i]`.
    Load(Var, Vec<Operand>),
}

/// `k` as subscript digits (`12` → `₁₂`).
fn subscript(k: usize) -> String {
    k.to_string()
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0x2080 + d).unwrap_or(c),
            None => c,
        })
        .collect()
}
