//! The `_trace` and `_graph` companions: the derivation (`ad::trace`) of a call at run time,
//! as a table of nodes, local partials and adjoints, and as a graph.

use super::*;
use crate::emit::Emitter;
use crate::front::args::Args;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use rustc_hash::FxHashSet as HashSet;
use syn::{Ident, ItemFn};

/// What the companions are printed with: the crate's path, the names to avoid, the
/// parameters' names and the parameters.
pub(super) type EmitContext<'a> = (
    &'a TokenStream,
    &'a HashSet<String>,
    &'a [Ident],
    &'a [(Ident, syn::Type, bool)],
);

/// What the body of `_trace` starts with: the items and checks the others have, and where
/// it finds the pullbacks of the functions it calls (quiet: another companion says a call of
/// a function that is not `#[grad]`).
pub(super) type Prelude<'a> = &'a TokenStream;

/// `_trace` (the table with numbers) and `_graph` (the graph in DOT), when asked for.
pub(super) fn shown_derivation(
    args: &Args,
    f: &ItemFn,
    derivation: Result<crate::ad::trace::Derivation, crate::ad::trace::NotShown>,
    (krate, reserved, param_ids, params): EmitContext,
    prelude: Prelude,
) -> syn::Result<TokenStream> {
    if !args.trace && !args.graph {
        return Ok(TokenStream::new());
    }
    let d = derivation.map_err(|not| {
        let at = not
            .at
            .unwrap_or_else(|| f.sig.ident.span());
        let instead = match not.why {
            "a call passing an array to another #[grad] function" => {
                ": pass its elements as floats to see the call as a node, or leave `trace` and `graph` out"
            }
            "a call returning an array" => {
                ": write what the callee computes in this function (its nodes are then shown), or leave `trace` and `graph` out"
            }
            _ => "",
        };
        syn::Error::new(
            at,
            format!(
                "`trace` and `graph` show the nodes of a function of floats, one by one: `{}` has {}{instead}",
                f.sig.ident, not.why
            ),
        )
    })?;
    let name = &f.sig.ident;
    let fname = name.to_string();
    let vis = &f.vis;
    let allows = allows();
    let kept = companion_attrs(&f.attrs);
    let (recv_decl, recv_pass) = receiver(f);
    let vg_path = fn_path(f, &format_ident!("{}_value_and_grad", f.sig.ident));
    // `_value_and_grad` takes the arguments too: a copy of each the body still needs (a
    // reference or a number is one; anything else is cloned, an error at its type if it cannot
    // be).
    let pass: Vec<TokenStream> = params
        .iter()
        .map(|(id, ty, _)| {
            use crate::front::check::{float_of, is_int_or_bool};
            let plain = matches!(ty, syn::Type::Reference(_))
                || float_of(ty).is_some()
                || is_int_or_bool(ty)
                || matches!(ty, syn::Type::Path(p) if p.qself.is_none()
                && p.path.get_ident().is_some_and(|i| {
                    i == "char" || f.sig.generics.type_params().any(|t| t.ident == *i)
                }));
            if plain {
                quote!(#id)
            } else {
                use syn::spanned::Spanned;
                quote::quote_spanned!(ty.span()=> ::core::clone::Clone::clone(&#id))
            }
        })
        .collect();
    // The body runs the function's code: a parameter it changes in place is `mut`, as in
    // `_value_and_grad`.
    let decl = declared(params);
    let mut out = TokenStream::new();
    if args.trace {
        // The program's yields: each input's value (and derivative); the nodes are recorded
        // as they run (`ad::trace::record`), and the table tells them apart.
        let mut program = d.program.clone();
        // The inputs' derivatives are `_grad`'s, from a call of `_value_and_grad` (the node
        // rows are the sweep's, which `_grad` runs too, but `_grad` may take a factor its terms
        // share out of a loop's sum: those rows agree with it to rounding).
        // A building block (no `wrt`) has no `_value_and_grad`: its inputs' derivatives are
        // the sweep's.
        let via_grad = args.wrt.is_some();
        let mut ys = vec![d.program.body.yields[0], d.result_row];
        if !via_grad {
            for (_, _, dv) in &d.inputs {
                ys.extend(*dv);
            }
        }
        program.body.yields = ys;
        // Optimised as `_grad` is (the same sums in the same order: the same bits).
        let program = super::pipeline::optimise(super::pipeline::dce(program));
        /// Where an input's derivative comes from.
        enum Derivative {
            /// Data: none.
            None,
            /// The program's yield after the input's value.
            Swept,
            /// A component of `_value_and_grad`'s gradient.
            Grad(TokenStream),
        }
        let gradient = quote!(__grad_gradient);
        let inputs: Vec<Derivative> = d
            .inputs
            .iter()
            .map(|(v, _, _)| {
                let component = match d.wrt.iter().position(|w| w == v) {
                    None => Derivative::None,
                    Some(_) if !via_grad => Derivative::Swept,
                    Some(_) if d.wrt.len() == 1 => Derivative::Grad(gradient.clone()),
                    Some(j) => {
                        let j = syn::Index::from(j);
                        Derivative::Grad(quote!(#gradient.#j))
                    }
                };
                component
            })
            .collect();
        let usize_lit = |n: usize| proc_macro2::Literal::usize_suffixed(n);
        let table: Vec<TokenStream> = d
            .nodes
            .iter()
            .map(|n| {
                let (name, expr) = (&n.name, &n.expr);
                let operands = n.local.iter().map(|l| &l.operand);
                let loops = n.loops.iter().map(|l| usize_lit(d.loops[*l].order));
                let order = usize_lit(n.order);
                quote!((#name, #expr, &[#(#operands),*], &[#(#loops),*], #order))
            })
            .collect();
        let body = Emitter::new(&program, krate, reserved, param_ids).body_with(|ys| {
            let mut ys = ys.into_iter();
            let mut next = || ys.next().unwrap_or_default();
            let f64_of = |t: TokenStream| quote!(#krate::__private::to_f64(#t));
            let result = f64_of(next());
            let result_row = next();
            // Each input's derivative (the recorder has their values, `Recorder::input`).
            let derivatives: Vec<TokenStream> = inputs
                .iter()
                .map(|component| {
                    let d = match component {
                        Derivative::None => return quote!(::core::option::Option::None),
                        Derivative::Swept => next(),
                        Derivative::Grad(g) => g.clone(),
                    };
                    quote!(::core::option::Option::Some(&(#d) as &dyn #krate::__private::Elements))
                })
                .collect();
            quote! {
                __grad_trace.finish(#fname, (#result, #result_row), &[#(#derivatives),*], &[#(#table),*])
            }
        });
        let gradient_call = if via_grad {
            quote!(let __grad_gradient = #vg_path(#recv_pass #(#pass),*).1;)
        } else {
            TokenStream::new()
        };
        let t_name = format_ident!("{}_trace", name);
        let (generics, where_clause) = (&f.sig.generics, &f.sig.generics.where_clause);
        let doc = format!(
            " The gradient of [`{name}()`] at one point, node by node, as the lecture notes' tables show it: each node's value, local derivatives and accumulated derivative `∂{name}/∂node`. Print it (`Display`) or read its fields.\n\n Generated by `#[grad(trace)]`.{}",
            d.doc(&fname)
        );
        out.extend(quote! {
            #(#kept)*
            #[doc = #doc]
            #[must_use]
            #allows
            #vis fn #t_name #generics (#recv_decl #(#decl),*) -> #krate::trace::Trace #where_clause {
                #prelude
                #gradient_call
                let __grad_trace = #krate::__private::Recorder::new();
                #body
            }
        });
    }
    if args.graph {
        let dot = d.dot(&fname);
        let g_name = format_ident!("{}_graph", name);
        let doc = format!(
            " The computational graph of [`{name}()`] in Graphviz DOT: inputs and intermediates as nodes, each edge labelled with its local derivative. Draw it with `backprop::trace::svg` (or Graphviz's `dot -Tsvg`).\n\n Generated by `#[grad(graph)]`.\n\n ```text\n{dot}```"
        );
        out.extend(quote! {
            #(#kept)*
            #[doc = #doc]
            #[must_use]
            #allows
            #vis fn #g_name () -> &'static str {
                #dot
            }
        });
    }
    Ok(out)
}
