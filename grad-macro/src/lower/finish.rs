//! Finishing a lowered body: checks and passes that need the whole body (float operands, kept
//! pullback calls, pinned reads).

use super::*;
use crate::ir::{Block, Func, Inst, Kind, Name, Op, Var};
use rustc_hash::FxHashSet as HashSet;

impl Lowerer<'_> {
    /// What lowering gives: the function, and what the companions need besides; `None`
    /// after an error.
    pub(super) fn finish(
        mut self,
        params: Vec<Var>,
        mut body: Block,
        keep_mut: Vec<bool>,
    ) -> Option<Lowered> {
        crate::ir::fold_identities(&mut body);
        self.keep_dead_pulled(&mut body);
        self.type_float_operands(&body);
        crate::lower::effects::pin_state_reads(
            self.cx,
            &mut body,
            &self.b.vars,
            (&self.plain, &self.pulled, self.self_changes),
        );
        if self.cx.has_errors() {
            return None;
        }
        Some(Lowered {
            func: Func {
                float: self.b.float,
                vars: self.b.vars,
                externs: self.b.externs,
                params,
                body,
                arrays: self.b.arrays,
            },
            assertions: self.assertions,
            callees: self.callees,
            items: self.items,
            keep_mut,
        })
    }

    /// Data of a type the macro does not know, used in float arithmetic (`q + x`): the
    /// arithmetic is differentiated as that of floats, which is only right if it is. A local
    /// (`let q = ..;`) is checked in the companions (`let _: &f64 = &q;`, `VarInfo::
    /// float_checked`), so rustc refuses one of another type (an operator overloaded by a type
    /// of the user's own) at its `let`; a parameter of another type is refused here.
    pub(super) fn type_float_operands(&mut self, body: &Block) {
        fn operands(b: &Block, out: &mut Vec<(Var, Var)>) {
            crate::ir::walk(b, &mut |inst| {
                // The arithmetic operators (not a call's arguments, a rule's integer exponent).
                if let Inst::Op { var, op, args } = inst {
                    if matches!(
                        op,
                        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem | Op::Neg
                    ) {
                        out.extend(args.iter().filter_map(|a| a.as_var()).map(|a| (a, *var)));
                    }
                }
            });
        }
        let mut used = Vec::new();
        operands(body, &mut used);
        let mut defined = HashSet::default();
        opaque_vars(body, &mut defined);
        let mut locals = HashSet::default();
        for (v, op) in used {
            let info = self.b.info(v);
            if info.kind != Kind::Opaque {
                continue;
            }
            if let Some((_, ty)) = self.non_float_params.iter().find(|(p, _)| *p == v) {
                let name = match &info.name {
                    Name::Source(n) => n.clone(),
                    _ => String::new(),
                };
                let at = self.b.info(op).span;
                self.cx.syn_error(syn::Error::new(
                    at,
                    format!("`{name}` is a `{ty}`, not a float: #[grad] differentiates the arithmetic of floats, not the operators of other types; compute the float first (`{name}.value()`, a field) and use that"),
                ));
            } else if matches!(info.name, Name::Source(_)) && defined.contains(&v) {
                locals.insert(v);
            }
        }
        for v in locals {
            self.b.info_mut(v).float_checked = true;
        }
    }

    /// Keeps every call of another `#[grad]` function, even one whose value nothing uses
    /// (`let v = f(x); v = 2.0;`): the companions then still call its pullback, so rustc still
    /// checks that the callee is a `#[grad]` function (or has a rule), and a function with
    /// effects is refused at the call rather than dropped unseen. (A call whose value is thrown
    /// away where it is written is refused by `discarded_call`.)
    pub(super) fn keep_dead_pulled(&self, body: &mut Block) {
        if self.pulled.is_empty() {
            return;
        }
        fn mark(b: &mut Block, dead: &HashSet<Var>) {
            crate::ir::walk_mut(b, &mut |inst| {
                if let Inst::Opaque { var, expr, .. } = inst {
                    if dead.contains(var) {
                        expr.effectful = true;
                    }
                }
            });
        }
        let mut live = body.clone();
        crate::opt::simplify::dce_block(&mut live);
        let mut kept = HashSet::default();
        opaque_vars(&live, &mut kept);
        let dead: HashSet<Var> = self
            .pulled
            .iter()
            .copied()
            .filter(|v| !kept.contains(v))
            .collect();
        if !dead.is_empty() {
            mark(body, &dead);
        }
    }
}

/// The variables the opaque code of `b` defines, nested blocks included.
pub(super) fn opaque_vars(b: &Block, out: &mut HashSet<Var>) {
    for inst in &b.insts {
        if let Inst::Opaque { var, .. } = inst {
            out.insert(*var);
        }
        for nb in inst.blocks() {
            opaque_vars(nb, out);
        }
    }
}

impl Lowerer<'_> {
    /// Whether tangents can be passed to a call with these arguments (second order through
    /// it, with the callee's `pullback_jvp`): every differentiated argument a float, or an
    /// array of fixed lengths: written in the source, or those of an array a `#[grad]`
    /// function returned, held by value (not a slice's, known at run time only, nor a struct's
    /// field, which may be a `Vec`).
    pub(super) fn tangents_pass(&self, args: &[Operand]) -> bool {
        args.iter().all(|o| {
            !self.b.is_active(o)
                || match self.b.kind(o) {
                    Kind::Float => true,
                    Kind::Array => {
                        o.as_var()
                            .and_then(|v| self.b.arrays.get(&v))
                            .is_some_and(|a| {
                                let written =
                                    a.lens.iter().all(Option::is_some) && !a.len_from_value;
                                written || (a.len_from_value && !a.by_ref)
                            })
                    }
                    _ => false,
                }
        })
    }
}
