//! Whole-program clean-up after the passes: dead code elimination.
//!
//! Local simplification (symbolic zeros, identities, folding, value numbering) happens as code
//! is built (`builder.rs`); what remains is to drop what nothing reads: primal values only the
//! value needed, outputs of an `if` nobody uses, and user code with no effect on the result.
//! Code with possible side effects (calls on data) is always kept.

use crate::ir::{Block, Func, Inst, Operand, Var};
use std::collections::HashSet;

pub fn dce(mut func: Func) -> Func {
    let mut live = HashSet::new();
    block(&mut func.body, &mut live);
    func
}

fn mark(o: &Operand, live: &mut HashSet<Var>) {
    if let Operand::Var(v) = o {
        live.insert(*v);
    }
}

fn has_effects(b: &Block) -> bool {
    b.insts.iter().any(|i| match i {
        Inst::Opaque { expr, .. } => expr.effectful,
        Inst::If { then, els, .. } => has_effects(then) || has_effects(els),
        _ => false,
    })
}

fn block(b: &mut Block, live: &mut HashSet<Var>) {
    for y in &b.yields {
        mark(y, live);
    }
    let mut kept = Vec::with_capacity(b.insts.len());
    for mut inst in std::mem::take(&mut b.insts).into_iter().rev() {
        let keep = match &mut inst {
            Inst::Op { var, .. } | Inst::Cond { var, .. } => live.contains(var),
            Inst::Opaque { var, expr, .. } => live.contains(var) || expr.effectful,
            Inst::If {
                then, els, outs, ..
            } => {
                let used: Vec<bool> = outs.iter().map(|o| live.contains(o)).collect();
                let mut k = 0;
                outs.retain(|_| {
                    k += 1;
                    used[k - 1]
                });
                for br in [&mut *then, &mut *els] {
                    let mut k = 0;
                    br.yields.retain(|_| {
                        k += 1;
                        used[k - 1]
                    });
                }
                if outs.is_empty() && !has_effects(then) && !has_effects(els) {
                    false
                } else {
                    block(then, live);
                    block(els, live);
                    true
                }
            }
        };
        if keep {
            inst.for_each_operand(&mut |o| mark(o, live));
            kept.push(inst);
        }
    }
    kept.reverse();
    b.insts = kept;
}
