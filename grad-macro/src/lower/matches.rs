//! `match` on data: arms as a chain of conditions.

use super::{Arms, Lowerer};
use crate::ir::{placeholder, Cond, Kind, Opaque, Operand};
use proc_macro2::Span;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Ident, Pat};

impl Lowerer<'_> {
    /// `match` on data: a chain of `if ::core::matches!(scrutinee, pattern)`.
    pub(super) fn match_expr(&mut self, m: &syn::ExprMatch) -> Option<Operand> {
        if let Some(id) = self.first_active(&m.expr) {
            // Reported once: the `match` then stands for a value, so nothing more is said.
            return Some(self.error(
                &m.expr,
                format!("a `match` in a #[grad] function chooses by data, and `{id}` depends on a `wrt` parameter: compare it with `if` / `else if` instead"),
            ));
        }
        if m.arms.is_empty() {
            return Some(self.error(m.match_token, "a `match` with no arms has no value"));
        }
        let (tokens, refs, effectful, prec) = self.substitute(&m.expr, false);
        let scrut = if effectful {
            // Evaluated once, like the original.
            let v = self.opaque_from(tokens, refs, Kind::Opaque, true);
            let ph = Ident::new(&placeholder(0), Span::call_site());
            Opaque {
                tokens: quote!(#ph),
                refs: v.as_var().into_iter().collect(),
                effectful: false,
                prec: crate::emit::tokens::PREC_ATOM,
            }
        } else {
            Opaque {
                tokens,
                refs,
                effectful,
                prec,
            }
        };
        self.arms(&m.arms, &scrut)
    }

    pub(super) fn arms(&mut self, arms: &[syn::Arm], scrut: &Opaque) -> Option<Operand> {
        let arm = &arms[0];
        if arms.len() == 1 {
            return self.arm_body(arm, scrut);
        }
        let cond = self.arm_cond(arm, scrut);
        let rest = &arms[1..];
        self.two_way(
            cond,
            arm.fat_arrow_token.spans[0],
            Arms::MatchArm,
            &mut |l| l.arm_body(arm, scrut),
            &mut |l| l.arms(rest, scrut),
        )
    }

    pub(super) fn arm_cond(&mut self, arm: &syn::Arm, scrut: &Opaque) -> Operand {
        let pat = &arm.pat;
        let names = pat_bindings(pat);
        let mut refs = scrut.refs.clone();
        let st = &scrut.tokens;
        let guard = match &arm.guard {
            Some((_, g)) => {
                // The pattern's names are its own inside the guard.
                self.env.push(super::Scope::default());
                for n in &names {
                    let id = Ident::new(n, Span::call_site());
                    let e = self.b.add_extern(quote!(#id));
                    self.bind(n.clone(), e);
                }
                let (gt, grefs, _, _) = self.substitute(g, true);
                self.env.pop();
                let gt = crate::ir::shift_placeholders(gt, refs.len());
                refs.extend(grefs);
                quote!(if #gt)
            }
            None => quote!(),
        };
        // Without a guard the pattern's names are not used: `_` in their place.
        let pat = if arm.guard.is_none() {
            let mut p = pat.clone();
            Unbind.visit_pat_mut(&mut p);
            p.to_token_stream()
        } else {
            pat.to_token_stream()
        };
        let tokens = quote!(::core::matches!(#st, #pat #guard));
        let cond = Cond::Opaque(Opaque {
            tokens,
            refs,
            effectful: false,
            prec: crate::emit::tokens::PREC_ATOM,
        });
        self.cond_operand(cond, arm.pat.span())
    }

    pub(super) fn arm_body(&mut self, arm: &syn::Arm, scrut: &Opaque) -> Option<Operand> {
        self.env.push(super::Scope::default());
        let names = pat_bindings(&arm.pat);
        if !names.is_empty() {
            let pat = &arm.pat;
            let st = &scrut.tokens;
            let ids: Vec<Ident> = names
                .iter()
                .map(|n| Ident::new(n, Span::call_site()))
                .collect();
            let value = if ids.len() == 1 {
                let id = &ids[0];
                quote!(#id)
            } else {
                quote!((#(#ids),*))
            };
            let t = self.opaque_from(
                quote!(match #st { #pat => #value, _ => ::core::unreachable!() }),
                scrut.refs.clone(),
                Kind::Opaque,
                false,
            );
            if ids.len() == 1 {
                self.name_fresh(t, 0, &names[0]);
                self.bind(names[0].clone(), t);
            } else {
                for (k, n) in names.iter().enumerate() {
                    let idx = syn::Index::from(k);
                    let ph = Ident::new(&placeholder(0), Span::call_site());
                    let refs = t.as_var().into_iter().collect();
                    let f = self.opaque_from(quote!(#ph.#idx), refs, Kind::Opaque, false);
                    self.name_fresh(f, 0, n);
                    self.bind(n.clone(), f);
                }
            }
        }
        let v = self.tail(&arm.body);
        self.env.pop();
        v
    }
}

/// Replaces the names a pattern binds by `_`.
pub(super) struct Unbind;

impl syn::visit_mut::VisitMut for Unbind {
    fn visit_pat_mut(&mut self, p: &mut Pat) {
        if let Pat::Ident(pi) = p {
            if !pi.ident.to_string().starts_with(|c: char| c.is_uppercase()) {
                *p = match pi.subpat.take() {
                    Some((_, sub)) => *sub,
                    None => Pat::Wild(syn::PatWild {
                        attrs: Vec::new(),
                        underscore_token: Default::default(),
                    }),
                };
                self.visit_pat_mut(p);
                return;
            }
        }
        syn::visit_mut::visit_pat_mut(self, p);
    }
    fn visit_field_pat_mut(&mut self, fp: &mut syn::FieldPat) {
        // `Leaky { slope }` becomes `Leaky { slope: _ }`.
        if fp.colon_token.is_none() {
            fp.colon_token = Some(Default::default());
        }
        syn::visit_mut::visit_field_pat_mut(self, fp);
    }
    fn visit_expr_mut(&mut self, _: &mut Expr) {}
}

/// A pattern without its type annotation and parentheses.
pub(super) fn strip_pat(p: &Pat) -> &Pat {
    match p {
        Pat::Type(t) => strip_pat(&t.pat),
        Pat::Paren(p) => strip_pat(&p.pat),
        other => other,
    }
}

/// The names a `match` pattern binds (lowercase identifiers; capitalised ones are constants and
/// unit variants).
pub(super) fn pat_bindings(p: &Pat) -> Vec<String> {
    struct V(Vec<String>);
    impl<'ast> Visit<'ast> for V {
        fn visit_pat_ident(&mut self, pi: &'ast syn::PatIdent) {
            let s = pi.ident.to_string();
            if !s.starts_with(|c: char| c.is_uppercase()) && !self.0.contains(&s) {
                self.0.push(s);
            }
            syn::visit::visit_pat_ident(self, pi);
        }
        fn visit_expr(&mut self, _: &'ast Expr) {}
    }
    let mut v = V(Vec::new());
    v.visit_pat(p);
    v.0
}
