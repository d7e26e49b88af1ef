//! `pullback_hessian`: a callee's pullback and its Hessian in one pass, for the `_hessian` of
//! a `#[grad]` function that calls it (`ad::forward::calls`). A `pullback_jvp` per direction
//! would compute the callee's value and sweep once per direction; this computes them once and
//! carries every direction's tangent through the sweep at the same time, as the caller's own
//! `_hessian` does for its body. Each direction's tangent of the call is then a product with
//! the matrix, which unit directions reduce to its entries.
//!
//! Only `_hessian` calls it; its `_hvp`, beside it, calls `pullback_jvp`. So a callee that
//! cannot give second derivatives has a `pullback_hessian` that says nothing (`refused`): the
//! `_hvp`'s call of its `pullback_jvp` reports the reason once.

use super::pipeline;
use super::*;
use crate::emit::tokens::{float_lit, float_type_tokens};
use crate::emit::Emitter;
use crate::front::check::Sig;
use crate::ir::Var;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use rustc_hash::FxHashSet as HashSet;
use syn::{Ident, ItemFn};

/// The name: `pullback_hessian` (an associated function of the struct `f`) in a module,
/// `f_pullback_hessian` in an `impl`.
pub(crate) fn name(f: &ItemFn) -> Ident {
    super::pullbacks::pullback_sibling_name(f, "hessian")
}

/// The slots of the partials (`self` first for a method, then each parameter): each slot's
/// position among the `wrt` parameters (`None` for `self` and data), and whether it is a
/// float (the Hessian is over those: a caller passing a tangent to an array calls
/// `pullback_jvp`).
fn slots(f: &ItemFn, sig: &Sig, n_params: usize) -> Vec<(Option<usize>, bool)> {
    let recv = f.sig.receiver().map(|_| (None, false));
    recv.into_iter()
        .chain((0..n_params).map(|i| {
            let float = sig.params[i].array.is_none();
            (sig.wrt.iter().position(|&w| w == i), float)
        }))
        .collect()
}

/// The return type: `((value, partials), [[F; P]; P])` over the `P` slots.
fn ret(f: &ItemFn, sig: &Sig, n_params: usize) -> TokenStream {
    let ty = float_type_tokens(sig.float);
    let slots = slots(f, sig, n_params);
    let recv = usize::from(f.sig.receiver().is_some());
    let cots = slots.iter().enumerate().map(|(s, (w, _))| match w {
        Some(_) => {
            let own = second_order::owned_type(&sig.params[s - recv].ty);
            quote!(#own)
        }
        None => quote!(()),
    });
    let p = slots.len();
    quote!(((#ty, (#(#cots,)*)), [[#ty; #p]; #p]))
}

/// `f`'s `pullback_hessian`, from its reverse sweep `reversed` (yields: the value, then the
/// gradient in `wrt` order).
#[allow(clippy::too_many_arguments)]
pub(super) fn pullback_hessian(
    f: &ItemFn,
    sig: &Sig,
    reversed: &crate::ir::Func,
    wrt: &[Var],
    (krate, reserved, param_ids): (&TokenStream, &HashSet<String>, &[Ident]),
    params: &[(Ident, syn::Type, bool)],
    prelude: &TokenStream,
    kept: &[TokenStream],
) -> syn::Result<TokenStream> {
    let k = reversed.body.yields.len();
    // Directions along the float `wrt` parameters (`floats[d]`: the `wrt` position of
    // direction `d`).
    let floats: Vec<usize> = (0..wrt.len())
        .filter(|&a| sig.params[sig.wrt[a]].array.is_none())
        .collect();
    let seed_vars: Vec<Var> = floats.iter().map(|&a| wrt[a]).collect();
    let seeds = crate::ad::forward::Seeds {
        through_hessians: true,
        ..second_order::unit_seeds(&seed_vars)
    };
    let t = pipeline::forward(reversed, &seeds)?;
    // The upper triangle over the float directions (the lower one mirrors it: exactly
    // symmetric): `(d, e)`, gradient component `floats[d]` along direction `e`.
    let w = floats.len();
    let pairs: Vec<(usize, usize)> = (0..w).flat_map(|a| (a..w).map(move |b| (a, b))).collect();
    let picks = (0..k)
        .map(|i| t.primal(i))
        .chain(pairs.iter().map(|&(a, b)| t.tangent(1 + floats[a], b)))
        .collect();
    let program = pipeline::optimise(t.select(picks));
    let zero = float_lit(0.0, sig.float, true);
    let slots = slots(f, sig, params.len());
    let local = |s: String| format_ident!("{}", s, span = Span::mixed_site());
    let body = Emitter::new(&program, krate, reserved, param_ids).body_with(|ys| {
        let (primal, h) = ys.split_at(k);
        let hs: Vec<Ident> = (0..h.len()).map(|i| local(format!("h_{i}"))).collect();
        let cots = slots.iter().map(|(w, _)| match w {
            Some(a) => primal[1 + a].clone(),
            None => quote!(()),
        });
        let value = &primal[0];
        // A slot's direction: its position among the float `wrt` parameters.
        let dir = |(w, float): &(Option<usize>, bool)| {
            w.filter(|_| *float)
                .and_then(|a| floats.iter().position(|&f| f == a))
        };
        let rows = slots.iter().map(|r| {
            let cols = slots.iter().map(|c| match (dir(r), dir(c)) {
                (Some(a), Some(b)) => {
                    let pair = (a.min(b), a.max(b));
                    let i = pairs.iter().position(|p| *p == pair).unwrap_or(0);
                    let h = &hs[i];
                    quote!(#h)
                }
                _ => zero.clone(),
            });
            quote!([#(#cols),*])
        });
        quote! {
            let (#(#hs,)*) = (#(#h,)*);
            ((#value, (#(#cots,)*)), [#(#rows),*])
        }
    });
    let (recv_decl, _) = receiver(f);
    let decl = declared(params);
    let ret = ret(f, sig, params.len());
    let where_clause = &f.sig.generics.where_clause;
    let doc = format!(
        " The pullback of [`{}()`] and its Hessian over the partials' slots, in one pass.\n\n Generated by `#[grad(hessian)]`: forward mode over the reverse-mode gradient, one tangent per parameter, for the `_hessian` of a `#[grad]` function that calls it.",
        f.sig.ident
    );
    Ok(super::pullbacks::pullback_sibling(
        f,
        &name(f),
        kept,
        &doc,
        quote! {
            (#recv_decl #(#decl,)*) -> #ret #where_clause {
                #prelude
                #body
            }
        },
    ))
}

/// The `pullback_hessian` of a function that cannot give second derivatives (`JvpMissing`):
/// never called in a build that compiles, since `_hvp`'s call of the `pullback_jvp` beside it
/// fails, saying why.
pub(super) fn refused(
    f: &ItemFn,
    sig: &Sig,
    params: &[(Ident, syn::Type, bool)],
    kept: &[TokenStream],
) -> TokenStream {
    let (recv_decl, _) = receiver(f);
    let decl = params.iter().map(|(_, t, _)| quote!(_: #t));
    let ret = ret(f, sig, params.len());
    let where_clause = &f.sig.generics.where_clause;
    let fname = name(f);
    let (vis, generics) = (&f.vis, &f.sig.generics);
    quote! {
        #(#kept)*
        #[doc(hidden)]
        #[allow(dead_code, clippy::all)]
        #vis fn #fname #generics (#recv_decl #(#decl,)*) -> #ret #where_clause {
            ::core::unreachable!()
        }
    }
}
