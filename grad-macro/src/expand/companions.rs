//! The companion items: `_grad`, `_value_and_grad` and the others, with their signatures, attributes and documentation.

use super::*;
use crate::emit::tokens::one_or_tuple;
use crate::front::check::Sig;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens};
use rustc_hash::FxHashSet as HashSet;
use syn::{FnArg, Ident, ItemFn};

/// The type of each `wrt` parameter's derivative: a float's is `float`, an array's an array of
/// the same shape, a slice's a `Vec` (named through the facade, which re-exports `alloc`'s:
/// a `#![no_std]` crate has no `::std`).
pub(super) fn derivative_types(
    sig: &Sig,
    float: &TokenStream,
    krate: &TokenStream,
) -> Vec<TokenStream> {
    sig.wrt
        .iter()
        .map(|&i| match &sig.params[i].ty {
            syn::Type::Reference(r) if sig.params[i].structure => r.elem.to_token_stream(),
            other if sig.params[i].structure => other.to_token_stream(),
            syn::Type::Reference(r) => match &*r.elem {
                syn::Type::Slice(s) => {
                    let e = &s.elem;
                    quote!(#krate::__private::Vec<#e>)
                }
                other => other.to_token_stream(),
            },
            other if sig.params[i].array.is_some() => other.to_token_stream(),
            _ => float.clone(),
        })
        .collect()
}

/// The companions' bodies: `_grad`'s is `None` when it calls `_value_and_grad`.
pub(super) struct Bodies {
    pub(super) value_and_grad: TokenStream,
    pub(super) grad: Option<TokenStream>,
}

/// What to point at when the attribute is on something else than a function.
pub(super) fn item_head(item: &syn::Item) -> TokenStream {
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
pub(super) fn identifiers(tokens: &TokenStream) -> HashSet<String> {
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

/// A companion of `f` named `fname`, as `_jvp`, `_hvp` and `_hessian` are written: its
/// attributes kept from `f` (`kept`), its documentation, `#[must_use]` and `#[inline]`, the
/// receiver and `decl` then `extra` parameters, `ret` and `body`.
pub(super) fn companion_item(
    f: &ItemFn,
    kept: &[TokenStream],
    (fname, doc): (&Ident, &str),
    (decl, extra): (&[TokenStream], TokenStream),
    (ret, body): (TokenStream, TokenStream),
) -> TokenStream {
    let vis = &f.vis;
    let (generics, where_clause) = (&f.sig.generics, &f.sig.generics.where_clause);
    let (recv_decl, _) = receiver(f);
    let allows = allows();
    quote! {
        #(#kept)*
        #[doc = #doc]
        #[must_use]
        #[inline]
        #allows
        #vis fn #fname #generics (#recv_decl #(#decl,)* #extra) -> #ret #where_clause {
            #body
        }
    }
}

/// The parameters' declarations (`mut x: [f64; 3]` for one a body changes in place).
pub(crate) fn declared(params: &[(Ident, syn::Type, bool)]) -> Vec<TokenStream> {
    params
        .iter()
        .map(|(id, t, m)| {
            if *m {
                quote!(mut #id: #t)
            } else {
                quote!(#id: #t)
            }
        })
        .collect()
}

/// For a companion that runs the body more than once (a Jacobian's rows or columns): a fresh
/// copy of each parameter the body changes in place (flagged in `params`), made at the start of
/// each run so that every run starts from the arguments. The flags are cleared: the parameters
/// are then declared without `mut`.
pub(crate) fn fresh_copies(params: &mut [(Ident, syn::Type, bool)]) -> TokenStream {
    let ids: Vec<Ident> = params.iter().filter(|p| p.2).map(|p| p.0.clone()).collect();
    params.iter_mut().for_each(|p| p.2 = false);
    quote!(#(let mut #ids = ::core::clone::Clone::clone(&#ids);)*)
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
/// names `Self` or a float type of the `impl`'s, `float = T`), where its companions are methods too and are called through `Self::`, or in
/// a module.
pub(crate) fn in_impl(f: &ItemFn) -> bool {
    fn names(ts: TokenStream, name: &str) -> bool {
        ts.into_iter().any(|t| match t {
            TokenTree::Ident(id) => id == name,
            TokenTree::Group(g) => names(g.stream(), name),
            _ => false,
        })
    }
    // A float type the function does not declare (`float = T`) is the enclosing `impl`'s.
    let float = crate::ir::GENERIC_FLOAT;
    let outer_float = names(f.sig.to_token_stream(), float)
        && !f.sig.generics.type_params().any(|t| t.ident == float);
    f.sig.receiver().is_some() || names(f.sig.to_token_stream(), "Self") || outer_float
}

/// The original function (`item`, its tokens as written) and its companions. A building block
/// (`#[grad]` without `wrt`) gets its pullback only, with a body of its own.
pub(super) fn companions(
    (item, f, building_block): (&TokenStream, &ItemFn, bool),
    sig: &Sig,
    params: &[(Ident, syn::Type, bool)],
    (assertions, quiet): (&[TokenStream], &[TokenStream]),
    items: &[syn::Item],
    (bodies, note, krate): (Bodies, &str, &TokenStream),
    jvp: TokenStream,
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
    let tys = derivative_types(sig, &ret, krate);
    let grad_ty = one_or_tuple(&tys);
    // From the signature the companions show (`self` included when `wrt` lists it).
    let wrt_names: Vec<String> = sig
        .wrt
        .iter()
        .map(|&i| match &sig.params[i].ident {
            Some(id) => id.to_string(),
            None => params[i].0.to_string(),
        })
        .collect();
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
    let use_original = if impl_trait {
        quote!()
    } else {
        use_of_original(f, name)
    };
    let (recv_decl, recv_pass) = receiver(f);
    let decl: Vec<TokenStream> = params.iter().map(|(id, ty, _)| quote!(#id: #ty)).collect();
    // The one that runs the body declares `mut` what the body changes in place.
    let decl_vg = declared(params);
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
    let pullback = pullback_item(f, &kept, &doc_pb, pb_sig_body, jvp);
    if building_block {
        return quote! {
            #item
            #pullback
        };
    }

    // A `const fn`'s gradient is a `const fn` too where its code can be: arithmetic, `let`,
    // `if`, no call (`const G: f64 = f_grad(2.0);`).
    let constness = f.sig.constness.filter(|_| {
        let own = grad_body.clone().unwrap_or_default();
        const_code(quote!(#(#items)* #(#assertions)* #(#quiet)* #body #own))
    });
    let (grad_decl, grad_body) = match grad_body {
        Some(b) => (
            &decl_vg,
            quote! {
                #use_original
                #(#items)*
                #(#quiet)*
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
        #vis #constness fn #vg_name #generics (#recv_decl #(#decl_vg),*) -> (#ret, #grad_ty) #where_clause {
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
        #vis #constness fn #grad_name #generics (#recv_decl #(#grad_decl),*) -> #grad_ty #where_clause {
            #grad_body
        }

        #pullback
    }
}

/// Whether `code` can be the body of a `const fn`: arithmetic, casts, `let`, `if`, tuples, and
/// calls of the companions' own paths only (no method, no other function, no loop, no macro).
fn const_code(code: TokenStream) -> bool {
    let tokens: Vec<TokenTree> = code.into_iter().collect();
    for (k, t) in tokens.iter().enumerate() {
        match t {
            TokenTree::Group(g) if !const_code(g.stream()) => return false,
            TokenTree::Ident(id)
                if ["for", "loop", "while", "match", "unsafe"]
                    .iter()
                    .any(|w| id == w) =>
            {
                return false
            }
            // `!` of a macro; `.f(` a method; `path::f(` a function.
            TokenTree::Punct(p)
                if p.as_char() == '!' && matches!(tokens.get(k + 1), Some(TokenTree::Group(_))) =>
            {
                return false
            }
            TokenTree::Punct(p) if p.as_char() == '.' => {
                if matches!(
                    (tokens.get(k + 1), tokens.get(k + 2)),
                    (Some(TokenTree::Ident(_)), Some(TokenTree::Group(g))) if g.delimiter() == proc_macro2::Delimiter::Parenthesis
                ) {
                    return false;
                }
            }
            // `f::<T>(..)`: a call with type arguments (a `>` closing a `::<`).
            TokenTree::Punct(p)
                if p.as_char() == '>'
                    && matches!(tokens.get(k + 1), Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Parenthesis)
                    && turbofish_before(&tokens[..k]) =>
            {
                return false
            }
            // A keyword before parentheses (`let (a, b)`, `if (c)`) is no call.
            TokenTree::Ident(id)
                if !["let", "if", "else", "return", "mut", "as", "in"]
                    .iter()
                    .any(|w| id == w) =>
            {
                if let Some(TokenTree::Group(g)) = tokens.get(k + 1) {
                    let call = g.delimiter() == proc_macro2::Delimiter::Parenthesis;
                    // `f(..)`, `path::f(..)` (a tuple after `let`, `=` or `,` is not a call).
                    if call {
                        return false;
                    }
                }
            }
            _ => {}
        }
    }
    true
}

/// Whether the `>` after `tokens` closes a `::<` (type arguments), not a comparison.
fn turbofish_before(tokens: &[TokenTree]) -> bool {
    let mut depth = 1;
    for (k, t) in tokens.iter().enumerate().rev() {
        if let TokenTree::Punct(p) = t {
            match p.as_char() {
                '>' => depth += 1,
                '<' => {
                    depth -= 1;
                    if depth == 0 {
                        return k >= 1
                            && matches!(&tokens[k - 1], TokenTree::Punct(c) if c.as_char() == ':');
                    }
                }
                ';' => return false,
                _ => {}
            }
        }
    }
    false
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

/// What the companions may not warn about: being unused, calling a deprecated original, and
/// clippy, whose advice is for code a person writes. Derivative code is the macro's (ties of
/// `max`/`min` are split with `==` on purpose, `mul_add` would change its rounding), and the
/// user's own expressions, which the companions repeat, are linted once, in the original
/// function, at the user's line (repeated in a companion, they came back at the attribute or
/// a column off: `-1.0 * x`, `w < w`). rustc's own lints stay on, and `grad-difftest`'s
/// `tests/lints.rs` checks that the companions add none across the generated language; except
/// `unused_assignments`, which a companion repeats at the assigned value, the parameter's token
/// in the user's signature (`let mut z = wa; z = [0.0; 3];`), where the original already
/// reports it at the user's line.
pub(crate) fn allows() -> TokenStream {
    quote! {
        #[allow(
            dead_code,
            deprecated,
            unused_assignments,
            clippy::all,
            clippy::pedantic,
            clippy::nursery
        )]
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
pub(super) fn is_doc_hidden(a: &syn::Attribute) -> bool {
    match &a.meta {
        syn::Meta::List(list) => list
            .tokens
            .clone()
            .into_iter()
            .any(|t| matches!(t, TokenTree::Ident(id) if id == "hidden")),
        _ => false,
    }
}
