//! `#[derive(Differentiable)]`: a struct of parameters, field by field (`grad_runtime::params`).
//!
//! Every field is a parameter unless marked `#[backprop(skip)]` (then it is cloned into a zero
//! and left alone by the optimisers). The impl calls the field types' own impls, so rustc checks
//! that each parameter field is `Differentiable` with the first one's float type, at the
//! field's type.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Index, Member};

/// The field options and the struct's: `#[backprop(skip)]`, `#[backprop(crate = path)]`.
struct Opts {
    skip: bool,
    krate: Option<syn::Path>,
}

fn opts(attrs: &[syn::Attribute], on_struct: bool, errors: &mut Vec<syn::Error>) -> Opts {
    let mut o = Opts {
        skip: false,
        krate: None,
    };
    for attr in attrs.iter().filter(|a| a.path().is_ident("backprop")) {
        let res = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") && !on_struct {
                o.skip = true;
                Ok(())
            } else if meta.path.is_ident("crate") && on_struct {
                o.krate = Some(meta.value()?.parse()?);
                Ok(())
            } else if on_struct {
                Err(meta.error(
                    "unknown option: on a struct, `#[backprop(..)]` takes `crate = path` (the path of the `backprop` crate)",
                ))
            } else {
                Err(meta.error(
                    "unknown option: on a field, `#[backprop(..)]` takes `skip` (a field that is not a parameter)",
                ))
            }
        });
        if let Err(e) = res {
            errors.push(e);
        }
    }
    o
}

pub fn differentiable(input: TokenStream) -> TokenStream {
    match derive(input) {
        Ok(t) => t,
        Err(e) => e.to_compile_error(),
    }
}

fn derive(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => {
            return Err(syn::Error::new(
                e.enum_token.span,
                "`Differentiable` is derived for structs: an enum's variants hold different parameters, which a gradient cannot add up; use a struct (with an `Option` or array field marked `#[backprop(skip)]` for what varies)",
            ))
        }
        Data::Union(u) => {
            return Err(syn::Error::new(
                u.union_token.span,
                "`Differentiable` is derived for structs, not unions",
            ))
        }
    };
    let mut errors = Vec::new();
    let krate = match opts(&input.attrs, true, &mut errors).krate {
        Some(p) => p.to_token_stream(),
        None => quote!(::backprop),
    };
    let members: Vec<(Member, &syn::Field, bool)> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let m = match &f.ident {
                Some(id) => Member::Named(id.clone()),
                None => Member::Unnamed(Index {
                    index: i as u32,
                    span: f.span(),
                }),
            };
            let skip = opts(&f.attrs, false, &mut errors).skip;
            (m, f, skip)
        })
        .collect();
    if let Some(e) = errors.into_iter().reduce(|mut a, b| {
        a.combine(b);
        a
    }) {
        return Err(e);
    }
    let Some((_, first, _)) = members.iter().find(|(_, _, skip)| !skip) else {
        return Err(syn::Error::new(
            input.ident.span(),
            format!(
                "`{}` has no parameter field: give it a float, array or `Vec` field (or a `Differentiable` struct) that is not `#[backprop(skip)]`",
                input.ident
            ),
        ));
    };
    let d = quote!(#krate::Differentiable);
    let first_ty = &first.ty;
    let scalar = quote!(<#first_ty as #d>::Scalar);
    let mut zero = Vec::new();
    let (mut add, mut each, mut each_mut) = (Vec::new(), Vec::new(), Vec::new());
    let mut checks = Vec::new();
    for (m, f, skip) in &members {
        let ty = &f.ty;
        if *skip {
            zero.push(quote_spanned!(ty.span()=> #m: ::core::clone::Clone::clone(&self.#m)));
            continue;
        }
        // Spanned at the field's type: a field that is not a parameter is reported there.
        let sp = ty.span();
        zero.push(quote_spanned!(sp=> #m: <#ty as #d>::zero_like(&self.#m)));
        if std::ptr::eq(*f, *first) {
            add.push(quote_spanned!(sp=> <#ty as #d>::add_scaled(&mut self.#m, &other.#m, k);));
            each.push(quote_spanned!(sp=> <#ty as #d>::for_each(&self.#m, f);));
            each_mut.push(quote_spanned!(sp=> <#ty as #d>::for_each_mut(&mut self.#m, f);));
        } else {
            // Through the runtime's field helpers, which convert between the first field's
            // float type and this one's (the same type, so no conversion, when the struct is
            // right): a field of another float type is then one error, `same_float`'s, at its
            // type.
            add.push(quote_spanned!(sp=> #krate::__private::field_add_scaled(&mut self.#m, &other.#m, k);));
            each.push(quote_spanned!(sp=> #krate::__private::field_for_each(&self.#m, f);));
            each_mut
                .push(quote_spanned!(sp=> #krate::__private::field_for_each_mut(&mut self.#m, f);));
            // A generic struct's where clause says the same (its float types are not known
            // here).
            if input.generics.params.is_empty() {
                checks.push(quote_spanned!(sp=> #krate::__private::same_float::<<#ty as #d>::Scalar, #scalar>();));
            }
        }
    }
    let skipped: Vec<String> = members
        .iter()
        .filter(|(_, _, skip)| *skip)
        .map(|(m, _, _)| match m {
            Member::Named(id) => id.to_string(),
            Member::Unnamed(i) => i.index.to_string(),
        })
        .collect();
    let skips = if skipped.is_empty() {
        quote!()
    } else {
        quote! {
            #[inline]
            fn __backprop_skips(&self, field: &str) -> bool {
                matches!(field, #(#skipped)|*)
            }
        }
    };
    let name = &input.ident;
    let (impl_g, ty_g, where_g) = input.generics.split_for_impl();
    // Generic parameters: each parameter field's type is `Differentiable` with the same float.
    let mut preds: Vec<TokenStream> = where_g
        .map(|w| w.predicates.iter().map(ToTokens::to_token_stream).collect())
        .unwrap_or_default();
    if !input.generics.params.is_empty() {
        for (_, f, skip) in &members {
            let ty = &f.ty;
            if *skip {
                preds.push(quote!(#ty: ::core::clone::Clone));
            } else if std::ptr::eq(*f, *first) || same_type(ty, &first.ty) {
                // (Of the first field's type: its scalar is the first's, and saying so would
                // be a cycle rustc cannot solve.)
                preds.push(quote!(#ty: #d));
            } else {
                preds.push(quote!(#ty: #d<Scalar = #scalar>));
            }
        }
    }
    let where_clause = if preds.is_empty() {
        quote!()
    } else {
        quote!(where #(#preds),*)
    };
    let span = Span::call_site();
    Ok(quote_spanned! {span=>
        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic, clippy::nursery)]
        impl #impl_g #d for #name #ty_g #where_clause {
            type Scalar = #scalar;
            #[inline]
            fn zero_like(&self) -> Self {
                #(#checks)*
                #name { #(#zero),* }
            }
            #[inline]
            fn add_scaled(&mut self, other: &Self, k: Self::Scalar) {
                #(#add)*
            }
            #[inline]
            fn for_each<F: ::core::ops::FnMut(Self::Scalar)>(&self, f: &mut F) {
                #(#each)*
            }
            #[inline]
            fn for_each_mut<F: ::core::ops::FnMut(&mut Self::Scalar)>(&mut self, f: &mut F) {
                #(#each_mut)*
            }
            #skips
        }

        // What generated code needs of a struct passed whole to a `#[grad]` function that is
        // differentiated with respect to it: element-wise arithmetic over its parameters.
        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic, clippy::nursery)]
        impl #impl_g #krate::__private::Elementwise for #name #ty_g #where_clause {
            type F = <Self as #d>::Scalar;
            #[inline]
            fn add_assign(&mut self, other: &Self) {
                <Self as #d>::add_scaled(self, other, <Self::F as #krate::Real>::ONE);
            }
            #[inline]
            fn sub_assign(&mut self, other: &Self) {
                <Self as #d>::add_scaled(self, other, -<Self::F as #krate::Real>::ONE);
            }
            #[inline]
            fn fill(&mut self, v: Self::F) {
                <Self as #d>::for_each_mut(self, &mut |x| *x = v);
            }
            #[inline]
            fn scale(&mut self, s: Self::F) {
                <Self as #d>::for_each_mut(self, &mut |x| *x = *x * s);
            }
            #[inline]
            fn dot_into(&self, other: &Self, acc: &mut Self::F) {
                #krate::__private::dot_params(self, other, acc);
            }
            #[inline]
            fn add_scaled(&mut self, other: &Self, s: Self::F) {
                <Self as #d>::add_scaled(self, other, s);
            }
        }

        #[automatically_derived]
        #[allow(clippy::all, clippy::pedantic, clippy::nursery)]
        impl #impl_g #krate::__private::ArrayPartial<#name #ty_g> for #name #ty_g #where_clause {
            #[inline]
            fn into_array(self) -> Self {
                self
            }
        }
    })
}

/// Whether two field types are written alike.
fn same_type(a: &syn::Type, b: &syn::Type) -> bool {
    a.to_token_stream().to_string() == b.to_token_stream().to_string()
}
