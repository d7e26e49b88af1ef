//! Synthetic bodies of a given size, for the expansion benchmark and the size test: a chain of
//! `n` statements that each read earlier results through the rule table, and an expression
//! nested `d` levels deep.

use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote};

/// `fn f(w: f64, b: f64, x: f64) -> f64` with `n` `let` statements, each reading the two
/// previous results, cycling through sums, products, quotients and unary rules.
pub fn statements(n: usize) -> (TokenStream, TokenStream) {
    let mut stmts = Vec::with_capacity(n);
    let v = |i: usize| format_ident!("v{}", i);
    for i in 0..n {
        let (a, b) = match i {
            0 => (quote!(w), quote!(x)),
            1 => (quote!(v0), quote!(b)),
            _ => {
                let (a, b) = (v(i - 1), v(i - 2));
                (quote!(#a), quote!(#b))
            }
        };
        let me = v(i);
        let rhs = match i % 6 {
            0 => quote!(#a * w + #b),
            1 => quote!((#a - #b).tanh()),
            2 => quote!(#a * #b + x),
            3 => quote!((#a * 0.5).sin() + #b),
            4 => quote!(#a / (1.0 + #b * #b)),
            _ => quote!((#a - b).exp() * 0.25 + #b),
        };
        stmts.push(quote!(let #me = #rhs;));
    }
    let last = v(n.saturating_sub(1));
    (
        quote!(wrt = w, b),
        quote! {
            fn f(w: f64, b: f64, x: f64) -> f64 {
                #(#stmts)*
                #last
            }
        },
    )
}

/// `fn f(w: f64, x: f64) -> f64` returning one expression nested `d` levels deep:
/// `((((x * w + 1.0).sin() * w + 1.0).sin() ...`.
pub fn nested(d: usize) -> (TokenStream, TokenStream) {
    let mut e = quote!(x);
    for i in 0..d {
        e = if i % 2 == 0 {
            quote!((#e * w + 1.0))
        } else {
            quote!((#e).sin())
        };
    }
    (
        quote!(wrt = w),
        quote! {
            fn f(w: f64, x: f64) -> f64 {
                #e
            }
        },
    )
}

/// Tokens in a stream: every identifier, punctuation mark and literal, and every delimited
/// group as one more.
pub fn count(ts: &TokenStream) -> usize {
    ts.clone()
        .into_iter()
        .map(|t| match t {
            TokenTree::Group(g) => 1 + count(&g.stream()),
            _ => 1,
        })
        .sum()
}
