//! Every float method and runtime helper that `#[grad]` bodies may call, differentiated by the
//! macro and checked two ways at two or three points inside its domain: against central finite
//! differences (`backprop::check::check_gradient`), and against the closed-form derivative.
//! Multi-argument functions are checked in every argument; the path form (`f64::exp(x)`),
//! `powi` with an integer data expression, a few `f32` functions and the `_value_and_grad`
//! variant are covered too.

use approx::relative_eq;
use backprop::check::{check_gradient, Tolerance};
use backprop::{grad, leaky_relu, log_sigmoid, relu, sigmoid, softplus};
use std::f64::consts::{LN_10, LN_2, PI};

// ---------------------------------------------------------------------------------------------
// Checking helpers
// ---------------------------------------------------------------------------------------------

/// Panics with the mismatch report unless `analytic` agrees with central differences of `f`.
fn assert_fd(f: impl Fn(&[f64]) -> f64, x: &[f64], analytic: &[f64]) {
    if let Err(e) = check_gradient(f, x, analytic, Tolerance::default()) {
        panic!("{e}");
    }
}

/// Analytic gradient against a closed form: both exact up to rounding, so the bound is tight.
fn assert_close(got: f64, want: f64, at: &[f64]) {
    assert!(
        relative_eq!(got, want, epsilon = 1e-14, max_relative = 1e-12),
        "at {at:?}: got {got:e}, closed form {want:e}"
    );
}

type F1 = fn(f64) -> f64;
type F2 = fn(f64, f64) -> f64;
type G2 = fn(f64, f64) -> (f64, f64);
type F3 = fn(f64, f64, f64) -> f64;
type G3 = fn(f64, f64, f64) -> (f64, f64, f64);

/// `f` of one argument, its generated gradient `g` and the closed form `d`, at `points`.
fn unary(f: F1, g: F1, d: F1, points: &[f64]) {
    for &x in points {
        let got = g(x);
        assert_fd(|v| f(v[0]), &[x], &[got]);
        assert_close(got, d(x), &[x]);
    }
}

/// As [`unary`], for two arguments (both wrt).
fn binary(f: F2, g: G2, d: G2, points: &[(f64, f64)]) {
    for &(a, b) in points {
        let (ga, gb) = g(a, b);
        let (da, db) = d(a, b);
        assert_fd(|v| f(v[0], v[1]), &[a, b], &[ga, gb]);
        assert_close(ga, da, &[a, b]);
        assert_close(gb, db, &[a, b]);
    }
}

/// As [`unary`], for three arguments (all wrt).
fn ternary(f: F3, g: G3, d: G3, points: &[(f64, f64, f64)]) {
    for &(a, b, c) in points {
        let (ga, gb, gc) = g(a, b, c);
        let (da, db, dc) = d(a, b, c);
        assert_fd(|v| f(v[0], v[1], v[2]), &[a, b, c], &[ga, gb, gc]);
        assert_close(ga, da, &[a, b, c]);
        assert_close(gb, db, &[a, b, c]);
        assert_close(gc, dc, &[a, b, c]);
    }
}

/// Closed-form check for `f32` gradients, at `f32` precision.
fn assert_close_f32(got: f32, want: f32) {
    assert!(
        relative_eq!(got, want, epsilon = 1e-6, max_relative = 1e-5),
        "got {got:e}, closed form {want:e}"
    );
}

// ---------------------------------------------------------------------------------------------
// Exponentials and logarithms
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x)]
fn f_exp(x: f64) -> f64 {
    x.exp()
}

#[grad(wrt = x)]
fn f_exp2(x: f64) -> f64 {
    x.exp2()
}

#[grad(wrt = x)]
fn f_exp_m1(x: f64) -> f64 {
    x.exp_m1()
}

#[grad(wrt = x)]
fn f_ln(x: f64) -> f64 {
    x.ln()
}

#[grad(wrt = x, base)]
fn f_log(x: f64, base: f64) -> f64 {
    x.log(base)
}

#[grad(wrt = x)]
fn f_log2(x: f64) -> f64 {
    x.log2()
}

#[grad(wrt = x)]
fn f_log10(x: f64) -> f64 {
    x.log10()
}

#[grad(wrt = x)]
fn f_ln_1p(x: f64) -> f64 {
    x.ln_1p()
}

#[test]
fn exp() {
    unary(f_exp, f_exp_grad, f64::exp, &[-1.3, 0.2, 2.5]);
}

#[test]
fn exp2() {
    unary(f_exp2, f_exp2_grad, |x| x.exp2() * LN_2, &[-1.3, 0.2, 2.5]);
}

#[test]
fn exp_m1() {
    unary(f_exp_m1, f_exp_m1_grad, f64::exp, &[-1.3, 1e-3, 2.5]);
}

#[test]
fn ln() {
    unary(f_ln, f_ln_grad, |x| 1.0 / x, &[0.3, 1.7, 12.0]);
}

#[test]
fn log_in_value_and_base() {
    binary(
        f_log,
        f_log_grad,
        |x, b| (1.0 / (x * b.ln()), -x.ln() / (b * b.ln() * b.ln())),
        &[(2.5, 3.0), (0.4, 10.0), (7.0, 0.5)],
    );
}

#[test]
fn log2() {
    unary(f_log2, f_log2_grad, |x| 1.0 / (x * LN_2), &[0.3, 1.7, 12.0]);
}

#[test]
fn log10() {
    unary(
        f_log10,
        f_log10_grad,
        |x| 1.0 / (x * LN_10),
        &[0.3, 1.7, 12.0],
    );
}

#[test]
fn ln_1p() {
    unary(
        f_ln_1p,
        f_ln_1p_grad,
        |x| 1.0 / (1.0 + x),
        &[-0.5, 0.2, 3.0],
    );
}

// ---------------------------------------------------------------------------------------------
// Powers and roots
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x)]
fn f_sqrt(x: f64) -> f64 {
    x.sqrt()
}

#[grad(wrt = x)]
fn f_cbrt(x: f64) -> f64 {
    x.cbrt()
}

#[grad(wrt = x)]
fn f_recip(x: f64) -> f64 {
    x.recip()
}

#[grad(wrt = x)]
fn f_powi_3(x: f64) -> f64 {
    x.powi(3)
}

#[grad(wrt = x)]
fn f_powi_minus_2(x: f64) -> f64 {
    x.powi(-2)
}

/// The exponent is an integer expression over a data parameter.
#[grad(wrt = x)]
fn f_powi_data(x: f64, n: i32) -> f64 {
    x.powi(n + 1)
}

#[grad(wrt = x, y)]
fn f_powf(x: f64, y: f64) -> f64 {
    x.powf(y)
}

#[test]
fn sqrt() {
    unary(f_sqrt, f_sqrt_grad, |x| 0.5 / x.sqrt(), &[0.3, 2.0, 9.0]);
}

#[test]
fn cbrt() {
    // cbrt is defined (and differentiable) for negative arguments too.
    unary(
        f_cbrt,
        f_cbrt_grad,
        |x| 1.0 / (3.0 * x.cbrt() * x.cbrt()),
        &[-2.0, 0.5, 8.0],
    );
}

#[test]
fn recip() {
    unary(f_recip, f_recip_grad, |x| -1.0 / (x * x), &[-2.0, 0.5, 3.0]);
}

#[test]
fn powi_literal() {
    unary(f_powi_3, f_powi_3_grad, |x| 3.0 * x * x, &[-1.5, 0.4, 2.0]);
    unary(
        f_powi_minus_2,
        f_powi_minus_2_grad,
        |x| -2.0 / (x * x * x),
        &[-1.5, 0.4, 2.0],
    );
}

#[test]
fn powi_integer_data_expression() {
    // n = -1 makes the exponent 0: a constant, whose derivative is 0.
    for n in [-3, -1, 0, 2, 5] {
        for x in [-1.6, 0.7, 2.1] {
            let got = f_powi_data_grad(x, n);
            assert_fd(|v| f_powi_data(v[0], n), &[x], &[got]);
            assert_close(got, f64::from(n + 1) * x.powi(n), &[x, f64::from(n)]);
        }
    }
}

#[test]
fn powf_in_base_and_exponent() {
    binary(
        f_powf,
        f_powf_grad,
        |x, y| (y * x.powf(y - 1.0), x.powf(y) * x.ln()),
        &[(1.5, 2.3), (0.7, -1.2), (3.0, 0.5)],
    );
}

// ---------------------------------------------------------------------------------------------
// Trigonometric and hyperbolic functions
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x)]
fn f_sin(x: f64) -> f64 {
    x.sin()
}

#[grad(wrt = x)]
fn f_cos(x: f64) -> f64 {
    x.cos()
}

#[grad(wrt = x)]
fn f_tan(x: f64) -> f64 {
    x.tan()
}

#[grad(wrt = x)]
fn f_asin(x: f64) -> f64 {
    x.asin()
}

#[grad(wrt = x)]
fn f_acos(x: f64) -> f64 {
    x.acos()
}

#[grad(wrt = x)]
fn f_atan(x: f64) -> f64 {
    x.atan()
}

#[grad(wrt = y, x)]
fn f_atan2(y: f64, x: f64) -> f64 {
    y.atan2(x)
}

#[grad(wrt = x)]
fn f_sinh(x: f64) -> f64 {
    x.sinh()
}

#[grad(wrt = x)]
fn f_cosh(x: f64) -> f64 {
    x.cosh()
}

#[grad(wrt = x)]
fn f_tanh(x: f64) -> f64 {
    x.tanh()
}

#[grad(wrt = x)]
fn f_asinh(x: f64) -> f64 {
    x.asinh()
}

#[grad(wrt = x)]
fn f_acosh(x: f64) -> f64 {
    x.acosh()
}

#[grad(wrt = x)]
fn f_atanh(x: f64) -> f64 {
    x.atanh()
}

#[grad(wrt = x)]
fn f_to_radians(x: f64) -> f64 {
    x.to_radians()
}

#[grad(wrt = x)]
fn f_to_degrees(x: f64) -> f64 {
    x.to_degrees()
}

#[test]
fn sin() {
    unary(f_sin, f_sin_grad, f64::cos, &[-1.1, 0.3, 2.0]);
}

#[test]
fn cos() {
    unary(f_cos, f_cos_grad, |x| -x.sin(), &[-1.1, 0.3, 2.0]);
}

#[test]
fn tan() {
    unary(
        f_tan,
        f_tan_grad,
        |x| 1.0 / (x.cos() * x.cos()),
        &[-1.1, 0.3, 2.0],
    );
}

#[test]
fn asin() {
    unary(
        f_asin,
        f_asin_grad,
        |x| 1.0 / (1.0 - x * x).sqrt(),
        &[-0.9, 0.1, 0.6],
    );
}

#[test]
fn acos() {
    unary(
        f_acos,
        f_acos_grad,
        |x| -1.0 / (1.0 - x * x).sqrt(),
        &[-0.9, 0.1, 0.6],
    );
}

#[test]
fn atan() {
    unary(
        f_atan,
        f_atan_grad,
        |x| 1.0 / (1.0 + x * x),
        &[-3.0, 0.4, 1.5],
    );
}

#[test]
fn atan2_in_both_arguments() {
    // One point in each quadrant (none on the branch cut x < 0, y = 0).
    binary(
        f_atan2,
        f_atan2_grad,
        |y, x| (x / (x * x + y * y), -y / (x * x + y * y)),
        &[(0.5, 1.2), (-0.7, 0.3), (0.8, -1.5), (-1.0, -2.0)],
    );
}

#[test]
fn sinh() {
    unary(f_sinh, f_sinh_grad, f64::cosh, &[-1.3, 0.2, 2.5]);
}

#[test]
fn cosh() {
    unary(f_cosh, f_cosh_grad, f64::sinh, &[-1.3, 0.2, 2.5]);
}

#[test]
fn tanh() {
    unary(
        f_tanh,
        f_tanh_grad,
        |x| 1.0 / (x.cosh() * x.cosh()),
        &[-1.3, 0.2, 2.5],
    );
}

#[test]
fn asinh() {
    unary(
        f_asinh,
        f_asinh_grad,
        |x| 1.0 / (x * x + 1.0).sqrt(),
        &[-2.0, 0.3, 4.0],
    );
}

#[test]
fn acosh() {
    unary(
        f_acosh,
        f_acosh_grad,
        |x| 1.0 / (x * x - 1.0).sqrt(),
        &[1.2, 2.0, 5.0],
    );
}

#[test]
fn atanh() {
    unary(
        f_atanh,
        f_atanh_grad,
        |x| 1.0 / (1.0 - x * x),
        &[-0.8, 0.1, 0.6],
    );
}

#[test]
fn to_radians_and_to_degrees() {
    unary(
        f_to_radians,
        f_to_radians_grad,
        |_| PI / 180.0,
        &[-40.0, 0.5, 270.0],
    );
    unary(
        f_to_degrees,
        f_to_degrees_grad,
        |_| 180.0 / PI,
        &[-2.0, 0.5, 4.0],
    );
}

// ---------------------------------------------------------------------------------------------
// Multi-argument arithmetic: hypot, mul_add, min, max, clamp
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x, y)]
fn f_hypot(x: f64, y: f64) -> f64 {
    x.hypot(y)
}

#[grad(wrt = x, a, b)]
fn f_mul_add(x: f64, a: f64, b: f64) -> f64 {
    x.mul_add(a, b)
}

#[grad(wrt = x, y)]
fn f_min(x: f64, y: f64) -> f64 {
    x.min(y)
}

#[grad(wrt = x, y)]
fn f_max(x: f64, y: f64) -> f64 {
    x.max(y)
}

#[grad(wrt = x, lo, hi)]
fn f_clamp(x: f64, lo: f64, hi: f64) -> f64 {
    x.clamp(lo, hi)
}

#[test]
fn hypot_in_both_arguments() {
    binary(
        f_hypot,
        f_hypot_grad,
        |x, y| (x / x.hypot(y), y / x.hypot(y)),
        &[(3.0, 4.0), (-1.2, 0.5), (0.3, -2.0)],
    );
}

#[test]
fn mul_add_in_all_arguments() {
    ternary(
        f_mul_add,
        f_mul_add_grad,
        |x, a, _| (a, x, 1.0),
        &[(1.5, -2.0, 0.3), (-0.4, 0.7, 5.0)],
    );
}

#[test]
fn min_in_both_arguments() {
    binary(
        f_min,
        f_min_grad,
        |x, y| if x < y { (1.0, 0.0) } else { (0.0, 1.0) },
        &[(1.0, 2.0), (3.0, -1.0)],
    );
}

#[test]
fn max_in_both_arguments() {
    binary(
        f_max,
        f_max_grad,
        |x, y| if x > y { (1.0, 0.0) } else { (0.0, 1.0) },
        &[(1.0, 2.0), (3.0, -1.0)],
    );
}

#[test]
fn clamp_in_all_arguments() {
    // Inside the interval, below it, above it.
    ternary(
        f_clamp,
        f_clamp_grad,
        |x, lo, hi| {
            if x < lo {
                (0.0, 1.0, 0.0)
            } else if x > hi {
                (0.0, 0.0, 1.0)
            } else {
                (1.0, 0.0, 0.0)
            }
        },
        &[(0.5, -1.0, 2.0), (-3.0, -1.0, 2.0), (5.0, -1.0, 2.0)],
    );
}

// ---------------------------------------------------------------------------------------------
// Piecewise functions, away from their kinks and jumps (those are in tests/conventions.rs)
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x)]
fn f_abs(x: f64) -> f64 {
    x.abs()
}

#[grad(wrt = x)]
fn f_signum(x: f64) -> f64 {
    x.signum()
}

#[grad(wrt = x)]
fn f_floor(x: f64) -> f64 {
    x.floor()
}

#[grad(wrt = x)]
fn f_ceil(x: f64) -> f64 {
    x.ceil()
}

#[grad(wrt = x)]
fn f_round(x: f64) -> f64 {
    x.round()
}

#[grad(wrt = x)]
fn f_trunc(x: f64) -> f64 {
    x.trunc()
}

#[grad(wrt = x)]
fn f_fract(x: f64) -> f64 {
    x.fract()
}

#[test]
fn abs() {
    unary(f_abs, f_abs_grad, f64::signum, &[-2.0, 0.5, 3.0]);
}

#[test]
fn signum() {
    unary(f_signum, f_signum_grad, |_| 0.0, &[-2.0, 0.7]);
}

#[test]
fn floor_ceil_round_trunc_are_flat() {
    let points = [-2.7, 0.2, 1.3];
    unary(f_floor, f_floor_grad, |_| 0.0, &points);
    unary(f_ceil, f_ceil_grad, |_| 0.0, &points);
    unary(f_round, f_round_grad, |_| 0.0, &points);
    unary(f_trunc, f_trunc_grad, |_| 0.0, &points);
}

#[test]
fn fract() {
    unary(f_fract, f_fract_grad, |_| 1.0, &[-2.7, 0.2, 1.3]);
}

// ---------------------------------------------------------------------------------------------
// Runtime helpers, bare (imported above) and by path
// ---------------------------------------------------------------------------------------------

/// `sigmoid(x)` computed the plain way, for the closed forms below.
fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[grad(wrt = x)]
fn f_sigmoid(x: f64) -> f64 {
    sigmoid(x)
}

#[grad(wrt = x)]
fn f_sigmoid_path(x: f64) -> f64 {
    backprop::sigmoid(x)
}

#[grad(wrt = x)]
fn f_relu(x: f64) -> f64 {
    relu(x)
}

#[grad(wrt = x, slope)]
fn f_leaky_relu(x: f64, slope: f64) -> f64 {
    leaky_relu(x, slope)
}

#[grad(wrt = x)]
fn f_softplus(x: f64) -> f64 {
    softplus(x)
}

#[grad(wrt = x)]
fn f_log_sigmoid(x: f64) -> f64 {
    log_sigmoid(x)
}

#[grad(wrt = x, slope)]
fn f_helpers_by_path(x: f64, slope: f64) -> f64 {
    backprop::relu(x)
        + backprop::leaky_relu(x, slope)
        + backprop::softplus(x)
        + backprop::log_sigmoid(x)
}

#[test]
fn sigmoid_helper() {
    let d = |x: f64| logistic(x) * (1.0 - logistic(x));
    let points = [-3.0, 0.0, 2.0];
    unary(f_sigmoid, f_sigmoid_grad, d, &points);
    unary(f_sigmoid_path, f_sigmoid_path_grad, d, &points);
}

#[test]
fn relu_helper() {
    unary(
        f_relu,
        f_relu_grad,
        |x| if x > 0.0 { 1.0 } else { 0.0 },
        &[-1.5, 2.0],
    );
}

#[test]
fn leaky_relu_helper_in_both_arguments() {
    binary(
        f_leaky_relu,
        f_leaky_relu_grad,
        |x, slope| if x > 0.0 { (1.0, 0.0) } else { (slope, x) },
        &[(2.0, 0.1), (-1.5, 0.1), (-0.5, 0.3)],
    );
}

#[test]
fn softplus_helper() {
    unary(f_softplus, f_softplus_grad, logistic, &[-3.0, 0.0, 2.0]);
}

#[test]
fn log_sigmoid_helper() {
    unary(
        f_log_sigmoid,
        f_log_sigmoid_grad,
        |x| logistic(-x),
        &[-3.0, 0.0, 2.0],
    );
}

#[test]
fn helpers_by_path() {
    binary(
        f_helpers_by_path,
        f_helpers_by_path_grad,
        |x, slope| {
            let smooth = logistic(x) + logistic(-x); // softplus' + log_sigmoid' = 1
            if x > 0.0 {
                (2.0 + smooth, 0.0)
            } else {
                (slope + smooth, x)
            }
        },
        &[(1.5, 0.2), (-0.8, 0.05)],
    );
}

// ---------------------------------------------------------------------------------------------
// Path form: `f64::method(receiver, args...)`
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x)]
fn p_exp_ln_sin(x: f64) -> f64 {
    f64::exp(x) + f64::ln(x) * f64::sin(x)
}

#[grad(wrt = x)]
fn p_powi(x: f64) -> f64 {
    f64::powi(x, 3)
}

#[grad(wrt = x, y)]
fn p_powf(x: f64, y: f64) -> f64 {
    f64::powf(x, y)
}

#[grad(wrt = y, x)]
fn p_atan2(y: f64, x: f64) -> f64 {
    f64::atan2(y, x)
}

#[grad(wrt = x, y)]
fn p_hypot(x: f64, y: f64) -> f64 {
    f64::hypot(x, y)
}

#[grad(wrt = x, y)]
fn p_max(x: f64, y: f64) -> f64 {
    f64::max(x, y)
}

#[grad(wrt = x, a, b)]
fn p_mul_add(x: f64, a: f64, b: f64) -> f64 {
    f64::mul_add(x, a, b)
}

#[grad(wrt = x, lo, hi)]
fn p_clamp(x: f64, lo: f64, hi: f64) -> f64 {
    f64::clamp(x, lo, hi)
}

#[test]
fn path_form_unary() {
    unary(
        p_exp_ln_sin,
        p_exp_ln_sin_grad,
        |x| x.exp() + x.sin() / x + x.ln() * x.cos(),
        &[0.4, 1.0, 3.5],
    );
    unary(p_powi, p_powi_grad, |x| 3.0 * x * x, &[-1.5, 0.4, 2.0]);
}

#[test]
fn path_form_multi_argument() {
    binary(
        p_powf,
        p_powf_grad,
        |x, y| (y * x.powf(y - 1.0), x.powf(y) * x.ln()),
        &[(1.5, 2.3), (0.7, -1.2)],
    );
    binary(
        p_atan2,
        p_atan2_grad,
        |y, x| (x / (x * x + y * y), -y / (x * x + y * y)),
        &[(0.5, 1.2), (0.8, -1.5)],
    );
    binary(
        p_hypot,
        p_hypot_grad,
        |x, y| (x / x.hypot(y), y / x.hypot(y)),
        &[(3.0, 4.0), (-1.2, 0.5)],
    );
    binary(
        p_max,
        p_max_grad,
        |x, y| if x > y { (1.0, 0.0) } else { (0.0, 1.0) },
        &[(1.0, 2.0), (3.0, -1.0)],
    );
    ternary(
        p_mul_add,
        p_mul_add_grad,
        |x, a, _| (a, x, 1.0),
        &[(1.5, -2.0, 0.3)],
    );
    ternary(
        p_clamp,
        p_clamp_grad,
        |x, lo, hi| {
            if x < lo {
                (0.0, 1.0, 0.0)
            } else if x > hi {
                (0.0, 0.0, 1.0)
            } else {
                (1.0, 0.0, 0.0)
            }
        },
        &[(0.5, -1.0, 2.0), (-3.0, -1.0, 2.0), (5.0, -1.0, 2.0)],
    );
}

// ---------------------------------------------------------------------------------------------
// Constants and casts inside bodies
// ---------------------------------------------------------------------------------------------

const SCALE: f64 = 2.5;

#[grad(wrt = x)]
fn with_consts(x: f64) -> f64 {
    SCALE * x * x + std::f64::consts::PI * x
}

#[grad(wrt = x)]
fn with_casts(x: f64, k: i32, m: u8) -> f64 {
    k as f64 * x.sin() + x * m as f64
}

#[test]
fn constants_and_casts() {
    unary(
        with_consts,
        with_consts_grad,
        |x| 2.0 * SCALE * x + PI,
        &[-1.0, 0.5],
    );
    for (k, m) in [(3, 2), (-2, 7)] {
        let x = 0.8;
        let got = with_casts_grad(x, k, m);
        assert_fd(|v| with_casts(v[0], k, m), &[x], &[got]);
        assert_close(got, f64::from(k) * x.cos() + f64::from(m), &[x]);
    }
}

// ---------------------------------------------------------------------------------------------
// `_value_and_grad` returns the function's value alongside the same gradient
// ---------------------------------------------------------------------------------------------

#[test]
fn value_and_grad_returns_the_value_and_the_same_gradient() {
    let x = 1.7;
    let (v, g) = f_exp_value_and_grad(x);
    assert_close(v, f_exp(x), &[x]);
    assert_close(g, f_exp_grad(x), &[x]);

    let (v, (gx, gy)) = f_powf_value_and_grad(1.5, 2.3);
    let (wx, wy) = f_powf_grad(1.5, 2.3);
    assert_close(v, f_powf(1.5, 2.3), &[1.5, 2.3]);
    assert_close(gx, wx, &[1.5, 2.3]);
    assert_close(gy, wy, &[1.5, 2.3]);

    let (v, (gx, glo, ghi)) = f_clamp_value_and_grad(5.0, -1.0, 2.0);
    assert_eq!(v, 2.0);
    assert_eq!((gx, glo, ghi), (0.0, 0.0, 1.0));

    let (v, (gx, gs)) = f_leaky_relu_value_and_grad(-1.5, 0.1);
    assert_close(v, -0.15, &[-1.5, 0.1]);
    assert_close(gx, 0.1, &[-1.5, 0.1]);
    assert_close(gs, -1.5, &[-1.5, 0.1]);
}

// ---------------------------------------------------------------------------------------------
// f32 functions give f32 gradients
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x, y)]
fn f32_exp_sin(x: f32, y: f32) -> f32 {
    x.exp() * y.sin()
}

#[grad(wrt = x, y)]
fn f32_powf(x: f32, y: f32) -> f32 {
    x.powf(y)
}

#[grad(wrt = y, x)]
fn f32_atan2_path(y: f32, x: f32) -> f32 {
    f32::atan2(y, x)
}

#[grad(wrt = x)]
fn f32_sigmoid_consts(x: f32) -> f32 {
    sigmoid(x) + std::f32::consts::PI * x.powi(2)
}

#[test]
fn f32_gradients() {
    let (x, y) = (0.6_f32, 1.3_f32);

    let (gx, gy): (f32, f32) = f32_exp_sin_grad(x, y);
    assert_close_f32(gx, x.exp() * y.sin());
    assert_close_f32(gy, x.exp() * y.cos());
    assert_close_f32(f32_exp_sin(x, y), x.exp() * y.sin());

    let (gx, gy): (f32, f32) = f32_powf_grad(x, y);
    assert_close_f32(gx, y * x.powf(y - 1.0));
    assert_close_f32(gy, x.powf(y) * x.ln());
    assert_close_f32(f32_powf(x, y), x.powf(y));

    let (gy, gx): (f32, f32) = f32_atan2_path_grad(y, x);
    assert_close_f32(gy, x / (x * x + y * y));
    assert_close_f32(gx, -y / (x * x + y * y));
    assert_close_f32(f32_atan2_path(y, x), y.atan2(x));

    let (v, g): (f32, f32) = f32_sigmoid_consts_value_and_grad(x);
    let s = 1.0 / (1.0 + (-x).exp());
    assert_close_f32(v, f32_sigmoid_consts(x));
    assert_close_f32(g, s * (1.0 - s) + 2.0 * std::f32::consts::PI * x);
}

// ---------------------------------------------------------------------------------------------
// copysign, midpoint, the Euclidean pair, round_ties_even and `%`
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x, s)]
fn f_copysign(x: f64, s: f64) -> f64 {
    x.copysign(s)
}

#[grad(wrt = a, b)]
fn f_midpoint(a: f64, b: f64) -> f64 {
    a.midpoint(b)
}

#[grad(wrt = x, m)]
fn f_rem_euclid(x: f64, m: f64) -> f64 {
    x.rem_euclid(m)
}

#[grad(wrt = x, m)]
fn f_div_euclid(x: f64, m: f64) -> f64 {
    x.div_euclid(m) * m
}

#[grad(wrt = x)]
fn f_round_ties_even(x: f64) -> f64 {
    x.round_ties_even() + x
}

#[grad(wrt = x, y)]
fn f_rem(x: f64, y: f64) -> f64 {
    let mut r = x % y;
    r %= 10.0;
    r
}

#[test]
fn copysign() {
    let points = [(1.5, -2.0), (-0.7, 3.0), (-2.5, -1.0)];
    binary(
        f_copysign,
        f_copysign_grad,
        |x, s| (x.signum() * s.signum(), 0.0),
        &points,
    );
    assert_eq!(f_copysign_grad(0.0, -1.0), (0.0, 0.0));
}

#[test]
fn midpoint() {
    binary(
        f_midpoint,
        f_midpoint_grad,
        |_, _| (0.5, 0.5),
        &[(1.0, 4.0), (-3.0, 0.5)],
    );
}

#[test]
fn rem_euclid() {
    binary(
        f_rem_euclid,
        f_rem_euclid_grad,
        |x, m| (1.0, -x.div_euclid(m)),
        &[(7.3, 2.0), (-7.3, 2.0), (5.5, -1.5)],
    );
}

#[test]
fn div_euclid_is_a_step() {
    // d/dm (div_euclid(x, m)·m) = div_euclid(x, m), d/dx = 0 between the steps.
    binary(
        f_div_euclid,
        f_div_euclid_grad,
        |x, m| (0.0, x.div_euclid(m)),
        &[(7.3, 2.0), (-7.3, 2.0)],
    );
}

#[test]
fn round_ties_even_is_a_step() {
    unary(
        f_round_ties_even,
        f_round_ties_even_grad,
        |_| 1.0,
        &[0.3, 2.7, -1.2],
    );
}

#[test]
fn remainder_operator() {
    binary(
        f_rem,
        f_rem_grad,
        |x, y| (1.0, -(x / y).trunc()),
        &[(7.3, 2.0), (-7.3, 2.5), (5.5, -1.5)],
    );
}
