//! One direction per element: the companions that need a direction per scalar `wrt` value
//! (the forward-mode gradient, the Hessian, the forward-mode Jacobian) when a `wrt` parameter
//! is an array. The `wrt` values are seen flat, in `wrt` order, each array row-major
//! ([`Layout`]), and the companion runs one direction (a unit tangent, a unit vector) per flat
//! index `k`, in a loop: the code size does not grow with the arrays' lengths, which may be
//! constants the macro cannot see (`[f64; D]`). The runtime's `Flat` trait builds the unit
//! arrays and writes arrays into rows.
//!
//! When every `wrt` parameter is a scalar, the companions carry all directions in one pass
//! instead (`forward::Seeds` with `n` tangents each): see `expand`.

use crate::front::check::Sig;
use proc_macro2::{Literal, Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::Ident;

/// A `usize` constant expression: a number when the macro can compute it.
#[derive(Clone)]
pub enum Count {
    Known(usize),
    /// Tokens, and whether they are a sum (to be parenthesised in a product).
    Expr(TokenStream, bool),
}

impl Count {
    fn of(t: &TokenStream) -> Count {
        match syn::parse2::<syn::LitInt>(t.clone()).map(|l| l.base10_parse::<usize>()) {
            Ok(Ok(n)) => Count::Known(n),
            // Anything but a path (`D`, `Self::D`) is parenthesised in a product.
            _ => {
                let path = syn::parse2::<syn::Path>(t.clone()).is_ok();
                Count::Expr(t.clone(), !path)
            }
        }
    }

    fn add(self, o: Count) -> Count {
        match (self, o) {
            (Count::Known(a), Count::Known(b)) => Count::Known(a + b),
            (Count::Known(0), x) | (x, Count::Known(0)) => x,
            (a, b) => {
                let (a, b) = (a.tokens(), b.tokens());
                Count::Expr(quote!(#a + #b), true)
            }
        }
    }

    fn mul(self, o: Count) -> Count {
        match (self, o) {
            (Count::Known(a), Count::Known(b)) => Count::Known(a * b),
            (Count::Known(1), x) | (x, Count::Known(1)) => x,
            (a, b) => {
                let (a, b) = (a.factor(), b.factor());
                Count::Expr(quote!(#a * #b), false)
            }
        }
    }

    /// As an operand of `*`.
    fn factor(&self) -> TokenStream {
        match self {
            Count::Expr(t, true) => quote!((#t)),
            other => other.tokens(),
        }
    }

    pub fn tokens(&self) -> TokenStream {
        match self {
            Count::Known(n) => Literal::usize_unsuffixed(*n).into_token_stream(),
            Count::Expr(t, _) => t.clone(),
        }
    }
}

/// Where each `wrt` parameter's values sit in the flat vector of all of them.
pub struct Layout {
    /// Per `wrt` parameter: its first flat index.
    pub at: Vec<Count>,
    /// The number of values, `N`.
    pub total: Count,
    /// Whether a `wrt` parameter is an array (otherwise the macro needs none of this).
    pub arrays: bool,
}

impl Layout {
    /// The layout of `sig`'s `wrt` parameters, or the index of a slice among them (its length
    /// is not known at compile time).
    pub fn of(sig: &Sig) -> Result<Layout, usize> {
        let mut at = Vec::new();
        let mut total = Count::Known(0);
        let mut arrays = false;
        for &i in &sig.wrt {
            let len = match &sig.params[i].array {
                Some((info, _)) => {
                    arrays = true;
                    let mut len = Count::Known(1);
                    for l in &info.lens {
                        len = len.mul(Count::of(l.as_ref().ok_or(i)?));
                    }
                    len
                }
                None => Count::Known(1),
            };
            at.push(total.clone());
            total = total.add(len);
        }
        Ok(Layout { at, total, arrays })
    }

    /// How many passes a loop over the elements runs: `N`, and at least one, for the value.
    fn passes(&self) -> TokenStream {
        match &self.total {
            Count::Known(n) => Literal::usize_unsuffixed((*n).max(1)).into_token_stream(),
            Count::Expr(t, _) => quote!(::core::cmp::max(#t, 1)),
        }
    }

    /// The direction of flat index `k` for each `wrt` parameter: `unit(k − offset)`, by
    /// reference where the parameter is a reference (`&[f64; 3]`).
    pub fn units(&self, k: &Ident, by_ref: &[bool], krate: &TokenStream) -> Vec<TokenStream> {
        self.at
            .iter()
            .zip(by_ref)
            .map(|(off, r)| {
                let at = within(k, off);
                let r = r.then(|| quote!(&));
                quote!(#r #krate::__private::unit(#at))
            })
            .collect()
    }
}

/// Flat index `k` as an index into the parameter at `off`: past its end when `k` is before
/// it (`wrapping_sub`), so `unit` gives zeros and `set` does nothing.
fn within(k: &Ident, off: &Count) -> TokenStream {
    match off {
        Count::Known(0) => quote!(#k),
        o => {
            let o = o.tokens();
            quote!(#k.wrapping_sub(#o))
        }
    }
}

/// A check that each argument passed again per element is `Copy`, for a message that says so
/// (instead of a move error inside the loop).
pub(super) fn passed_again(args: &[TokenStream], krate: &TokenStream) -> TokenStream {
    let checks = args.iter().map(|a| {
        let at = a
            .clone()
            .into_iter()
            .next()
            .map_or_else(Span::call_site, |t| t.span());
        let arg = quote_spanned!(at=> &#a);
        quote!(#krate::__private::passed_once_per_element(#arg);)
    });
    quote!(#(#checks)*)
}

/// A local of generated code, out of reach of the user's names.
pub fn local(name: &str) -> Ident {
    format_ident!("{}", name, span = Span::mixed_site())
}

/// The components of a companion's result that has one per `wrt` parameter: `r` itself for
/// one, `r.0`, `r.1`, .. otherwise.
pub fn components(r: &Ident, n: usize) -> Vec<TokenStream> {
    if n == 1 {
        vec![quote!(#r)]
    } else {
        (0..n)
            .map(|j| {
                let j = Literal::usize_unsuffixed(j);
                quote!(#r.#j)
            })
            .collect()
    }
}

/// Statements that write the `wrt`-shaped components `parts` into the flat row `row` (each
/// array row-major, at its offset).
pub fn write_row(
    layout: &Layout,
    parts: &[TokenStream],
    row: &Ident,
    krate: &TokenStream,
) -> TokenStream {
    let writes = parts.iter().zip(&layout.at).map(|(p, off)| {
        let off = off.tokens();
        quote!(#krate::__private::write(&#p, &mut #row[#off..]);)
    });
    quote!(#(#writes)*)
}

/// The body of a Hessian with respect to arrays: one Hessian-vector product per flat index
/// (`hvp`, called with the function's arguments and the unit vectors), each a row, then the
/// upper triangle mirrored onto the lower one.
pub fn hessian_body(
    layout: &Layout,
    (hvp, args): (TokenStream, &[TokenStream]),
    by_ref: &[bool],
    float: &TokenStream,
    krate: &TokenStream,
) -> TokenStream {
    let (h, k, row, hv) = (local("h"), local("k"), local("row"), local("hv"));
    let n = layout.total.tokens();
    let units = layout.units(&k, by_ref, krate);
    let parts = components(&hv, layout.at.len());
    let writes = write_row(layout, &parts, &row, krate);
    let checks = passed_again(args, krate);
    let zero = zero_of(float);
    quote! {
        #checks
        let mut #h: [[#float; #n]; #n] = [[#zero; #n]; #n];
        for (#k, #row) in #h.iter_mut().enumerate() {
            let #hv = #hvp(#(#args,)* #(#units),*);
            #writes
        }
        #krate::__private::mirror_upper(&mut #h);
        #h
    }
}

/// The body of a forward-mode `_value_and_grad` with respect to arrays: one directional
/// derivative per flat index (`jvp`, called with the function's arguments and the unit
/// tangents), each a component of the gradient. At least one pass runs, for the value.
pub fn forward_gradient_body(
    layout: &Layout,
    (jvp, args): (TokenStream, &[TokenStream]),
    by_ref: &[bool],
    (float, grad_ty): (&TokenStream, &TokenStream),
    krate: &TokenStream,
) -> TokenStream {
    let (value, grad, k, v, d) = (
        local("value"),
        local("grad"),
        local("k"),
        local("v"),
        local("d"),
    );
    let units = layout.units(&k, by_ref, krate);
    let passes = layout.passes();
    let n = layout.at.len();
    let zeros: Vec<TokenStream> = (0..n)
        .map(|_| quote!(#krate::__private::unit(usize::MAX)))
        .collect();
    let zeros = crate::emit::tokens::one_or_tuple(&zeros);
    let sets = components(&grad, n)
        .into_iter()
        .zip(&layout.at)
        .map(|(g, off)| {
            let at = within(&k, off);
            quote!(#krate::__private::set(&mut #g, #at, #d);)
        });
    let checks = passed_again(args, krate);
    let zero = zero_of(float);
    quote! {
        #checks
        let mut #value: #float = #zero;
        let mut #grad: #grad_ty = #zeros;
        for #k in 0..#passes {
            let (#v, #d) = #jvp(#(#args,)* #(#units),*);
            #value = #v;
            #(#sets)*
        }
        (#value, #grad)
    }
}

/// The body of a forward-mode Jacobian with respect to arrays, with the values: the tangents
/// (`dots`, their patterns with types: `mut w_dot: [f64; 2]`) set to the unit tangent of each
/// flat index in turn, and `column` (a block that reads them and gives the `m` values and the
/// `m` directional derivatives, as two arrays) as that column. At least one pass runs, for the
/// values. Gives `(values, jacobian)`.
pub fn jacobian_body(
    layout: &Layout,
    (dots, by_ref): (&[TokenStream], &[bool]),
    column: TokenStream,
    (float, m): (&TokenStream, usize),
    krate: &TokenStream,
) -> TokenStream {
    let (value, values, jac, k, col, r, c) = (
        local("value"),
        local("values"),
        local("jac"),
        local("k"),
        local("col"),
        local("r"),
        local("c"),
    );
    let n = layout.total.tokens();
    let m = Literal::usize_unsuffixed(m);
    let units = layout.units(&k, by_ref, krate);
    let passes = layout.passes();
    // The one pass of no elements writes no column.
    let write = match &layout.total {
        Count::Known(n) if *n > 0 => quote!(#r[#k] = #c;),
        _ => quote!(if #k < #n { #r[#k] = #c; }),
    };
    let zero = zero_of(float);
    quote! {
        let mut #value: [#float; #m] = [#zero; #m];
        let mut #jac: [[#float; #n]; #m] = [[#zero; #n]; #m];
        for #k in 0..#passes {
            #(let #dots = #units;)*
            let (#values, #col): ([#float; #m], [#float; #m]) = { #column };
            #value = #values;
            for (#r, #c) in #jac.iter_mut().zip(#col) {
                #write
            }
        }
        (#value, #jac)
    }
}

/// `0.0` of the float type written `float` (`f64`, `f32` or a generic `T`): a literal for the
/// first two, `T::ZERO` through the trait for the third.
pub(super) fn zero_of(float: &TokenStream) -> TokenStream {
    match float.to_string().as_str() {
        "f64" | "f32" => quote!(0.0),
        _ => quote!(<#float as __grad_krate::Real>::ZERO),
    }
}
