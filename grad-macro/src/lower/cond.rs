//! Conditions and branches: `if` as two blocks with their outputs, conditions as comparisons or code over data.

use super::*;
use crate::ir::{Block, Cond, Inst, Kind, Name, Opaque, Operand};

use proc_macro2::Span;
use quote::quote;
use syn::{BinOp, Expr, Lit, UnOp};

impl Lowerer<'_> {
    pub(super) fn cond_value(&mut self, e: &Expr) -> Operand {
        let c = self.cond(e);
        self.cond_operand(c, span_of(e))
    }

    pub(super) fn cond(&mut self, e: &Expr) -> Cond {
        match e {
            Expr::Paren(p) => self.cond(&p.expr),
            Expr::Group(g) => self.cond(&g.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Not(_)) => {
                Cond::Not(Box::new(self.cond(&u.expr)))
            }
            Expr::Binary(b) if matches!(b.op, BinOp::And(_)) => {
                Cond::And(Box::new(self.cond(&b.left)), Box::new(self.cond(&b.right)))
            }
            Expr::Binary(b) if matches!(b.op, BinOp::Or(_)) => {
                Cond::Or(Box::new(self.cond(&b.left)), Box::new(self.cond(&b.right)))
            }
            Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(b), ..
            }) => Cond::Val(Operand::Bool(b.value)),
            Expr::Let(l) => {
                self.error(
                    l.let_token,
                    "`if let` is not supported: compare values with `==`, `<`, ... instead",
                );
                Cond::Val(Operand::Bool(false))
            }
            Expr::Path(p) if p.qself.is_none() => {
                match p
                    .path
                    .get_ident()
                    .and_then(|id| self.lookup(&id.to_string()))
                {
                    // A `bool` that calls change in place (`flip(&mut flag)`) is read where the
                    // condition is, as code (see `effects.rs`), not taken as a value.
                    Some(Operand::Var(v)) if self.b.info(v).mutable => self.opaque_cond(e),
                    Some(v @ Operand::Var(_)) | Some(v @ Operand::Bool(_)) => Cond::Val(v),
                    _ => self.opaque_cond(e),
                }
            }
            // A condition has no derivative, so anything may be asked of any value here
            // (`x.ln() > 0.0`, `in_range(w)`); it is kept inline, as written, so `&&` and `||`
            // still short-circuit it.
            _ => self.opaque_cond(e),
        }
    }

    pub(super) fn opaque_cond(&mut self, e: &Expr) -> Cond {
        let (tokens, refs, effectful, prec) = self.substitute(e, true);
        Cond::Opaque(Opaque {
            tokens,
            refs,
            effectful,
            prec,
        })
    }

    pub(super) fn if_expr(&mut self, i: &syn::ExprIf) -> Option<Operand> {
        let cond = self.cond_value(&i.cond);
        let mode = if i.else_branch.is_some() {
            Arms::Both(i)
        } else {
            Arms::ThenOnly
        };
        self.two_way(
            cond,
            i.if_token.span,
            mode,
            &mut |l| l.block(&i.then_branch),
            &mut |l| match &i.else_branch {
                None => None,
                Some((_, e)) => match &**e {
                    Expr::Block(b) if b.label.is_none() => l.block(&b.block),
                    Expr::If(nested) => l.if_expr(nested),
                    other => Some(l.expr(other)),
                },
            },
        )
    }

    /// Lowers `if cond { then } else { els }`, each branch in its own scope: the variables either
    /// branch changes become outputs of the `if` (phi nodes), and so does its value.
    pub(super) fn two_way(
        &mut self,
        cond: Operand,
        span: Span,
        mode: Arms,
        then: &mut dyn FnMut(&mut Self) -> Option<Operand>,
        els: &mut dyn FnMut(&mut Self) -> Option<Operand>,
    ) -> Option<Operand> {
        let before = self.env.clone();

        self.b.enter();
        self.env.push(Scope::default());
        let mut tv = then(self);
        self.env.pop();
        let then_diverges = self.diverged();
        let then_block = self.b.exit(Vec::new());
        let then_env = std::mem::replace(&mut self.env, before.clone());

        self.b.enter();
        self.env.push(Scope::default());
        let mut ev = els(self);
        self.env.pop();
        let else_diverges = self.diverged();
        let else_block = self.b.exit(Vec::new());
        let else_env = std::mem::replace(&mut self.env, before.clone());

        // A branch that leaves (`return`, `break`, `continue`) has no value to give: the other
        // branch's value is the `if`'s, and a placeholder stands in for it.
        match (tv, ev) {
            (Some(t), None) if else_diverges || matches!(mode, Arms::Guard) => {
                ev = Some(self.placeholder_for(self.b.kind(&t)));
            }
            (None, Some(e)) if then_diverges => {
                tv = Some(self.placeholder_for(self.b.kind(&e)));
            }
            (Some(_), None) | (None, Some(_)) => {
                match mode {
                    Arms::Both(i) => {
                        self.error(
                            i,
                            "both branches of this `if` must give a value, or neither",
                        );
                        return None;
                    }
                    Arms::MatchArm => {
                        self.error(
                            quote::quote_spanned!(span=> match),
                            "every arm of this `match` must give a value, or none",
                        );
                        return None;
                    }
                    _ => {}
                }
                tv = None;
                ev = None;
            }
            _ => {}
        }

        let mut outs = Vec::new();
        let (mut then_yields, mut else_yields) = (Vec::new(), Vec::new());
        let mut changed = Vec::new();
        for (s, scope) in before.iter().enumerate() {
            for (k, (name, b)) in scope.iter().enumerate() {
                let t = then_env[s][k].1.val;
                let e = else_env[s][k].1.val;
                if t != b.val || e != b.val {
                    changed.push((s, k, name.clone(), t, e));
                }
            }
        }
        let mut value = None;
        if let (Some(t), Some(e)) = (tv, ev) {
            changed.push((usize::MAX, 0, String::new(), t, e));
        }
        for (s, k, name, t, e) in changed {
            let kind = [t, e]
                .iter()
                .map(|o| self.b.kind(o))
                .find(|k| *k != Kind::Opaque)
                .unwrap_or(Kind::Opaque);
            let active = self.b.is_active(&t) || self.b.is_active(&e);
            let nm = if s == usize::MAX || name.starts_with('#') {
                Name::Temp
            } else {
                Name::Source(name)
            };
            let out = self.b.new_var(kind, nm, active, span);
            outs.push(out);
            then_yields.push(t);
            else_yields.push(e);
            if s == usize::MAX {
                value = Some(Operand::Var(out));
            } else {
                self.env[s][k].1.val = Operand::Var(out);
            }
        }
        let then = Block {
            insts: then_block.insts,
            yields: then_yields,
        };
        let els = Block {
            insts: else_block.insts,
            yields: else_yields,
        };
        self.b.push(Inst::If {
            cond,
            then,
            els,
            outs,
        });
        value
    }

    /// A value of `kind` for a branch that never gives one.
    pub(super) fn placeholder_for(&mut self, kind: Kind) -> Operand {
        match kind {
            Kind::Float | Kind::Array => Operand::Lit(0.0),
            Kind::Bool => Operand::Bool(false),
            Kind::Opaque => self
                .b
                .add_extern(quote!(::core::default::Default::default())),
        }
    }
}

/// Which branches of a two-way choice give a value.
#[derive(Clone, Copy)]
pub(super) enum Arms<'e> {
    /// A user's `if` with an `else`: both must, unless one leaves.
    Both(&'e syn::ExprIf),
    /// An `if` without `else`: its value (if any) is not used.
    ThenOnly,
    /// The rest of a block after a possible `return`, `break` or `continue`: only `then` runs
    /// code; `else` stands in with a placeholder.
    Guard,
    /// An arm of a `match` against the arms after it: all give a value, or none.
    MatchArm,
}
