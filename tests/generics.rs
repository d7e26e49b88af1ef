//! Functions generic over their float type (`fn f<T: Real>`), and over data (types, constants):
//! one model, differentiated once, used at `f32` and `f64`; checked against the same model
//! written for `f64`, finite differences and closed forms.

#![deny(warnings)]
#![allow(clippy::needless_range_loop)]

use approx::assert_relative_eq;
use backprop::{grad, Differentiable, Real};

// ---------------------------------------------------------------------------------------------
// A model written once, against the same model written for f64
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x, y, hessian)]
fn model<T: Real>(x: T, y: T, k: i32) -> T {
    let mut s = T::ZERO;
    for i in 0..k {
        let t = T::from_f64(i as f64 + 0.5);
        s += (x * t - y).tanh() * T::from_f64(-0.25) + (y * y + T::ONE).ln() / t;
    }
    if s > T::ZERO {
        s.sqrt() * x.exp()
    } else {
        x.max(y) * s + T::from_f64(std::f64::consts::PI) * x.sin()
    }
}

#[grad(wrt = x, y, hessian)]
fn model_f64(x: f64, y: f64, k: i32) -> f64 {
    let mut s = 0.0;
    for i in 0..k {
        let t = i as f64 + 0.5;
        s += (x * t - y).tanh() * -0.25 + (y * y + 1.0).ln() / t;
    }
    if s > 0.0 {
        s.sqrt() * x.exp()
    } else {
        x.max(y) * s + std::f64::consts::PI * x.sin()
    }
}

#[test]
fn the_f64_instance_is_the_f64_function() {
    for &(x, y) in &[(0.3, 0.7), (-1.2, 0.4), (0.9, -2.0), (2.0, 2.5)] {
        let (v, g) = model_value_and_grad(x, y, 4);
        let (v64, g64) = model_f64_value_and_grad(x, y, 4);
        assert_eq!(v, v64);
        assert_relative_eq!(g.0, g64.0, max_relative = 1e-14);
        assert_relative_eq!(g.1, g64.1, max_relative = 1e-14);
        let (h, h64) = (model_hessian(x, y, 4), model_f64_hessian(x, y, 4));
        for i in 0..2 {
            for j in 0..2 {
                assert_relative_eq!(h[i][j], h64[i][j], max_relative = 1e-13, epsilon = 1e-14);
            }
        }
    }
}

#[test]
fn the_f32_instance_computes_in_f32() {
    let (x, y) = (0.3_f32, 0.7_f32);
    // The value is the f32 function's own, bit for bit.
    let (v, (dx, dy)) = model_value_and_grad(x, y, 4);
    assert_eq!(v, model(x, y, 4));
    let (_, (ex, ey)) = model_f64_value_and_grad(0.3, 0.7, 4);
    assert_relative_eq!(dx as f64, ex, max_relative = 1e-5);
    assert_relative_eq!(dy as f64, ey, max_relative = 1e-5);
}

/// What the reliability generator found in generic code: a data exponent (`x.powi(k)`, whose
/// derivative converts `k`), and a constant converted in a condition of an inner loop that
/// ends early (the condition is recomputed by the reverse sweep: the conversion is pure).
#[grad(wrt = w, hessian)]
fn found_by_the_generator<T: Real>(w: T, k: i32) -> T {
    let mut v = w;
    for _ in 0..3 {
        for i in 2..=4 {
            v = (v * w).tanh() + w.powi(k);
            if T::from_f64(-std::f64::consts::PI) <= T::from_f64(std::f64::consts::PI).sin()
                || i == k
            {
                break;
            }
        }
    }
    v
}

#[grad(wrt = w, hessian)]
fn found_by_the_generator_f64(w: f64, k: i32) -> f64 {
    let mut v = w;
    for _ in 0..3 {
        for i in 2..=4 {
            v = (v * w).tanh() + w.powi(k);
            if -std::f64::consts::PI <= std::f64::consts::PI.sin() || i == k {
                break;
            }
        }
    }
    v
}

#[test]
fn what_the_generator_found() {
    for k in [2, 3] {
        let g = found_by_the_generator_grad(0.4, k);
        assert_relative_eq!(
            g,
            found_by_the_generator_f64_grad(0.4, k),
            max_relative = 1e-14
        );
        let h = found_by_the_generator_hessian(0.4, k)[0][0];
        let h64 = found_by_the_generator_f64_hessian(0.4, k)[0][0];
        assert_relative_eq!(h, h64, max_relative = 1e-13);
    }
}

// ---------------------------------------------------------------------------------------------
// Closed forms
// ---------------------------------------------------------------------------------------------

/// Logistic regression's loss over a data set, generic over the float type.
#[grad(wrt = w, b, hessian)]
fn logistic<T: Real>(w: [T; 2], b: T, xs: &[[T; 2]], ys: &[T]) -> T {
    let mut l = T::ZERO;
    for i in 0..ys.len() {
        let z = w[0] * xs[i][0] + w[1] * xs[i][1] + b;
        let p = backprop::sigmoid(z);
        l -= ys[i] * p.ln() + (T::ONE - ys[i]) * (T::ONE - p).ln();
    }
    l / T::from_f64(ys.len() as f64)
}

fn logistic_closed<T: Real>(w: [T; 2], b: T, xs: &[[T; 2]], ys: &[T]) -> ([T; 2], T) {
    let n = T::from_f64(ys.len() as f64);
    let (mut gw, mut gb) = ([T::ZERO; 2], T::ZERO);
    for i in 0..ys.len() {
        let z = w[0] * xs[i][0] + w[1] * xs[i][1] + b;
        let r = (T::ONE / (T::ONE + (-z).exp()) - ys[i]) / n;
        gw[0] += r * xs[i][0];
        gw[1] += r * xs[i][1];
        gb += r;
    }
    (gw, gb)
}

#[test]
fn logistic_regression_at_both_widths() {
    let xs = [[0.5, 1.0], [-1.0, 0.25], [2.0, -0.5]];
    let ys = [1.0, 0.0, 1.0];
    let (gw, gb) = logistic_grad([0.3, -0.2], 0.1, &xs, &ys);
    let (cw, cb) = logistic_closed([0.3, -0.2], 0.1, &xs, &ys);
    assert_relative_eq!(gw[0], cw[0], max_relative = 1e-13);
    assert_relative_eq!(gw[1], cw[1], max_relative = 1e-13);
    assert_relative_eq!(gb, cb, max_relative = 1e-13);

    let xs32 = xs.map(|r| r.map(|v| v as f32));
    let ys32 = ys.map(|v| v as f32);
    let (gw32, gb32) = logistic_grad([0.3_f32, -0.2], 0.1, &xs32, &ys32);
    assert_relative_eq!(gw32[0] as f64, cw[0], max_relative = 1e-5);
    assert_relative_eq!(gb32 as f64, cb, max_relative = 1e-5);

    // The Hessian in b: the mean of p(1 − p).
    let h = logistic_hessian([0.3, -0.2], 0.1, &xs, &ys);
    let pq: f64 = xs
        .iter()
        .map(|x| {
            let p = 1.0 / (1.0 + (-(0.3 * x[0] - 0.2 * x[1] + 0.1_f64)).exp());
            p * (1.0 - p)
        })
        .sum::<f64>()
        / 3.0;
    assert_relative_eq!(h[2][2], pq, max_relative = 1e-13);
}

// ---------------------------------------------------------------------------------------------
// Composition: generic helpers, second order through them, a slice
// ---------------------------------------------------------------------------------------------

#[grad(hessian)]
fn softplus_scaled<T: Real>(a: T, s: T) -> T {
    (T::ONE + (a * s).exp()).ln() / s
}

#[grad(wrt = x, y, hessian)]
fn composed<T: Real>(x: T, y: T) -> T {
    // With its type argument written, or inferred.
    softplus_scaled::<T>(x, y) * softplus_scaled(y, T::from_f64(2.0))
}

/// A concrete caller of the generic helper.
#[grad(wrt = x)]
fn concrete_caller(x: f64) -> f64 {
    softplus_scaled(x, 3.0).powi(2)
}

#[test]
fn second_order_through_a_generic_helper() {
    let sp = |a: f64, s: f64| (1.0 + (a * s).exp()).ln() / s;
    let f = |x: f64, y: f64| sp(x, y) * sp(y, 2.0);
    let (x, y) = (0.4, 1.3);
    let h = composed_hessian(x, y);
    let e = 1e-4;
    let fd = |dx: f64, dy: f64| f(x + dx, y + dy);
    let hxx = (fd(e, 0.0) - 2.0 * fd(0.0, 0.0) + fd(-e, 0.0)) / (e * e);
    let hxy = (fd(e, e) - fd(e, -e) - fd(-e, e) + fd(-e, -e)) / (4.0 * e * e);
    assert_relative_eq!(h[0][0], hxx, max_relative = 1e-5);
    assert_relative_eq!(h[0][1], hxy, max_relative = 1e-5);
    let h32 = composed_hessian(x as f32, y as f32);
    assert_relative_eq!(h32[0][1] as f64, h[0][1], max_relative = 1e-4);

    // d/dx sp(x, 3)² = 2 sp · σ(3x).
    let g = concrete_caller_grad(0.2);
    let sig = 1.0 / (1.0 + (-0.6_f64).exp());
    assert_relative_eq!(g, 2.0 * sp(0.2, 3.0) * sig, max_relative = 1e-14);
}

#[grad(wrt = xs, hessian)]
fn cubes<T: Real>(xs: &[T]) -> T {
    xs.iter().map(|x| x.powi(3)).sum::<T>()
}

#[test]
fn a_slice_hessian_at_both_widths() {
    let h = cubes_hessian(&[0.5, -1.0, 2.0]);
    assert_eq!(
        h,
        vec![
            vec![3.0, 0.0, 0.0],
            vec![0.0, -6.0, 0.0],
            vec![0.0, 0.0, 12.0]
        ]
    );
    let h32 = cubes_hessian(&[0.5_f32, -1.0]);
    assert_eq!(h32, vec![vec![3.0_f32, 0.0], vec![0.0, -6.0]]);
}

// ---------------------------------------------------------------------------------------------
// Structs and methods of a generic `impl` (`float = T`)
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Line<T> {
    w: [T; 2],
    b: T,
}

impl<T: Real> Line<T> {
    #[grad(wrt = self, float = T)]
    fn mse(&self, xs: &[[T; 2]], ys: &[T]) -> T {
        let mut s = T::ZERO;
        for i in 0..ys.len() {
            let r = self.w[0] * xs[i][0] + self.w[1] * xs[i][1] + self.b - ys[i];
            s += r * r;
        }
        s / T::from_f64(ys.len() as f64)
    }

    #[grad(float = T, hessian)]
    fn act(z: T) -> T {
        z.tanh()
    }

    #[grad(wrt = z, float = T, hessian)]
    fn act_times(z: T) -> T {
        Self::act(z) * z
    }
}

#[grad(wrt = p)]
fn line_loss<T: Real>(p: &Line<T>, x: [T; 2]) -> T {
    (p.w[0] * x[0] + p.w[1] * x[1] + p.b).powi(2)
}

#[test]
fn struct_parameters_and_methods_of_a_generic_impl() {
    let xs = [[1.0, 2.0], [0.5, -1.0]];
    let ys = [1.0, 0.0];
    let g = Line {
        w: [0.5, -0.25],
        b: 0.1,
    }
    .mse_grad(&xs, &ys);
    // Residuals −0.9 and 0.6: the gradient is the mean of 2 r (x, 1).
    assert_relative_eq!(g.w[0], -0.6, max_relative = 1e-14);
    assert_relative_eq!(g.w[1], -2.4, max_relative = 1e-14);
    assert_relative_eq!(g.b, -0.3, max_relative = 1e-14);
    let g32 = Line {
        w: [0.5_f32, -0.25],
        b: 0.1,
    }
    .mse_grad(&xs.map(|r| r.map(|v| v as f32)), &[1.0, 0.0]);
    assert_relative_eq!(g32.w[1], -2.4, max_relative = 1e-6);

    // (z tanh z)'' = 2 sech² z (1 − z tanh z).
    let z = 0.3_f64;
    let s2 = 1.0 - z.tanh().powi(2);
    assert_relative_eq!(
        Line::<f64>::act_times_hessian(z)[0][0],
        2.0 * s2 * (1.0 - z * z.tanh()),
        max_relative = 1e-14
    );

    let p = Line {
        w: [1.0_f32, 2.0],
        b: 0.5,
    };
    let g = line_loss_grad(&p, [1.0, -1.0]);
    assert_eq!(
        g,
        Line {
            w: [-1.0, 1.0],
            b: -1.0
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Generic over data: constants and types
// ---------------------------------------------------------------------------------------------

#[grad(wrt = w, hessian)]
fn weighted<const N: usize>(w: [f64; N]) -> f64 {
    let mut s = 0.0;
    for i in 0..N {
        s += w[i] * w[i] * (i as f64 + 1.0);
    }
    s
}

#[grad(wrt = w)]
fn distance<T: Real, const N: usize>(w: [T; N], c: &[T; N]) -> T {
    let mut s = T::ZERO;
    for i in 0..N {
        s += (w[i] - c[i]).powi(2);
    }
    s.sqrt()
}

#[grad(wrt = x)]
fn scaled<K: Into<f64> + Copy>(x: f64, k: K) -> f64 {
    x * x * k.into()
}

#[test]
fn generic_over_data() {
    assert_eq!(weighted_grad([1.0, 1.0, 1.0]), [2.0, 4.0, 6.0]);
    assert_eq!(weighted_hessian([1.0, 2.0]), [[2.0, 0.0], [0.0, 4.0]]);
    let g = distance_grad([3.0_f32, 4.0], &[0.0, 0.0]);
    assert_relative_eq!(g[0], 0.6, max_relative = 1e-6);
    assert_relative_eq!(g[1], 0.8, max_relative = 1e-6);
    assert_eq!(scaled_grad(3.0, 2_i32), 12.0);
    assert_eq!(scaled_grad(3.0, 0.5_f32), 3.0);
}

// ---------------------------------------------------------------------------------------------
// Forward mode, Jacobians and traces
// ---------------------------------------------------------------------------------------------

#[grad(wrt = w, mode = forward, hessian)]
fn forward_cubic<T: Real>(w: [T; 2]) -> T {
    w[0].powi(3) * w[1]
}

#[grad(wrt = x)]
fn pair<T: Real>(x: T, y: T) -> (T, T) {
    (x * y, x.exp())
}

#[grad(wrt = x, y, trace)]
fn traced<T: Real>(x: T, y: T) -> T {
    (x * y).sin() + T::from_f64(0.5) * x
}

#[test]
fn forward_mode_jacobians_and_traces() {
    assert_eq!(forward_cubic_grad([0.5_f32, 2.0]), [1.5, 0.125]);
    assert_eq!(
        forward_cubic_hessian([0.5_f64, 2.0]),
        [[6.0, 0.75], [0.75, 0.0]]
    );
    let j = pair_jacobian(0.5_f32, 2.0);
    assert_eq!(j[0][0], 2.0);
    assert_eq!(j[1][0], 0.5_f32.exp());
    let t = traced_trace(0.5_f32, 2.0);
    let g = traced_grad(0.5_f32, 2.0);
    assert_eq!(t.node("x").and_then(|n| n.derivative), Some(g.0 as f64));
    assert_eq!(t.node("y").and_then(|n| n.derivative), Some(g.1 as f64));
}

// ---------------------------------------------------------------------------------------------
// What a review found (a new user's models)
// ---------------------------------------------------------------------------------------------

/// A `where` clause as rustfmt writes it (a trailing comma), on a data type parameter.
#[grad(wrt = x, hessian)]
fn formatted_where<K>(x: f64, k: K) -> f64
where
    K: Into<f64> + Copy,
{
    x * x * k.into()
}

/// Untyped float locals in a generic body are `f64` data, as Rust infers them.
#[grad(wrt = x)]
fn untyped_locals<T: Real>(x: T, n: i32, c: f64) -> T {
    let k = 2.5;
    let mut s = 0.0;
    for i in 0..n {
        s += i as f64;
    }
    let m = if n > 1 { 2.0 } else { 3.0 };
    let scaled = c * 2.0;
    x * T::from_f64(k) + x * x * T::from_f64(s * m) + x * T::from_f64(scaled)
}

/// Methods called through the trait's path.
#[grad(wrt = x)]
fn through_the_trait<T: Real>(x: T) -> T {
    Real::cos(x) * backprop::Real::sin(x)
}

/// A generic rule (the normal CDF's error function by its series), its partial generic too:
/// second derivatives through it at both widths.
#[backprop::rule(x = T::from_f64(2.0 / std::f64::consts::PI.sqrt()) * (-x * x).exp())]
fn erf<T: Real>(x: T) -> T {
    let (mut sum, mut term, mut n) = (T::ZERO, x, T::ZERO);
    while term.abs() > T::from_f64(1e-17) {
        sum += term / (T::from_f64(2.0) * n + T::ONE);
        n += T::ONE;
        term *= -x * x / n;
    }
    T::from_f64(2.0 / std::f64::consts::PI.sqrt()) * sum
}

/// A European call's price (Black–Scholes); its Hessian holds gamma and vanna.
#[grad(wrt = s, sigma, hessian)]
fn call_price<T: Real>(s: T, k: T, r: T, sigma: T, t: T) -> T {
    let half = T::from_f64(0.5);
    let sq2 = T::from_f64(std::f64::consts::SQRT_2);
    let d1 = ((s / k).ln() + (r + half * sigma * sigma) * t) / (sigma * t.sqrt());
    let d2 = d1 - sigma * t.sqrt();
    let n1 = half * (T::ONE + erf(d1 / sq2));
    let n2 = half * (T::ONE + erf(d2 / sq2));
    s * n1 - k * (-r * t).exp() * n2
}

#[test]
fn what_a_review_found() {
    assert_eq!(formatted_where_grad(3.0, 2.0_f32), 12.0);
    assert_eq!(formatted_where_hessian(3.0, 2_i32), [[4.0]]);
    // d/dx: 2.5 + 2x·(0 + 1 + 2)·2 + 2·1.5 at x = 0.5.
    assert_eq!(untyped_locals_grad(0.5_f64, 3, 1.5), 2.5 + 6.0 + 3.0);
    assert_eq!(untyped_locals_grad(0.5_f32, 3, 1.5), 11.5);
    assert_relative_eq!(
        through_the_trait_grad(0.5_f64),
        1.0_f64.cos(),
        max_relative = 1e-15
    );
    let h = call_price_hessian(100.0, 95.0, 0.03, 0.2, 0.75);
    assert!((h[0][0] - 0.020196743051089).abs() < 1e-12);
    assert!((h[0][1] + 0.593716529936203).abs() < 1e-12);
    let h32 = call_price_hessian(100.0_f32, 95.0, 0.03, 0.2, 0.75);
    assert_relative_eq!(h32[0][0] as f64, h[0][0], max_relative = 1e-4);
}
