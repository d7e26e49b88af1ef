//! The pipeline: parse the attribute and the function, check the signature, lower the body to
//! IR, run the reverse sweep, clean up, and print the companions next to the untouched
//! original. Errors of every stage are collected and reported together; the original function
//! is emitted even then, so the rest of the user's crate keeps compiling.

pub mod per_element;
pub mod rule;

use crate::ad::reverse;
use crate::emit::tokens::one_or_tuple;
use crate::emit::Emitter;
use crate::front::args::Args;
use crate::front::check::{self, Sig};
use crate::front::ctxt::Ctxt;
use crate::ir::Var;
use crate::lower;
use crate::opt::simplify;
use per_element::Layout;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens};
use rustc_hash::FxHashSet as HashSet;
use syn::{FnArg, Ident, ItemFn};

pub fn grad(args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(args, item.clone()) {
        Ok(tokens) => tokens,
        Err(err) => {
            let err = err.to_compile_error();
            quote!(#item #err)
        }
    }
}

fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let f = match syn::parse2::<syn::Item>(item.clone())? {
        syn::Item::Fn(f) => f,
        other => {
            return Err(syn::Error::new_spanned(
                item_head(&other),
                "#[grad] applies to a function (`fn name(...) -> f64 { ... }`)",
            ))
        }
    };
    let args: Args = syn::parse2(args)?;
    let krate = match &args.krate {
        Some(p) => p.to_token_stream(),
        None => quote!(::grad),
    };
    let cx = Ctxt::default();
    let sig = check::check(&cx, &args, &f);
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
        .and_then(|s| lower::lower(&cx, s, &f.block, &krate));
    cx.check()?;
    let (Some(sig), Some(lowered)) = (sig, lowered) else {
        return Err(syn::Error::new(
            Span::call_site(),
            "internal error: nothing to differentiate",
        ));
    };

    let wrt: Vec<Var> = sig.wrt.iter().map(|&i| lowered.func.params[i]).collect();
    if let Some(m) = sig.outputs {
        return jacobian(&args, (&item, &f), &sig, &lowered, &wrt, m, &krate);
    }
    // The reverse sweep, unless only forward mode is asked for (`hessian` is forward over
    // it).
    let program = if !args.forward || args.hessian {
        let (program, errors) = reverse::reverse_checked(&lowered.func, &wrt, true);
        combine(errors)?;
        Some(simplify::dce(program))
    } else {
        None
    };
    let second = second_order(&args, &f, &sig, &lowered.func, &wrt, program.as_ref())?;
    let mut params = companion_params(&f);
    for ((_, _, m), keep) in params.iter_mut().zip(&lowered.keep_mut) {
        *m = *keep;
    }
    let param_ids: Vec<Ident> = params.iter().map(|(id, _, _)| id.clone()).collect();
    let reserved = identifiers(&item);
    let (bodies, mut note, runs_body) = match second.as_ref().map(|s| &s.layout) {
        // `mode = forward` with an array: one call of `_jvp` per element.
        Some(layout) if args.forward && layout.arrays => {
            let ty = crate::emit::tokens::float_type_tokens(sig.float);
            let grad_ty = one_or_tuple(&derivative_types(&sig, &ty));
            let jvp = format_ident!("{}_jvp", f.sig.ident);
            let body = per_element::forward_gradient_body(
                layout,
                (fn_path(&f, &jvp), &passed(&f, &param_ids)),
                &by_ref(&sig),
                (&ty, &grad_ty),
                &krate,
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
            let program = match program {
                Some(p) if !args.forward => p,
                _ => {
                    let n = wrt.len();
                    let (mut fp, errors) =
                        crate::ad::forward::forward(&lowered.func, &unit_seeds(&wrt));
                    combine(errors)?;
                    fp.body.yields.truncate(1 + n);
                    simplify::dce(fp)
                }
            };
            // The gradient alone: without the instructions only the value needs. `_grad`
            // gets a body of its own when the value alone costs a twentieth of the work or
            // more (a final `ln`, a loss accumulated in a loop); otherwise it calls
            // `_value_and_grad`, which keeps the generated code small.
            let mut grad_only = program.clone();
            grad_only.body.yields[0] = crate::ir::Operand::Lit(0.0);
            let grad_only = simplify::dce(grad_only);
            let full = cost(&program.body);
            let value_only = full - cost(&grad_only.body);
            let grad_only = (value_only * 20 >= full).then(|| optimise(grad_only));
            let program = optimise(program);
            let body = Emitter::new(&program, &krate, &reserved, &param_ids).body(true);
            let grad_body = grad_only
                .as_ref()
                .map(|g| Emitter::new(g, &krate, &reserved, &param_ids).body(false));
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
    };
    // The derivation, for straight-line functions of a readable size (it costs a second
    // sweep: a long function does without it, unless `trace` or `graph` asks for it).
    let small = lowered.func.body.insts.len() <= 60;
    let derivation = if small || args.trace || args.graph {
        crate::ad::trace::derive(&lowered.func, &wrt, &f.sig.ident.to_string())
    } else {
        Err("too many operations for a table")
    };
    if let Ok(d) = &derivation {
        if d.nodes.len() <= 40 {
            note.push_str(&d.doc(&f.sig.ident.to_string()));
        }
    }

    let (stand_ins, prelude) = pullbacks_in_scope(&f, &lowered.callees, sig.float, &krate);
    let mut assertions = lowered.assertions.clone();
    assertions.extend(prelude);
    // Companions that only call others change nothing in place.
    let mut plain = params.clone();
    if !runs_body {
        plain.iter_mut().for_each(|p| p.2 = false);
    }
    let out = companions(
        (&item, &f, args.wrt.is_none()),
        &sig,
        &plain,
        &assertions,
        &lowered.items,
        bodies,
        &note,
    );
    let extra = second.map(|s| {
        s.emit(
            &f,
            &krate,
            &reserved,
            &param_ids,
            &params,
            &sig,
            &assertions,
            &lowered.items,
        )
    });
    let shown = shown_derivation(
        &args,
        &f,
        derivation,
        (&krate, &reserved, &param_ids, &params),
    )?;
    Ok(quote!(#out #stand_ins #extra #shown))
}

/// What the companions are printed with: the crate's path, the names to avoid, the
/// parameters' names and the parameters.
type EmitContext<'a> = (
    &'a TokenStream,
    &'a HashSet<String>,
    &'a [Ident],
    &'a [(Ident, syn::Type, bool)],
);

/// `_trace` (the table with numbers) and `_graph` (the graph in DOT), when asked for.
fn shown_derivation(
    args: &Args,
    f: &ItemFn,
    derivation: Result<crate::ad::trace::Derivation, &'static str>,
    (krate, reserved, param_ids, params): EmitContext,
) -> syn::Result<TokenStream> {
    if !args.trace && !args.graph {
        return Ok(TokenStream::new());
    }
    let d = derivation.map_err(|why| {
        syn::Error::new_spanned(
            &f.sig.ident,
            format!(
                "`trace` and `graph` show straight-line functions, node by node: `{}` has {why}",
                f.sig.ident
            ),
        )
    })?;
    let name = &f.sig.ident;
    let fname = name.to_string();
    let vis = &f.vis;
    let allows = allows();
    let kept = companion_attrs(&f.attrs);
    let (recv_decl, _) = receiver(f);
    let decl: Vec<TokenStream> = params.iter().map(|(id, t, _)| quote!(#id: #t)).collect();
    let mut out = TokenStream::new();
    if args.trace {
        // The program's yields: each input's value (and derivative), then each node's value,
        // local derivatives and derivative.
        let mut program = d.program.clone();
        let mut ys = Vec::new();
        for (v, _, dv) in &d.inputs {
            ys.push(crate::ir::Operand::Var(*v));
            ys.extend(*dv);
        }
        for n in &d.nodes {
            ys.push(crate::ir::Operand::Var(n.var));
            ys.extend(n.local.iter().map(|(_, _, p)| *p));
            ys.push(n.adjoint);
        }
        program.body.yields = ys;
        let program = simplify::dce(program);
        let inputs: Vec<(String, bool)> = d
            .inputs
            .iter()
            .map(|(_, n, dv)| (n.clone(), dv.is_some()))
            .collect();
        let nodes: Vec<(String, String, Vec<String>)> = d
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.clone(),
                    n.expr.clone(),
                    n.local.iter().map(|(o, _, _)| o.clone()).collect(),
                )
            })
            .collect();
        let body = Emitter::new(&program, krate, reserved, param_ids).body_with(|ys| {
            let mut ys = ys.into_iter();
            let mut next = || ys.next().unwrap_or_default();
            let f64_of = |t: TokenStream| quote!(#krate::__private::to_f64(#t));
            let mut rows = Vec::new();
            for (n, differentiated) in &inputs {
                let value = f64_of(next());
                let derivative = if *differentiated {
                    let d = f64_of(next());
                    quote!(::core::option::Option::Some(#d))
                } else {
                    quote!(::core::option::Option::None)
                };
                rows.push(quote! {
                    #krate::trace::Node {
                        name: #n,
                        expression: "",
                        value: #value,
                        local: ::std::vec::Vec::new(),
                        derivative: #derivative,
                    }
                });
            }
            for (n, e, operands) in &nodes {
                let value = f64_of(next());
                let local: Vec<TokenStream> = operands
                    .iter()
                    .map(|o| {
                        let l = f64_of(next());
                        quote!((#o, #l))
                    })
                    .collect();
                let derivative = f64_of(next());
                rows.push(quote! {
                    #krate::trace::Node {
                        name: #n,
                        expression: #e,
                        value: #value,
                        local: ::std::vec![#(#local),*],
                        derivative: ::core::option::Option::Some(#derivative),
                    }
                });
            }
            quote! {
                #krate::trace::Trace {
                    function: #fname,
                    nodes: ::std::vec![#(#rows),*],
                }
            }
        });
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
                #body
            }
        });
    }
    if args.graph {
        let dot = d.dot(&fname);
        let g_name = format_ident!("{}_graph", name);
        let doc = format!(
            " The computational graph of [`{name}()`] in Graphviz DOT: inputs and intermediates as nodes, each edge labelled with its local derivative. Render it with `dot -Tsvg`.\n\n Generated by `#[grad(graph)]`.\n\n ```text\n{dot}```"
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

/// `_jacobian` for a function returning `m` floats: row `i` is the gradient of output `i`.
/// Forward mode (one pass, a tangent per parameter) when there are no more parameters than
/// outputs or `mode = forward` says so; otherwise reverse mode, one sweep per output.
fn jacobian(
    args: &Args,
    (item, f): (&TokenStream, &ItemFn),
    sig: &Sig,
    lowered: &lower::Lowered,
    wrt: &[Var],
    m: usize,
    krate: &TokenStream,
) -> syn::Result<TokenStream> {
    let mut errors = Vec::new();
    if args.wrt.is_none() {
        errors.push(syn::Error::new_spanned(
            &f.sig.ident,
            "a function returning several values gets a Jacobian, with respect to the parameters `wrt` lists: a building block must return one float",
        ));
    }
    if args.hessian {
        errors.push(syn::Error::new_spanned(
            &f.sig.output,
            "`hessian` needs a function returning one float",
        ));
    }
    if args.trace || args.graph {
        errors.push(syn::Error::new_spanned(
            &f.sig.output,
            "`trace` and `graph` show a function returning one float",
        ));
    }
    let layout = match layout(args, sig, "a Jacobian needs its length at compile time") {
        Ok(l) => l,
        Err(e) => return Err(after(errors, e)),
    };
    combine(errors)?;
    let params = companion_params(f);
    let param_ids: Vec<Ident> = params.iter().map(|(id, _, _)| id.clone()).collect();
    let reserved = identifiers(item);
    let cx = Jac {
        lowered,
        sig,
        wrt,
        m,
        layout: &layout,
        emit: (krate, &reserved, &param_ids),
    };
    // Forward mode when there are no more parameters than values (counted flat, when the
    // macro knows the arrays' lengths), unless `mode` says; reverse mode also when forward
    // mode does not take the body and `mode = forward` did not ask for it.
    let fewer = match &layout.total {
        per_element::Count::Known(k) => *k <= m,
        per_element::Count::Expr(..) => false,
    };
    let forward_body = (args.forward || (!args.reverse && fewer)).then(|| cx.forward());
    let (forward, body) = match forward_body {
        Some(Ok(body)) => (true, body),
        Some(Err(e)) if args.forward => return Err(e),
        _ => (false, cx.reverse()?),
    };
    let n = layout.total.tokens();
    let (stand_ins, prelude) = pullbacks_in_scope(f, &lowered.callees, sig.float, krate);
    let (name, vis) = (&f.sig.ident, &f.vis);
    let (recv_decl, _) = receiver(f);
    let decl = params.iter().zip(&lowered.keep_mut).map(|((id, t, _), m)| {
        if *m {
            quote!(mut #id: #t)
        } else {
            quote!(#id: #t)
        }
    });
    let ty = crate::emit::tokens::float_type_tokens(sig.float);
    let ml = proc_macro2::Literal::usize_unsuffixed(m);
    let original = fn_path(f, name);
    let listed = sig
        .wrt
        .iter()
        .map(|&i| format!("`{}`", param_ids[i]))
        .collect::<Vec<_>>()
        .join(", ");
    let link = if in_impl(f) {
        format!("Self::{name}")
    } else {
        name.to_string()
    };
    let doc = format!(
        " Jacobian of [`{link}()`], which returns {m} values, with respect to {listed}{}: row `i` is the gradient of the `i`-th value, `j[i][k] = ∂yᵢ/∂wₖ`.\n\n Generated by `#[grad]`, in {}.",
        if layout.arrays {
            " (arrays flattened row-major, in `wrt` order)"
        } else {
            ""
        },
        match (forward, layout.arrays) {
            (true, false) => format!("forward mode: one pass carrying a tangent per parameter ({n} ≤ {m} values, or `mode = forward`)"),
            (true, true) => format!("forward mode: one pass per element, with its unit tangent ({n} elements, or `mode = forward`)"),
            (false, _) => format!("reverse mode: one sweep per value ({m} values, {n} elements, or `mode = reverse`)"),
        }
    );
    let jac = format_ident!("{}_jacobian", name);
    let vj = format_ident!("{}_value_and_jacobian", name);
    let (generics, where_clause) = (&f.sig.generics, &f.sig.generics.where_clause);
    let doc_vj = format!(
        " Value of [`{link}()`] and its Jacobian with respect to {listed}, from the same passes: returns `({name}(..), {name}_jacobian(..))`."
    );
    let kept = companion_attrs(&f.attrs);
    let allows = allows();
    let items = &lowered.items;
    let assertions = &lowered.assertions;
    let ret = match &f.sig.output {
        syn::ReturnType::Type(_, t) => t.to_token_stream(),
        syn::ReturnType::Default => quote!(()),
    };
    // The values come as an array: a tuple is made of its elements.
    let value = if matches!(&f.sig.output, syn::ReturnType::Type(_, t) if matches!(**t, syn::Type::Tuple(_)))
    {
        let (vals, jac) = (per_element::local("values"), per_element::local("jac"));
        let each = (0..m).map(proc_macro2::Literal::usize_unsuffixed);
        quote! {
            let (#vals, #jac) = { #body };
            ((#(#vals[#each]),*), #jac)
        }
    } else {
        body
    };
    let plain = params.iter().map(|(id, t, _)| quote!(#id: #t));
    let pass = passed(f, &param_ids);
    let vj_path = fn_path(f, &vj);
    Ok(quote! {
        #item

        #(#kept)*
        #[doc = #doc_vj]
        #[must_use]
        #[inline]
        #allows
        #vis fn #vj #generics (#recv_decl #(#decl),*) -> (#ret, [[#ty; #n]; #ml]) #where_clause {
            let _ = #original;
            #(#items)*
            #(#assertions)*
            #prelude
            #value
        }

        #(#kept)*
        #[doc = #doc]
        #[must_use]
        #[inline]
        #allows
        #vis fn #jac #generics (#recv_decl #(#plain),*) -> [[#ty; #n]; #ml] #where_clause {
            #vj_path(#(#pass),*).1
        }

        #stand_ins
    })
}

/// What a Jacobian's body is built from.
struct Jac<'a> {
    lowered: &'a lower::Lowered,
    sig: &'a Sig,
    wrt: &'a [Var],
    m: usize,
    layout: &'a Layout,
    emit: (&'a TokenStream, &'a HashSet<String>, &'a [Ident]),
}

impl Jac<'_> {
    /// Forward mode: all directions in one pass, or, with an array, one pass per element.
    fn forward(&self) -> syn::Result<TokenStream> {
        let (krate, reserved, param_ids) = self.emit;
        let (m, n) = (self.m, self.wrt.len());
        let ty = crate::emit::tokens::float_type_tokens(self.sig.float);
        if self.layout.arrays {
            let (func, seeds) = with_direction(&self.lowered.func, self.wrt);
            let (jp, errors) = crate::ad::forward::forward(&func, &seeds);
            combine(errors)?;
            let jp = simplify::dce(jp);
            let dots: Vec<Ident> = self
                .sig
                .wrt
                .iter()
                .map(|&i| per_element::local(&format!("{}_dot", param_ids[i])))
                .collect();
            let by_ref = by_ref(self.sig);
            let decls: Vec<TokenStream> = self
                .sig
                .wrt
                .iter()
                .zip(&dots)
                .map(|(&i, d)| {
                    let ty = &self.sig.params[i].ty;
                    let m = self.lowered.keep_mut[i].then(|| quote!(mut));
                    quote!(#m #d: #ty)
                })
                .collect();
            let mut ids = param_ids.to_vec();
            ids.extend(dots.iter().cloned());
            let column = Emitter::new(&jp, krate, reserved, &ids).body_with(|ys| {
                let (values, tangents) = ys.split_at(m);
                quote!(([#(#values),*], [#(#tangents),*]))
            });
            return Ok(per_element::jacobian_body(
                self.layout,
                (&decls, &by_ref),
                column,
                (&ty, m),
                krate,
            ));
        }
        let (mut fp, errors) =
            crate::ad::forward::forward(&self.lowered.func, &unit_seeds(self.wrt));
        combine(errors)?;
        // The values, then the tangents row by row (they come direction by direction).
        let ys = fp.body.yields.clone();
        fp.body.yields = ys[..m].to_vec();
        fp.body.yields.extend(
            (0..m)
                .flat_map(|i| (0..n).map(move |j| m + i * n + j))
                .map(|k| ys[k]),
        );
        let fp = simplify::dce(fp);
        Ok(
            Emitter::new(&fp, krate, reserved, param_ids).body_with(|ys| {
                let (values, tangents) = ys.split_at(m);
                let rows = tangents.chunks(n).map(|r| quote!([#(#r),*]));
                quote!(([#(#values),*], [#(#rows),*]))
            }),
        )
    }

    /// Reverse mode: one sweep per value, each a row (arrays flattened into it).
    fn reverse(&self) -> syn::Result<TokenStream> {
        let (krate, reserved, param_ids) = self.emit;
        let n = self.wrt.len();
        let ty = crate::emit::tokens::float_type_tokens(self.sig.float);
        let mut rows = Vec::new();
        for i in 0..self.m {
            let mut fi = self.lowered.func.clone();
            fi.body.yields = vec![fi.body.yields[i]];
            let (rp, errors) = reverse::reverse_checked(&fi, self.wrt, true);
            combine(errors)?;
            let rp = optimise(simplify::dce(rp));
            let row = Emitter::new(&rp, krate, reserved, param_ids).body_with(|ys| {
                let (value, g) = (&ys[0], &ys[1..]);
                if !self.layout.arrays {
                    return quote!((#value, [#(#g),*]));
                }
                let (parts, row) = (per_element::local("g"), per_element::local("row"));
                let total = self.layout.total.tokens();
                let writes = per_element::write_row(
                    self.layout,
                    &per_element::components(&parts, n),
                    &row,
                    krate,
                );
                let g = one_or_tuple(g);
                quote! {
                    let #parts = #g;
                    let mut #row: [#ty; #total] = [0.0; #total];
                    #writes
                    (#value, #row)
                }
            });
            rows.push(quote!({ #row }));
        }
        // Each sweep gives its value and its row.
        let values: Vec<Ident> = (0..self.m)
            .map(|i| per_element::local(&format!("value_{i}")))
            .collect();
        let jac_rows: Vec<Ident> = (0..self.m)
            .map(|i| per_element::local(&format!("row_{i}")))
            .collect();
        Ok(quote! {
            #(let (#values, #jac_rows) = #rows;)*
            ([#(#values),*], [#(#jac_rows),*])
        })
    }
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

/// A unit tangent for each `wrt` parameter: `n` directions at once.
pub(crate) fn unit_seeds(wrt: &[Var]) -> crate::ad::forward::Seeds {
    let n = wrt.len();
    crate::ad::forward::Seeds {
        n,
        of: wrt
            .iter()
            .enumerate()
            .map(|(j, &v)| {
                let t = (0..n)
                    .map(|k| crate::ir::Operand::Lit(if k == j { 1.0 } else { 0.0 }))
                    .collect();
                (v, t)
            })
            .collect(),
    }
}

/// `func` with a new parameter per `wrt` parameter, of its kind and shape (a tangent or a
/// vector component: a float, or an array), and those parameters as one direction of seeds.
fn with_direction(
    func: &crate::ir::Func,
    wrt: &[Var],
) -> (crate::ir::Func, crate::ad::forward::Seeds) {
    let mut func = func.clone();
    let mut of = Vec::new();
    for &w in wrt {
        let v = Var(func.vars.len() as u32);
        let (span, kind) = (func.info(w).span, func.info(w).kind);
        func.vars.push(crate::ir::VarInfo {
            kind,
            name: crate::ir::Name::Temp,
            active: false,
            span,
            mutable: false,
            float_checked: false,
        });
        // An array's tangent is an array of its shape.
        if let Some(info) = func.arrays.get(&w).cloned() {
            func.arrays.insert(v, info);
        }
        func.params.push(v);
        of.push((w, vec![crate::ir::Operand::Var(v)]));
    }
    (func, crate::ad::forward::Seeds { n: 1, of })
}

/// The programs of `_jvp`, `_hessian` and `_hvp`, when asked for.
struct Second {
    jvp: Option<crate::ir::Func>,
    /// The Hessian in one pass (every `wrt` parameter a scalar: `None` with an array, where
    /// `_hessian` calls `_hvp` once per element), and the Hessian-vector product.
    hessian: Option<(Option<crate::ir::Func>, crate::ir::Func)>,
    layout: Layout,
}

fn second_order(
    args: &Args,
    f: &ItemFn,
    sig: &Sig,
    primal: &crate::ir::Func,
    wrt: &[Var],
    reversed: Option<&crate::ir::Func>,
) -> syn::Result<Option<Second>> {
    if !args.forward && !args.hessian {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let what = match (args.forward, args.hessian) {
        (true, true) => "`mode = forward` and `hessian` need its length at compile time",
        (true, false) => "`mode = forward` needs its length at compile time",
        _ => "`hessian` needs its length at compile time",
    };
    let layout = layout(args, sig, what);
    if args.hessian && calls_pullbacks(&primal.body) {
        errors.push(syn::Error::new_spanned(
            &f.sig.ident,
            "`hessian` is not supported for a function that calls other #[grad] or #[grad::rule] functions: their pullbacks give first derivatives only",
        ));
    }
    let layout = match layout {
        Ok(l) => l,
        Err(e) => return Err(after(errors, e)),
    };
    combine(errors)?;
    let jvp = if args.forward {
        let (func, seeds) = with_direction(primal, wrt);
        let (mut jp, errors) = crate::ad::forward::forward(&func, &seeds);
        combine(errors)?;
        jp.body.yields.truncate(2);
        Some(simplify::dce(jp))
    } else {
        None
    };
    let hessian = if let (true, Some(reversed)) = (args.hessian, reversed) {
        let n = wrt.len();
        // Forward over reverse: the tangents of the gradient, one direction per parameter.
        let matrix = if layout.arrays {
            None
        } else {
            let (mut hp, errors) = crate::ad::forward::forward(reversed, &unit_seeds(wrt));
            combine(errors)?;
            let ys = hp.body.yields.clone();
            // The upper triangle, row by row: ∂gᵢ/∂wⱼ for i ≤ j (the lower one mirrors it, so
            // the matrix is exactly symmetric).
            hp.body.yields = (0..n)
                .flat_map(|i| (i..n).map(move |j| (i, j)))
                .map(|(i, j)| ys[(1 + n) + (1 + i) * n + j])
                .collect();
            Some(simplify::dce(hp))
        };
        let (func, seeds) = with_direction(reversed, wrt);
        let (mut vp, errors) = crate::ad::forward::forward(&func, &seeds);
        combine(errors)?;
        let ys = vp.body.yields.clone();
        vp.body.yields = (0..n).map(|i| ys[(1 + n) + 1 + i]).collect();
        Some((matrix, simplify::dce(vp)))
    } else {
        None
    };
    Ok(Some(Second {
        jvp,
        hessian,
        layout,
    }))
}

/// The flat layout of the `wrt` parameters, or an error at a slice among them, which `what`
/// needs the length of.
fn layout(args: &Args, sig: &Sig, what: &str) -> syn::Result<Layout> {
    Layout::of(sig).map_err(|i| {
        let name = sig.params[i]
            .ident
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let at = args
            .wrt
            .iter()
            .flatten()
            .find(|w| **w == name)
            .map_or(Span::call_site(), |w| w.span());
        syn::Error::new(
            at,
            format!("`{name}` is a slice: {what} (use an array, `[f64; N]` or `&[f64; N]`)"),
        )
    })
}

/// Whether a body calls another #[grad] function.
fn calls_pullbacks(b: &crate::ir::Block) -> bool {
    b.insts.iter().any(|i| match i {
        crate::ir::Inst::Op {
            op: crate::ir::Op::Pulled(_),
            ..
        } => true,
        other => other.blocks().iter().any(|nb| calls_pullbacks(nb)),
    })
}

impl Second {
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        f: &ItemFn,
        krate: &TokenStream,
        reserved: &HashSet<String>,
        param_ids: &[Ident],
        params: &[(Ident, syn::Type, bool)],
        sig: &Sig,
        assertions: &[TokenStream],
        items: &[syn::Item],
    ) -> TokenStream {
        let name = &f.sig.ident;
        let vis = &f.vis;
        // Lifetimes only (`check` refuses type and const parameters).
        let (generics, where_clause) = (&f.sig.generics, &f.sig.generics.where_clause);
        let ty = crate::emit::tokens::float_type_tokens(sig.float);
        let n = sig.wrt.len();
        let allows = allows();
        let kept = companion_attrs(&f.attrs);
        let (recv_decl, _) = receiver(f);
        let decl: Vec<TokenStream> = params
            .iter()
            .map(|(id, t, m)| {
                if *m {
                    quote!(mut #id: #t)
                } else {
                    quote!(#id: #t)
                }
            })
            .collect();
        let wrt_ids: Vec<&Ident> = sig.wrt.iter().map(|&i| &param_ids[i]).collect();
        // A tangent or a vector has the type of its parameter; an array's derivative is an
        // array of its shape.
        let wrt_tys: Vec<&syn::Type> = sig.wrt.iter().map(|&i| &sig.params[i].ty).collect();
        // A direction is written where its parameter is (an array the body changes in place).
        let muts: Vec<Option<TokenStream>> = sig
            .wrt
            .iter()
            .map(|&i| params[i].2.then(|| quote!(mut)))
            .collect();
        let d_tys = derivative_types(sig, &ty);
        let shaped = if self.layout.arrays {
            ", each shaped like its parameter"
        } else {
            ""
        };
        let listed = wrt_ids
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let with = |suffix: &str| -> Vec<Ident> {
            wrt_ids
                .iter()
                .map(|w| format_ident!("{}{}", w, suffix, span = Span::mixed_site()))
                .collect()
        };
        let prelude = quote! {
            #(#items)*
            #(#assertions)*
        };
        // A companion: the function's parameters, then `extra` ones.
        let item = |fname: &Ident,
                    doc: &str,
                    extra: TokenStream,
                    ret: TokenStream,
                    body: TokenStream,
                    runs_body: bool| {
            let (decl, prelude) = if runs_body {
                (decl.clone(), prelude.clone())
            } else {
                let plain = params.iter().map(|(id, t, _)| quote!(#id: #t)).collect();
                (plain, quote!())
            };
            quote! {
                #(#kept)*
                #[doc = #doc]
                #[must_use]
                #[inline]
                #allows
                #vis fn #fname #generics (#recv_decl #(#decl,)* #extra) -> #ret #where_clause {
                    #prelude
                    #body
                }
            }
        };
        let mut out = TokenStream::new();
        if let Some(jp) = &self.jvp {
            let dots = with("_dot");
            let mut ids = param_ids.to_vec();
            ids.extend(dots.iter().cloned());
            let body = Emitter::new(jp, krate, reserved, &ids).body(true);
            let jvp_name = format_ident!("{}_jvp", name);
            let doc = format!(
                " Value and directional derivative of [`{name}()`] along a tangent of {listed} (`{}`{shaped}), from one forward pass: returns `({name}(..), Σ ∂{name}/∂w · w_dot)`.\n\n Generated by `#[grad(mode = forward)]`: the tangents are carried alongside the values, with no tape and no storage.",
                dots.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("`, `")
            );
            out.extend(item(
                &jvp_name,
                &doc,
                quote!(#(#muts #dots: #wrt_tys),*),
                quote!((#ty, #ty)),
                body,
                true,
            ));
        }
        if let Some((hp, vp)) = &self.hessian {
            let h_name = format_ident!("{}_hessian", name);
            let v_name = format_ident!("{}_hvp", name);
            let len = self.layout.total.tokens();
            let (body, cost, runs_body) = match hp {
                Some(hp) => {
                    let body = Emitter::new(hp, krate, reserved, param_ids).body_with(|ys| {
                        // `ys` is the upper triangle, row by row.
                        let at = |i: usize, j: usize| {
                            let (i, j) = if i <= j { (i, j) } else { (j, i) };
                            i * n - i * (i + 1) / 2 + j
                        };
                        let rows = (0..n).map(|i| {
                            let row = (0..n).map(|j| &ys[at(i, j)]);
                            quote!([#(#row),*])
                        });
                        quote!([#(#rows),*])
                    });
                    let cost = format!("forward mode over the reverse-mode gradient, one tangent per parameter, so it costs about {n} gradients' worth of arithmetic, in one pass. Each entry above the diagonal is computed once and mirrored: the matrix is exactly symmetric.");
                    (body, cost, true)
                }
                None => {
                    let body = per_element::hessian_body(
                        &self.layout,
                        (fn_path(f, &v_name), &passed(f, param_ids)),
                        &by_ref(sig),
                        &ty,
                        krate,
                    );
                    let cost = format!("one call of [`{v_name}()`] per row, with the unit vector of that row's element ({listed} flattened in `wrt` order, each array row-major: N = {}), so it costs N Hessian-vector products. The entries above the diagonal are mirrored onto those below it: the matrix is exactly symmetric.", self.layout.total.tokens());
                    (body, cost, false)
                }
            };
            let doc = format!(
                " Hessian of [`{name}()`] with respect to {listed}: `h[i][j] = ∂²{name}/∂wᵢ∂wⱼ`, in `wrt` order{}.\n\n Generated by `#[grad(hessian)]`: {cost}",
                if self.layout.arrays {
                    " (arrays flattened row-major)"
                } else {
                    ""
                }
            );
            out.extend(item(
                &h_name,
                &doc,
                quote!(),
                quote!([[#ty; #len]; #len]),
                body,
                runs_body,
            ));
            let vs = with("_v");
            let mut ids = param_ids.to_vec();
            ids.extend(vs.iter().cloned());
            let body = Emitter::new(vp, krate, reserved, &ids).body_with(|ys| one_or_tuple(&ys));
            let shape = one_or_tuple(&d_tys);
            let doc = format!(
                " Hessian-vector product of [`{name}()`]: `H·v` for the vector `v` with a component per `wrt` parameter ({listed}: `{}`{shaped}), in the shape of the gradient, without forming `H`.\n\n Generated by `#[grad(hessian)]`: one forward direction over the reverse-mode gradient, about the cost of two gradients.",
                vs.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("`, `")
            );
            out.extend(item(
                &v_name,
                &doc,
                quote!(#(#muts #vs: #wrt_tys),*),
                shape,
                body,
                true,
            ));
        }
        out
    }
}

/// The type of each `wrt` parameter's derivative: a float's is `float`, an array's an array of
/// the same shape, a slice's a `Vec`.
fn derivative_types(sig: &Sig, float: &TokenStream) -> Vec<TokenStream> {
    sig.wrt
        .iter()
        .map(|&i| match &sig.params[i].ty {
            syn::Type::Reference(r) => match &*r.elem {
                syn::Type::Slice(s) => {
                    let e = &s.elem;
                    quote!(::std::vec::Vec<#e>)
                }
                other => other.to_token_stream(),
            },
            other if sig.params[i].array.is_some() => other.to_token_stream(),
            _ => float.clone(),
        })
        .collect()
}

/// What makes `__grad_f::pullback`, in a companion's body, name the pullback of each
/// function `f` of a module the body calls, or fail with a message that says what to do when
/// `f` has none: a module of stand-ins (a struct `__grad_f` whose `pullback` requires a trait
/// nothing implements), imported with a glob, and `f` itself, imported by name as `__grad_f`.
/// An import by name takes precedence over a glob in each namespace it brings a name to, so
/// `__grad_f` is the callee's own struct when `#[grad]` or `#[grad::rule]` made one, and the
/// stand-in otherwise. The imports are in the body, so `f` resolves as in the caller's own body
/// (a function declared in an enclosing function, a `use` in the body), and only names that
/// start with `__grad_` are added.
///
/// Returns the module of stand-ins, for next to the companions (`None` in an `impl`, where it
/// goes in each body: the error is then reported once per companion), and the statements for
/// each body.
fn pullbacks_in_scope(
    f: &ItemFn,
    callees: &[(Ident, syn::Path, usize)],
    float: crate::ir::Float,
    krate: &TokenStream,
) -> (Option<TokenStream>, Option<TokenStream>) {
    if callees.is_empty() {
        return (None, None);
    }
    let float = crate::emit::tokens::float_type_tokens(float);
    let stand_ins = callees.iter().map(|(id, _, n)| {
        let tys: Vec<Ident> = (0..*n).map(|k| format_ident!("A{}", k)).collect();
        quote! {
            pub struct #id {}
            impl #id {
                pub fn pullback<#(#tys),*>(#(_: #tys),*) -> (#float, (#(#tys,)*))
                where
                    #id: #krate::__private::NotGrad<(#(#tys,)*)>,
                {
                    ::core::unreachable!()
                }
            }
        }
    });
    let imports = callees
        .iter()
        .map(|(id, path, _)| quote!(use #path as #id;));
    let module = format_ident!("__grad_pullbacks_{}", f.sig.ident);
    let item = quote! {
        #[doc(hidden)]
        #[allow(non_camel_case_types, non_snake_case, dead_code, clippy::all)]
        mod #module {
            #(#stand_ins)*
        }
    };
    let uses = quote! {
        #[allow(unused_imports)]
        use #module::*;
        #(#[allow(unused_imports)] #imports)*
    };
    if in_impl(f) {
        (None, Some(quote!(#item #uses)))
    } else {
        (Some(item), Some(uses))
    }
}

/// The companions' bodies: `_grad`'s is `None` when it calls `_value_and_grad`.
struct Bodies {
    value_and_grad: TokenStream,
    grad: Option<TokenStream>,
}

/// An accumulating loop fused with its sweep, shared factors out of sums (after dead code
/// is out).
fn optimise(program: crate::ir::Func) -> crate::ir::Func {
    let mut fused = crate::opt::fuse::fuse(program);
    if crate::opt::factor::factor(&mut fused) {
        fused = simplify::dce(fused);
    }
    fused
}

/// A rough count of machine operations: arithmetic 1, a division 4, a transcendental function
/// 20, a loop's body as many times as it runs (16 if that is not a literal). Only ratios of it
/// are used.
fn cost(b: &crate::ir::Block) -> u64 {
    use crate::ir::{Inst, Op};
    b.insts
        .iter()
        .map(|i| match i {
            Inst::Op { op, .. } => match op {
                Op::Div | Op::Rem => 4,
                Op::Call(r) => crate::rules::RULES[*r].cost(),
                _ => 1,
            },
            Inst::If { then, els, .. } => 1 + cost(then).max(cost(els)),
            Inst::Loop(l) => {
                // A literal trip count, or 16 iterations.
                let trip = match &l.header {
                    crate::ir::Header::For { trip: Some(t), .. } => t.to_string().parse().ok(),
                    _ => None,
                };
                trip.unwrap_or(16) * (1 + cost(&l.body))
            }
            _ => 1,
        })
        .sum()
}

/// What the gradient costs in memory, for the companions' documentation.
fn cost_note(body: &crate::ir::Block, sig: &Sig) -> String {
    fn storage(b: &crate::ir::Block, heap: &mut bool, stack: &mut bool) {
        for i in &b.insts {
            if let crate::ir::Inst::Loop(l) = i {
                if let Some(s) = &l.save {
                    if s.cap.tokens.to_string().contains("SavedN") {
                        *stack = true;
                    } else {
                        *heap = true;
                    }
                }
            }
            for nb in i.blocks() {
                storage(nb, heap, stack);
            }
        }
    }
    let (mut heap, mut stack) = (false, false);
    storage(body, &mut heap, &mut stack);
    let slice = sig
        .wrt
        .iter()
        .any(|&i| matches!(&sig.params[i].ty, syn::Type::Reference(r) if matches!(&*r.elem, syn::Type::Slice(_))));
    let mut parts = Vec::new();
    if heap {
        parts.push("keeps the values its loops carry from one iteration to the next, one entry per iteration, in storage allocated once (before the outermost loop: every run of an inner loop reuses it)");
    } else if stack {
        parts.push("keeps the values its loops carry from one iteration to the next on the stack");
    }
    if slice {
        parts.push("returns the gradient of a slice as a new `Vec`");
    }
    if parts.is_empty() {
        "with no tape and no allocation.".into()
    } else {
        format!("with no tape; it {}.", parts.join(", and "))
    }
}

/// What to point at when the attribute is on something else than a function.
fn item_head(item: &syn::Item) -> TokenStream {
    match item {
        syn::Item::Struct(s) => s.ident.to_token_stream(),
        syn::Item::Enum(e) => e.ident.to_token_stream(),
        syn::Item::Const(c) => c.ident.to_token_stream(),
        syn::Item::Static(s) => s.ident.to_token_stream(),
        syn::Item::Mod(m) => m.ident.to_token_stream(),
        syn::Item::Trait(t) => t.ident.to_token_stream(),
        syn::Item::Type(t) => t.ident.to_token_stream(),
        syn::Item::Impl(i) => {
            let (imp, ty) = (&i.impl_token, &i.self_ty);
            quote!(#imp #ty)
        }
        other => other.to_token_stream(),
    }
}

/// Every identifier in `tokens`.
fn identifiers(tokens: &TokenStream) -> HashSet<String> {
    let mut out = HashSet::default();
    fn walk(ts: TokenStream, out: &mut HashSet<String>) {
        for tt in ts {
            match tt {
                TokenTree::Ident(id) => {
                    out.insert(id.to_string());
                }
                TokenTree::Group(g) => walk(g.stream(), out),
                _ => {}
            }
        }
    }
    walk(tokens.clone(), &mut out);
    out
}

/// The companions' parameters: the original names (without `mut`, which they do not need),
/// and a fresh name for `_`.
pub(crate) fn companion_params(f: &ItemFn) -> Vec<(Ident, syn::Type, bool)> {
    f.sig
        .inputs
        .iter()
        .enumerate()
        .filter_map(|(i, arg)| match arg {
            FnArg::Typed(pt) => {
                let id = match &*pt.pat {
                    syn::Pat::Ident(pi) => pi.ident.clone(),
                    _ => format_ident!("_arg{}", i, span = Span::mixed_site()),
                };
                Some((id, (*pt.ty).clone(), false))
            }
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// Where the function is: in an `impl` block (it has a `self` parameter, or its signature
/// names `Self`), where its companions are methods too and are called through `Self::`, or in
/// a module.
pub(crate) fn in_impl(f: &ItemFn) -> bool {
    fn names_self(ts: TokenStream) -> bool {
        ts.into_iter().any(|t| match t {
            TokenTree::Ident(id) => id == "Self",
            TokenTree::Group(g) => names_self(g.stream()),
            _ => false,
        })
    }
    f.sig.receiver().is_some() || names_self(f.sig.to_token_stream())
}

/// The original function (`item`, its tokens as written) and its companions. A building block
/// (`#[grad]` without `wrt`) gets its pullback only, with a body of its own.
fn companions(
    (item, f, building_block): (&TokenStream, &ItemFn, bool),
    sig: &Sig,
    params: &[(Ident, syn::Type, bool)],
    assertions: &[TokenStream],
    items: &[syn::Item],
    bodies: Bodies,
    note: &str,
) -> TokenStream {
    let Bodies {
        value_and_grad: body,
        grad: grad_body,
    } = bodies;
    let name = &f.sig.ident;
    let vis = &f.vis;
    let generics = &f.sig.generics;
    let where_clause = &f.sig.generics.where_clause;
    let ret = match &f.sig.output {
        syn::ReturnType::Type(_, ty) => ty.to_token_stream(),
        syn::ReturnType::Default => quote!(()),
    };
    let n = sig.wrt.len();
    let tys = derivative_types(sig, &ret);
    let grad_ty = one_or_tuple(&tys);
    let wrt_names: Vec<String> = sig.wrt.iter().map(|&i| params[i].0.to_string()).collect();
    let partials: Vec<String> = wrt_names.iter().map(|w| format!("∂{name}/∂{w}")).collect();
    let shown = if n == 1 {
        partials[0].clone()
    } else {
        format!("({})", partials.join(", "))
    };
    let listed = wrt_names
        .iter()
        .map(|w| format!("`{w}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let imp = in_impl(f);
    // Rustdoc resolves a link in an `impl` from the module: a sibling is `Self::name`.
    let link = if imp {
        format!("Self::{name}")
    } else {
        name.to_string()
    };
    let grad_name = format_ident!("{}_grad", name);
    let vg_name = format_ident!("{}_value_and_grad", name);
    let doc_grad = format!(
        " Gradient of [`{link}()`] with respect to {listed}: returns `{shown}`.\n\n Generated by `#[grad]`: {note}"
    );
    let doc_vg = format!(
        " Value and gradient of [`{link}()`] with respect to {listed}, from one pass: returns `({name}(..), {shown})`.\n\n Generated by `#[grad]`; the value is computed exactly as `{name}` computes it."
    );
    let kept = companion_attrs(&f.attrs);
    // Using a companion counts as using the original (unless the original is generic through
    // `impl Trait`, where naming it needs type arguments no one can write).
    let impl_trait = f.sig.inputs.iter().any(|a| {
        a.to_token_stream()
            .into_iter()
            .any(|t| matches!(t, TokenTree::Ident(id) if id == "impl"))
    });
    // `Self::` inside an `impl`, where the original and its companions are associated functions.
    let original = fn_path(f, name);
    let use_original = if impl_trait {
        quote!()
    } else {
        quote!(let _ = #original;)
    };
    let (recv_decl, recv_pass) = receiver(f);
    let decl: Vec<TokenStream> = params.iter().map(|(id, ty, _)| quote!(#id: #ty)).collect();
    // The one that runs the body declares `mut` what the body changes in place.
    let decl_vg: Vec<TokenStream> = params
        .iter()
        .map(|(id, ty, m)| {
            if *m {
                quote!(mut #id: #ty)
            } else {
                quote!(#id: #ty)
            }
        })
        .collect();
    let pass: Vec<&Ident> = params.iter().map(|(id, _, _)| id).collect();
    let vg_path = fn_path(f, &vg_name);
    let allows = allows();

    // The pullback: the value and one partial per parameter, `()` for one not differentiated.
    let cot_tys: Vec<TokenStream> = (0..params.len())
        .map(|i| match sig.wrt.iter().position(|&w| w == i) {
            Some(j) => tys[j].clone(),
            None => quote!(()),
        })
        .collect();
    // `self` is data: its slot is `()`, so that `T::f(x, a)` finds `a`'s partial second.
    let (recv_cot_ty, recv_cot) = if f.sig.receiver().is_some() {
        (quote!((),), quote!((),))
    } else {
        (quote!(), quote!())
    };
    let grad_var = format_ident!("grad", span = Span::mixed_site());
    let value_var = format_ident!("value", span = Span::mixed_site());
    let cots: Vec<TokenStream> = (0..params.len())
        .map(|i| match sig.wrt.iter().position(|&w| w == i) {
            Some(_) if n == 1 => quote!(#grad_var),
            Some(j) => {
                let j = proc_macro2::Literal::usize_unsuffixed(j);
                quote!(#grad_var.#j)
            }
            None => quote!(()),
        })
        .collect();
    let pullback_body = if building_block {
        quote! {
            #use_original
            #(#items)*
            #(#assertions)*
            let (#value_var, #grad_var) = { #body };
        }
    } else {
        quote!(let (#value_var, #grad_var) = #vg_path(#recv_pass #(#pass),*);)
    };
    let doc_pb = format!(
        " Value of [`{link}()`] and its partial derivative with respect to each parameter, in order (`()` for a parameter it is not differentiated in{}): returns `({name}(..), ({}))`.\n\n Generated by `#[grad]`. A `#[grad]` function that calls `{name}` calls this instead, and multiplies each partial by the adjoint of the call's result.",
        if f.sig.receiver().is_some() {
            ", and for `self`"
        } else {
            ""
        },
        f.sig
            .receiver()
            .map(|_| "()".to_string())
            .into_iter()
            .chain(params.iter().enumerate().map(|(i, (id, _, _))| {
                if sig.wrt.contains(&i) {
                    format!("∂{name}/∂{id}")
                } else {
                    "()".into()
                }
            }))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let pb_sig_body = quote! {
        (#recv_decl #(#decl_vg),*) -> (#ret, (#recv_cot_ty #(#cot_tys,)*)) #where_clause {
            #pullback_body
            (#value_var, (#recv_cot #(#cots,)*))
        }
    };
    let pullback = pullback_item(f, &kept, &doc_pb, pb_sig_body);
    if building_block {
        return quote! {
            #item
            #pullback
        };
    }

    let (grad_decl, grad_body) = match grad_body {
        Some(b) => (
            &decl_vg,
            quote! {
                #use_original
                #(#items)*
                #(#assertions)*
                #b
            },
        ),
        None => (&decl, quote!(#vg_path(#recv_pass #(#pass),*).1)),
    };
    quote! {
        #item

        #(#kept)*
        #[doc = #doc_vg]
        #[must_use]
        #[inline]
        #allows
        #vis fn #vg_name #generics (#recv_decl #(#decl_vg),*) -> (#ret, #grad_ty) #where_clause {
            #use_original
            #(#items)*
            #(#assertions)*
            #body
        }

        #(#kept)*
        #[doc = #doc_grad]
        #[must_use]
        #[inline]
        #allows
        #vis fn #grad_name #generics (#recv_decl #(#grad_decl),*) -> #grad_ty #where_clause {
            #grad_body
        }

        #pullback
    }
}

/// The companions' `self` parameter (`&self, `, or nothing) and what passes it on (`self, `).
pub(crate) fn receiver(f: &ItemFn) -> (TokenStream, TokenStream) {
    match f.sig.receiver() {
        Some(r) => {
            let attrs = &r.attrs;
            let decl = match (&r.reference, &r.mutability) {
                // `self: &Self`, `self: Box<Self>`, ...
                _ if r.colon_token.is_some() => {
                    let (m, ty) = (&r.mutability, &r.ty);
                    quote!(#(#attrs)* #m self: #ty,)
                }
                (Some((and, lt)), m) => quote!(#(#attrs)* #and #lt #m self,),
                (None, Some(m)) => quote!(#(#attrs)* #m self,),
                (None, None) => quote!(#(#attrs)* self,),
            };
            (decl, quote!(self,))
        }
        None => (quote!(), quote!()),
    }
}

/// What the companions may not warn about: being unused, calling a deprecated original, the
/// lints of a signature they copy (those are the original's to fix), and pedantic clippy's
/// `float_cmp` (ties of `max`/`min` are split with `==` on purpose).
pub(crate) fn allows() -> TokenStream {
    quote! {
        #[allow(
            dead_code,
            deprecated,
            clippy::too_many_arguments,
            clippy::type_complexity,
            clippy::ptr_arg,
            clippy::float_cmp
        )]
    }
}

/// The pullback of `f`, given its signature and body (`(params) -> ty { .. }`). In a module
/// it is `f::pullback`, an associated function of a struct that shares the function's name (a
/// struct with braces lives in the type namespace only), so that `use m::f;` brings it along;
/// in an `impl`, it is the method `f_pullback`.
pub(crate) fn pullback_item(
    f: &ItemFn,
    kept: &[TokenStream],
    doc: &str,
    sig_body: TokenStream,
) -> TokenStream {
    let (name, vis, generics) = (&f.sig.ident, &f.vis, &f.sig.generics);
    let allows = allows();
    // A struct named like a primitive type (`fn f64(..)`) would shadow the type in the whole
    // module: such a function gets no pullback (a call to it says it is not a #[grad]
    // function).
    const PRIMITIVES: &[&str] = &[
        "f32", "f64", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64",
        "u128", "usize", "bool", "char", "str",
    ];
    if !in_impl(f) && PRIMITIVES.iter().any(|p| name == p) {
        return TokenStream::new();
    }
    if in_impl(f) {
        let pb_name = format_ident!("{}_pullback", name);
        quote! {
            #(#kept)*
            #[doc = #doc]
            #[doc(hidden)]
            #[inline]
            #allows
            #vis fn #pb_name #generics #sig_body
        }
    } else {
        // The struct and its `impl` follow the function's `cfg` only; a deprecation is the
        // pullback's.
        let cfg = f.attrs.iter().filter(|a| a.path().is_ident("cfg"));
        let cfg2 = cfg.clone();
        quote! {
            #(#cfg)*
            #[doc(hidden)]
            #[allow(non_camel_case_types, dead_code)]
            #vis struct #name {}

            #(#cfg2)*
            #[allow(deprecated)]
            impl #name {
                #(#kept)*
                #[doc = #doc]
                #[inline]
                #allows
                #vis fn pullback #generics #sig_body
            }
        }
    }
}

/// The original's attributes that also apply to its companions: conditional compilation, lint
/// levels, deprecation, hiding from docs. An `expect` becomes an `allow`: the companions may
/// not trigger the lint the original expects.
pub(crate) fn companion_attrs(attrs: &[syn::Attribute]) -> Vec<TokenStream> {
    attrs
        .iter()
        .filter_map(|a| {
            let p = a.path();
            if ["cfg", "allow", "warn", "deny", "forbid", "deprecated"]
                .iter()
                .any(|k| p.is_ident(k))
            {
                Some(a.to_token_stream())
            } else if p.is_ident("expect") {
                let syn::Meta::List(list) = &a.meta else {
                    return None;
                };
                let tokens = &list.tokens;
                Some(quote!(#[allow(#tokens)]))
            } else if p.is_ident("doc") && is_doc_hidden(a) {
                Some(a.to_token_stream())
            } else {
                None
            }
        })
        .collect()
}

/// `#[doc(hidden)]` (not a doc comment that happens to say "hidden").
fn is_doc_hidden(a: &syn::Attribute) -> bool {
    match &a.meta {
        syn::Meta::List(list) => list
            .tokens
            .clone()
            .into_iter()
            .any(|t| matches!(t, TokenTree::Ident(id) if id == "hidden")),
        _ => false,
    }
}
