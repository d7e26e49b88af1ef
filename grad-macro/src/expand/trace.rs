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
    derivation: Result<crate::ad::trace::Derivation, &'static str>,
    (krate, reserved, param_ids, params): EmitContext,
    prelude: Prelude,
) -> syn::Result<TokenStream> {
    if !args.trace && !args.graph {
        return Ok(TokenStream::new());
    }
    let d = derivation.map_err(|why| {
        let at = offending(f, why).unwrap_or_else(|| f.sig.ident.span());
        syn::Error::new(
            at,
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
        let program = super::pipeline::dce(program);
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
                        local: #krate::__private::Vec::new(),
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
                        local: #krate::__private::vec![#(#local),*],
                        derivative: ::core::option::Option::Some(#derivative),
                    }
                });
            }
            quote! {
                #krate::trace::Trace {
                    function: #fname,
                    nodes: #krate::__private::vec![#(#rows),*],
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
                #prelude
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

/// Where in `f`'s body the reason `why` a derivation is not shown is: its first loop, `if`
/// or array (`None`: at the function's name).
fn offending(f: &ItemFn, why: &str) -> Option<proc_macro2::Span> {
    use syn::spanned::Spanned;
    use syn::visit::Visit;
    struct First<'a> {
        why: &'a str,
        at: Option<proc_macro2::Span>,
    }
    impl<'ast> Visit<'ast> for First<'_> {
        fn visit_expr(&mut self, e: &'ast syn::Expr) {
            if self.at.is_some() {
                return;
            }
            let hit = match e {
                syn::Expr::ForLoop(l) => (self.why == "a loop").then_some(l.for_token.span),
                syn::Expr::While(l) => (self.why == "a loop").then_some(l.while_token.span),
                syn::Expr::Loop(l) => (self.why == "a loop").then_some(l.loop_token.span),
                syn::Expr::If(i) => (self.why == "an `if`").then_some(i.if_token.span),
                // An iterator sum is a loop too.
                syn::Expr::MethodCall(m)
                    if self.why == "a loop"
                        && ["sum", "product", "fold"].iter().any(|n| m.method == n) =>
                {
                    Some(m.method.span())
                }
                syn::Expr::Index(_) | syn::Expr::Array(_) | syn::Expr::Repeat(_) => {
                    self.why.starts_with("an array").then(|| e.span())
                }
                _ => None,
            };
            match hit {
                Some(at) => self.at = Some(at),
                None => syn::visit::visit_expr(self, e),
            }
        }
    }
    let mut first = First { why, at: None };
    first.visit_block(&f.block);
    first.at
}
