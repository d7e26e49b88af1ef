//! Scales an accumulated adjoint once, after its loop, by the factors its terms share.
//!
//! A term of a sum over a loop that is a product with factors known before the loop
//! (`d_w += (2 / n)·r·x`, from a mean squared error) accumulates only its varying factors
//! (`d_w += r·x`), and the sum is multiplied by the shared ones after the loop
//! (`2 / n · d_w`), as a hand-written gradient does. Only adjoints are rewritten (the value
//! is computed exactly as written). The result is the same sum rounded differently, except
//! that a loop that runs no iteration gives `factor · 0`, which is NaN for an infinite factor
//! (`2 / n` of an empty dataset) where the term-by-term sum gave 0.

use crate::ir::{Block, Func, Inst, Kind, Name, Op, Operand, Var, VarInfo};
use proc_macro2::Span;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// Rewrites `func`'s scalable sums; says whether there were any (the old terms are then dead
/// code).
pub fn factor(func: &mut Func) -> bool {
    let before = func.vars.len();
    block(&mut func.body, &mut func.vars);
    func.vars.len() > before
}

fn block(b: &mut Block, vars: &mut Vec<VarInfo>) {
    let mut k = 0;
    while k < b.insts.len() {
        let scaled = match &mut b.insts[k] {
            Inst::If { then, els, .. } => {
                block(then, vars);
                block(els, vars);
                Vec::new()
            }
            Inst::Loop(l) => {
                block(&mut l.body, vars);
                // What the loop defines: a factor that is none of these is known before it runs.
                let mut inside = HashSet::default();
                b.insts[k].map_defs(&mut |v| {
                    inside.insert(*v);
                });
                match &mut b.insts[k] {
                    Inst::Loop(l) => scale(l, &inside, vars),
                    _ => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        if !scaled.is_empty() {
            // After the loop: `new = factor · out`, read wherever `out` was.
            let mut map = HashMap::default();
            let mut after = Vec::new();
            // Sums scaled by the same factors share their product.
            let mut products: HashMap<Vec<crate::ir::OperandKey>, Operand> = HashMap::default();
            for (out, factors) in scaled {
                let key = factors.iter().map(Operand::key).collect::<Vec<_>>();
                let f = match products.get(&key) {
                    Some(f) => *f,
                    None => {
                        let mut f = factors[0];
                        for g in &factors[1..] {
                            f = new_op(vars, &mut after, Op::Mul, vec![f, *g]);
                        }
                        products.insert(key, f);
                        f
                    }
                };
                let new = new_op(vars, &mut after, Op::Mul, vec![f, Operand::Var(out)]);
                map.insert(out, new);
            }
            let mut tail = Block {
                insts: b.insts.split_off(k + 1),
                yields: std::mem::take(&mut b.yields),
            };
            crate::ir::substitute(&mut tail, &map);
            k += after.len();
            b.insts.extend(after);
            b.insts.extend(tail.insts);
            b.yields = tail.yields;
        }
        k += 1;
    }
}

fn new_op(vars: &mut Vec<VarInfo>, out: &mut Vec<Inst>, op: Op, args: Vec<Operand>) -> Operand {
    let var = Var(vars.len() as u32);
    vars.push(VarInfo {
        kind: Kind::Float,
        name: Name::Anon,
        active: true,
        span: Span::call_site(),
        mutable: false,
        float_checked: false,
        call: None,
        pulled_part: None,
        bilinear: false,
    });
    out.push(Inst::Op { var, op, args });
    Operand::Var(var)
}

/// Rewrites the loop's scalable accumulators; returns each one's `out` with the factors to
/// multiply it by after the loop.
fn scale(
    l: &mut crate::ir::Loop,
    inside: &HashSet<Var>,
    vars: &mut Vec<VarInfo>,
) -> Vec<(Var, Vec<Operand>)> {
    let mut uses: HashMap<Var, usize> = HashMap::default();
    crate::ir::count_uses(&l.body, &mut uses);
    let defs: HashMap<Var, (Op, Vec<Operand>)> = l
        .body
        .insts
        .iter()
        .filter_map(|i| match i {
            Inst::Op { var, op, args } => Some((*var, (*op, args.clone()))),
            _ => None,
        })
        .collect();
    let saved: HashSet<Var> = l.save.iter().flat_map(|s| s.vals.iter().copied()).collect();

    let mut result = Vec::new();
    for (i, c) in l.carried.iter().enumerate() {
        let adjoint = matches!(vars[c.phi.0 as usize].name, Name::Adjoint(_));
        let zero = matches!(c.init, Operand::Lit(z) if z == 0.0 && z.is_sign_positive());
        let only_summed = uses.get(&c.phi) == Some(&1) && !saved.contains(&c.phi);
        if !adjoint || !zero || !only_summed || l.count == Some(c.out) {
            continue;
        }
        // The new value is `phi + term` (or `term + phi`), computed for it alone.
        let Some(Operand::Var(y)) = l.body.yields.get(i).copied() else {
            continue;
        };
        let term = match defs.get(&y) {
            Some((Op::Add, a)) if a[0] == Operand::Var(c.phi) && uses.get(&y) == Some(&1) => a[1],
            Some((Op::Add, a)) if a[1] == Operand::Var(c.phi) && uses.get(&y) == Some(&1) => a[0],
            _ => continue,
        };
        let mut leaves = Vec::new();
        flatten(term, &defs, &mut leaves);
        let (shared, varying): (Vec<Operand>, Vec<Operand>) = leaves
            .into_iter()
            .partition(|o| o.as_var().is_none_or(|v| !inside.contains(&v)));
        if shared.is_empty() || varying.is_empty() {
            continue;
        }
        // The varying product, just before the sum that reads it.
        let mut new = Vec::new();
        let mut p = varying[0];
        for v in &varying[1..] {
            p = new_op(vars, &mut new, Op::Mul, vec![p, *v]);
        }
        let at = l
            .body
            .insts
            .iter()
            .position(|i| matches!(i, Inst::Op { var, .. } if *var == y))
            .unwrap_or(l.body.insts.len());
        if let Some(Inst::Op { args, .. }) = l.body.insts.get_mut(at) {
            *args = vec![Operand::Var(c.phi), p];
        }
        l.body.insts.splice(at..at, new);
        result.push((c.out, shared));
    }
    result
}

/// The factors of a product: through multiplications, and `a + a` as `2 · a`.
fn flatten(o: Operand, defs: &HashMap<Var, (Op, Vec<Operand>)>, out: &mut Vec<Operand>) {
    if let Some((op, args)) = o.as_var().and_then(|v| defs.get(&v)) {
        match op {
            Op::Mul => {
                flatten(args[0], defs, out);
                flatten(args[1], defs, out);
                return;
            }
            Op::Add if args[0] == args[1] => {
                out.push(Operand::Lit(2.0));
                flatten(args[0], defs, out);
                return;
            }
            _ => {}
        }
    }
    out.push(o);
}
