//! Token helpers at the bottom of the crate: precedence, literals, the float type, and the
//! `Toks` buffer printed expressions are built in. Every stage that writes Rust uses these;
//! they use nothing of the crate but the IR's plain types.

use crate::ir::{Float, NamedConst};
use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};

/// Precedence of an atom (path, literal, call, method call, parenthesised expression).
pub const PREC_ATOM: u8 = 10;

pub const PREC_UNARY: u8 = 9;

pub const PREC_CAST: u8 = 8;

pub const PREC_MUL: u8 = 7;

pub const PREC_ADD: u8 = 6;

pub const PREC_CMP: u8 = 4;

pub const PREC_AND: u8 = 3;

pub const PREC_OR: u8 = 2;

pub const PREC_LOWEST: u8 = 0;

/// The precedence of a `syn` expression, for opaque user code.
pub fn expr_prec(e: &syn::Expr) -> u8 {
    use syn::{BinOp as B, Expr as E};
    match e {
        E::Binary(b) => match b.op {
            B::Mul(_) | B::Div(_) | B::Rem(_) => PREC_MUL,
            B::Add(_) | B::Sub(_) => PREC_ADD,
            B::Lt(_) | B::Le(_) | B::Gt(_) | B::Ge(_) | B::Eq(_) | B::Ne(_) => PREC_CMP,
            B::And(_) => PREC_AND,
            B::Or(_) => PREC_OR,
            _ => PREC_LOWEST,
        },
        E::Unary(_) | E::Reference(_) => PREC_UNARY,
        E::Cast(_) => PREC_CAST,
        E::Path(_)
        | E::Lit(_)
        | E::Call(_)
        | E::MethodCall(_)
        | E::Field(_)
        | E::Index(_)
        | E::Paren(_)
        | E::Tuple(_)
        | E::Array(_)
        | E::Verbatim(_) => PREC_ATOM,
        _ => PREC_LOWEST,
    }
}

/// A float literal with its type suffix (`0.5_f64`; parenthesised when negative).
pub fn float_lit_typed(x: f64, float: Float) -> TokenStream {
    let t = float_lit(x, float, true);
    if x.is_sign_negative() && !x.is_nan() {
        quote!((#t))
    } else {
        t
    }
}

pub fn float_lit(x: f64, float: Float, suffixed: bool) -> TokenStream {
    float_lit_toks(x, float, suffixed).into_token_stream()
}

pub fn float_lit_toks(x: f64, float: Float, suffixed: bool) -> Toks {
    let ty = float_type_tokens(float);
    if float == Float::Generic {
        // `T::from_f64(c)`, through the trait, whatever else `T` is bounded by.
        let c = float_lit_toks(x, Float::F64, true);
        return quote!(<#ty as __grad_krate::Real>::from_f64(#c)).into();
    }
    if x.is_nan() {
        return quote!(::core::#ty::NAN).into();
    }
    if x.is_infinite() {
        return if x > 0.0 {
            quote!(::core::#ty::INFINITY).into()
        } else {
            quote!(-::core::#ty::INFINITY).into()
        };
    }
    let mag = x.abs();
    let mut text = match float {
        Float::F32 => format!("{:?}", mag as f32),
        Float::F64 | Float::Generic => format!("{mag:?}"),
    };
    if suffixed {
        text.push_str(if float == Float::F32 { "_f32" } else { "_f64" });
    }
    let lit = text
        .parse::<Literal>()
        .unwrap_or_else(|_| Literal::f64_unsuffixed(mag));
    let mut t = Toks::default();
    if x.is_sign_negative() {
        t.punct("-");
    }
    t.push(lit);
    t
}

/// Zeros of an array's shape: `[[0.0; M]; N]`; `slice` makes the outermost level of a slice,
/// One value as itself, several as a tuple: the shape of a gradient (one per `wrt`
/// parameter), and of what a loop keeps or reads back per iteration.
pub fn one_or_tuple<T: ToTokens>(items: &[T]) -> TokenStream {
    match items {
        [one] => one.to_token_stream(),
        _ => quote!((#(#items),*)),
    }
}

/// whose length is known at run time only, from the zero of an element.
pub fn zero_array(
    info: &crate::ir::ArrayInfo,
    float: Float,
    slice: &dyn Fn(TokenStream) -> TokenStream,
) -> TokenStream {
    let mut t = float_lit(0.0, float, true);
    for len in info.lens.iter().rev() {
        t = match len {
            Some(n) => quote!([#t; #n]),
            None => slice(t),
        };
    }
    t
}

pub fn named_const(c: NamedConst, float: Float) -> TokenStream {
    let id = Ident::new(c.ident(), Span::call_site());
    if float == Float::Generic {
        let ty = float_type_tokens(float);
        return quote!(<#ty as __grad_krate::Real>::from_f64(::core::f64::consts::#id));
    }
    let ty = float_type_tokens(float);
    quote!(::core::#ty::consts::#id)
}

/// Tokens held on the macro's side of the proc-macro bridge.
///
/// Inside rustc a `TokenStream` is a handle into the compiler: joining two of them, or
/// interpolating one in `quote!`, is a call across the bridge. An expression is printed from
/// many small pieces, so the pieces are trees in a `Vec`, which `quote!` copies into the
/// statement being built without a call. (Joining streams was a third of the macro's time
/// inside rustc.)
#[derive(Clone, Default)]
pub struct Toks(pub Vec<TokenTree>);

impl Toks {
    pub fn one(t: impl Into<TokenTree>) -> Self {
        Toks(vec![t.into()])
    }

    pub fn push(&mut self, t: impl Into<TokenTree>) {
        self.0.push(t.into());
    }

    pub fn append(&mut self, t: Toks) {
        self.0.extend(t.0);
    }

    /// An operator of one or more characters (`+`, `==`, `&&`).
    pub fn punct(&mut self, op: &str) {
        let n = op.len();
        for (i, c) in op.chars().enumerate() {
            let spacing = if i + 1 < n {
                Spacing::Joint
            } else {
                Spacing::Alone
            };
            self.push(Punct::new(c, spacing));
        }
    }

    pub fn group(self, delim: Delimiter) -> Toks {
        Toks::one(Group::new(delim, self.0.into_iter().collect()))
    }

    pub fn ident(&mut self, name: &str) {
        self.push(Ident::new(name, Span::call_site()));
    }

    /// `let name = e;`, `let name: ty = e;`
    pub fn let_stmt(name: Ident, ty: Option<TokenStream>, e: Toks) -> Toks {
        let mut t = Toks::default();
        t.ident("let");
        t.push(name);
        if let Some(ty) = ty {
            t.punct(":");
            t.append(ty.into());
        }
        t.punct("=");
        t.append(e);
        t.punct(";");
        t
    }

    /// `place op value;`
    pub fn assign(mut place: Toks, op: &str, value: Toks) -> Toks {
        place.punct(op);
        place.append(value);
        place.punct(";");
        place
    }

    /// `a, b, c` in parentheses.
    pub fn args(items: impl IntoIterator<Item = Toks>) -> Toks {
        let mut t = Toks::default();
        for (i, a) in items.into_iter().enumerate() {
            if i > 0 {
                t.punct(",");
            }
            t.append(a);
        }
        t.group(Delimiter::Parenthesis)
    }
}

impl From<TokenStream> for Toks {
    fn from(t: TokenStream) -> Self {
        Toks(t.into_iter().collect())
    }
}

impl From<Ident> for Toks {
    fn from(id: Ident) -> Self {
        Toks::one(id)
    }
}

impl ToTokens for Toks {
    fn to_tokens(&self, out: &mut TokenStream) {
        out.extend(self.0.iter().cloned());
    }
}

pub fn float_type_tokens(f: Float) -> TokenStream {
    match f {
        Float::F32 => quote!(f32),
        Float::F64 => quote!(f64),
        Float::Generic => {
            Ident::new(crate::ir::GENERIC_FLOAT, Span::call_site()).into_token_stream()
        }
    }
}
