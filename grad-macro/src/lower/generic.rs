//! The constants of a function generic over its float type `T` (read as
//! [`GENERIC_FLOAT`]): `T::from_f64(2.0)`, `T::ZERO` and `T::ONE` are literals to the macro,
//! as `2.0` is in a function of `f64`.

use super::*;
use crate::ir::GENERIC_FLOAT;

impl Lowerer<'_> {
    /// `T::ZERO` or `T::ONE`.
    pub(super) fn generic_const(&self, p: &syn::ExprPath) -> Option<Operand> {
        let segs = crate::lower::escape::segments(&p.path);
        match (p.qself.is_none(), segs.as_slice()) {
            (true, [t, c]) if t == GENERIC_FLOAT && c == "ZERO" => Some(Operand::Lit(0.0)),
            (true, [t, c]) if t == GENERIC_FLOAT && c == "ONE" => Some(Operand::Lit(1.0)),
            _ => None,
        }
    }

    /// `T::from_f64(c)`: a literal `c` (`2.0`, `-0.5`) is a literal of the float type; anything
    /// else is data converted, which must not depend on a `wrt` parameter (the conversion
    /// from `f64` would cut its derivative).
    pub(super) fn generic_literal(&mut self, c: &syn::ExprCall) -> Option<Operand> {
        let Expr::Path(p) = &*c.func else { return None };
        match crate::lower::escape::segments(&p.path).as_slice() {
            [t, f] if t == GENERIC_FLOAT && f == "from_f64" && c.args.len() == 1 => {}
            _ => return None,
        }
        if let Some(v) = c.args.first().and_then(literal) {
            return Some(Operand::Lit(v));
        }
        let arg = c.args.first()?;
        if let Some(id) = self.first_active(arg) {
            return Some(self.error(
                c,
                format!("`{GENERIC_FLOAT}::from_f64(..)` is given `{id}`, which depends on a `wrt` parameter, through an `f64`: the conversion would cut its derivative; keep the value of type `{GENERIC_FLOAT}` throughout"),
            ));
        }
        // The conversion is pure: the call has the effects of its argument only.
        let (arg, refs, effectful, _) = self.substitute(arg, false);
        let func = &c.func;
        let converted = quote::quote!(#func(#arg));
        // Of constants only (`T::from_f64(PI)`): a constant, as the path is in `f64` code.
        if refs.is_empty() && !effectful {
            return Some(self.b.add_extern(converted));
        }
        Some(self.opaque_from(converted, refs, Kind::Float, effectful))
    }
}

impl Lowerer<'_> {
    /// A float literal or a constant in arithmetic with the float type of a generic function
    /// (`x * 2.0`, `x * PI`): not Rust (neither is of type `T`), said at the operand, with what
    /// to write.
    pub(super) fn literal_of_generic(&mut self, e: &Expr) {
        if self.b.float != crate::ir::Float::Generic {
            return;
        }
        let what = match e {
            // (A local holds a value of either type.)
            Expr::Path(p)
                if p.path
                    .segments
                    .first()
                    .is_some_and(|s| s.ident != GENERIC_FLOAT)
                    && p.path
                        .get_ident()
                        .is_none_or(|id| self.lookup(&id.to_string()).is_none()) =>
            {
                "a constant of another type"
            }
            _ if literal(e).is_some() => "an `f64` literal",
            _ => return,
        };
        let c = quote::ToTokens::to_token_stream(e);
        self.type_error(
            e,
            format!("`{c}` is {what}: in a function generic over its float type `{GENERIC_FLOAT}`, write `{GENERIC_FLOAT}::from_f64({c})`"),
        );
    }

    /// How to convert data `name` to the float type, for a message: `name as f64`, or
    /// `T::from_f64(name as f64)` for a generic float `T`.
    pub(super) fn conversion(&self, name: &str) -> String {
        let float = crate::emit::tokens::float_type_tokens(self.b.float);
        match self.b.float {
            crate::ir::Float::Generic => format!("`{float}::from_f64({name} as f64)`"),
            _ => format!("`{name} as {float}`"),
        }
    }
}

/// `2.0`, `2.0_f64` or `-2.0`, as a value.
fn literal(e: &Expr) -> Option<f64> {
    match e {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Float(f),
            ..
        }) if f.suffix().is_empty() || f.suffix() == "f64" => f.base10_parse::<f64>().ok(),
        Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => literal(&u.expr).map(|v| -v),
        Expr::Paren(p) => literal(&p.expr),
        Expr::Group(g) => literal(&g.expr),
        _ => None,
    }
}

/// `x.to_f64()` of a differentiated `x`: what to write instead.
pub(super) fn to_f64_message(id: &str) -> String {
    format!("`.to_f64()` makes `{id}`, which depends on a `wrt` parameter, plain `f64` data: its derivative would be lost (and a `{GENERIC_FLOAT}::from_f64(..)` of it would hide that); keep it of type `{GENERIC_FLOAT}`, and test it with comparisons (`{id} > {GENERIC_FLOAT}::ZERO`) or round it with `{GENERIC_FLOAT}` methods (`{id}.floor()`)")
}

/// `f64`, `f32`, the generic float type or its trait, before a method's name in a path
/// (`f64::exp(x)`, `T::exp(x)`, `Real::exp(x)`).
pub(super) fn float_type(segment: &str) -> bool {
    matches!(segment, "f64" | "f32" | "Real" | GENERIC_FLOAT)
}
