//! Local `&mut` aliases of floats: `let a = &mut t; *a *= 2.0;`. While `a` lives, the borrow
//! checker lets nothing else touch `t`, so each `*a` is `t` itself: the `let` is dropped and
//! `*a` written `t` (`a[i]` as `t[i]`, `a.sin()` as `t.sin()`, `a` passed on as `&mut t`),
//! before anything else reads the body. An alias used any other way is left as written (the
//! escape analysis refuses it, at the `&mut`).

use rustc_hash::FxHashSet as HashSet;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat, Stmt};

/// `stmts` with each `let a = &mut t;` of a float or an array of floats (`floats`) that is
/// used only through `*a`, `a[..]`, `a.method(..)` and as a call's argument resolved to `t`.
pub fn resolve(stmts: &mut Vec<Stmt>, floats: &HashSet<String>) {
    let mut k = 0;
    while k < stmts.len() {
        if let Some((alias, target)) = alias_of(&stmts[k], floats) {
            // The alias lives until a `let` of the same name in this block (`let a = &mut u;`
            // again), whose initializer still sees it.
            let end = stmts[k + 1..]
                .iter()
                .position(
                    |s| matches!(s, Stmt::Local(l) if super::out_param::binds(&l.pat, &alias)),
                )
                .map_or(stmts.len(), |p| k + 1 + p);
            let mut check = Replace {
                alias: &alias,
                target: &target,
                apply: false,
                ok: true,
            };
            visit_live(&mut check, &mut stmts[k + 1..], end - k - 1);
            if check.ok {
                let mut apply = Replace {
                    apply: true,
                    ..check
                };
                visit_live(&mut apply, &mut stmts[k + 1..], end - k - 1);
                stmts.remove(k);
                continue;
            }
        }
        k += 1;
    }
}

/// The first `live` statements of `rest`, and the initializer of the one after (a `let` that
/// binds the alias's name again).
fn visit_live(r: &mut Replace, rest: &mut [Stmt], live: usize) {
    let (live, after) = rest.split_at_mut(live);
    for s in live {
        r.visit_stmt_mut(s);
    }
    if let Some(Stmt::Local(syn::Local {
        init: Some(init), ..
    })) = after.first_mut()
    {
        r.visit_expr_mut(&mut init.expr);
        if let Some((_, d)) = &mut init.diverge {
            r.visit_expr_mut(d);
        }
    }
}

/// `let a = &mut t;` (`let a: &mut f64 = &mut t;`) with `t` a float or an array of floats.
fn alias_of(s: &Stmt, floats: &HashSet<String>) -> Option<(syn::Ident, Expr)> {
    let Stmt::Local(l) = s else { return None };
    let pat = match &l.pat {
        Pat::Type(t) => &*t.pat,
        other => other,
    };
    let Pat::Ident(pi) = pat else { return None };
    if pi.by_ref.is_some() || pi.subpat.is_some() {
        return None;
    }
    let init = l.init.as_ref().filter(|i| i.diverge.is_none())?;
    let Expr::Reference(r) = &*init.expr else {
        return None;
    };
    r.mutability?;
    match &*r.expr {
        Expr::Path(p)
            if p.path
                .get_ident()
                .is_some_and(|i| floats.contains(&i.to_string())) =>
        {
            Some((pi.ident.clone(), (*r.expr).clone()))
        }
        _ => None,
    }
}

/// Checks (`apply` false: `ok` says whether every use is one it resolves) or resolves the
/// uses of `alias` as `target`.
struct Replace<'a> {
    alias: &'a syn::Ident,
    target: &'a Expr,
    apply: bool,
    ok: bool,
}

impl Replace<'_> {
    fn is_alias(&self, e: &Expr) -> bool {
        matches!(e, Expr::Path(p) if p.qself.is_none() && p.path.is_ident(self.alias))
    }
}

impl VisitMut for Replace<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        let target = self.target.clone();
        match e {
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) && self.is_alias(&u.expr) => {
                if self.apply {
                    *e = target;
                }
                return;
            }
            Expr::Index(ix) if self.is_alias(&ix.expr) => {
                if self.apply {
                    *ix.expr = target;
                }
                self.visit_expr_mut(&mut ix.index);
                return;
            }
            Expr::MethodCall(m) if self.is_alias(&m.receiver) => {
                if self.apply {
                    *m.receiver = target;
                }
                for a in &mut m.args {
                    self.visit_expr_mut(a);
                }
                return;
            }
            Expr::Call(c) => {
                self.visit_expr_mut(&mut c.func);
                for a in &mut c.args {
                    if self.is_alias(a) {
                        if self.apply {
                            *a = syn::parse_quote!(&mut #target);
                        }
                    } else {
                        self.visit_expr_mut(a);
                    }
                }
                return;
            }
            // Any other use of the alias (bound again, returned, captured): left as written.
            Expr::Path(_) if self.is_alias(e) => {
                self.ok = false;
                return;
            }
            _ => {}
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }

    fn visit_local_mut(&mut self, l: &mut syn::Local) {
        // A `let` of the same name shadows the alias: what follows is not resolved.
        if super::out_param::binds(&l.pat, self.alias) {
            self.ok = false;
        }
        syn::visit_mut::visit_local_mut(self, l);
    }

    fn visit_expr_closure_mut(&mut self, c: &mut syn::ExprClosure) {
        // (A closure using the alias: the check finds a bare use inside.)
        syn::visit_mut::visit_expr_closure_mut(self, c);
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}
