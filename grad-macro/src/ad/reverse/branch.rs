//! Reversing an `if`: the branch taken, replayed backwards, with the values its arms computed exported for the sweep.

use super::*;
use crate::ir::{rename, Block, Inst, Kind, Name, Operand, Var};
use rustc_hash::FxHashMap as HashMap;
use std::collections::{BTreeMap, BTreeSet};

impl Rev {
    pub(super) fn reverse_if(&mut self, inst: &mut Inst) {
        let Inst::If {
            cond,
            then,
            els,
            outs,
        } = inst
        else {
            return;
        };
        let d_outs: Vec<Option<Operand>> = outs
            .iter()
            .map(|o| {
                if self.b.info(*o).active {
                    self.take_adjoint(*o)
                } else {
                    None
                }
            })
            .collect();
        if d_outs.iter().all(Option::is_none)
            && !writes_active(then, &self.b.vars)
            && !writes_active(els, &self.b.vars)
        {
            return;
        }
        let saved = std::mem::take(&mut self.contribs);
        let (mut rev_then, esc_then) = self.branch(then, &d_outs);
        let (mut rev_els, esc_els) = self.branch(els, &d_outs);
        self.contribs = saved;

        // Contributions to variables outside the `if` leave it as outputs of the reverse `if`.
        let keys: BTreeSet<Var> = esc_then.keys().chain(esc_els.keys()).copied().collect();
        let mut rev_outs = Vec::new();
        for k in keys {
            let z = Operand::Lit(0.0);
            rev_then.yields.push(esc_then.get(&k).copied().unwrap_or(z));
            rev_els.yields.push(esc_els.get(&k).copied().unwrap_or(z));
            let span = self.b.info(k).span;
            let out = self.b.new_var(Kind::Float, Name::Adjoint(k), true, span);
            rev_outs.push((k, out));
        }
        // Export what each reversed branch reads from its primal branch.
        for is_then in [true, false] {
            let (primal, rev) = if is_then {
                (&*then, &mut rev_then)
            } else {
                (&*els, &mut rev_els)
            };
            let exports = self.exports(primal, rev);
            for (v, export, placeholder) in exports {
                outs.push(export);
                let (t, e) = if is_then {
                    (Operand::Var(v), placeholder)
                } else {
                    (placeholder, Operand::Var(v))
                };
                then.yields.push(t);
                els.yields.push(e);
            }
        }

        self.b.push(Inst::If {
            cond: *cond,
            then: rev_then,
            els: rev_els,
            outs: rev_outs.iter().map(|(_, o)| *o).collect(),
        });
        for (k, out) in rev_outs {
            self.contribute(Operand::Var(k), Operand::Var(out));
        }
    }

    /// The variables of `primal` (its top level) that `rev` reads, each with the variable that
    /// carries it out of the primal `if` and the placeholder the other branch yields; `rev` is
    /// renamed to read the carriers.
    pub(super) fn exports(&mut self, primal: &Block, rev: &mut Block) -> Vec<(Var, Var, Operand)> {
        let local: BTreeSet<Var> = primal.insts.iter().flat_map(Inst::defs).collect();
        let mut needed = BTreeSet::new();
        crate::ir::block_reads(rev, &mut needed);
        // Data computed without side effects is computed again in the reversed branch rather
        // than carried out (it may be a reference, with no placeholder value to give), unless
        // it reads an array the function writes (a call's pullback given `&z`, with `z[1] = ..`
        // after it): by the time the sweep reaches the branch, the array may hold a later
        // value, so what the branch computed is carried out.
        let mut remat: BTreeSet<Var> = BTreeSet::new();
        let mut work: Vec<Var> = needed.intersection(&local).copied().collect();
        while let Some(v) = work.pop() {
            let def = primal.insts.iter().find(|i| i.defs().contains(&v));
            if let Some(Inst::Opaque { expr, .. }) = def {
                let reads_written = expr.refs.iter().any(|r| self.written.contains(r));
                if !expr.effectful
                    && !reads_written
                    && self.b.info(v).kind == Kind::Opaque
                    && remat.insert(v)
                {
                    for r in &expr.refs {
                        if local.contains(r) && !remat.contains(r) {
                            needed.insert(*r);
                            work.push(*r);
                        }
                    }
                }
            }
        }
        let prelude: Vec<Inst> = primal
            .insts
            .iter()
            .filter(|i| matches!(i, Inst::Opaque { var, .. } if remat.contains(var)))
            .cloned()
            .collect();
        let mut map = HashMap::default();
        let mut exports = Vec::new();
        for v in needed.intersection(&local) {
            if remat.contains(v) {
                continue;
            }
            let info = self.b.info(*v).clone();
            let export = self
                .b
                .new_var(info.kind, Name::Export(*v), false, info.span);
            let placeholder = match info.kind {
                Kind::Float => Operand::Lit(0.0),
                Kind::Bool => Operand::Bool(false),
                Kind::Array => {
                    // An array a reversed loop reads: zeros of its shape stand in.
                    match self.b.arrays.get(v).cloned() {
                        // An array a `#[grad]` function returned: its lengths are not written,
                        // its type's default (zeros) stands in.
                        Some(a) if a.len_from_value => {
                            self.b.arrays.insert(export, a);
                            self.b
                                .add_extern(quote::quote!(::core::default::Default::default()))
                        }
                        Some(a) => {
                            let z = self.b.zeros_of(&a);
                            self.b.arrays.insert(export, a);
                            z
                        }
                        None => self
                            .b
                            .add_extern(crate::emit::tokens::float_lit_typed(0.0, self.b.float)),
                    }
                }
                Kind::Opaque => self
                    .b
                    .add_extern(quote::quote!(::core::default::Default::default())),
            };
            map.insert(*v, export);
            exports.push((*v, export, placeholder));
        }
        let mut insts = prelude;
        insts.append(&mut rev.insts);
        rev.insts = insts;
        rename(rev, &map);
        exports
    }

    /// Reverses one branch given the adjoints of the `if`'s outputs; returns the reversed code
    /// and the summed contributions to variables defined outside the branch.
    pub(super) fn branch(
        &mut self,
        block: &mut Block,
        d_outs: &[Option<Operand>],
    ) -> (Block, BTreeMap<Var, Operand>) {
        self.contribs = BTreeMap::new();
        self.b.enter();
        self.b.seed_cse(&block.insts);
        let yields = block.yields.clone();
        for (y, d) in yields.iter().zip(d_outs) {
            if let Some(d) = d {
                self.contribute(*y, *d);
            }
        }
        let scope = std::mem::replace(&mut self.body_scope, false);
        self.block(&mut block.insts);
        self.body_scope = scope;
        let arrays = declared(&block.insts);
        self.declare_adjoints(&arrays);
        let left = std::mem::take(&mut self.contribs);
        let mut escapes = BTreeMap::new();
        for (v, cs) in left {
            let s = self.sum(&cs);
            if !s.is_lit(0.0) {
                escapes.insert(v, s);
            }
        }
        (self.b.exit(Vec::new()), escapes)
    }
}
