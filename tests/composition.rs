//! Composition: #[grad] functions calling #[grad] functions (building blocks, paths, methods,
//! recursion, loops), and derivative rules given by `#[backprop::rule]`. Each gradient is checked
//! against central finite differences, and the layered model against the same model written
//! as one function.

#![deny(warnings)]

use approx::assert_relative_eq;
use backprop::check::{check_gradient, Tolerance};
use backprop::{grad, sigmoid};

fn assert_fd(f: impl Fn(&[f64]) -> f64, x: &[f64], analytic: &[f64]) {
    if let Err(e) = check_gradient(f, x, analytic, Tolerance::default()) {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// A layered model from building blocks, against the same model as one function
// ---------------------------------------------------------------------------------------------

/// The layers, in a module of their own: callers name them by path or import them.
mod layers {
    use backprop::grad;

    /// One unit of a dense layer with two inputs.
    #[grad]
    pub fn dense(w0: f64, w1: f64, b: f64, x0: f64, x1: f64) -> f64 {
        w0 * x0 + w1 * x1 + b
    }

    /// The activation.
    #[grad]
    pub fn activation(z: f64) -> f64 {
        backprop::sigmoid(z)
    }

    /// Binary cross-entropy of a probability against a label.
    #[grad]
    pub fn loss(p: f64, y: f64) -> f64 {
        -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
    }
}

use layers::activation;

/// A 2-2-1 network: both hidden units read both inputs (fan-out of `x0`, `x1`), and the output
/// unit reads both hidden units.
#[grad(wrt = a0, a1, ab, c0, c1, cb, v0, v1, vb)]
#[allow(clippy::too_many_arguments)]
fn layered(
    a0: f64,
    a1: f64,
    ab: f64,
    c0: f64,
    c1: f64,
    cb: f64,
    v0: f64,
    v1: f64,
    vb: f64,
    x0: f64,
    x1: f64,
    y: f64,
) -> f64 {
    let h0 = activation(layers::dense(a0, a1, ab, x0, x1));
    let h1 = activation(layers::dense(c0, c1, cb, x0, x1));
    let p = activation(layers::dense(v0, v1, vb, h0, h1));
    layers::loss(p, y)
}

#[grad(wrt = a0, a1, ab, c0, c1, cb, v0, v1, vb)]
#[allow(clippy::too_many_arguments)]
fn flat(
    a0: f64,
    a1: f64,
    ab: f64,
    c0: f64,
    c1: f64,
    cb: f64,
    v0: f64,
    v1: f64,
    vb: f64,
    x0: f64,
    x1: f64,
    y: f64,
) -> f64 {
    let h0 = sigmoid(a0 * x0 + a1 * x1 + ab);
    let h1 = sigmoid(c0 * x0 + c1 * x1 + cb);
    let p = sigmoid(v0 * h0 + v1 * h1 + vb);
    -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
}

#[test]
fn a_layered_model_has_the_gradient_of_the_same_model_written_as_one_function() {
    let w = [0.3, -0.5, 0.1, 0.8, 0.2, -0.3, -1.2, 0.7, 0.05];
    for (x0, x1, y) in [(1.0, 2.0, 1.0), (-0.5, 0.3, 0.0), (2.5, -1.5, 1.0)] {
        let (vl, gl) = layered_value_and_grad(
            w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], x0, x1, y,
        );
        let (vf, gf) = flat_value_and_grad(
            w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7], w[8], x0, x1, y,
        );
        assert_relative_eq!(vl, vf, max_relative = 1e-14);
        let gl = [gl.0, gl.1, gl.2, gl.3, gl.4, gl.5, gl.6, gl.7, gl.8];
        let gf = [gf.0, gf.1, gf.2, gf.3, gf.4, gf.5, gf.6, gf.7, gf.8];
        for (a, b) in gl.iter().zip(&gf) {
            assert_relative_eq!(a, b, max_relative = 1e-12, epsilon = 1e-15);
        }
        assert_fd(
            |p| {
                layered(
                    p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], x0, x1, y,
                )
            },
            &w,
            &gl,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Paths, fan-out, data arguments, `wrt` callees
// ---------------------------------------------------------------------------------------------

#[grad]
fn sq(x: f64) -> f64 {
    x * x
}

/// Only `a` is differentiated: a caller may pass a differentiated value to `a`, data to `k`.
#[grad(wrt = a)]
fn scaled(a: f64, k: f64) -> f64 {
    k * a.sin()
}

#[grad(wrt = w)]
fn fan_out(w: f64, x: f64) -> f64 {
    // The same value into several calls, a call's result into another call, data arguments.
    let u = sq(w) + sq(w * x);
    scaled(u, x) + scaled(sq(u), 2.0) + sq(x)
}

#[test]
fn gradients_from_several_calls_add_up() {
    for (w, x) in [(0.3, 1.5), (-1.1, 0.4), (2.0, -0.7)] {
        let g = fan_out_grad(w, x);
        assert_fd(|p| fan_out(p[0], x), &[w], &[g]);
        // By hand: u = w² (1 + x²), f = x sin u + 2 sin u² + x².
        let k = 1.0 + x * x;
        let u = w * w * k;
        let du = 2.0 * w * k;
        let want = (x * u.cos() + 4.0 * u * (u * u).cos()) * du;
        assert_relative_eq!(g, want, max_relative = 1e-12);
    }
}

#[grad(wrt = w)]
fn calls_data_only(w: f64, x: f64) -> f64 {
    // A call on data alone is not differentiated: it runs as written.
    w * sq(x)
}

#[test]
fn a_call_on_data_alone_is_left_as_written() {
    assert_eq!(calls_data_only_grad(2.0, 3.0), 9.0);
}

// ---------------------------------------------------------------------------------------------
// Recursion and loops
// ---------------------------------------------------------------------------------------------

/// `x` to the `n` by repeated multiplication.
#[grad]
fn power(x: f64, n: u32) -> f64 {
    if n == 0 {
        1.0
    } else {
        x * power(x, n - 1)
    }
}

#[grad(wrt = x)]
fn fifth(x: f64) -> f64 {
    power(x, 5)
}

#[test]
fn recursion_falls_out() {
    for x in [1.5, -0.7, 3.0] {
        assert_relative_eq!(fifth_grad(x), 5.0 * x.powi(4), max_relative = 1e-14);
    }
}

#[grad]
fn cell(h: f64, w: f64, u: f64, x: f64) -> f64 {
    (w * h + u * x).tanh()
}

#[grad(wrt = w, u)]
fn rnn(w: f64, u: f64, xs: &[f64]) -> f64 {
    let mut h = 0.0;
    for &x in xs {
        h = cell(h, w, u, x);
    }
    h * h
}

#[test]
fn a_call_in_a_loop_carries_its_gradient() {
    let xs = [0.5, -0.3, 0.8, 0.1, -0.9, 0.4];
    for (w, u) in [(0.7, 0.4), (-0.5, 1.3)] {
        let (dw, du) = rnn_grad(w, u, &xs);
        assert_fd(|p| rnn(p[0], p[1], &xs), &[w, u], &[dw, du]);
    }
}

// ---------------------------------------------------------------------------------------------
// Methods: a model that owns its hyperparameters
// ---------------------------------------------------------------------------------------------

struct Ridge {
    lambda: f64,
    xs: Vec<f64>,
    ys: Vec<f64>,
}

impl Ridge {
    /// The penalty, a method of its own.
    #[grad(wrt = w)]
    fn penalty(&self, w: f64) -> f64 {
        self.lambda * w * w
    }

    /// Squared error over the model's data, plus the penalty: `self` is data.
    #[grad(wrt = w, b)]
    fn loss(&self, w: f64, b: f64) -> f64 {
        let mut s = 0.0;
        for (x, y) in self.xs.iter().zip(&self.ys) {
            let r = w * x + b - y;
            s += r * r;
        }
        s / self.xs.len() as f64 + self.penalty(w)
    }

    /// An associated function that names `Self`, called by its path.
    #[grad(wrt = w)]
    fn scaled_penalty(model: &Self, w: f64) -> f64 {
        2.0 * Self::penalty(model, w)
    }
}

#[test]
fn methods_take_self_as_data() {
    let m = Ridge {
        lambda: 0.1,
        xs: vec![1.0, 2.0, 3.0, 4.0],
        ys: vec![2.1, 3.9, 6.2, 7.8],
    };
    let (w, b) = (1.5, 0.2);
    let (v, (dw, db)) = m.loss_value_and_grad(w, b);
    assert_eq!(v, m.loss(w, b));
    assert_fd(|p| m.loss(p[0], p[1]), &[w, b], &[dw, db]);
    assert_eq!(m.loss_grad(w, b), (dw, db));
    assert_relative_eq!(m.penalty_grad(w), 2.0 * 0.1 * w, max_relative = 1e-15);
    assert_relative_eq!(
        Ridge::scaled_penalty_grad(&m, w),
        4.0 * 0.1 * w,
        max_relative = 1e-15
    );
}

// ---------------------------------------------------------------------------------------------
// Derivative rules
// ---------------------------------------------------------------------------------------------

/// `ln(e^a + e^b + e^c)`, shifted by the largest so that it never overflows; its gradient is
/// the softmax, given by the rule in terms of the result `y`.
#[backprop::rule(a = (a - y).exp(), b = (b - y).exp(), c = (c - y).exp())]
fn logsumexp(a: f64, b: f64, c: f64) -> f64 {
    let m = a.max(b).max(c);
    m + ((a - m).exp() + (b - m).exp() + (c - m).exp()).ln()
}

/// Negative log-likelihood of class 0 under softmax scores.
#[grad(wrt = a, b, c)]
fn nll(a: f64, b: f64, c: f64) -> f64 {
    logsumexp(a, b, c) - a
}

#[test]
fn a_rule_gives_the_gradient_where_the_body_would_overflow() {
    // e^1000 overflows: a gradient through the body's `max` and `exp` would still be right,
    // but the rule is the closed form, softmax − one-hot.
    let (a, b, c) = (1000.0, 999.0, 998.0);
    let (v, (da, db, dc)) = nll_value_and_grad(a, b, c);
    let e = [1.0, (-1.0f64).exp(), (-2.0f64).exp()];
    let s: f64 = e.iter().sum();
    assert_relative_eq!(v, s.ln(), max_relative = 1e-12);
    assert_relative_eq!(da, e[0] / s - 1.0, max_relative = 1e-12);
    assert_relative_eq!(db, e[1] / s, max_relative = 1e-12);
    assert_relative_eq!(dc, e[2] / s, max_relative = 1e-12);
    for p in [[0.3, -1.2, 2.0], [5.0, 5.0, 5.0]] {
        let (_, (da, db, dc)) = nll_value_and_grad(p[0], p[1], p[2]);
        assert_fd(|q| nll(q[0], q[1], q[2]), &p, &[da, db, dc]);
    }
}

/// A rule with a data parameter (no partial) and a renamed result.
#[backprop::rule(x = n as f64 * r / x, result = r)]
fn pow_n(x: f64, n: i32) -> f64 {
    x.powi(n)
}

#[grad(wrt = x)]
fn uses_pow_n(x: f64) -> f64 {
    pow_n(x, 3) + pow_n(2.0 * x, 2)
}

#[test]
fn a_rule_may_have_data_parameters_and_name_its_result() {
    for x in [0.5, 1.7, -2.0] {
        assert_relative_eq!(
            uses_pow_n_grad(x),
            3.0 * x * x + 8.0 * x,
            max_relative = 1e-14
        );
    }
}

// ---------------------------------------------------------------------------------------------
// f32
// ---------------------------------------------------------------------------------------------

#[grad]
fn cube32(x: f32) -> f32 {
    x * x * x
}

#[grad(wrt = w)]
fn uses_cube32(w: f32) -> f32 {
    cube32(w) * 2.0
}

#[test]
fn f32_building_blocks() {
    assert_eq!(uses_cube32_grad(2.0), 24.0);
}

// ---------------------------------------------------------------------------------------------
// The example `examples/custom_rules.rs`: log-sum-exp, and `libm::erf` from another crate
// ---------------------------------------------------------------------------------------------

#[allow(dead_code)] // the example's `main`
#[path = "../examples/custom_rules.rs"]
mod custom_rules;

#[test]
fn the_rule_for_a_function_of_another_crate_matches_finite_differences() {
    use custom_rules::{probit_nll, probit_nll_grad};
    for (w, b, x, y) in [
        (0.5, 0.1, 1.2, 1.0),
        (-1.0, 0.3, 0.4, 0.0),
        (2.0, -0.5, -0.8, 1.0),
    ] {
        let (dw, db) = probit_nll_grad(w, b, x, y);
        assert_fd(|p| probit_nll(p[0], p[1], x, y), &[w, b], &[dw, db]);
    }
}

#[test]
fn the_example_log_sum_exp_gives_softmax_minus_one_hot() {
    let (_, (d0, d1, d2)) = custom_rules::cross_entropy_value_and_grad(-3.0, 0.5, 1.5);
    let e = [(-3.0f64).exp(), 0.5f64.exp(), 1.5f64.exp()];
    let s: f64 = e.iter().sum();
    assert_relative_eq!(d0, e[0] / s - 1.0, max_relative = 1e-12);
    assert_relative_eq!(d1, e[1] / s, max_relative = 1e-12);
    assert_relative_eq!(d2, e[2] / s, max_relative = 1e-12);
}

/// Found by the compiled calls batch at seed 1601 (its program `c18`, as generated): a data
/// local changed in a branch by calls and never read again is kept for its effects, its type
/// checked as a float with `let _: &f64 = &(..);`, and the `&` bound tighter than the
/// expression (`&v0 - t3`), so the companions did not compile.
#[allow(
    clippy::all,
    unused_mut,
    unused_parens,
    unused_variables,
    unused_assignments
)]
mod calls_batch_c18 {
    use backprop::grad;
    const KC: f64 = 0.7;
    #[grad(wrt = w0, w1)]
    pub fn b_helper(w0: f64, w1: f64, x0: f64, k: i32, flag: bool) -> f64 {
        let _ = (k, flag);
        if flag {
        } else {
        }
        let mut v0 = (((w0 * (-1.125_f64)) / 1.5_f64) - (((w1 + w0) * (w1 + w0)) + 0.5_f64).log2());
        (if (k <= 0) {
            ((v0 * w0)
                + ((w1 - x0)
                    + 2.75_f64.clamp(
                        std::f64::consts::PI,
                        (std::f64::consts::PI + (((k as f64) * (k as f64)) + 0.125_f64)),
                    )))
        } else {
            (b_helper(
                (2.5_f64 / (-2.875_f64)),
                x0,
                ((x0 - x0) * (k as f64)),
                k - 1,
                flag,
            ) + ((KC * KC) + 0.5_f64).cbrt().powi(-3))
        })
    }
    #[grad]
    fn a_helper(w0: f64, k: i32, flag: bool) -> f64 {
        let _ = (k, flag);
        ((w0 * w0) + w0.cos())
    }
    #[grad(wrt = w0)]
    pub fn c18(w0: f64, x0: f64, k: i32, flag: bool) -> f64 {
        let mut v0 = a_helper(x0, k, flag);
        let mut v1 = b_helper(
            (std::f64::consts::PI / (k as f64)),
            w0,
            (KC + (k as f64)),
            k,
            !flag,
        );
        if ((-v1) < a_helper(w0, 2, flag)) {
            v0 -= b_helper(
                2.75_f64.powi(-3),
                a_helper(std::f64::consts::PI, k, true),
                ((2.875_f64 / x0) + ((-0.125_f64) * KC)),
                -1,
                flag,
            );
            v0 -= b_helper((k as f64), w0, KC.asinh(), k, flag).sin();
        }
        let mut v3 = std::f64::consts::PI.hypot((k as f64));
        for i0 in 0..3 {}
        ((v3 * w0) + a_helper(backprop::log_sigmoid(v1), k, flag))
    }
}

#[test]
fn a_data_local_kept_for_its_effects_is_typed_with_parentheses() {
    let (w, x) = (0.4, 1.3);
    for k in [-1, 2] {
        let g = calls_batch_c18::c18_grad(w, x, k, false);
        let h = 1e-6;
        let fd = (calls_batch_c18::c18(w + h, x, k, false)
            - calls_batch_c18::c18(w - h, x, k, false))
            / (2.0 * h);
        assert_relative_eq!(g, fd, max_relative = 1e-6);
    }
}

// An array passed to a helper taking a slice (`&w` to `xs: &[f64]`): the helper's partial, a
// `Vec`, goes into the array's adjoint (a rustc error at the attribute before; found by a
// review helper).
#[grad(wrt = xs)]
fn sum_of_squares(xs: &[f64]) -> f64 {
    xs.iter().map(|x| x * x).sum()
}

#[grad(wrt = w)]
fn array_as_slice(w: [f64; 2]) -> f64 {
    sum_of_squares(&w) * w[0]
}

#[test]
fn an_array_passed_as_a_slice() {
    // (w0² + w1²)·w0: ∂/∂w0 = 3w0² + w1², ∂/∂w1 = 2w0w1.
    assert_eq!(array_as_slice_grad([0.5, 1.5]), [3.0, 1.5]);
}
