//! `#[backprop::rule(a = .., b = ..)]`: a derivative given by the user, for a function whose body
//! the macro should not (or cannot) differentiate. The function is left as written; the rule
//! gives it the pullback a `#[grad]` function calls, with the value from the function itself
//! and one partial per float parameter from the rule.

use crate::expand::{companion_attrs, companion_params, in_impl, pullback_item, receiver};
use crate::front::check::{float_of, type_str};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, ItemFn, Token};

/// `name = expr`, one per float parameter, and `result = name` optionally.
struct RuleArgs {
    entries: Punctuated<Entry, Token![,]>,
}

struct Entry {
    key: Ident,
    value: Expr,
}

impl Parse for Entry {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse().map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected `parameter = partial derivative`, as in `#[backprop::rule(x = 2.0 * x)]`",
            )
        })?;
        let eq: Option<Token![=]> = input.parse()?;
        if eq.is_none() {
            return Err(syn::Error::new(
                key.span(),
                format!("expected `=` after `{key}`: write `{key} = ∂f/∂{key}` in terms of the parameters and the result"),
            ));
        }
        Ok(Entry {
            key,
            value: input.parse()?,
        })
    }
}

impl Parse for RuleArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        Ok(RuleArgs {
            entries: Punctuated::parse_terminated(input)?,
        })
    }
}

pub fn rule(args: TokenStream, item: TokenStream) -> TokenStream {
    // A rule generic over its float type (`fn erf<T: Real>`) is read as a `#[grad]` function
    // is (`expand::generic`): its parameter renamed, named back in the output.
    let generic = syn::parse2::<ItemFn>(item.clone())
        .ok()
        .and_then(|f| super::generic::float_param(&f));
    let read = match &generic {
        Some(t) => super::generic::read_as_generic(&item, t),
        None => item.clone(),
    };
    let out = match expand(args, read.clone()) {
        Ok(t) => t,
        Err(e) => {
            let e = e.to_compile_error();
            let stub = stub(&read);
            quote!(#read #e #stub)
        }
    };
    match &generic {
        Some(t) => super::generic::named_back(out, t, &quote!(::backprop)),
        None => out,
    }
}

/// After an error in the rule, a pullback that only has the right type, so that the error is
/// reported once, at the rule, and not again at every call.
fn stub(item: &TokenStream) -> Option<TokenStream> {
    let f: ItemFn = syn::parse2(item.clone()).ok()?;
    let syn::ReturnType::Type(_, ty) = &f.sig.output else {
        return None;
    };
    let float = float_of(ty)?;
    let params = companion_params(&f);
    let (recv_decl, _) = receiver(&f);
    let ty = crate::emit::tokens::float_type_tokens(float);
    let recv_cot = f.sig.receiver().map(|_| quote!((),));
    let decl = params.iter().map(|(_, t, _)| quote!(_: #t));
    let cot_tys = params.iter().map(|(_, t, _)| {
        if float_of(t) == Some(float) {
            ty.clone()
        } else {
            quote!(())
        }
    });
    let sig_body = quote! {
        (#recv_decl #(#decl),*) -> (#ty, (#recv_cot #(#cot_tys,)*)) {
            ::core::unreachable!()
        }
    };
    let kept = companion_attrs(&f.attrs);
    Some(pullback_item(
        &f,
        &kept,
        " (A rule with an error.)",
        sig_body,
        TokenStream::new(),
    ))
}

/// The array type (owned) of a parameter that is an array of `float`, by value or by
/// reference (`[f64; 3]`, `&[[f64; 2]; 2]`): such a parameter may have a partial, an array of
/// the same shape.
fn float_array(ty: &syn::Type, float: crate::ir::Float) -> Option<TokenStream> {
    fn owned(ty: &syn::Type, float: crate::ir::Float) -> bool {
        match ty {
            syn::Type::Array(a) => float_of(&a.elem) == Some(float) || owned(&a.elem, float),
            syn::Type::Paren(p) => owned(&p.elem, float),
            syn::Type::Group(g) => owned(&g.elem, float),
            _ => false,
        }
    }
    let inner = match ty {
        syn::Type::Reference(r) if r.mutability.is_none() => &*r.elem,
        other => other,
    };
    owned(inner, float).then(|| inner.to_token_stream())
}

fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let f: ItemFn = syn::parse2(item.clone()).map_err(|e| {
        syn::Error::new(
            e.span(),
            "#[backprop::rule] applies to a function (`fn name(...) -> f64 { ... }`)",
        )
    })?;
    let args: RuleArgs = syn::parse2(args)?;
    let name = &f.sig.ident;
    let float = match &f.sig.output {
        syn::ReturnType::Type(_, ty) => float_of(ty).ok_or_else(|| {
            syn::Error::new_spanned(
                ty,
                "a function with a #[backprop::rule] must return f32 or f64, or a float type parameter `T: Real` (an array-valued function is written with `#[grad]`, which differentiates its body)",
            )
        })?,
        syn::ReturnType::Default => {
            return Err(syn::Error::new_spanned(
                name,
                format!("`{name}` must return f32 or f64 to have a derivative rule"),
            ))
        }
    };
    let mut errors: Vec<syn::Error> = Vec::new();
    // Only the float type may be generic (`fn erf<T: Real>`, renamed by `rule`).
    let float_param = |g: &&syn::GenericParam| matches!(g, syn::GenericParam::Type(t) if t.ident == crate::ir::GENERIC_FLOAT);
    if let Some(g) = f.sig.generics.params.iter().find(|g| !float_param(g)) {
        errors.push(syn::Error::new_spanned(
            g,
            "a rule may be generic over its float type only (`fn f<T: Real>(x: T) -> T`): write the other types out",
        ));
    }
    let params = companion_params(&f);
    let result = Ident::new("y", Span::call_site());
    let mut result_name: Option<Ident> = None;
    let mut partials: Vec<Option<Expr>> = vec![None; params.len()];
    for e in &args.entries {
        if e.key == "result" {
            match &e.value {
                Expr::Path(p) if p.path.get_ident().is_some() && result_name.is_none() => {
                    result_name = p.path.get_ident().cloned();
                }
                _ => errors.push(syn::Error::new_spanned(
                    &e.value,
                    "`result = name` names the function's value for the partials: give a plain name, once",
                )),
            }
            continue;
        }
        let Some(i) = params.iter().position(|(id, _, _)| *id == e.key) else {
            errors.push(syn::Error::new_spanned(
                &e.key,
                format!("`{}` is not a parameter of `{name}`", e.key),
            ));
            continue;
        };
        let ty = &params[i].1;
        if float_of(ty) != Some(float) && float_array(ty, float).is_none() {
            errors.push(syn::Error::new_spanned(
                &e.key,
                format!(
                    "`{}` has type `{}`: a rule gives partials for the parameters of the return type, or arrays of it, only (data needs none)",
                    e.key,
                    type_str(ty)
                ),
            ));
            continue;
        }
        if partials[i].is_some() {
            errors.push(syn::Error::new_spanned(
                &e.key,
                format!("`{}` is given two partials", e.key),
            ));
            continue;
        }
        partials[i] = Some(e.value.clone());
    }
    // The arity: one partial per float parameter.
    let missing: Vec<String> = params
        .iter()
        .zip(&partials)
        .filter(|((_, ty, _), p)| p.is_none() && float_of(ty) == Some(float))
        .map(|((id, _, _), _)| format!("`{id}`"))
        .collect();
    if !missing.is_empty() {
        errors.push(syn::Error::new_spanned(
            name,
            format!(
                "the rule gives no partial for {}: `{name}` has {} float parameter{}, and the rule needs one partial each (`param = ∂{name}/∂param`)",
                missing.join(", "),
                params.iter().filter(|(_, ty, _)| float_of(ty) == Some(float)).count(),
                if params.iter().filter(|(_, ty, _)| float_of(ty) == Some(float)).count() == 1 { "" } else { "s" }
            ),
        ));
    }
    let result = result_name.unwrap_or(result);
    if let Some((id, _, _)) = params.iter().find(|(id, _, _)| *id == result) {
        errors.push(syn::Error::new_spanned(
            id,
            format!("a parameter is named `{result}`, which the partials use for the result: name the result otherwise, with `result = name`"),
        ));
    }
    if let Some(first) = errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        return Err(first);
    }

    let ty = crate::emit::tokens::float_type_tokens(float);
    let (recv_decl, recv_pass) = receiver(&f);
    let decl = params.iter().map(|(id, t, _)| quote!(#id: #t));
    let pass = params.iter().map(|(id, _, _)| id);
    let original = if in_impl(&f) {
        quote!(Self::#name)
    } else {
        quote!(#name)
    };
    // An array parameter's partial is an array of its shape (owned, for one taken by
    // reference): the gradient of the value with respect to each element.
    let cot_tys = partials.iter().zip(&params).map(|(p, (_, t, _))| match p {
        Some(_) => float_array(t, float).unwrap_or_else(|| ty.clone()),
        None => quote!(()),
    });
    let cots = partials.iter().map(|p| match p {
        Some(e) => e.to_token_stream(),
        None => quote!(()),
    });
    let shown: Vec<String> = params
        .iter()
        .zip(&partials)
        .map(|((id, _, _), p)| match p {
            Some(e) => format!("∂{name}/∂{id} = {}", e.to_token_stream()),
            None => "()".into(),
        })
        .collect();
    let doc = format!(
        " Value of `{name}` and its partial derivatives, from the rule `#[backprop::rule]` gives it (`{result}` is the value): `({})`.\n\n A `#[grad]` function that calls `{name}` calls this instead.",
        shown.join(", ")
    );
    let kept = companion_attrs(&f.attrs);
    // `self` is data: its slot is `()` (see `expand`).
    let recv_cot = if f.sig.receiver().is_some() {
        quote!((),)
    } else {
        quote!()
    };
    let sig_body = quote! {
        (#recv_decl #(#decl),*) -> (#ty, (#recv_cot #(#cot_tys,)*)) {
            let #result: #ty = #original(#recv_pass #(#pass),*);
            (#result, (#recv_cot #(#cots,)*))
        }
    };
    let jvp = super::rule_second::pullback_jvp(&f, &params, &partials, &result, float);
    let pullback = pullback_item(&f, &kept, &doc, sig_body, jvp);
    Ok(quote! {
        #item
        #pullback
    })
}
