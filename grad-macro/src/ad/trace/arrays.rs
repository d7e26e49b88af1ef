//! Arrays that carry derivatives, in a function's derivation: which nodes each array (and
//! each element written at constant indices) may hold, for the graph's edges; and the
//! accumulations into elements (`a[i] += v`) made nodes of their own.

use super::nodes::Walk;
use super::record::{self, Arg};
use super::Cand;
use crate::ir::{Func, Inst, Kind, Name, Op, Operand, StoreOp, Var};
use rustc_hash::FxHashMap as HashMap;
use std::collections::HashSet;

/// The nodes each array that carries derivatives may hold, as far as the text tells: in any
/// element, and in each element written at constant indices (`a[1] = ..`, `[w, s]`).
#[derive(Default)]
pub struct ArrayMay {
    whole: HashMap<Var, Vec<Cand>>,
    elements: HashMap<(Var, Vec<i64>), Vec<Cand>>,
    /// Arrays written at an index computed at run time, copied, or filled: their elements'
    /// candidates are the whole array's.
    mixed: HashSet<Var>,
}

impl ArrayMay {
    /// Element `idx` of `a` may be `cands` (a value stored there).
    pub(super) fn add(&mut self, a: Var, idx: &[Operand], cands: Vec<Cand>) {
        match constant(idx) {
            Some(k) => self
                .elements
                .entry((a, k))
                .or_default()
                .extend(cands.iter().cloned()),
            None => {
                self.mixed.insert(a);
            }
        }
        self.whole.entry(a).or_default().extend(cands);
    }

    /// Any element of `a` may be `cands`.
    pub(super) fn fill(&mut self, a: Var, cands: Vec<Cand>) {
        if cands.is_empty() {
            return;
        }
        self.mixed.insert(a);
        self.whole.entry(a).or_default().extend(cands);
    }
}

/// The indices, when each is a literal.
fn constant(idx: &[Operand]) -> Option<Vec<i64>> {
    idx.iter()
        .map(|i| match i {
            Operand::Int(k) => Some(*k),
            _ => None,
        })
        .collect()
}

/// The candidate standing for "any node element `idx` of the array `a` may hold" ([`resolve`]
/// reads it): what an array copied from `a` holds.
fn array_cand(a: Var, idx: &[Operand]) -> Cand {
    let at = constant(idx).map_or(String::new(), |k| {
        let k: Vec<String> = k.iter().map(i64::to_string).collect();
        format!(":{}", k.join(","))
    });
    (format!("\0{}{at}", a.0), false)
}

/// The nodes any element of the array `a` may hold, as far as the body walked so far tells.
pub(super) fn whole(a: Var, arrays: &ArrayMay) -> Vec<Cand> {
    resolve(&[array_cand(a, &[])], arrays)
}

/// `cands` with each array's candidate ([`array_cand`]) replaced by the nodes the array, or
/// its element, may hold.
pub(super) fn resolve(cands: &[Cand], arrays: &ArrayMay) -> Vec<Cand> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut todo: Vec<Cand> = cands.iter().rev().cloned().collect();
    while let Some(c) = todo.pop() {
        let Some(at) = c.0.strip_prefix('\0') else {
            if !out.contains(&c) {
                out.push(c);
            }
            continue;
        };
        if !seen.insert(at.to_string()) {
            continue;
        }
        let (a, idx) = at.split_once(':').unwrap_or((at, ""));
        let Ok(a) = a.parse::<u32>() else { continue };
        let a = Var(a);
        let idx: Option<Vec<i64>> = idx.split(',').map(|k| k.parse().ok()).collect();
        let more = match idx {
            Some(k) if !arrays.mixed.contains(&a) => arrays.elements.get(&(a, k)),
            _ => arrays.whole.get(&a),
        };
        todo.extend(more.into_iter().flatten().rev().cloned());
    }
    out
}

/// `s` with the name `old` (not a prefix of a longer name: `ξ1` in `ξ12`) written `new`.
pub(super) fn rename(s: &str, old: &str, new: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(k) = rest.find(old) {
        let after = &rest[k + old.len()..];
        let longer = after
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '′');
        out.push_str(&rest[..k]);
        out.push_str(if longer { old } else { new });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `f` with each `a[i] += v` (and `-=`) on an array that carries derivatives written as a load,
/// an operation and a store (`a[i] = a[i] + v`): the sum is a node of its own.
pub(super) fn split_accumulations(f: &mut Func) {
    let mut b = crate::build::Builder::new(f.float);
    b.vars = std::mem::take(&mut f.vars);
    crate::ir::walk_blocks_mut(&mut f.body, &mut |block| {
        for inst in std::mem::take(&mut block.insts) {
            match inst {
                Inst::Store {
                    arr,
                    idx,
                    val,
                    op: op @ (StoreOp::Add | StoreOp::Sub),
                    span,
                } if b.info(arr).active => {
                    let cur = b.new_var(Kind::Float, Name::Temp, true, span);
                    let sum = b.new_var(Kind::Float, Name::Temp, true, span);
                    block.insts.push(Inst::Load {
                        var: cur,
                        arr,
                        idx: idx.clone(),
                    });
                    let op = if op == StoreOp::Add { Op::Add } else { Op::Sub };
                    block.insts.push(Inst::Op {
                        var: sum,
                        op,
                        args: vec![Operand::Var(cur), val],
                    });
                    block.insts.push(Inst::Store {
                        arr,
                        idx,
                        val: Operand::Var(sum),
                        op: StoreOp::Set,
                        span,
                    });
                }
                other => block.insts.push(other),
            }
        }
    });
    f.vars = b.vars;
}

impl Walk<'_> {
    /// The array `arr` passed to a call, whose partial in it is `partial`: its local
    /// derivative (an edge from each node it may hold) and what `value_arrays` records.
    pub(super) fn array_operand(
        &mut self,
        arr: Var,
        partial: Operand,
    ) -> (super::Local, (Var, Operand, String)) {
        let (operand, formula) = {
            let r = self.render();
            (r.operand(Operand::Var(arr)).0, r.operand(partial).0)
        };
        let may = whole(arr, &self.array_may);
        self.may_be.insert(arr, may);
        let local = super::Local {
            operand: operand.clone(),
            var: Some(arr),
            formula,
            may_be: Vec::new(),
        };
        (local, (arr, partial, operand))
    }

    /// The loaded `var` (element `idx` of `arr`, in the loops `path`) may be the nodes written
    /// there so far; those written later in a loop around it it may be at the next iteration
    /// ([`Walk::loop_end`]).
    pub(super) fn load_may(&mut self, var: Var, arr: Var, idx: &[Operand], loops: Vec<usize>) {
        let now = resolve(&[array_cand(arr, idx)], &self.array_may);
        self.may_be.insert(var, now);
        if !loops.is_empty() {
            self.pending.push((var, arr, idx.to_vec(), loops));
        }
    }

    /// The end of loop `id`'s body: each element read in it may be, from the second iteration,
    /// what the body wrote there after the read.
    pub(super) fn loop_end(&mut self, id: usize) {
        for (var, arr, idx, loops) in &self.pending {
            if !loops.contains(&id) {
                continue;
            }
            let later = resolve(&[array_cand(*arr, idx)], &self.array_may);
            let may = self.may_be.entry(*var).or_default();
            for (name, _) in later {
                if !may.iter().any(|c| c.0 == name) {
                    may.push((name, true));
                }
            }
        }
    }

    /// The records of the array `var` made as `init` says: the row each element holds.
    pub(super) fn new_array(&mut self, var: Var, init: &crate::ir::ArrayInit) -> Vec<Inst> {
        use crate::ir::ArrayInit;
        let id = Arg::Num(var.0 as usize);
        let none = self.b.add_extern(quote::quote!(usize::MAX));
        let mut code = Vec::new();
        match init {
            ArrayInit::Copy(from) => {
                self.array_may.fill(var, vec![array_cand(*from, &[])]);
                code.push(record::record(
                    &mut self.b,
                    "copy",
                    &[id, Arg::Num(from.0 as usize)],
                ));
            }
            ArrayInit::Repeat { elem, .. } => {
                let may = self.may(elem);
                self.array_may.fill(var, may);
                let row = self.shadow(elem);
                code.push(record::record(&mut self.b, "array", &[id, Arg::Row(row)]));
            }
            ArrayInit::List(elems) => {
                code.push(record::record(&mut self.b, "array", &[id, Arg::Row(none)]));
                for (k, e) in elems.iter().enumerate() {
                    let k = [Operand::Int(k as i64)];
                    let may = self.may(e);
                    self.array_may.add(var, &k, may);
                    let row = self.shadow(e);
                    code.push(record::record(
                        &mut self.b,
                        "store",
                        &[Arg::Num(var.0 as usize), Arg::Index(&k), Arg::Row(row)],
                    ));
                }
            }
            ArrayInit::Zero { .. } | ArrayInit::ZeroOf(_) | ArrayInit::Pulled { .. } => {
                code.push(record::record(&mut self.b, "array", &[id, Arg::Row(none)]));
            }
        }
        code
    }
}
