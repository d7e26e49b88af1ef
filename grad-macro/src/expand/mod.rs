//! The expansion driver: parse the attribute and the function, check the signature, lower the
//! body to IR, ask the `pipeline` for the programs the companions need, and print them next to
//! the untouched original. Errors of every stage are collected and reported together; the original function
//! is emitted even then, so the rest of the user's crate keeps compiling.

pub(crate) mod companions;
mod cost;
pub mod derive;
mod dynamic;
mod field_code;
mod generic;
mod jacobian;
pub mod per_element;
mod pipeline;
mod pullbacks;
pub mod rule;
mod rule_second;
pub(crate) mod second_order;
mod structs;
mod through;
mod trace;

use companions::*;
use cost::*;
use jacobian::*;
use pullbacks::*;
use second_order::*;
use trace::*;

use crate::emit::tokens::one_or_tuple;
use crate::emit::Emitter;
use crate::front::args::Args;
use crate::front::check::{self, Sig};
use crate::front::ctxt::Ctxt;
use crate::ir::Var;
use crate::lower;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::{Ident, ItemFn};

pub fn grad(args: TokenStream, item: TokenStream) -> TokenStream {
    let rustc_too = std::cell::Cell::new(false);
    // A function generic over its float type is read with the parameter renamed.
    // `float = T` names it where the enclosing `impl` declares it.
    let named = syn::parse2::<Args>(args.clone()).ok().and_then(|a| a.float);
    let generic = named.or_else(|| {
        syn::parse2::<ItemFn>(item.clone())
            .ok()
            .and_then(|f| generic::float_param(&f))
    });
    match expand(args.clone(), item.clone(), &rustc_too, generic.as_ref()) {
        Ok(tokens) => tokens,
        Err(err) => {
            let mut err = err.to_compile_error();
            if let Some(t) = &generic {
                err = generic::named_back(err, t, &TokenStream::new());
            }
            // What callers find in its place: quiet, so the error is said once, here.
            let krate = syn::parse2::<Args>(args)
                .ok()
                .and_then(|a| a.krate)
                .map_or_else(|| quote!(::backprop), |p| p.to_token_stream());
            let callers = match &generic {
                None => pullbacks::failed_callee(&item, &krate),
                Some(_) => TokenStream::new(),
            };
            let original = if rustc_too.get() {
                stand_in(item)
            } else {
                item
            };
            quote!(#original #callers #err)
        }
    }
}

/// What stands for the function when the macro reports a type error that rustc would report
/// again in the body (`2 * x`: the macro's error, then E0277): its signature, so that its
/// callers still compile, over a body that is not checked. Anything else in the body is
/// reported once the macro's errors are fixed. For the macro's other errors the original is
/// emitted whole (its body may use imports that would otherwise be unused). A function returning
/// `impl Trait` keeps its body (an unreachable body has no type to show for it), as does
/// anything that is not a function.
fn stand_in(item: TokenStream) -> TokenStream {
    let Ok(mut f) = syn::parse2::<ItemFn>(item.clone()) else {
        return item;
    };
    if matches!(&f.sig.output, syn::ReturnType::Type(_, t) if matches!(**t, syn::Type::ImplTrait(_)))
    {
        return item;
    }
    f.block = Box::new(syn::parse_quote!({ ::core::unreachable!() }));
    f.attrs
        .push(syn::parse_quote!(#[allow(unused_variables, unused_mut, clippy::all)]));
    f.into_token_stream()
}

fn expand(
    args: TokenStream,
    item: TokenStream,
    rustc_too: &std::cell::Cell<bool>,
    generic: Option<&Ident>,
) -> syn::Result<TokenStream> {
    let read = match generic {
        Some(t) => generic::read_as_generic(&item, t),
        None => item.clone(),
    };
    let f = match syn::parse2::<syn::Item>(read)? {
        syn::Item::Fn(f) => f,
        other => {
            return Err(syn::Error::new_spanned(
                item_head(&other),
                "#[grad] applies to a function (`fn name(...) -> f64 { ... }`)",
            ))
        }
    };
    let args: Args = syn::parse2(args)?;
    // A function writing a `&mut` parameter of floats: differentiated as the function of
    // that parameter's value; one differentiated in a `&f64`, as the function of the value
    // (the original is emitted as written).
    let f = crate::front::out_param::purify(&f)?.unwrap_or(f);
    let wrt = args.wrt.clone().unwrap_or_default();
    let f = crate::front::out_param::by_value(&f, &wrt)?.unwrap_or(f);
    let krate = match &args.krate {
        Some(p) => p.to_token_stream(),
        None => quote!(::backprop),
    };
    // (Renamed, the first float parameter is `__grad_float`: the others are named as written.)
    generic::second_float(&f)?;
    let out = expand_fn(&args, &item, &f, rustc_too, &krate)?;
    Ok(match generic {
        Some(t) => generic::named_back(out, t, &krate),
        None => out,
    })
}

fn expand_fn(
    args: &Args,
    item: &TokenStream,
    f: &ItemFn,
    rustc_too: &std::cell::Cell<bool>,
    krate: &TokenStream,
) -> syn::Result<TokenStream> {
    // A struct of parameters in `wrt`: analysed as one parameter per field the body reads
    // (`structs`); the companions keep `f`'s signature.
    let prepared = structs::prepare(args, f)?;
    let (args_in, f_in) = match &prepared {
        Some(p) => (&p.args, &p.func),
        None => (args, f),
    };
    let cx = Ctxt::default();
    let mut sig = check::check(&cx, args_in, f_in);
    if let (Some(p), Some(s)) = (&prepared, sig.as_mut()) {
        p.patch(s);
    }
    if let Some(s) = &sig {
        if args.wrt.is_none() && s.wrt.is_empty() {
            cx.error_spanned(
                &f.sig.ident,
                format!(
                    "`{}` has no parameter of its return type to differentiate: a building block (`#[grad]` without `wrt`) is differentiated with respect to its float parameters",
                    f.sig.ident
                ),
            );
        }
    }
    let lowered = sig
        .as_ref()
        .and_then(|s| lower::lower(&cx, s, &f_in.block, krate));
    rustc_too.set(cx.said_by_rustc_too());
    cx.check()?;
    let (Some(sig), Some(lowered)) = (sig, lowered) else {
        return Err(syn::Error::new(
            Span::call_site(),
            "internal error: nothing to differentiate",
        ));
    };

    pipeline::check(&lowered.func, "lowering");
    let wrt: Vec<Var> = sig.wrt.iter().map(|&i| lowered.func.params[i]).collect();
    if let (Some(m), Some(p)) = (sig.outputs, &prepared) {
        return p.jacobian(args, (item, f), &sig, &lowered, &wrt, m, krate);
    }
    if let Some(m) = sig.outputs {
        return jacobian(args, (item, f), &sig, &lowered, &wrt, m, krate);
    }
    // The reverse sweep, unless only forward mode is asked for (`hessian` is forward over
    // it).
    let program = if !args.forward || args.hessian {
        Some(pipeline::reverse(&lowered.func, &wrt)?)
    } else {
        None
    };
    // A struct's forward mode and second order are its own (`structs::second`).
    let (second, struct_second) = match &prepared {
        Some(_) => (
            None,
            dynamic::second(args, &lowered.func, &wrt, program.as_ref())?,
        ),
        None => (
            // A building block's `hessian` asks for its pullback's tangent only.
            if args.wrt.is_some() {
                second_order(args, &sig, &lowered.func, &wrt, program.as_ref())?
            } else {
                None
            },
            None,
        ),
    };
    let mut params = companion_params(f);
    for ((_, _, m), keep) in params.iter_mut().zip(&lowered.keep_mut) {
        *m = *keep;
    }
    let mut param_ids: Vec<Ident> = params.iter().map(|(id, _, _)| id.clone()).collect();
    // The fields' parameters, bound at the top of the companions.
    if prepared.is_some() {
        param_ids.extend(
            sig.params[params.len()..]
                .iter()
                .filter_map(|p| p.ident.clone()),
        );
    }
    let reserved = identifiers(item);
    let (stand_ins, prelude, quiet_prelude) =
        pullbacks_in_scope(f, &lowered.callees, sig.float, krate);
    let mut assertions = lowered.assertions.clone();
    assertions.extend(prelude);
    // What the other bodies get: the same, but a call of a function that is not `#[grad]` is
    // said once, by the first body (`pullbacks_in_scope`).
    let mut quiet = lowered.assertions.clone();
    quiet.extend(quiet_prelude);
    // A struct's `_jvp`, `_hvp` and `_hessian`, and in forward mode its gradient's bodies
    // (one `_jvp` per parameter).
    let mut struct_extra = TokenStream::new();
    let mut forward_bodies = None;
    if let (Some(p), Some(ss)) = (&prepared, &struct_second) {
        let items = &lowered.items;
        let prelude = quote!(#(#items)* #(#quiet)*);
        let (extra, fb) = p.emit_second(
            ss,
            f,
            &sig,
            (krate, &reserved, &param_ids),
            &params,
            &prelude,
        );
        struct_extra = extra;
        forward_bodies = fb;
    }
    let forward_struct = forward_bodies.is_some();
    let (bodies, mut note, runs_body) = if let Some(b) = forward_bodies {
        let note = format!(
            "exact derivatives from forward mode, one call of [`{}_jvp()`] per parameter of the struct, along its unit tangent, in the flattened order of `Differentiable`.",
            f.sig.ident
        );
        (b, note, false)
    } else {
        match second.as_ref().map(|s| &s.layout) {
            // `mode = forward` with an array: one call of `_jvp` per element.
            Some(layout) if args.forward && layout.arrays => {
                let ty = crate::emit::tokens::float_type_tokens(sig.float);
                let grad_ty = one_or_tuple(&derivative_types(&sig, &ty, krate));
                let jvp = format_ident!("{}_jvp", f.sig.ident);
                let body = per_element::forward_gradient_body(
                    layout,
                    (fn_path(f, &jvp), &passed(f, &param_ids)),
                    &by_ref(&sig),
                    (&ty, &grad_ty),
                    krate,
                );
                let note = format!(
                "exact derivatives from forward mode, one pass per element of the `wrt` parameters (flattened in `wrt` order, each array row-major: N = {}), each a call of [`{jvp}()`] with that element's unit tangent.",
                layout.total.tokens()
            );
                let bodies = Bodies {
                    value_and_grad: body,
                    grad: None,
                };
                (bodies, note, false)
            }
            _ => {
                // `mode = forward`: the same companions, from one forward pass with a tangent per
                // `wrt` parameter.
                let gradient = match program {
                    Some(p) if !args.forward => p,
                    _ => pipeline::forward(&lowered.func, &unit_seeds(&wrt))?.gradient(),
                };
                // The gradient alone: without the instructions only the value needs. `_grad`
                // gets a body of its own when the value alone costs a twentieth of the work or
                // more (a final `ln`, a loss accumulated in a loop); otherwise it calls
                // `_value_and_grad`, which keeps the generated code small.
                let full = cost(&gradient.func.body);
                let value_only = full - cost(&gradient.without_value().body);
                let program = pipeline::optimise(gradient.func);
                let grad_only =
                    (value_only * 20 >= full).then(|| pipeline::without_value(&program));
                let body = Emitter::new(&program, krate, &reserved, &param_ids)
                    .sums_in_lanes(args.ordered_sums, args.lanes_always, f)
                    .body(true);
                let grad_body = grad_only.as_ref().map(|g| {
                    Emitter::new(g, krate, &reserved, &param_ids)
                        .sums_in_lanes(args.ordered_sums, args.lanes_always, f)
                        .body(false)
                });
                let how = if args.forward {
                    "one forward-mode pass carrying a tangent per parameter"
                } else {
                    "one reverse-mode pass"
                };
                let note = format!(
                    "exact derivatives from {how} over the body of `{}`, {}",
                    f.sig.ident,
                    cost_note(&grad_only.as_ref().unwrap_or(&program).body, &sig)
                );
                let bodies = Bodies {
                    value_and_grad: body,
                    grad: grad_body,
                };
                (bodies, note, true)
            }
        }
    };
    // The derivation, for straight-line functions of a readable size (it costs a second
    // sweep: a long function does without it, unless `trace` or `graph` asks for it).
    let small = lowered.func.body.insts.len() <= 60 && prepared.is_none();
    let derivation = if prepared.is_some() {
        Err("its parameters in a struct".into())
    } else if small || args.trace || args.graph {
        pipeline::derivation(&lowered.func, &wrt, &f.sig.ident.to_string())
    } else {
        Err("more than 60 operations".into())
    };
    // Where the table is not shown, the documentation says so, and why: no silent cut-off.
    let fname = f.sig.ident.to_string();
    match &derivation {
        Ok(d) if d.nodes.len() <= 40 => note.push_str(&d.doc(&fname)),
        Ok(d) => note.push_str(&format!(
            "\n\n # The derivation\n\n Not shown here: its graph has {} nodes, more than the 40 a table in this documentation shows. `#[grad(.., trace)]` gives the whole table at run time.",
            d.inputs.len() + d.nodes.len()
        )),
        Err(not) => note.push_str(&format!(
            "\n\n # The derivation\n\n Not shown here: `{fname}` has {}, and the table shows the derivation of functions of floats, node by node.",
            not.why
        )),
    }

    // Companions that only call others change nothing in place.
    let mut plain = params.clone();
    if !runs_body {
        plain.iter_mut().for_each(|p| p.2 = false);
    }
    // A struct's fields gathered into its gradient.
    let (bodies, shown_sig) = match &prepared {
        // In forward mode, the bodies call `_jvp` and give the struct already.
        Some(p) if forward_struct => (bodies, Some(p.user_sig(&sig))),
        Some(p) => {
            let Bodies {
                value_and_grad,
                grad,
            } = bodies;
            let bodies = Bodies {
                value_and_grad: p.wrap(value_and_grad, true, &sig, krate),
                grad: grad.map(|g| p.wrap(g, false, &sig, krate)),
            };
            (bodies, Some(p.user_sig(&sig)))
        }
        None => (bodies, None),
    };
    // The pullback's tangent, for callers' second derivatives: made when the function asks for
    // `hessian` (it costs about what the function's own Hessian costs at compile time); a
    // stand-in otherwise, or where second order cannot go through the body, whose call says
    // so at the caller.
    let pullback_jvp = match &prepared {
        // A struct, a slice or a `Vec` in `wrt` (a method with its parameters in `self` too): a
        // caller's `hessian` says at the call that it cannot go through (one passing an array
        // as the slice; a caller passing a slice or a struct is refused before, by
        // `through::refused_calls`).
        Some(_) => through::pullback_jvp_refused(
            f,
            &sig,
            &params,
            krate,
            through::JvpMissing::CannotGoThrough,
        ),
        None if !args.hessian => {
            through::pullback_jvp_refused(f, &sig, &params, krate, through::JvpMissing::NotAsked)
        }
        None => {
            let items = &lowered.items;
            let prelude = quote!(#(#items)* #(#quiet)*);
            match through::pullback_jvp(
                f,
                &sig,
                &lowered.func,
                &wrt,
                (krate, &reserved, &param_ids),
                &params,
                &prelude,
            ) {
                Ok(Some(item)) => Some(item),
                // (A slice among its parameters, or a body second order cannot go through.)
                Ok(None) | Err(_) => through::pullback_jvp_refused(
                    f,
                    &sig,
                    &params,
                    krate,
                    through::JvpMissing::CannotGoThrough,
                ),
            }
        }
    };
    let out = companions(
        (item, f, args.wrt.is_none()),
        shown_sig.as_ref().unwrap_or(&sig),
        &plain,
        (&assertions, &quiet),
        &lowered.items,
        (bodies, &note, krate),
        pullback_jvp.unwrap_or_default(),
    );
    let extra = second.map(|s| {
        s.emit(
            f,
            krate,
            &reserved,
            &param_ids,
            &params,
            &sig,
            &quiet,
            &lowered.items,
        )
    });
    let items = &lowered.items;
    let trace_prelude = quote!(#(#items)* #(#quiet)*);
    let shown = shown_derivation(
        args,
        f,
        derivation,
        (krate, &reserved, &param_ids, &params),
        &trace_prelude,
    )?;
    Ok(quote!(#out #stand_ins #extra #struct_extra #shown))
}

/// Whether each `wrt` parameter is a reference (`&[f64; 3]`): its tangent is one too.
fn by_ref(sig: &Sig) -> Vec<bool> {
    sig.wrt
        .iter()
        .map(|&i| matches!(sig.params[i].ty, syn::Type::Reference(_)))
        .collect()
}

/// `name` as a companion names a sibling: `Self::name` in an `impl`.
fn fn_path(f: &ItemFn, name: &Ident) -> TokenStream {
    if in_impl(f) {
        quote!(Self::#name)
    } else {
        quote!(#name)
    }
}

/// `let _ = f;`, which counts as using the original function, with its generic parameters
/// named (`f::<T, N>`); nothing where a parameter of the same name would shadow it.
fn use_of_original(f: &ItemFn, name: &Ident) -> TokenStream {
    let shadowed = f.sig.inputs.iter().any(|a| {
        matches!(a, syn::FnArg::Typed(pt) if matches!(&*pt.pat, syn::Pat::Ident(pi) if pi.ident == *name))
    });
    if shadowed {
        return TokenStream::new();
    }
    let path = fn_path(f, name);
    let types: Vec<&Ident> = f
        .sig
        .generics
        .params
        .iter()
        .filter_map(|g| match g {
            syn::GenericParam::Type(t) => Some(&t.ident),
            syn::GenericParam::Const(c) => Some(&c.ident),
            syn::GenericParam::Lifetime(_) => None,
        })
        .collect();
    if types.is_empty() {
        quote!(let _ = #path;)
    } else {
        quote!(let _ = #path::<#(#types),*>;)
    }
}

/// The arguments a companion passes on to a sibling: `self` (when it has a receiver) and
/// each parameter.
fn passed(f: &ItemFn, param_ids: &[Ident]) -> Vec<TokenStream> {
    let recv = f.sig.receiver().map(|_| quote!(self));
    recv.into_iter()
        .chain(param_ids.iter().map(|id| quote!(#id)))
        .collect()
}

/// `a` and `b` as one error.
fn joined(mut a: syn::Error, b: syn::Error) -> syn::Error {
    a.combine(b);
    a
}

/// `errors`, then `last`, as one error.
fn after(errors: Vec<syn::Error>, last: syn::Error) -> syn::Error {
    match errors.into_iter().reduce(joined) {
        Some(e) => joined(e, last),
        None => last,
    }
}

/// One error for several.
fn combine(errors: Vec<syn::Error>) -> syn::Result<()> {
    match errors.into_iter().reduce(joined) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
