//! What a callee gives the second derivatives of its callers: `pullback_jvp`, the tangent of
//! its pullback along a direction, and `pullback_hessian`, its pullback and its Hessian in one
//! pass (`ad::forward::calls` calls them), or stand-ins that say why at the call.
//!
//! `pullback_hessian` is for the `_hessian` of a caller: a `pullback_jvp` per direction would
//! compute the callee's value and sweep once per direction; this computes them once and
//! carries every direction's tangent through the sweep at the same time, as the caller's own
//! `_hessian` does for its body. Each direction's tangent of the call is then a product with
//! the matrix, which unit directions reduce to its entries. A function returning an array has
//! `pullback_jvp` only (its partials are Jacobian blocks, their tangents taken direction by
//! direction).
//!
//! Only `_hessian` calls `pullback_hessian`; its `_hvp`, beside it, calls `pullback_jvp`. So a
//! callee that cannot give second derivatives has a `pullback_hessian` that says nothing
//! (`refused`): the `_hvp`'s call of its `pullback_jvp` reports the reason once.

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

/// The calls second order cannot go through yet, each an error at the call: those passing a
/// slice (`hessian` through a call calls the callee's `pullback_jvp`, which takes a tangent
/// of each argument of a length written in its signature).
pub(super) fn refused_calls(func: &crate::ir::Func) -> Option<syn::Error> {
    let mut errors = Vec::new();
    crate::ir::any(&func.body, &mut |i| {
        if let crate::ir::Inst::Opaque { var, .. } = i {
            if let Some(call) = &func.info(*var).call {
                if call.jvp.is_none() {
                    let what = "an argument is a slice or a struct's field, whose length the macro does not know here (second derivatives go through calls with floats and arrays of lengths it knows): copy it into a local array of a written length first (`let v: [f64; N] = p.v;`, then `f(&v)`), pass an array of a written length, or write the callee's body in the caller";
                    errors.push(syn::Error::new(
                        call.span,
                        format!(
                            "`hessian` cannot go through this call of `{}` yet: {what}",
                            call.name
                        ),
                    ));
                }
            }
        }
        false
    });
    errors.into_iter().reduce(joined)
}

/// The tangent of the pullback, for a caller's second derivatives (`ad::forward` calls it at
/// each call of this function in a reverse sweep it differentiates): given the arguments and a
/// tuple with a tangent per parameter (`()` for one not differentiated), the pullback's
/// results `(value, partials)` and their derivatives along those tangents. Forward mode over
/// the reverse-mode gradient, as `_hvp` is. For a function whose `wrt` parameters are floats
/// or arrays of written lengths, returning one float, or (not a method) an array of `m`
/// floats: then the value is the array and each partial a Jacobian block (`[A; m]`), one sweep
/// per value, each with its tangent. `None` otherwise (second order through a call of it is
/// refused in the caller: `refused_calls`).
#[allow(clippy::too_many_arguments)]
pub(super) fn pullback_jvp(
    f: &ItemFn,
    sig: &Sig,
    primal: &crate::ir::Func,
    wrt: &[Var],
    (krate, reserved, param_ids): (&TokenStream, &HashSet<String>, &[Ident]),
    params: &[(Ident, syn::Type, bool)],
    prelude: &TokenStream,
) -> syn::Result<Option<TokenStream>> {
    // Floats, and arrays of lengths written in the signature (a slice's would be known at
    // run time only).
    let fixed = sig.wrt.iter().all(|&i| {
        sig.params[i]
            .array
            .as_ref()
            .is_none_or(|(a, _)| a.lens.iter().all(Option::is_some) && !a.len_from_value)
    });
    // An array of values: a building block's Jacobian blocks (a tuple of values has none).
    let block_array = returns_array(f) && f.sig.receiver().is_none();
    if (sig.outputs.is_some() && !block_array) || sig.outputs == Some(0) || !fixed || wrt.is_empty()
    {
        return Ok(None);
    }
    // A call second order cannot go through, in the body: the stand-in (`Err`).
    if let Some(e) = refused_calls(primal) {
        return Err(e);
    }
    // One reverse sweep per value, each with the direction carried through it.
    let mut programs = Vec::new();
    let mut reversed_float = None;
    for i in 0..sig.outputs.unwrap_or(1) {
        let mut fi = primal.clone();
        if sig.outputs.is_some() {
            fi.body.yields = vec![fi.body.yields[i]];
        }
        let reversed = pipeline::reverse(&fi, wrt)?;
        let k = reversed.func.body.yields.len();
        let (func, seeds) = with_direction(&reversed.func, wrt);
        let t = pipeline::forward(&func, &seeds)?;
        let picks = (0..k)
            .map(|i| t.primal(i))
            .chain((0..k).map(|i| t.tangent(i, 0)))
            .collect();
        programs.push((k, pipeline::optimise(t.select(picks))));
        if sig.outputs.is_none() {
            reversed_float = Some(reversed.func);
        }
    }
    let local = |s: &str| format_ident!("{}", s, span = Span::mixed_site());
    let dots_var = local("dots");
    let dots: Vec<Ident> = (0..wrt.len()).map(|j| local(&format!("dot_{j}"))).collect();
    let mut ids = param_ids.to_vec();
    ids.extend(dots.iter().cloned());
    // Per parameter: its tangent's type and name in the tuple (`()` and `_` for data), and
    // its partial in the pullback's results.
    // A parameter not in `wrt` takes a tangent of any type (a caller passes `()`, or a
    // float where it differentiates the argument, which the first-order pullback refuses
    // already, once).
    let mut dot_tys = Vec::new();
    let mut dot_pats = Vec::new();
    let mut dot_binds = Vec::new();
    let mut cot_tys = Vec::new();
    let mut g = f.clone();
    // A method's `self` has a slot too, first, which callers fill with `NoTangent` (`self.f(..)`
    // and `Self::f(self, ..)` alike).
    if f.sig.receiver().is_some() {
        let t = format_ident!("DSelf", span = Span::mixed_site());
        g.sig.generics.params.push(syn::parse_quote!(#t));
        dot_tys.push(quote!(#t));
        dot_pats.push(quote!(_));
    }
    for (i, param) in params.iter().enumerate() {
        match sig.wrt.iter().position(|&w| w == i) {
            Some(j) => {
                // A float or an array (by value: an array by reference takes its tangent by
                // value too), or `NoTangent` for an argument without one.
                let t = format_ident!("D{}", i, span = Span::mixed_site());
                let own = owned_type(&sig.params[i].ty);
                g.sig
                    .generics
                    .params
                    .push(syn::parse_quote!(#t: #krate::__private::TangentArg<#own>));
                dot_tys.push(quote!(#t));
                // An array of values: a Jacobian block, a row per value.
                cot_tys.push(per_value(sig, quote!(#own)));
                let d = &dots[j];
                dot_pats.push(quote!(#d));
                // `mut` where the body changes the parameter in place (its tangent too); with
                // several values, each sweep makes its own copies instead.
                let m = (param.2 && sig.outputs.is_none()).then(|| quote!(mut));
                let bind = if matches!(sig.params[i].ty, syn::Type::Reference(_)) {
                    quote!(let #d: &#own = &#krate::__private::TangentArg::tangent(#d);)
                } else {
                    quote!(let #m #d: #own = #krate::__private::TangentArg::tangent(#d);)
                };
                dot_binds.push(bind);
            }
            None => {
                let t = format_ident!("D{}", i, span = Span::mixed_site());
                g.sig.generics.params.push(syn::parse_quote!(#t));
                dot_tys.push(quote!(#t));
                cot_tys.push(quote!(()));
                dot_pats.push(quote!(_));
            }
        }
    }
    let n = params.len();
    // The partials' slots of `v` (the value, then the gradient in `wrt` order).
    let parts = |v: &[TokenStream]| {
        let cots = (0..n).map(|i| match sig.wrt.iter().position(|&w| w == i) {
            Some(j) => v[1 + j].clone(),
            None => quote!(()),
        });
        let value = &v[0];
        let self_slot = f.sig.receiver().map(|_| quote!((),));
        quote!((#value, (#self_slot #(#cots,)*)))
    };
    let body = match sig.outputs {
        None => {
            let (k, program) = &programs[0];
            Emitter::new(program, krate, reserved, &ids).body_with(|ys| {
                let (primal, tangent) = ys.split_at(*k);
                let (p, t) = (parts(primal), parts(tangent));
                quote!((#p, #t))
            })
        }
        // Each value's sweep in a block of its own, its results bound to locals; the value and
        // each block are then arrays of them, row by row. A parameter (and its tangent) the
        // body changes in place is copied into each block, so every sweep starts from it.
        Some(_) => {
            let mut fresh: Vec<TokenStream> = params
                .iter()
                .filter(|p| p.2)
                .map(|(id, _, _)| quote!(let mut #id = #id;))
                .collect();
            fresh.extend(sig.wrt.iter().zip(&dots).filter_map(|(&i, d)| {
                params
                    .get(i)
                    .filter(|p| p.2)
                    .map(|_| quote!(let mut #d = #d;))
            }));
            let mut rows = Vec::new();
            let mut results: Vec<Vec<Ident>> = Vec::new();
            for (i, (k, program)) in programs.iter().enumerate() {
                let names: Vec<Ident> = (0..2 * k).map(|r| local(&format!("r{i}_{r}"))).collect();
                let row =
                    Emitter::new(program, krate, reserved, &ids).body_with(|ys| quote!((#(#ys,)*)));
                rows.push(quote!(let (#(#names,)*) = { #(#fresh)* #row };));
                results.push(names);
            }
            // Column `c` of the results, over the values: an array.
            let column = |c: usize| {
                let each = results.iter().map(|r| &r[c]);
                quote!([#(#each),*])
            };
            let k = programs[0].0;
            let (primal, tangent): (Vec<TokenStream>, Vec<TokenStream>) = (
                (0..k).map(column).collect(),
                (k..2 * k).map(column).collect(),
            );
            let (p, t) = (parts(&primal), parts(&tangent));
            quote! {
                #(#rows)*
                (#p, #t)
            }
        }
    };
    // A method's `self` is data: its slot is `()`, first, as in the pullback.
    let (recv_decl, _) = receiver(f);
    let self_slot = f.sig.receiver().map(|_| quote!((),));
    let cots = quote!((#self_slot #(#cot_tys,)*));
    let name = &f.sig.ident;
    let doc = format!(
        " The pullback of [`{name}()`] and its derivative along a tangent of each parameter (`()` for one it is not differentiated in): `((value, partials), (value', partials'))`.\n\n Generated by `#[grad]`: forward mode over the reverse-mode gradient, for the second derivatives of a `#[grad]` function that calls `{name}`."
    );
    let kept = companion_attrs(&f.attrs);
    // `pullback_hessian` for a function returning one float (a caller's `_hessian` calls the
    // `pullback_jvp` of a function returning an array, direction by direction).
    let value_ty = value_type(sig);
    let decl = match sig.outputs {
        None => declared(params),
        Some(_) => params.iter().map(|(id, t, _)| quote!(#id: #t)).collect(),
    };
    let where_clause = &f.sig.generics.where_clause;
    let dots_ty = quote!((#(#dot_tys,)*));
    let ret = quote!(((#value_ty, #cots), (#value_ty, #cots)));
    let hessian = match &reversed_float {
        Some(reversed) => pullback_hessian(
            f,
            sig,
            reversed,
            wrt,
            (krate, reserved, param_ids),
            params,
            prelude,
            &kept,
        )?,
        // A function returning an array: `pullback_jvp` again, under the name a caller's
        // `_hessian` calls (`ad::forward::calls`).
        None => {
            let plain = params.iter().map(|(id, t, _)| quote!(#id: #t));
            let ids = params.iter().map(|(id, _, _)| id);
            let jvp = super::pullbacks::pullback_jvp_name(f);
            super::pullbacks::pullback_sibling(
                &g,
                &self::name(f),
                &kept,
                " `pullback_jvp`, for the `_hessian` of a `#[grad]` function that calls it.",
                quote! {
                    (#(#plain,)* #dots_var: #dots_ty) -> #ret #where_clause {
                        Self::#jvp(#(#ids,)* #dots_var)
                    }
                },
            )
        }
    };
    let jvp = super::pullbacks::pullback_jvp_item(
        &g,
        &kept,
        &doc,
        quote! {
            (#recv_decl #(#decl,)* #dots_var: #dots_ty) -> #ret #where_clause {
                #prelude
                let (#(#dot_pats,)*) = #dots_var;
                #(#dot_binds)*
                #body
            }
        },
    );
    Ok(Some(quote!(#jvp #hessian)))
}

/// Why a function has no tangent of its pullback.
pub(super) enum JvpMissing {
    /// It does not ask for `hessian`.
    NotAsked,
    /// Second order cannot go through its body (a call of a method or of a function of
    /// arrays, or what forward mode cannot take).
    CannotGoThrough,
}

/// `pullback_jvp` for a function that has none (`why`): a stand-in whose call does not
/// compile, with a message saying why second derivatives cannot go through the call.
pub(super) fn pullback_jvp_refused(
    f: &ItemFn,
    sig: &Sig,
    params: &[(Ident, syn::Type, bool)],
    krate: &TokenStream,
    why: JvpMissing,
) -> Option<TokenStream> {
    let block_array = returns_array(f) && f.sig.receiver().is_none();
    if sig.outputs.is_some() && !block_array {
        return None;
    }
    let ty = value_type(sig);
    let (recv_decl, _) = receiver(f);
    let decl: Vec<TokenStream> = params.iter().map(|(_, t, _)| quote!(_: #t)).collect();
    let self_slot = f.sig.receiver().map(|_| quote!(()));
    let cots: Vec<TokenStream> = self_slot
        .into_iter()
        .chain((0..params.len()).map(|i| {
            if sig.wrt.contains(&i) {
                // A slice's partial is a `Vec` (an array passed as the slice takes it).
                let own = match &sig.params[i].ty {
                    syn::Type::Reference(r) if matches!(*r.elem, syn::Type::Slice(_)) => {
                        let f = crate::emit::tokens::float_type_tokens(sig.float);
                        syn::parse_quote!(#krate::__private::Vec<#f>)
                    }
                    t => owned_type(t),
                };
                per_value(sig, quote!(#own))
            } else {
                quote!(())
            }
        }))
        .collect();
    let d = format_ident!("D", span = Span::mixed_site());
    let bound = match why {
        JvpMissing::NotAsked => quote!(#krate::__private::HessianThrough),
        JvpMissing::CannotGoThrough => quote!(#krate::__private::TangentOfPullback),
    };
    let where_clause = match &f.sig.generics.where_clause {
        Some(w) => {
            let preds = w.predicates.iter();
            quote!(where #(#preds,)* #d: #bound)
        }
        None => quote!(where #d: #bound),
    };
    let mut generics = f.sig.generics.clone();
    generics.params.push(syn::parse_quote!(#d));
    let vis = &f.vis;
    let fname = super::pullbacks::pullback_jvp_name(f);
    // In an `impl`, beside the method, it follows the method's `cfg` (in a module, the `impl`
    // it is in does).
    let kept = if in_impl(f) {
        companion_attrs(&f.attrs)
    } else {
        Vec::new()
    };
    // Quiet: what a caller's `_hessian` calls (its `_hvp` calls `pullback_jvp`, which says
    // why). For a function returning an array, shaped like `pullback_jvp`.
    let hessian = match sig.outputs {
        None => refused(f, sig, params, &kept),
        Some(_) => {
            let fname = name(f);
            let ret = quote!(((#ty, (#(#cots,)*)), (#ty, (#(#cots,)*))));
            let user_where = &f.sig.generics.where_clause;
            quote! {
                #[doc(hidden)]
                #[allow(dead_code, clippy::all)]
                #vis fn #fname #generics (#recv_decl #(#decl,)* _: #d) -> #ret #user_where {
                    ::core::unreachable!()
                }
            }
        }
    };
    // Small: every function without `hessian` has it.
    Some(quote! {
        #hessian
        #(#kept)*
        #[doc(hidden)]
        #[allow(dead_code, clippy::all)]
        #vis fn #fname #generics (#recv_decl #(#decl,)* _: #d) -> ((#ty, (#(#cots,)*)), (#ty, (#(#cots,)*))) #where_clause {
            ::core::unreachable!()
        }
    })
}

/// The value's type, in a pullback's results: the float, or an array of `m` of them.
fn value_type(sig: &Sig) -> TokenStream {
    per_value(sig, crate::emit::tokens::float_type_tokens(sig.float))
}

/// `elem` once per value of the function: itself for a function returning one float, `[elem;
/// m]` for one returning `m` (its value, a Jacobian block).
fn per_value(sig: &Sig, elem: TokenStream) -> TokenStream {
    match sig.outputs {
        Some(m) => {
            let m = proc_macro2::Literal::usize_unsuffixed(m);
            quote!([#elem; #m])
        }
        None => elem,
    }
}

/// Whether `f` returns an array (`-> [f64; M]`, a building block whose partials are Jacobian
/// blocks; a tuple of values is not one).
pub(super) fn returns_array(f: &ItemFn) -> bool {
    matches!(&f.sig.output, syn::ReturnType::Type(_, t) if matches!(**t, syn::Type::Array(_)))
}

/// The tangent of a building block's pullback (its value and Jacobian blocks), for callers'
/// second derivatives: made when the function asks for `hessian` (an error here when it
/// cannot be: the function has no other use for `hessian`), a stand-in that says so at the
/// caller otherwise.
#[allow(clippy::too_many_arguments)]
pub(super) fn block_jvp(
    args: &crate::front::args::Args,
    f: &ItemFn,
    sig: &Sig,
    lowered: &crate::lower::Lowered,
    wrt: &[Var],
    emit: (&TokenStream, &HashSet<String>, &[Ident]),
    params: &[(Ident, syn::Type, bool)],
    prelude: &TokenStream,
) -> syn::Result<TokenStream> {
    if !args.hessian {
        let stand_in = pullback_jvp_refused(f, sig, params, emit.0, JvpMissing::NotAsked);
        return Ok(stand_in.unwrap_or_default());
    }
    match pullback_jvp(f, sig, &lowered.func, wrt, emit, params, prelude)? {
        Some(item) => Ok(item),
        None => Err(syn::Error::new_spanned(
            &f.sig.output,
            "`hessian` on a function returning an array needs its `wrt` parameters to be floats or arrays of written lengths (`[f64; N]`, `&[f64; N]`)",
        )),
    }
}
