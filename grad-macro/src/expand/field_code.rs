//! What the companions write for a struct of parameters' fields (`front::fields` finds
//! them): the statements binding each field's parameter, the gradient assembled into a value
//! of the struct's type, and the test for a field marked `#[backprop(skip)]`.

use crate::front::fields::Split;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{format_ident, quote_spanned, ToTokens};
use syn::{Ident, Member};

/// The statements binding each field's parameter at the top of a companion: `let __grad_p_b:
/// f64 = p.b;` for a float, `let __grad_p_w = &p.w;` for an array, spanned at the body's first
/// read of the field (a field of another type is reported there); for a field read as data,
/// the check that it is one.
pub fn bindings(s: &Split, float: &TokenStream, krate: &TokenStream) -> TokenStream {
    let name = &s.name;
    s.fields
        .iter()
        .map(|f| {
            let (id, path, sp) = (&f.ident, &f.path, f.span);
            // At the field's first read: a type error there is the user's line.
            let name = Ident::new(&name.to_string(), sp);
            let place = quote_spanned!(sp=> #name #(.#path)*);
            match f.dims {
                _ if f.data => quote_spanned!(sp=> #krate::__private::data_field(&#place);),
                Some(_) if path.is_empty() && s.by_ref => quote_spanned!(sp=> let #id = &*#name;),
                None => {
                    quote_spanned!(sp=> let #id: #float = #krate::__private::float_field(&#place);)
                }
                // Its elements read: exactly `d` dimensions of numbers.
                Some(d) if f.exact && !path.is_empty() => {
                    let d = proc_macro2::Literal::usize_unsuffixed(d);
                    quote_spanned! {sp=>
                        #krate::__private::array_field::<#d, #float, _>(&#place);
                        let #id = &#place;
                    }
                }
                Some(_) => quote_spanned!(sp=> let #id = &#place;),
            }
        })
        .collect()
}

/// The gradient of the struct: its zero (`Differentiable::zero_like`), each field the body
/// read set to its derivative (`grads`, in `s.fields` order).
pub fn assemble(s: &Split, grads: &[TokenStream], krate: &TokenStream) -> TokenStream {
    let (name, by_ref) = (&s.name, s.by_ref);
    let g = format_ident!("grad", span = Span::mixed_site());
    // The struct passed whole to callees: their pullbacks' sum is the start, and each field
    // read adds to it.
    let root = s
        .fields
        .iter()
        .zip(grads)
        .find(|(f, _)| f.path.is_empty() && !f.data)
        .map(|(_, d)| d.clone());
    let arg = if by_ref {
        quote_spanned!(Span::call_site()=> #name)
    } else {
        quote_spanned!(Span::call_site()=> &#name)
    };
    // A field marked `#[backprop(skip)]` (at any level of the path) keeps its clone.
    let add = root.is_some();
    let sets = s.fields.iter().zip(grads).filter(|(f, _)| !f.data && !f.path.is_empty()).map(|(f, d)| {
        let path = &f.path;
        let skipped = skipped(&g.to_token_stream(), path, krate);
        // At the field's first read, where a field of another kind than its use is reported.
        let sp = f.span;
        let d = located_at(d.clone(), sp);
        let set = match f.dims {
            _ if add => quote_spanned!(sp=> #krate::Differentiable::add_scaled(&mut #g #(.#path)*, &#d, #krate::Real::ONE);),
            None => quote_spanned!(sp=> #krate::__private::set_float_field(&mut #g #(.#path)*, #d);),
            Some(_) => quote_spanned!(sp=> #g #(.#path)* = #d;),
        };
        quote_spanned!(sp=> if !(#skipped) { #set })
    });
    let start = match root {
        Some(d) => d,
        None => quote_spanned!(Span::call_site()=> #krate::Differentiable::zero_like(#arg)),
    };
    quote_spanned! {Span::call_site()=>
        {
            let mut #g = #start;
            #(#sets)*
            #g
        }
    }
}

/// Whether the field at `path` of `base` (a value of the struct's type) is marked
/// `#[backprop(skip)]`, at any level of the path: `skips(&base, "a") || skips(&base.a, "b")`.
/// Written by the derive for each struct; constant once inlined.
pub fn skipped(base: &TokenStream, path: &[Member], krate: &TokenStream) -> TokenStream {
    let tests = (0..path.len()).map(|k| {
        let (before, m) = (&path[..k], &path[k]);
        let key = match m {
            Member::Named(id) => id.to_string(),
            Member::Unnamed(i) => i.index.to_string(),
        };
        quote_spanned!(Span::call_site()=> #base #(.#before)* .__backprop_skips(#key))
    });
    // Method calls, so that a reference to the struct works as the struct does.
    quote_spanned!(Span::call_site()=> {
        #[allow(unused_imports)]
        use #krate::Differentiable as _;
        false #(|| #tests)*
    })
}

/// `ts` reported at `at`, its names resolved as before.
fn located_at(ts: TokenStream, at: Span) -> TokenStream {
    ts.into_iter()
        .map(|mut t| {
            if let TokenTree::Group(g) = &t {
                let mut n = proc_macro2::Group::new(g.delimiter(), located_at(g.stream(), at));
                n.set_span(g.span().located_at(at));
                t = TokenTree::Group(n);
            } else {
                t.set_span(t.span().located_at(at));
            }
            t
        })
        .collect()
}
