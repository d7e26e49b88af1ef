//! Functions generic over their float type: `fn f<T: Real>(x: T) -> T`.
//!
//! The macro reads such a function with its float parameter renamed [`GENERIC_FLOAT`], which
//! every stage takes for the float type ([`Float::Generic`](crate::ir::Float)), as it takes
//! `f64`. Its output is the derivative code of that reading, with the parameter named back:
//! the companions copy the function's generics, so `f_grad::<f32>` and `f_grad::<f64>` are
//! the two instances, each as fast as if it had been written for its type. Constants are
//! written `<T as Real>::from_f64(c)`, which the compiler folds. Only the float type may be a
//! parameter: `check` refuses any other.

use crate::ir::GENERIC_FLOAT;
use proc_macro2::{Group, Ident, Literal, TokenStream, TokenTree};
use syn::{GenericParam, ItemFn, TypeParamBound, WherePredicate};

/// The function's type parameter bounded by `Real` (`T: Real`, `T: backprop::Real`, or in its
/// `where` clause); the first, when there are several (`second_float` refuses the others).
pub(super) fn float_param(f: &ItemFn) -> Option<Ident> {
    float_params(f).into_iter().next()
}

/// A second type parameter bounded by `Real`: refused, at it, before anything else is said
/// (read as a struct or a data type, it would lead to errors about those).
pub(super) fn second_float(f: &ItemFn) -> syn::Result<()> {
    match &float_params(f)[..] {
        [t, u, ..] => Err(syn::Error::new(
            u.span(),
            format!("`{u}` is a second float type: a #[grad] function is generic over one float type, `{t}` here; make its values `{t}`, or take them as data of a concrete type and convert them with `{t}::from_f64(..)`"),
        )),
        _ => Ok(()),
    }
}

/// The type parameters bounded by `Real`, in order.
fn float_params(f: &ItemFn) -> Vec<Ident> {
    let real = |mut bounds: syn::punctuated::Iter<'_, TypeParamBound>| {
        bounds.any(|b| {
            matches!(b, TypeParamBound::Trait(t)
                if t.path.segments.last().is_some_and(|s| s.ident == "Real"))
        })
    };
    let generics = &f.sig.generics;
    let found = generics.params.iter().filter_map(|g| match g {
        GenericParam::Type(t) => {
            let in_where = generics.where_clause.iter().any(|w| {
                w.predicates.iter().any(|p| match p {
                    WherePredicate::Type(pt) => {
                        matches!(&pt.bounded_ty, syn::Type::Path(tp) if tp.path.is_ident(&t.ident))
                            && real(pt.bounds.iter())
                    }
                    _ => false,
                })
            });
            (real(t.bounds.iter()) || in_where).then(|| t.ident.clone())
        }
        _ => None,
    });
    found.collect()
}

/// `tokens` with every `from` renamed `to` (spans kept), inside groups too.
fn rename(tokens: TokenStream, from: &str, to: &dyn Fn(&Ident) -> TokenStream) -> TokenStream {
    tokens
        .into_iter()
        .flat_map(|tt| -> TokenStream {
            match tt {
                TokenTree::Ident(id) if id == from => to(&id),
                TokenTree::Group(g) => {
                    let mut ng = Group::new(g.delimiter(), rename(g.stream(), from, to));
                    ng.set_span(g.span());
                    TokenTree::Group(ng).into()
                }
                other => other.into(),
            }
        })
        .collect()
}

/// The function as the macro reads it: its float parameter `T` renamed [`GENERIC_FLOAT`].
pub(super) fn read_as_generic(item: &TokenStream, t: &Ident) -> TokenStream {
    rename(item.clone(), &t.to_string(), &|id| {
        TokenTree::Ident(Ident::new(GENERIC_FLOAT, id.span())).into()
    })
}

/// The macro's output with the float parameter named back `t`, and the runtime's path
/// (`__grad_krate`, in the constants' `from_f64`) written out; in the text of messages and
/// documentation too.
pub(super) fn named_back(out: TokenStream, t: &Ident, krate: &TokenStream) -> TokenStream {
    let name = t.to_string();
    let out = rename(out, GENERIC_FLOAT, &|id| {
        TokenTree::Ident(Ident::new(&name, id.span())).into()
    });
    let out = rename(out, "__grad_krate", &|id| {
        krate
            .clone()
            .into_iter()
            .map(|mut tt| {
                tt.set_span(tt.span().located_at(id.span()));
                tt
            })
            .collect()
    });
    in_text(out, &name)
}

/// String literals (messages, documentation) with [`GENERIC_FLOAT`] written `name`.
fn in_text(tokens: TokenStream, name: &str) -> TokenStream {
    tokens
        .into_iter()
        .map(|tt| match tt {
            TokenTree::Literal(l) if l.to_string().contains(GENERIC_FLOAT) => {
                let text = l.to_string().replace(GENERIC_FLOAT, name);
                match text.parse::<Literal>() {
                    Ok(mut nl) => {
                        nl.set_span(l.span());
                        TokenTree::Literal(nl)
                    }
                    Err(_) => TokenTree::Literal(l),
                }
            }
            TokenTree::Group(g) => {
                let mut ng = Group::new(g.delimiter(), in_text(g.stream(), name));
                ng.set_span(g.span());
                TokenTree::Group(ng)
            }
            other => other,
        })
        .collect()
}
