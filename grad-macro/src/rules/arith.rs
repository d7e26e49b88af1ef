//! The partials of the built-in operations — `−x`, `+`, `−`, `×`, `÷`, `%`, a select between
//! two values, a call of another `#[grad]` function's pullback — with the math functions'
//! rows of [`RULES`] brought to the same form: the one place where what an
//! operation contributes to a derivative is written (JAX states its arithmetic the same way,
//! as primitives with rules, `deflinear2` for `+` and `defbilinear` for `×`, beside every other
//! function's).
//!
//! Each entry is `seed · ∂y/∂x[k]` for `y = op(x)`, in two readings:
//! - [`apply`]: to a seed, as the reverse sweep applies it to an adjoint, written as it is
//!   cheapest and most exact with the seed inside (`seed / b` rather than `seed · (1/b)`);
//! - [`partial`]: `∂y/∂x[k]` itself, the entry with a seed of 1 folded exactly. Forward mode
//!   computes it once for all its directions and multiplies each tangent by it (so second
//!   order, forward over reverse, reads it too), and the derivation in `_grad`'s
//!   documentation shows it.
//!
//! The two readings agree in exact arithmetic; where their code differs (a quotient's, a
//! reciprocal's) the entry says why.

use super::{Algebra, RULES};
use crate::ir::{Op, Operand};

/// `seed · ∂y/∂x[k]` for `y = op(x)`. An operand that is data to the operation (the compared
/// values of a select, the partials a pullback call carries) has partial 0.
pub fn apply(
    b: &mut dyn Algebra,
    op: Op,
    x: &[Operand],
    y: Operand,
    k: usize,
    seed: Operand,
) -> Operand {
    entry(b, op, x, y, k, Seed::Of(seed))
}

/// `∂y/∂x[k]` itself: the entry with a seed of 1.
pub fn partial(b: &mut dyn Algebra, op: Op, x: &[Operand], y: Operand, k: usize) -> Operand {
    entry(b, op, x, y, k, Seed::One)
}

#[derive(Clone, Copy)]
enum Seed {
    Of(Operand),
    /// 1, folded exactly: a partial that is an operand is that operand (data stays data,
    /// rather than becoming a product the builder must keep typed).
    One,
}

fn entry(b: &mut dyn Algebra, op: Op, x: &[Operand], y: Operand, k: usize, seed: Seed) -> Operand {
    let times = |b: &mut dyn Algebra, v: Operand| match seed {
        Seed::Of(s) => b.mul(s, v),
        Seed::One => v,
    };
    let applied = matches!(seed, Seed::Of(_));
    let seed = match seed {
        Seed::Of(s) => s,
        Seed::One => b.lit(1.0),
    };
    match (op, k) {
        // −x
        (Op::Neg, _) => b.neg(seed),
        // x₀ + x₁
        (Op::Add, _) => seed,
        // x₀ − x₁
        (Op::Sub, 0) => seed,
        (Op::Sub, _) => b.neg(seed),
        // x₀ · x₁
        (Op::Mul, 0) => times(b, x[1]),
        (Op::Mul, _) => times(b, x[0]),
        // y = x₀ / x₁: ∂x₀ = 1/x₁, applied as a division (one rounding, not two).
        (Op::Div, 0) => b.div(seed, x[1]),
        // ∂x₁ = −y/x₁, reusing the quotient. Applied to a seed (an adjoint), a reciprocal's
        // (x₀ = 1) is −(seed·y)·y, with no second division. As a value it stays −y/x₁: forward
        // mode multiplies such partials along a chain, and −y² there lets the builder meet a
        // logistic's `p·e` and rewrite it as `1 − p`, which loses digits where p is near 1
        // (the notes' ξ chain at w·x = 9: 6.6e-13 relative).
        (Op::Div, _) => {
            let m = b.mul(seed, y);
            let q = if x[0].is_lit(1.0) && applied {
                b.mul(m, y)
            } else {
                b.div(m, x[1])
            };
            b.neg(q)
        }
        // x₀ % x₁ = x₀ − x₁·trunc(x₀ / x₁), where trunc is a step function (derivative 0).
        (Op::Rem, 0) => seed,
        (Op::Rem, _) => {
            let q = b.div(x[0], x[1]);
            let t = b.call("trunc", vec![q]);
            let m = b.mul(seed, t);
            b.neg(m)
        }
        // if x₀ cmp x₁ { x₂ } else { x₃ }: the chosen arm's seed.
        (Op::Select(cmp), 2) => {
            let z = b.lit(0.0);
            b.select(x[0], cmp, x[1], seed, z)
        }
        (Op::Select(cmp), 3) => {
            let z = b.lit(0.0);
            b.select(x[0], cmp, x[1], z, seed)
        }
        // A math function of the rule table: its row's partial.
        (Op::Call(i), k) => {
            let p = (RULES[i].partials[k])(b, x, y);
            times(b, p)
        }
        // A call of a `#[grad]` function through its pullback, `x = (inputs.., partials..)`:
        // the partial with respect to input k is the pullback's k-th.
        (Op::Pulled(n), k) if k < n => times(b, x[n + k]),
        (Op::Select(_), _) | (Op::Pulled(_), _) => b.lit(0.0),
    }
}
