//! Pullbacks for callers: the item a `#[grad]` function gives other `#[grad]` functions to call, and where callers find them.

use super::*;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, ItemFn};

/// What makes `__grad_f::pullback`, in a companion's body, name the pullback of each
/// function `f` of a module the body calls, or fail with a message that says what to do when
/// `f` has none: a module of stand-ins (`__grad_f`, an alias of the runtime's
/// `NotAGradFunction<N, F>`, whose `pullback` requires a trait nothing implements, so that
/// rustc's message names that type and not one of ours), imported with a glob, and `f` itself,
/// imported by name as `__grad_f`.
/// An import by name takes precedence over a glob in each namespace it brings a name to, so
/// `__grad_f` is the callee's own struct when `#[grad]` or `#[backprop::rule]` made one, and the
/// stand-in otherwise. The imports are in the body, so `f` resolves as in the caller's own body
/// (a function declared in an enclosing function, a `use` in the body), and only names that
/// start with `__grad_` are added.
///
/// Returns the module of stand-ins, for next to the companions (`None` in an `impl`, where it
/// goes in each body), the statements for the first body, and those for the others.
pub(super) fn pullbacks_in_scope(
    f: &ItemFn,
    callees: &[(Ident, syn::Path, usize, bool)],
    float: crate::ir::Float,
    krate: &TokenStream,
) -> (
    Option<TokenStream>,
    Option<TokenStream>,
    Option<TokenStream>,
) {
    if callees.is_empty() {
        return (None, None, None);
    }
    // Outside the function, a generic float type is a parameter of the stand-in's own, which
    // the call infers.
    let generic = float == crate::ir::Float::Generic;
    let float = &if generic {
        quote!(__GradFloat)
    } else {
        crate::emit::tokens::float_type_tokens(float)
    };
    let own = &generic.then(|| quote!(__GradFloat,));
    // `loud`: the stand-in's `pullback` requires a trait nothing implements, so a call fails
    // with the runtime's message; `quiet`: it does not (see below).
    let stand_ins = |loud: bool| {
        callees
            .iter()
            .map(move |(id, _, n, array)| {
                // The runtime's stand-in (a type that says what it is in rustc's messages),
                // for the arities it has; a struct of our own beyond them, and for a callee
                // returning an array (`[F; M]`, each partial an array of `M` rows, `M` inferred
                // from the caller's use): its types check, so the one error is the missing
                // pullback.
                if *n <= 12 && !*array {
                    let stand_in = if loud {
                        quote!(NotAGradFunction)
                    } else {
                        quote!(QuietStandIn)
                    };
                    let params = generic.then(|| quote!(<#float>));
                    return quote! {
                        pub type #id #params = #krate::__private::#stand_in<#n, #float>;
                    };
                }
                let tys: Vec<Ident> = (0..*n).map(|k| format_ident!("A{}", k)).collect();
                let bound = loud.then(|| {
                    quote! {
                        where
                            #id: #krate::__private::IsAGradFunction<(#(#tys,)*)>,
                    }
                });
                let (rows, result, partials) = if *array {
                    (
                        Some(quote!(const __M: usize,)),
                        quote!([#float; __M]),
                        quote!((#([#tys; __M],)*)),
                    )
                } else {
                    (None, float.clone(), quote!((#(#tys,)*)))
                };
                quote! {
                    pub struct #id {}
                    impl #id {
                        pub fn pullback<#own #rows #(#tys),*>(#(_: #tys),*) -> (#result, #partials)
                        #bound
                        {
                            ::core::unreachable!()
                        }
                        pub fn pullback_jvp<#own #rows #(#tys,)* D>(#(_: #tys,)* _: D) -> ((#result, #partials), (#result, #partials))
                        #bound
                        {
                            ::core::unreachable!()
                        }
                        pub fn pullback_hessian<#own #rows #(#tys),*>(#(_: #tys),*) -> ((#result, #partials), [[#float; #n]; #n])
                        {
                            ::core::unreachable!()
                        }
                    }
                }
            })
            .collect::<Vec<_>>()
    };
    let imports: Vec<TokenStream> = callees
        .iter()
        .map(|(id, path, _, _)| quote!(use #path as #id;))
        .collect();
    let module = |loud: bool| {
        if loud {
            format_ident!("__grad_pullbacks_{}", f.sig.ident)
        } else {
            format_ident!("__grad_quiet_pullbacks_{}", f.sig.ident)
        }
    };
    let item = |loud: bool| {
        let (stand_ins, module) = (stand_ins(loud), module(loud));
        quote! {
            #[doc(hidden)]
            #[allow(non_camel_case_types, non_snake_case, dead_code, clippy::all)]
            mod #module {
                #(#stand_ins)*
            }
        }
    };
    let uses = |loud: bool| {
        let module = module(loud);
        let imports = imports.clone();
        quote! {
            #[allow(unused_imports)]
            use #module::*;
            #(#[allow(unused_imports)] #imports)*
        }
    };
    // The first body says that a call's function is not `#[grad]`; the others are quiet, so
    // that rustc counts the mistake once.
    let (loud, quiet) = (item(true), item(false));
    let (loud_uses, quiet_uses) = (uses(true), uses(false));
    if in_impl(f) {
        // In an `impl`, the stand-ins go in each body.
        (
            None,
            Some(quote!(#loud #loud_uses)),
            Some(quote!(#quiet #quiet_uses)),
        )
    } else {
        (
            Some(quote!(#loud #quiet)),
            Some(loud_uses),
            Some(quiet_uses),
        )
    }
}

/// The names of primitive types: a struct of such a name would shadow the type in the whole
/// module, so a function of such a name gets no pullback.
const PRIMITIVES: &[&str] = &[
    "f32", "f64", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128",
    "usize", "bool", "char", "str",
];

/// The pullback of `f`, given its signature and body (`(params) -> ty { .. }`). In a module
/// it is `f::pullback`, an associated function of a struct that shares the function's name (a
/// struct with braces lives in the type namespace only), so that `use m::f;` brings it along;
/// in an `impl`, it is the method `f_pullback`. `jvp`: its tangent (`pullback_jvp_item`), in
/// the same `impl`, or nothing.
pub(crate) fn pullback_item(
    f: &ItemFn,
    kept: &[TokenStream],
    doc: &str,
    sig_body: TokenStream,
    jvp: TokenStream,
) -> TokenStream {
    let (name, vis, generics) = (&f.sig.ident, &f.vis, &f.sig.generics);
    let allows = allows();
    // A struct named like a primitive type (`fn f64(..)`) would shadow the type in the whole
    // module: such a function gets no pullback (a call to it says it is not a `#[grad]`
    // function).
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

            #jvp
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

                #jvp
            }
        }
    }
}

/// The tangent of `f`'s pullback, given its signature and body (`(params, dots) -> ty { .. }`),
/// for `pullback_item` to put next to the pullback: `f::pullback_jvp` in a module, the method
/// `f_pullback_jvp` in an `impl`. Second order through a call of `f` calls it
/// (`ad::forward`).
pub(crate) fn pullback_jvp_item(
    f: &ItemFn,
    kept: &[TokenStream],
    doc: &str,
    sig_body: TokenStream,
) -> TokenStream {
    pullback_sibling(f, &pullback_jvp_name(f), kept, doc, sig_body)
}

/// A function beside `f`'s pullback (its tangent, its Hessian: `fname`), with `f`'s generics
/// and the kept attributes.
pub(crate) fn pullback_sibling(
    f: &ItemFn,
    fname: &Ident,
    kept: &[TokenStream],
    doc: &str,
    sig_body: TokenStream,
) -> TokenStream {
    let (vis, generics) = (&f.vis, &f.sig.generics);
    let allows = allows();
    quote! {
        #(#kept)*
        #[doc = #doc]
        #[doc(hidden)]
        #[inline]
        #allows
        #vis fn #fname #generics #sig_body
    }
}

/// The name of `f`'s pullback tangent: `pullback_jvp` (an associated function of the struct
/// `f`) in a module, `f_pullback_jvp` in an `impl`; what `lower::syntax::jvp_path` calls.
pub(crate) fn pullback_jvp_name(f: &ItemFn) -> Ident {
    pullback_sibling_name(f, "jvp")
}

/// `pullback_{what}` in a module (an associated function of the struct `f`),
/// `f_pullback_{what}` in an `impl`.
pub(crate) fn pullback_sibling_name(f: &ItemFn, what: &str) -> Ident {
    if in_impl(f) {
        format_ident!("{}_pullback_{what}", f.sig.ident)
    } else {
        format_ident!("pullback_{what}")
    }
}

/// What callers find for a function whose own expansion failed (the macro reported why): its
/// pullback and their tangents as quiet stand-ins, so that `#[grad]` functions calling it
/// compile without errors of their own, and the one error is the callee's. For a function
/// returning a float, the runtime's `QuietStandIn` (each partial of its argument's type, as
/// for a function that is not `#[grad]`); for one returning an array, the signature's blocks
/// (every float and array parameter given one). Nothing for a method, a generic function, or a
/// function that returns neither.
pub(crate) fn failed_callee(item: &TokenStream, krate: &TokenStream) -> TokenStream {
    use crate::front::check::{array_of, float_of};
    let Ok(f) = syn::parse2::<ItemFn>(item.clone()) else {
        return TokenStream::new();
    };
    let primitive = PRIMITIVES.iter().any(|p| f.sig.ident == p);
    if in_impl(&f) || !f.sig.generics.params.is_empty() || primitive {
        return TokenStream::new();
    }
    let ret = match &f.sig.output {
        syn::ReturnType::Type(_, t) => (**t).clone(),
        syn::ReturnType::Default => return TokenStream::new(),
    };
    let (name, vis, n) = (&f.sig.ident, &f.vis, f.sig.inputs.len());
    let arity = proc_macro2::Literal::usize_unsuffixed(n);
    let cfg: Vec<&syn::Attribute> = f
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg"))
        .collect();
    let head = quote! {
        #(#cfg)*
        #[doc(hidden)]
        #[allow(non_camel_case_types, dead_code)]
    };
    // `m`: the number of values of an array result (its partials are blocks, a row each).
    let (float, m) = match (float_of(&ret), array_of(&ret)) {
        (Some(fl), _) if n <= 12 => {
            let ty = crate::emit::tokens::float_type_tokens(fl);
            return quote! {
                #head
                #vis type #name = #krate::__private::QuietStandIn<#arity, #ty>;
            };
        }
        (None, Some((info, fl))) if info.lens.len() == 1 && !info.by_ref => match &info.lens[0] {
            Some(m) => (fl, m.clone()),
            None => return TokenStream::new(),
        },
        _ => return TokenStream::new(),
    };
    let ty = crate::emit::tokens::float_type_tokens(float);
    let mut tys = Vec::new();
    let mut cots = Vec::new();
    for arg in &f.sig.inputs {
        let syn::FnArg::Typed(pt) = arg else {
            return TokenStream::new();
        };
        let t = (*pt.ty).clone();
        let own = match (&t, float_of(&t), array_of(&t)) {
            (_, Some(_), _) => Some(quote!(#ty)),
            (syn::Type::Reference(r), None, Some(_)) if matches!(*r.elem, syn::Type::Slice(_)) => {
                Some(quote!(#krate::__private::Vec<#ty>))
            }
            (_, None, Some(_)) => {
                let own = super::second_order::owned_type(&t);
                Some(quote!(#own))
            }
            _ => None,
        };
        cots.push(match own {
            Some(o) => quote!([#o; #m]),
            None => quote!(()),
        });
        tys.push(t);
    }
    let pair = quote!((#ret, (#(#cots,)*)));
    let d = format_ident!("D", span = proc_macro2::Span::mixed_site());
    quote! {
        #head
        #vis struct #name {}

        #(#cfg)*
        #[allow(dead_code, clippy::all)]
        impl #name {
            #vis fn pullback(#(_: #tys),*) -> #pair {
                ::core::unreachable!()
            }
            #vis fn pullback_jvp<#d>(#(_: #tys,)* _: #d) -> (#pair, #pair) {
                ::core::unreachable!()
            }
            #vis fn pullback_hessian<#d>(#(_: #tys,)* _: #d) -> (#pair, #pair) {
                ::core::unreachable!()
            }
        }
    }
}
