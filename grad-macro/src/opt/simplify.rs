//! Whole-program clean-up after the passes: dead code elimination.
//!
//! Local simplification (symbolic zeros, identities, folding, value numbering) happens as code
//! is built (`build/`); what remains is to drop what nothing reads: primal values only the
//! value needed, outputs of an `if` nobody uses, the carried values of a loop nobody reads, and
//! user code with no effect on the result. Code with possible side effects (calls on data,
//! writes to arrays) is always kept.

use crate::ir::{ArrayInit, Block, Func, Inst, Operand, Var};
use rustc_hash::FxHashSet as HashSet;

pub fn dce(mut func: Func) -> Func {
    drop_write_only_arrays(&mut func.body);
    let mut live = HashSet::default();
    block(&mut func.body, &mut live);
    func
}

/// Dead code elimination in one block, whose yields are all used.
pub fn dce_block(b: &mut Block) {
    let mut live = HashSet::default();
    block(b, &mut live);
}

/// Drops the arrays the body declares that nothing reads (no load, no other code, no loop,
/// not a result, not the shape of another array), and their writes: the arrays of a
/// derivative a companion does not return (the gradient, when only its tangent is wanted).
fn drop_write_only_arrays(body: &mut Block) {
    fn scan(b: &Block, declared: &mut HashSet<Var>, read: &mut HashSet<Var>) {
        b.yields.iter().for_each(|o| mark(o, read));
        for inst in &b.insts {
            match inst {
                Inst::NewArray { var, init } => {
                    declared.insert(*var);
                    if let ArrayInit::Zero { like } = init {
                        read.insert(*like);
                    }
                    inst.for_each_operand(&mut |o| mark(o, read));
                }
                // Writing to an array is not reading it.
                Inst::Store { idx, val, .. } => {
                    idx.iter().chain([val]).for_each(|o| mark(o, read));
                }
                Inst::Assign { src, scale, .. } => {
                    mark(src, read);
                    if let Some(s) = scale {
                        mark(s, read);
                    }
                }
                Inst::Loop(l) => {
                    inst.for_each_operand(&mut |o| mark(o, read));
                    // An array each iteration keeps whole is read back by the sweep.
                    if let Some(s) = &l.save {
                        read.extend(s.vals.iter().copied());
                    }
                }
                other => other.for_each_operand(&mut |o| mark(o, read)),
            }
            for nb in inst.blocks() {
                scan(nb, declared, read);
            }
        }
    }
    fn drop(b: &mut Block, dead: &HashSet<Var>) {
        crate::ir::walk_blocks_mut(b, &mut |b| {
            b.insts.retain(|i| match i {
                Inst::NewArray { var, .. } => !dead.contains(var),
                Inst::Store { arr, .. } | Inst::Assign { arr, .. } => !dead.contains(arr),
                _ => true,
            })
        });
    }
    let (mut declared, mut read) = (HashSet::default(), HashSet::default());
    scan(body, &mut declared, &mut read);
    let dead: HashSet<Var> = declared.difference(&read).copied().collect();
    if !dead.is_empty() {
        drop(body, &dead);
    }
}

fn mark(o: &Operand, live: &mut HashSet<Var>) {
    if let Operand::Var(v) = o {
        live.insert(*v);
    }
}

fn has_effects(b: &Block) -> bool {
    crate::ir::any(b, &mut |i| match i {
        Inst::Opaque { expr, .. } => expr.effectful,
        Inst::Cond { cond, .. } => cond.effectful(),
        Inst::Store { .. } | Inst::Assign { .. } => true,
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
            Inst::Op { var, .. } | Inst::Load { var, .. } | Inst::NewArray { var, .. } => {
                live.contains(var)
            }
            Inst::Cond { var, cond } => live.contains(var) || cond.effectful(),
            Inst::Opaque { var, expr, .. } => live.contains(var) || expr.effectful,
            Inst::Store { .. } | Inst::Assign { .. } => true,
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
            Inst::Loop(lp) => {
                // Storage nobody reads back is not kept.
                if lp.save.as_ref().is_some_and(|s| !live.contains(&s.buf)) {
                    lp.save = None;
                }
                let n = lp.carried.len();
                let mut used: Vec<bool> =
                    lp.carried.iter().map(|c| live.contains(&c.out)).collect();
                if let Some(s) = &lp.save {
                    for (k, c) in lp.carried.iter().enumerate() {
                        if s.vals.contains(&c.phi) {
                            used[k] = true;
                        }
                    }
                }
                // A carried value is needed if used after the loop, or by a needed value of the
                // next iteration.
                loop {
                    let mut trial = lp.body.clone();
                    let mut l2 = live.clone();
                    let mut k = 0;
                    trial.yields.retain(|_| {
                        k += 1;
                        k > n || used[k - 1]
                    });
                    block(&mut trial, &mut l2);
                    let mut changed = false;
                    for (k, c) in lp.carried.iter().enumerate() {
                        if !used[k] && l2.contains(&c.phi) {
                            used[k] = true;
                            changed = true;
                        }
                    }
                    if !changed {
                        break;
                    }
                }
                let mut k = 0;
                lp.carried.retain(|_| {
                    k += 1;
                    used[k - 1]
                });
                let mut k = 0;
                lp.body.yields.retain(|_| {
                    k += 1;
                    k > n || used[k - 1]
                });
                if lp
                    .count
                    .is_some_and(|c| !lp.carried.iter().any(|x| x.out == c))
                {
                    lp.count = None;
                }
                let keep = !lp.carried.is_empty() || lp.save.is_some() || has_effects(&lp.body);
                if keep {
                    // What each iteration keeps is read by the sweep.
                    if let Some(s) = &lp.save {
                        live.extend(s.vals.iter().copied());
                    }
                    block(&mut lp.body, live);
                }
                keep
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
