//! The derivative rules: one entry per function, one partial per argument, side by side.
//!
//! A partial is a function of an [`Algebra`] (the builder), the call's arguments `x` and its
//! result `y`; it returns `∂y/∂x[i]` as IR. Rules reuse the result where that is cheaper and
//! more stable (`exp → y`, `tanh → 1 − y²`, `sqrt → 0.5 / y`, `sigmoid → y(1 − y)`), as JAX's
//! `defjvp` rules do. A row also carries the function's cost and, in tests, its value. The
//! built-in operations (`+ − × ÷ %`, selects, pullback calls) have their partials in [`arith`],
//! which every mode reads: reverse, forward, second order and the derivation in the docs.
//!
//! Conventions where the derivative does not exist (documented in the `backprop` crate):
//! `abs`, `signum`, `relu` and the rounding functions have derivative 0 at their kinks and
//! jumps; `min`/`max`/`clamp` ties split the gradient evenly; `sqrt` at 0 gives `+inf`;
//! `hypot` and `atan2` at the origin and `powf`'s exponent partial at base 0 give 0.
//!
//! Adding a function is one row here (plus, for a helper, the function in `grad-runtime` and
//! its re-export by the facade; for a method, its line in `Real`, for generic functions), a
//! line in the manual and the README (a test checks all of these), and its tests.

pub mod arith;

use crate::ir::{Cmp, NamedConst, Operand};

/// What a partial is written with: the operations of derivative code, as IR. The builder
/// (`Builder`, in the `build` stage) implements it, folding and value-numbering as it goes; the rules
/// know nothing else of it, so the table sits below the builder.
pub trait Algebra {
    fn lit(&self, v: f64) -> Operand;
    fn add(&mut self, a: Operand, b: Operand) -> Operand;
    fn sub(&mut self, a: Operand, b: Operand) -> Operand;
    fn mul(&mut self, a: Operand, b: Operand) -> Operand;
    fn div(&mut self, a: Operand, b: Operand) -> Operand;
    fn neg(&mut self, a: Operand) -> Operand;
    fn sq(&mut self, a: Operand) -> Operand;
    fn recip(&mut self, a: Operand) -> Operand;
    /// `if l cmp r { t } else { e }`.
    fn select(&mut self, l: Operand, cmp: Cmp, r: Operand, t: Operand, e: Operand) -> Operand;
    /// A call of the rule named `name` (a row of [`RULES`]).
    fn call(&mut self, name: &str, args: Vec<Operand>) -> Operand;
    /// `x.powi(n)` for an integer `n`.
    fn powi(&mut self, x: Operand, n: Operand) -> Operand;
    /// An integer exponent `n` as a float, and `n − 1` as an integer.
    fn int_and_pred(&mut self, n: Operand) -> (Operand, Operand);
}

/// `∂y/∂x[i]` for one argument `i`, given the algebra, the arguments and the result.
pub type Partial = fn(&mut dyn Algebra, &[Operand], Operand) -> Operand;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// An inherent method of `f32`/`f64`: `x.exp()` or `f64::exp(x)`; `x[0]` is the receiver.
    Method,
    /// A helper of the runtime crate: `backprop::sigmoid(x)`, or `sigmoid(x)` after a `use`.
    Helper,
}

pub struct Rule {
    pub name: &'static str,
    pub form: Form,
    /// The argument that is an integer (`powi`'s exponent): data, never differentiated.
    pub int_arg: Option<usize>,
    /// Roughly what one call costs, in additions: comparisons and rounding 2, a square root
    /// or a reciprocal 5 (a division), a transcendental function 20. Only ratios of it are
    /// used, to decide whether `_grad` gets a body of its own.
    pub cost: u64,
    /// The function's value, for the macro's test interpreter (`tests/interp.rs`), which so
    /// knows every function the table does.
    #[cfg(test)]
    pub eval: fn(&[f64]) -> f64,
    /// One partial per argument, in order; the length is the arity.
    pub partials: &'static [Partial],
}

impl Rule {
    pub fn arity(&self) -> usize {
        self.partials.len()
    }
}

use Form::{Helper, Method};

/// A row: the name, the form, the cost, the value (in tests), one partial per argument.
macro_rules! rule {
    ($name:literal, $form:ident, $cost:literal, $eval:expr, $partials:expr) => {
        Rule {
            name: $name,
            form: $form,
            int_arg: None,
            cost: $cost,
            #[cfg(test)]
            eval: $eval,
            partials: $partials,
        }
    };
}

#[rustfmt::skip]
pub static RULES: &[Rule] = &[
    // exponentials and logarithms
    rule!("exp", Method, 20, |x| x[0].exp(),
          &[|_, _, y| y]),
    rule!("exp2", Method, 20, |x| x[0].exp2(),
          &[|b, _, y| b.mul(y, Operand::Const(NamedConst::Ln2))]),
    rule!("exp_m1", Method, 20, |x| x[0].exp_m1(),
          &[|b, _, y| { let one = b.lit(1.0); b.add(y, one) }]),
    rule!("ln", Method, 20, |x| x[0].ln(),
          &[|b, x, _| b.recip(x[0])]),
    rule!("log", Method, 20, |x| x[0].log(x[1]),
          &[|b, x, _| { let l = b.call("ln", vec![x[1]]); let m = b.mul(x[0], l); b.recip(m) },
            |b, x, y| { let l = b.call("ln", vec![x[1]]); let m = b.mul(x[1], l); let q = b.div(y, m); b.neg(q) }]),
    rule!("log2", Method, 20, |x| x[0].log2(),
          &[|b, x, _| { let m = b.mul(x[0], Operand::Const(NamedConst::Ln2)); b.recip(m) }]),
    rule!("log10", Method, 20, |x| x[0].log10(),
          &[|b, x, _| { let m = b.mul(x[0], Operand::Const(NamedConst::Ln10)); b.recip(m) }]),
    rule!("ln_1p", Method, 20, |x| x[0].ln_1p(),
          &[|b, x, _| { let one = b.lit(1.0); let s = b.add(one, x[0]); b.recip(s) }]),
    // powers and roots
    rule!("sqrt", Method, 5, |x| x[0].sqrt(),
          &[|b, _, y| { let h = b.lit(0.5); b.div(h, y) }]),
    rule!("cbrt", Method, 20, |x| x[0].cbrt(),
          &[|b, _, y| { let s = b.sq(y); let three = b.lit(3.0); let m = b.mul(three, s); b.recip(m) }]),
    rule!("recip", Method, 5, |x| x[0].recip(),
          &[|b, _, y| { let s = b.sq(y); b.neg(s) }]),
    Rule { name: "powi", form: Method, int_arg: Some(1), cost: 2,
           #[cfg(test)] eval: |x| x[0].powi(x[1] as i32),
           partials: &[|b, x, _| { let (n, m) = b.int_and_pred(x[1]); let p = b.powi(x[0], m); let d = b.mul(n, p); zero_at_exponent_zero(b, x[1], Operand::Int(0), d) },
                       |b, _, _| b.lit(0.0)] },
    // The guard on a 0 exponent applies at base 0 only (where 0·∞ would appear), so that the
    // partial's own derivative along the exponent, which a Hessian takes, is kept elsewhere.
    rule!("powf", Method, 20, |x| x[0].powf(x[1]),
          &[|b, x, _| { let one = b.lit(1.0); let m = b.sub(x[1], one); let p = b.call("powf", vec![x[0], m]); let z = b.lit(0.0); let d = b.mul(x[1], p); let g = zero_at_exponent_zero(b, x[1], z, d); b.select(x[0], Cmp::Eq, z, g, d) },
            |b, x, y| { let l = b.call("ln", vec![x[0]]); let m = b.mul(y, l); let z = b.lit(0.0); b.select(x[0], Cmp::Eq, z, z, m) }]),
    rule!("hypot", Method, 20, |x| x[0].hypot(x[1]),
          &[|b, x, y| hypot_partial(b, x[0], y),
            |b, x, y| hypot_partial(b, x[1], y)]),
    rule!("mul_add", Method, 2, |x| x[0].mul_add(x[1], x[2]),
          &[|_, x, _| x[1],
            |_, x, _| x[0],
            |b, _, _| b.lit(1.0)]),
    rule!("midpoint", Method, 2, |x| x[0].midpoint(x[1]),
          &[|b, _, _| b.lit(0.5),
            |b, _, _| b.lit(0.5)]),
    // trigonometry
    rule!("sin", Method, 20, |x| x[0].sin(),
          &[|b, x, _| b.call("cos", vec![x[0]])]),
    rule!("cos", Method, 20, |x| x[0].cos(),
          &[|b, x, _| { let s = b.call("sin", vec![x[0]]); b.neg(s) }]),
    rule!("tan", Method, 20, |x| x[0].tan(),
          &[|b, _, y| { let s = b.sq(y); let one = b.lit(1.0); b.add(one, s) }]),
    rule!("asin", Method, 20, |x| x[0].asin(),
          &[|b, x, _| { let r = one_minus_sq_sqrt(b, x[0]); b.recip(r) }]),
    rule!("acos", Method, 20, |x| x[0].acos(),
          &[|b, x, _| { let r = one_minus_sq_sqrt(b, x[0]); let q = b.recip(r); b.neg(q) }]),
    rule!("atan", Method, 20, |x| x[0].atan(),
          &[|b, x, _| { let s = b.sq(x[0]); let one = b.lit(1.0); let d = b.add(one, s); b.recip(d) }]),
    // At the origin, where atan2 is singular, both partials are 0 (as for hypot).
    rule!("atan2", Method, 20, |x| x[0].atan2(x[1]),
          &[|b, x, _| { let r = sum_sq(b, x[0], x[1]); let q = b.div(x[1], r); zero_where_zero(b, r, q) },
            |b, x, _| { let r = sum_sq(b, x[0], x[1]); let q = b.div(x[0], r); let n = b.neg(q); zero_where_zero(b, r, n) }]),
    rule!("to_radians", Method, 2, |x| x[0].to_radians(),
          &[|b, _, _| b.lit(std::f64::consts::PI / 180.0)]),
    rule!("to_degrees", Method, 2, |x| x[0].to_degrees(),
          &[|b, _, _| b.lit(180.0 / std::f64::consts::PI)]),
    // hyperbolic functions
    rule!("sinh", Method, 20, |x| x[0].sinh(),
          &[|b, x, _| b.call("cosh", vec![x[0]])]),
    rule!("cosh", Method, 20, |x| x[0].cosh(),
          &[|b, x, _| b.call("sinh", vec![x[0]])]),
    rule!("tanh", Method, 20, |x| x[0].tanh(),
          &[|b, _, y| { let s = b.sq(y); let one = b.lit(1.0); b.sub(one, s) }]),
    rule!("asinh", Method, 20, |x| x[0].asinh(),
          &[|b, x, _| { let one = b.lit(1.0); let h = b.call("hypot", vec![x[0], one]); b.recip(h) }]),
    rule!("acosh", Method, 20, |x| x[0].acosh(),
          &[|b, x, _| { let one = b.lit(1.0); let m = b.sub(x[0], one); let p = b.add(x[0], one); let q = b.mul(m, p); let r = b.call("sqrt", vec![q]); b.recip(r) }]),
    rule!("atanh", Method, 20, |x| x[0].atanh(),
          &[|b, x, _| { let one = b.lit(1.0); let m = b.sub(one, x[0]); let p = b.add(one, x[0]); let q = b.mul(m, p); b.recip(q) }]),
    // kinks, ties and steps
    rule!("abs", Method, 2, |x| x[0].abs(),
          &[|b, x, _| sign0(b, x[0])]),
    rule!("signum", Method, 2, |x| x[0].signum(),
          &[|b, _, _| b.lit(0.0)]),
    rule!("min", Method, 2, |x| x[0].min(x[1]),
          &[|b, x, _| tie_weight(b, x[0], Cmp::Lt, x[1]),
            |b, x, _| tie_weight(b, x[1], Cmp::Lt, x[0])]),
    rule!("max", Method, 2, |x| x[0].max(x[1]),
          &[|b, x, _| tie_weight(b, x[0], Cmp::Gt, x[1]),
            |b, x, _| tie_weight(b, x[1], Cmp::Gt, x[0])]),
    // clamp(x, lo, hi) is max(lo, min(x, hi)): ties split like min and max.
    rule!("clamp", Method, 2, |x| x[0].clamp(x[1], x[2]),
          &[|b, x, _| { let m = b.call("min", vec![x[0], x[2]]); let up = tie_weight(b, m, Cmp::Gt, x[1]); let inner = tie_weight(b, x[0], Cmp::Lt, x[2]); b.mul(up, inner) },
            |b, x, _| { let m = b.call("min", vec![x[0], x[2]]); tie_weight(b, x[1], Cmp::Gt, m) },
            |b, x, _| { let m = b.call("min", vec![x[0], x[2]]); let up = tie_weight(b, m, Cmp::Gt, x[1]); let inner = tie_weight(b, x[2], Cmp::Lt, x[0]); b.mul(up, inner) }]),
    rule!("floor", Method, 2, |x| x[0].floor(),
          &[|b, _, _| b.lit(0.0)]),
    rule!("ceil", Method, 2, |x| x[0].ceil(),
          &[|b, _, _| b.lit(0.0)]),
    rule!("round", Method, 2, |x| x[0].round(),
          &[|b, _, _| b.lit(0.0)]),
    rule!("trunc", Method, 2, |x| x[0].trunc(),
          &[|b, _, _| b.lit(0.0)]),
    rule!("round_ties_even", Method, 2, |x| x[0].round_ties_even(),
          &[|b, _, _| b.lit(0.0)]),
    rule!("fract", Method, 2, |x| x[0].fract(),
          &[|b, _, _| b.lit(1.0)]),
    // copysign(x, s) = |x| with the sign of s: ∂x is ±1 (0 at x = 0, as for abs)
    rule!("copysign", Method, 2, |x| x[0].copysign(x[1]),
          &[|b, x, _| { let s = sign0(b, x[0]); let one = b.lit(1.0); let t = b.call("copysign", vec![one, x[1]]); b.mul(s, t) },
            |b, _, _| b.lit(0.0)]),
    // rem_euclid(x, m) = x − m·div_euclid(x, m), where div_euclid is a step function
    rule!("rem_euclid", Method, 20, |x| x[0].rem_euclid(x[1]),
          &[|b, _, _| b.lit(1.0),
            |b, x, _| { let q = b.call("div_euclid", vec![x[0], x[1]]); b.neg(q) }]),
    rule!("div_euclid", Method, 20, |x| x[0].div_euclid(x[1]),
          &[|b, _, _| b.lit(0.0),
            |b, _, _| b.lit(0.0)]),
    // helpers of the runtime crate
    rule!("sigmoid", Helper, 20, |x| grad_runtime::sigmoid(x[0]),
          &[|b, _, y| { let one = b.lit(1.0); let c = b.sub(one, y); b.mul(y, c) }]),
    rule!("relu", Helper, 2, |x| grad_runtime::relu(x[0]),
          &[|b, x, _| { let (z, one) = (b.lit(0.0), b.lit(1.0)); b.select(x[0], Cmp::Gt, z, one, z) }]),
    rule!("leaky_relu", Helper, 2, |x| grad_runtime::leaky_relu(x[0], x[1]),
          &[|b, x, _| { let (z, one) = (b.lit(0.0), b.lit(1.0)); b.select(x[0], Cmp::Gt, z, one, x[1]) },
            |b, x, _| { let z = b.lit(0.0); b.select(x[0], Cmp::Gt, z, z, x[0]) }]),
    rule!("softplus", Helper, 20, |x| grad_runtime::softplus(x[0]),
          &[|b, x, _| b.call("sigmoid", vec![x[0]])]),
    rule!("log_sigmoid", Helper, 20, |x| grad_runtime::log_sigmoid(x[0]),
          &[|b, x, _| { let n = b.neg(x[0]); b.call("sigmoid", vec![n]) }]),
];

/// `d`, or 0 where the exponent `n` is 0: `x⁰ = 1` has derivative 0 even at `x = 0`, where
/// `n·xⁿ⁻¹` would be `0·∞`.
fn zero_at_exponent_zero(b: &mut dyn Algebra, n: Operand, zero: Operand, d: Operand) -> Operand {
    match n {
        Operand::Int(0) => b.lit(0.0),
        Operand::Lit(0.0) => b.lit(0.0),
        Operand::Int(_) | Operand::Lit(_) => d,
        _ => {
            let z = b.lit(0.0);
            b.select(n, Cmp::Eq, zero, z, d)
        }
    }
}

/// `sqrt(1 − x²)`, as `sqrt((1 − x)(1 + x))` to keep precision near ±1.
fn one_minus_sq_sqrt(b: &mut dyn Algebra, x: Operand) -> Operand {
    let one = b.lit(1.0);
    let m = b.sub(one, x);
    let p = b.add(one, x);
    let q = b.mul(m, p);
    b.call("sqrt", vec![q])
}

fn sum_sq(b: &mut dyn Algebra, a: Operand, c: Operand) -> Operand {
    let a2 = b.sq(a);
    let c2 = b.sq(c);
    b.add(a2, c2)
}

/// `x / h`, and 0 where `h = hypot(..) = 0` (the subgradient, as for `abs`).
fn hypot_partial(b: &mut dyn Algebra, x: Operand, h: Operand) -> Operand {
    let q = b.div(x, h);
    zero_where_zero(b, h, q)
}

/// `value`, or 0 where `r` is 0 (a singular point of the function).
fn zero_where_zero(b: &mut dyn Algebra, r: Operand, value: Operand) -> Operand {
    let z = b.lit(0.0);
    b.select(r, Cmp::Eq, z, z, value)
}

/// The sign of `x`, with 0 at 0: the derivative of `abs`.
fn sign0(b: &mut dyn Algebra, x: Operand) -> Operand {
    let (z, one, m1) = (b.lit(0.0), b.lit(1.0), b.lit(-1.0));
    let neg = b.select(x, Cmp::Lt, z, m1, z);
    b.select(x, Cmp::Gt, z, one, neg)
}

/// The share of the gradient `a` gets in `min` (`cmp = Lt`) or `max` (`cmp = Gt`) against `c`:
/// 1 if `a` wins, ½ on a tie, 0 otherwise. A NaN loses: `a.max(NaN)` is `a`, as in std.
fn tie_weight(b: &mut dyn Algebra, a: Operand, cmp: Cmp, c: Operand) -> Operand {
    let (z, half, one) = (b.lit(0.0), b.lit(0.5), b.lit(1.0));
    let other_nan = b.select(c, Cmp::Nan, c, one, z);
    let tie = b.select(a, Cmp::Eq, c, half, other_nan);
    b.select(a, cmp, c, one, tie)
}

/// The rule called `name` with this form, if any.
pub fn lookup(name: &str, form: Form) -> Option<usize> {
    RULES.iter().position(|r| r.name == name && r.form == form)
}

/// `a, b, c`: the names of the supported functions of one form, for error messages and docs.
pub fn names(form: Form) -> String {
    RULES
        .iter()
        .filter(|r| r.form == form)
        .map(|r| r.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records the rules a partial calls, building nothing.
    struct Calls(Vec<String>);

    impl Algebra for Calls {
        fn lit(&self, v: f64) -> Operand {
            Operand::Lit(v)
        }
        fn add(&mut self, a: Operand, _: Operand) -> Operand {
            a
        }
        fn sub(&mut self, a: Operand, _: Operand) -> Operand {
            a
        }
        fn mul(&mut self, a: Operand, _: Operand) -> Operand {
            a
        }
        fn div(&mut self, a: Operand, _: Operand) -> Operand {
            a
        }
        fn neg(&mut self, a: Operand) -> Operand {
            a
        }
        fn sq(&mut self, a: Operand) -> Operand {
            a
        }
        fn recip(&mut self, a: Operand) -> Operand {
            a
        }
        fn select(&mut self, _: Operand, _: Cmp, _: Operand, t: Operand, _: Operand) -> Operand {
            t
        }
        fn call(&mut self, name: &str, args: Vec<Operand>) -> Operand {
            self.0.push(name.to_string());
            args[0]
        }
        fn powi(&mut self, x: Operand, _: Operand) -> Operand {
            x
        }
        fn int_and_pred(&mut self, n: Operand) -> (Operand, Operand) {
            (n, n)
        }
    }

    #[test]
    fn names_are_unique_and_rules_call_only_rules() {
        let mut seen = rustc_hash::FxHashSet::default();
        for r in RULES {
            assert!(seen.insert(r.name), "duplicate rule {}", r.name);
            assert!(r.arity() >= 1);
        }
        // Every partial, run on a recording algebra: what it calls is a row of the table.
        for r in RULES {
            let x: Vec<Operand> = (0..r.arity())
                .map(|k| Operand::Lit(k as f64 + 0.5))
                .collect();
            for partial in r.partials {
                let mut calls = Calls(Vec::new());
                partial(&mut calls, &x, Operand::Lit(1.0));
                for called in calls.0 {
                    assert!(
                        seen.contains(called.as_str()),
                        "{} calls {called}, which is not a rule",
                        r.name
                    );
                }
            }
        }
    }

    /// A row is all a function needs, besides its tests: the manual and the README list it,
    /// a helper exists in the runtime, and the row's value is defined at ordinary points.
    #[test]
    fn every_row_is_documented_and_evaluated() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let read = |p: &str| std::fs::read_to_string(format!("{root}/{p}")).unwrap_or_default();
        let (manual, readme, runtime, real) = (
            read("src/lib.rs"),
            read("README.md"),
            read("grad-runtime/src/helpers.rs"),
            read("grad-runtime/src/real.rs"),
        );
        let words = |text: &str| -> rustc_hash::FxHashSet<String> {
            text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map(String::from)
                .collect()
        };
        let (manual, readme) = (words(&manual), words(&readme));
        for r in RULES {
            let name = r.name;
            assert!(
                manual.contains(name),
                "the manual (src/lib.rs) does not list `{name}`"
            );
            assert!(readme.contains(name), "README.md does not list `{name}`");
            if r.form == Form::Helper {
                assert!(
                    runtime.contains(&format!("pub fn {name}<")),
                    "grad-runtime has no `{name}`"
                );
            } else {
                // A generic function's `x.{name}(..)` is `Real`'s.
                assert!(
                    real.contains(&format!("fn {name}(self")),
                    "`Real` (grad-runtime/src/real.rs) has no method `{name}`"
                );
            }
            let finite = [0.3, 0.6, 1.5].iter().any(|&x| {
                let args: Vec<f64> = (0..r.arity()).map(|k| x + 0.2 * k as f64).collect();
                (r.eval)(&args).is_finite()
            });
            assert!(finite, "{name}'s value is nowhere finite");
        }
    }
}
