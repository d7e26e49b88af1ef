//! The gradient conventions `#[grad]` promises where a derivative is undefined or infinite,
//! asserted exactly: kinks (`abs`, `relu`, `leaky_relu`), jumps (`signum`, `floor`, `ceil`,
//! `round`, `trunc`), ties of `min` / `max` / `clamp` (split evenly, like JAX), `sqrt` at 0,
//! `hypot` at the origin and `powf` at base 0. Then overflow (the helpers at ±800, `exp` near
//! 709, `ln` near 1e-300 keep finite gradients), and that a NaN or infinity computed in an `if`
//! branch that is not taken never reaches the gradient.

use approx::assert_relative_eq;
use backprop::{grad, leaky_relu, log_sigmoid, relu, sigmoid, softplus};

// ---------------------------------------------------------------------------------------------
// Kinks and jumps: the derivative there is 0 (leaky_relu: its slope, the left derivative)
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x)]
fn k_abs(x: f64) -> f64 {
    x.abs()
}

#[grad(wrt = x)]
fn k_relu(x: f64) -> f64 {
    relu(x)
}

#[grad(wrt = x, slope)]
fn k_leaky_relu(x: f64, slope: f64) -> f64 {
    leaky_relu(x, slope)
}

#[grad(wrt = x)]
fn k_signum(x: f64) -> f64 {
    x.signum()
}

#[grad(wrt = x)]
fn k_floor(x: f64) -> f64 {
    x.floor()
}

#[grad(wrt = x)]
fn k_ceil(x: f64) -> f64 {
    x.ceil()
}

#[grad(wrt = x)]
fn k_round(x: f64) -> f64 {
    x.round()
}

#[grad(wrt = x)]
fn k_trunc(x: f64) -> f64 {
    x.trunc()
}

#[test]
fn abs_at_zero() {
    assert_eq!(k_abs(0.0), 0.0);
    assert_eq!(k_abs_grad(0.0), 0.0);
    assert_eq!(k_abs_grad(-0.0), 0.0);
    // Either side of the kink, for contrast.
    assert_eq!(k_abs_grad(-1e-300), -1.0);
    assert_eq!(k_abs_grad(1e-300), 1.0);
}

#[test]
fn relu_at_zero() {
    assert_eq!(k_relu(0.0), 0.0);
    assert_eq!(k_relu_grad(0.0), 0.0);
    assert_eq!(k_relu_grad(1e-300), 1.0);
    assert_eq!(k_relu_grad(-1e-300), 0.0);
}

#[test]
fn leaky_relu_at_zero_takes_the_slope() {
    assert_eq!(k_leaky_relu(0.0, 0.1), 0.0);
    // ∂/∂x = slope (the left derivative); ∂/∂slope = x = 0.
    assert_eq!(k_leaky_relu_grad(0.0, 0.1), (0.1, 0.0));
    assert_eq!(k_leaky_relu_grad(0.0, 0.25), (0.25, 0.0));
}

#[test]
fn signum_at_zero_and_elsewhere() {
    assert_eq!(k_signum(-3.0), -1.0);
    for x in [0.0, -0.0, -3.0, 3.0] {
        assert_eq!(k_signum_grad(x), 0.0, "at {x}");
    }
}

#[test]
fn rounding_functions_at_their_jumps() {
    assert_eq!(k_floor(2.0), 2.0);
    assert_eq!(k_ceil(2.0), 2.0);
    assert_eq!(k_round(2.5), 3.0);
    assert_eq!(k_trunc(-3.0), -3.0);
    for x in [2.0, -1.0, 0.0] {
        assert_eq!(k_floor_grad(x), 0.0, "floor at {x}");
        assert_eq!(k_ceil_grad(x), 0.0, "ceil at {x}");
        assert_eq!(k_trunc_grad(x), 0.0, "trunc at {x}");
    }
    for x in [2.5, -0.5, 0.5] {
        assert_eq!(k_round_grad(x), 0.0, "round at {x}");
    }
}

// ---------------------------------------------------------------------------------------------
// Ties: min and max split the gradient evenly; clamp(x, lo, hi) = max(lo, min(x, hi))
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x, y)]
fn t_min(x: f64, y: f64) -> f64 {
    x.min(y)
}

#[grad(wrt = x, y)]
fn t_max(x: f64, y: f64) -> f64 {
    x.max(y)
}

#[grad(wrt = x)]
fn t_max_of_itself(x: f64) -> f64 {
    let y = x;
    x.max(y)
}

#[grad(wrt = x, lo, hi)]
fn t_clamp(x: f64, lo: f64, hi: f64) -> f64 {
    x.clamp(lo, hi)
}

#[test]
fn min_and_max_ties_split_evenly() {
    assert_eq!(t_min(1.5, 1.5), 1.5);
    assert_eq!(t_max(1.5, 1.5), 1.5);
    assert_eq!(t_min_grad(1.5, 1.5), (0.5, 0.5));
    assert_eq!(t_max_grad(1.5, 1.5), (0.5, 0.5));
    assert_eq!(t_min_grad(0.0, 0.0), (0.5, 0.5));
    assert_eq!(t_max_grad(-2.0, -2.0), (0.5, 0.5));
    // Both halves reach the same variable: max(x, x) = x.
    assert_eq!(t_max_of_itself(0.7), 0.7);
    assert_eq!(t_max_of_itself_grad(0.7), 1.0);
}

#[test]
fn clamp_ties_behave_like_max_of_min() {
    assert_eq!(t_clamp(2.0, -1.0, 2.0), 2.0);
    // x = hi: min(x, hi) ties, the max is untied.
    assert_eq!(t_clamp_grad(2.0, -1.0, 2.0), (0.5, 0.0, 0.5));
    // x = lo: the min is untied (x), max(lo, x) ties.
    assert_eq!(t_clamp_grad(-1.0, -1.0, 2.0), (0.5, 0.5, 0.0));
    // x = lo = hi: max(lo, m) gives lo and m one half each, min(x, hi) splits m's half.
    assert_eq!(t_clamp_grad(1.0, 1.0, 1.0), (0.25, 0.5, 0.25));
    // lo = hi < x: min(x, hi) = hi, then max(lo, hi) ties.
    assert_eq!(t_clamp_grad(3.0, 1.0, 1.0), (0.0, 0.5, 0.5));
    // lo = hi > x: min(x, hi) = x, then max(lo, x) = lo.
    assert_eq!(t_clamp_grad(-3.0, 1.0, 1.0), (0.0, 1.0, 0.0));
}

// ---------------------------------------------------------------------------------------------
// Singular points: sqrt at 0, hypot at the origin, powf at base 0
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x)]
fn s_sqrt(x: f64) -> f64 {
    x.sqrt()
}

#[grad(wrt = x, y)]
fn s_hypot(x: f64, y: f64) -> f64 {
    x.hypot(y)
}

#[grad(wrt = x, y)]
fn s_powf(x: f64, y: f64) -> f64 {
    x.powf(y)
}

#[test]
fn sqrt_at_zero_is_plus_infinity() {
    assert_eq!(s_sqrt(0.0), 0.0);
    assert_eq!(s_sqrt_grad(0.0), f64::INFINITY);
}

#[test]
fn hypot_at_the_origin_is_zero() {
    assert_eq!(s_hypot(0.0, 0.0), 0.0);
    assert_eq!(s_hypot_grad(0.0, 0.0), (0.0, 0.0));
    // Along an axis it is the sign of that coordinate.
    assert_eq!(s_hypot_grad(0.0, -2.0), (0.0, -1.0));
}

#[test]
fn powf_exponent_derivative_at_base_zero_is_zero() {
    // ∂/∂y x^y = x^y ln x would be 0 · (−∞) = NaN at x = 0; the convention is 0.
    assert_eq!(s_powf(0.0, 2.0), 0.0);
    assert_eq!(s_powf_grad(0.0, 2.0), (0.0, 0.0));
    assert_eq!(s_powf_grad(0.0, 3.5).1, 0.0);
    assert_eq!(s_powf_grad(0.0, 1.0), (1.0, 0.0));
}

// ---------------------------------------------------------------------------------------------
// Overflow: finite gradients where the true gradient is finite
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x)]
fn o_sigmoid(x: f64) -> f64 {
    sigmoid(x)
}

#[grad(wrt = x)]
fn o_softplus(x: f64) -> f64 {
    softplus(x)
}

#[grad(wrt = x)]
fn o_log_sigmoid(x: f64) -> f64 {
    log_sigmoid(x)
}

#[grad(wrt = x)]
fn o_exp(x: f64) -> f64 {
    x.exp()
}

#[grad(wrt = x)]
fn o_ln(x: f64) -> f64 {
    x.ln()
}

#[grad(wrt = x)]
fn o_ln_of_exp(x: f64) -> f64 {
    x.exp().ln()
}

#[test]
fn helpers_saturate_without_overflow() {
    assert_eq!(o_sigmoid(800.0), 1.0);
    assert_eq!(o_sigmoid(-800.0), 0.0);
    assert_eq!(o_sigmoid_grad(800.0), 0.0);
    assert_eq!(o_sigmoid_grad(-800.0), 0.0);
    assert_eq!(o_softplus(800.0), 800.0);
    assert_eq!(o_softplus_grad(800.0), 1.0);
    assert_eq!(o_softplus_grad(-800.0), 0.0);
    assert_eq!(o_log_sigmoid(-800.0), -800.0);
    assert_eq!(o_log_sigmoid_grad(800.0), 0.0);
    assert_eq!(o_log_sigmoid_grad(-800.0), 1.0);
}

#[test]
fn exp_near_its_overflow_threshold() {
    let x = 709.0;
    let g = o_exp_grad(x);
    assert!(g.is_finite(), "exp' at {x} = {g}");
    assert_relative_eq!(g, o_exp(x), max_relative = 1e-15);
    assert_relative_eq!(o_ln_of_exp(x), x, max_relative = 1e-15);
    assert_relative_eq!(o_ln_of_exp_grad(x), 1.0, max_relative = 1e-15);
}

#[test]
fn ln_of_a_tiny_argument() {
    let x = 1e-300;
    let g = o_ln_grad(x);
    assert!(g.is_finite(), "ln' at {x} = {g}");
    assert_relative_eq!(g, 1e300, max_relative = 1e-15);
    assert_relative_eq!(o_ln(x), -690.775_527_898_213_7, max_relative = 1e-15);
}

// ---------------------------------------------------------------------------------------------
// A branch that is not taken contributes nothing, not even NaN · 0
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x)]
fn b_ln_or_linear(x: f64) -> f64 {
    if x > 0.0 {
        x.ln()
    } else {
        x * 2.0
    }
}

#[grad(wrt = x)]
fn b_sqrt_or_zero(x: f64) -> f64 {
    if x > 0.0 {
        x.sqrt()
    } else {
        0.0
    }
}

#[grad(wrt = x)]
fn b_sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        x.sin() / x
    }
}

#[grad(wrt = x)]
fn b_exp_overflow(x: f64) -> f64 {
    if x < 100.0 {
        x * x
    } else {
        (x * 300.0).exp()
    }
}

#[grad(wrt = x, y)]
fn b_chain(x: f64, y: f64, flip: bool) -> f64 {
    if x > 0.0 && y > 0.0 {
        (x * y).ln()
    } else if x < -1.0 || !flip {
        x * y
    } else {
        (y - x).sqrt()
    }
}

#[grad(wrt = x)]
fn b_statements(x: f64) -> f64 {
    let mut y = 2.0 * x;
    if x > 0.0 {
        y += x.ln();
    } else if x < -5.0 {
        y *= (-x - 5.0).sqrt();
    }
    y
}

#[test]
fn untaken_branch_with_nan() {
    // ln(-1) is NaN and 1/x = -1 there, but only `x * 2.0` is taken.
    assert_eq!(b_ln_or_linear(-1.0), -2.0);
    assert_eq!(b_ln_or_linear_grad(-1.0), 2.0);
    // At 0, ln is -inf and its derivative +inf: still not taken.
    assert_eq!(b_ln_or_linear_grad(0.0), 2.0);
    assert_eq!(b_ln_or_linear_grad(4.0), 0.25);
}

#[test]
fn untaken_branch_with_infinite_derivative() {
    assert_eq!(b_sqrt_or_zero(0.0), 0.0);
    assert_eq!(b_sqrt_or_zero_grad(0.0), 0.0);
    assert_eq!(b_sqrt_or_zero_grad(-4.0), 0.0);
    assert_eq!(b_sqrt_or_zero_grad(4.0), 0.25);
}

#[test]
fn untaken_branch_with_zero_over_zero() {
    assert_eq!(b_sinc(0.0), 1.0);
    assert_eq!(b_sinc_grad(0.0), 0.0);
    let x: f64 = 0.9;
    assert_relative_eq!(
        b_sinc_grad(x),
        (x * x.cos() - x.sin()) / (x * x),
        max_relative = 1e-12
    );
}

#[test]
fn untaken_branch_with_overflow() {
    // exp(900) = inf in the untaken branch.
    assert_eq!(b_exp_overflow(3.0), 9.0);
    assert_eq!(b_exp_overflow_grad(3.0), 6.0);
}

#[test]
fn else_if_chain_with_logical_operators() {
    // First branch; the untaken sqrt(0.5 - 2) is NaN.
    assert_eq!(b_chain(2.0, 0.5, true), 0.0);
    assert_eq!(b_chain_grad(2.0, 0.5, true), (0.5, 2.0));
    // Second branch through `x < -1.0`; the untaken ln(6) and sqrt(-1) do not matter.
    assert_eq!(b_chain_grad(-2.0, -3.0, true), (-3.0, -2.0));
    // Second branch through `!flip`; the untaken ln(-1.5) is NaN.
    assert_eq!(b_chain_grad(-0.5, 3.0, false), (3.0, -0.5));
    // Third branch; the untaken ln(-1.5) is NaN.
    let (gx, gy) = b_chain_grad(-0.5, 3.0, true);
    let half_inv_root = 0.5 / 3.5_f64.sqrt();
    assert_relative_eq!(gx, -half_inv_root, max_relative = 1e-15);
    assert_relative_eq!(gy, half_inv_root, max_relative = 1e-15);
}

#[test]
fn if_statements_updating_a_mut_binding() {
    // Neither branch taken: the untaken ln(-1) and sqrt(-4) are NaN.
    assert_eq!(b_statements(-1.0), -2.0);
    assert_eq!(b_statements_grad(-1.0), 2.0);
    // `y += ln x`: 2 + 1/x.
    assert_eq!(b_statements_grad(2.0), 2.5);
    // `y *= sqrt(-x - 5)` at x = -6: 2·1 + 2x·(-1 / (2·1)) = 2 + 6.
    assert_relative_eq!(b_statements_grad(-6.0), 8.0, max_relative = 1e-15);
}

#[grad(wrt = x)]
fn powi_data_exponent(x: f64, n: i32) -> f64 {
    x.powi(n)
}

#[grad(wrt = x, p)]
fn powf_both(x: f64, p: f64) -> f64 {
    x.powf(p)
}

#[test]
fn exponent_zero_at_base_zero_has_derivative_zero() {
    // x⁰ = 1 everywhere: the derivative is 0, not 0·∞ = NaN.
    assert_eq!(powi_data_exponent_grad(0.0, 0), 0.0);
    assert_eq!(powf_both_grad(0.0, 0.0), (0.0, 0.0));
    assert_eq!(powi_data_exponent_grad(2.0, 3), 12.0);
    // The generated n − 1 wraps instead of overflowing (debug builds would panic).
    assert_eq!(powi_data_exponent_grad(1.0, i32::MIN), i32::MIN as f64);
}

#[grad(wrt = a, b)]
fn max_nan(a: f64, b: f64) -> f64 {
    a.max(b)
}

#[grad(wrt = a, b)]
fn min_nan(a: f64, b: f64) -> f64 {
    a.min(b)
}

#[test]
fn min_max_ignore_nan_like_std() {
    // std returns the other argument when one is NaN: the gradient goes to it.
    assert_eq!(max_nan(f64::NAN, 2.0), 2.0);
    assert_eq!(max_nan_grad(f64::NAN, 2.0), (0.0, 1.0));
    assert_eq!(max_nan_grad(2.0, f64::NAN), (1.0, 0.0));
    assert_eq!(min_nan_grad(f64::NAN, 2.0), (0.0, 1.0));
    assert_eq!(min_nan_grad(2.0, f64::NAN), (1.0, 0.0));
}

#[grad(wrt = y, x)]
fn atan2_at(y: f64, x: f64) -> f64 {
    y.atan2(x)
}

#[grad(wrt = w)]
#[allow(clippy::eq_op)] // w − w is the point
fn atan2_of_nothing(w: f64, v: f64) -> f64 {
    // Found by the differential batch (seed 3): w − w is 0, so atan2 sits at its singular
    // point, and the function does not depend on w at all.
    v.trunc().atan2(w - w)
}

#[test]
fn atan2_at_the_origin_has_partials_zero() {
    assert_eq!(atan2_at_grad(0.0, 0.0), (0.0, 0.0));
    assert_eq!(atan2_of_nothing_grad(0.0, 0.0), 0.0);
    assert_eq!(atan2_at_grad(1.0, 0.0), (0.0, -1.0));
}
