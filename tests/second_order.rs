//! Forward mode (`mode = forward`, `_jvp`) and second derivatives (`hessian`: `_hessian`,
//! `_hvp`): against the reverse-mode gradient, finite differences of the gradient, and closed
//! forms.

#![deny(warnings)]
#![allow(clippy::too_many_arguments)]
// Models are written with index loops, as users write them; a `&Vec<f64>` parameter is tested as one.
#![allow(clippy::needless_range_loop, clippy::ptr_arg)]

use approx::assert_relative_eq;
use backprop::grad;

#[allow(dead_code)]
#[path = "../examples/seed_models/mod.rs"]
mod seed_models;

// ---------------------------------------------------------------------------------------------
// Forward mode
// ---------------------------------------------------------------------------------------------

/// The same body three times: reverse, forward, and with second derivatives.
macro_rules! both_modes {
    ($rev:ident, $fwd:ident, $hes:ident, ($($p:ident),*), ($($d:ident: $t:ty),*), $body:block) => {
        #[grad(wrt = $($p),*)]
        fn $rev($($p: f64,)* $($d: $t),*) -> f64 $body
        #[grad(wrt = $($p),*, mode = forward)]
        fn $fwd($($p: f64,)* $($d: $t),*) -> f64 $body
        #[grad(wrt = $($p),*, hessian)]
        fn $hes($($p: f64,)* $($d: $t),*) -> f64 $body
    };
}

both_modes!(rosen, rosen_f, rosen_h, (x, y), (), {
    (1.0 - x) * (1.0 - x) + 100.0 * (y - x * x) * (y - x * x)
});

both_modes!(mixed, mixed_f, mixed_h, (a, b, c), (k: f64), {
    let u = (a * b).sin() + c.exp() / (1.0 + b * b);
    let v = if u > 0.5 { u.sqrt() * a } else { -u * c };
    v.tanh() * k + (a - c).powi(3) + b.atan2(c) + backprop::sigmoid(a * c)
});

both_modes!(logreg, logreg_f, logreg_h, (b0, b1), (xs: &[f64], ys: &[f64]), {
    let mut s = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let p = backprop::sigmoid(b0 + b1 * x);
        s += -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
    }
    s
});

/// A loop with carried state, in forward mode (and its Hessian: see `rnn_h` below).
#[grad(wrt = w, u)]
fn rnn(w: f64, u: f64, xs: &[f64]) -> f64 {
    let mut h = 0.0;
    for &x in xs {
        h = (w * h + u * x).tanh();
    }
    h * h
}

#[grad(wrt = w, u, mode = forward)]
fn rnn_f(w: f64, u: f64, xs: &[f64]) -> f64 {
    let mut h = 0.0;
    for &x in xs {
        h = (w * h + u * x).tanh();
    }
    h * h
}

const XS: [f64; 6] = [0.5, -1.0, 2.0, 0.3, -0.7, 1.4];
const YS: [f64; 6] = [1.0, 0.0, 1.0, 0.0, 0.0, 1.0];

#[test]
fn forward_mode_gives_the_reverse_mode_gradient() {
    for (x, y) in [(1.2, 0.7), (-0.5, 2.0), (0.0, 0.0)] {
        let (r, f) = (rosen_value_and_grad(x, y), rosen_f_value_and_grad(x, y));
        assert_eq!(r.0, f.0);
        assert_relative_eq!(r.1 .0, f.1 .0, max_relative = 1e-13);
        assert_relative_eq!(r.1 .1, f.1 .1, max_relative = 1e-13);
        assert_eq!(rosen_f_grad(x, y), f.1);
    }
    for p in [[0.3, -0.8, 0.5], [1.1, 0.2, -0.4], [-0.9, 1.5, 0.7]] {
        let r = mixed_grad(p[0], p[1], p[2], 1.7);
        let f = mixed_f_grad(p[0], p[1], p[2], 1.7);
        for (a, b) in [(r.0, f.0), (r.1, f.1), (r.2, f.2)] {
            assert_relative_eq!(a, b, max_relative = 1e-12, epsilon = 1e-14);
        }
    }
    let (r, f) = (
        logreg_grad(0.1, 0.4, &XS, &YS),
        logreg_f_grad(0.1, 0.4, &XS, &YS),
    );
    assert_relative_eq!(r.0, f.0, max_relative = 1e-13);
    assert_relative_eq!(r.1, f.1, max_relative = 1e-13);
    let (r, f) = (rnn_grad(0.7, 0.4, &XS), rnn_f_grad(0.7, 0.4, &XS));
    assert_relative_eq!(r.0, f.0, max_relative = 1e-12);
    assert_relative_eq!(r.1, f.1, max_relative = 1e-12);
}

#[test]
fn a_jvp_is_the_gradient_along_the_tangent() {
    for (t0, t1, t2) in [(1.0, 0.0, 0.0), (0.3, -2.0, 0.5)] {
        let g = mixed_grad(0.3, -0.8, 0.5, 1.7);
        let (v, d) = mixed_f_jvp(0.3, -0.8, 0.5, 1.7, t0, t1, t2);
        assert_eq!(v, mixed(0.3, -0.8, 0.5, 1.7));
        assert_relative_eq!(d, g.0 * t0 + g.1 * t1 + g.2 * t2, max_relative = 1e-12);
    }
    let g = rnn_grad(0.7, 0.4, &XS);
    let (_, d) = rnn_f_jvp(0.7, 0.4, &XS, 2.0, -1.0);
    assert_relative_eq!(d, 2.0 * g.0 - g.1, max_relative = 1e-12);
}

#[test]
fn the_notes_001_table_is_the_same_in_forward_and_reverse_mode() {
    let (w, x, y) = (3.0, 3.0, 1.0);
    let reverse = seed_models::xi_loss_grad(w, x, y);
    let (value, forward) = seed_models::xi_loss_forward_jvp(w, x, y, 1.0);
    assert_eq!(value, seed_models::xi_loss(w, x, y));
    assert_relative_eq!(forward, reverse, max_relative = 1e-15);
    // The notes' number: −3e⁻⁹ / (1 + e⁻⁹).
    let e = (-9.0f64).exp();
    assert_relative_eq!(forward, -3.0 * e / (1.0 + e), max_relative = 1e-12);
    assert_eq!(seed_models::xi_loss_forward_grad(w, x, y), forward);
}

// ---------------------------------------------------------------------------------------------
// Second derivatives
// ---------------------------------------------------------------------------------------------

/// The Hessian by central differences of the (reverse-mode) gradient.
fn fd_hessian(grad: impl Fn(&[f64]) -> Vec<f64>, p: &[f64]) -> Vec<Vec<f64>> {
    let n = p.len();
    (0..n)
        .map(|j| {
            let h = 1e-5 * p[j].abs().max(1.0);
            let (mut a, mut b) = (p.to_vec(), p.to_vec());
            a[j] += h;
            b[j] -= h;
            let (ga, gb) = (grad(&a), grad(&b));
            (0..n).map(|i| (ga[i] - gb[i]) / (2.0 * h)).collect()
        })
        .collect()
}

fn assert_hessian(h: &[Vec<f64>], fd: &[Vec<f64>]) {
    for i in 0..h.len() {
        for j in 0..h.len() {
            // Exactly symmetric; equal to the differences of the gradient up to their error.
            assert_eq!(h[i][j], h[j][i], "h[{i}][{j}] != h[{j}][{i}]");
            assert_relative_eq!(h[i][j], fd[j][i], max_relative = 1e-5, epsilon = 1e-6);
        }
    }
}

#[test]
fn the_hessian_is_the_derivative_of_the_gradient() {
    for (x, y) in [(1.2, 0.7), (-0.5, 2.0)] {
        let h = rosen_h_hessian(x, y);
        // Closed form.
        assert_relative_eq!(
            h[0][0],
            2.0 - 400.0 * (y - 3.0 * x * x),
            max_relative = 1e-14
        );
        assert_relative_eq!(h[0][1], -400.0 * x, max_relative = 1e-14);
        assert_eq!(h[1][1], 200.0);
        let fd = fd_hessian(
            |p| {
                let g = rosen_grad(p[0], p[1]);
                vec![g.0, g.1]
            },
            &[x, y],
        );
        assert_hessian(&h.map(|r| r.to_vec()), &fd);
    }
    for p in [[0.3, -0.8, 0.5], [1.1, 0.2, -0.4], [-0.9, 1.5, 0.7]] {
        let h = mixed_h_hessian(p[0], p[1], p[2], 1.7);
        let fd = fd_hessian(
            |q| {
                let g = mixed_grad(q[0], q[1], q[2], 1.7);
                vec![g.0, g.1, g.2]
            },
            &p,
        );
        assert_hessian(&h.map(|r| r.to_vec()), &fd);
    }
    let h = logreg_h_hessian(0.1, 0.4, &XS, &YS);
    let fd = fd_hessian(
        |q| {
            let g = logreg_grad(q[0], q[1], &XS, &YS);
            vec![g.0, g.1]
        },
        &[0.1, 0.4],
    );
    assert_hessian(&h.map(|r| r.to_vec()), &fd);
    // Logistic regression's Hessian in closed form: Σ p(1 − p) [1 x; x x²].
    let (mut h00, mut h01, mut h11) = (0.0, 0.0, 0.0);
    for x in XS {
        let p = backprop::sigmoid(0.1 + 0.4 * x);
        let s = p * (1.0 - p);
        h00 += s;
        h01 += s * x;
        h11 += s * x * x;
    }
    assert_relative_eq!(h[0][0], h00, max_relative = 1e-13);
    assert_relative_eq!(h[0][1], h01, max_relative = 1e-13);
    assert_relative_eq!(h[1][1], h11, max_relative = 1e-13);
}

#[test]
fn a_hessian_vector_product_is_the_hessian_times_the_vector() {
    let p = [0.3, -0.8, 0.5];
    let h = mixed_h_hessian(p[0], p[1], p[2], 1.7);
    let v = [0.7, -1.3, 2.1];
    let hv = mixed_h_hvp(p[0], p[1], p[2], 1.7, v[0], v[1], v[2]);
    let want: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|j| h[i][j] * v[j]).sum())
        .collect();
    for (a, b) in [hv.0, hv.1, hv.2].iter().zip(&want) {
        assert_relative_eq!(a, b, max_relative = 1e-12, epsilon = 1e-14);
    }
    let hv = logreg_h_hvp(0.1, 0.4, &XS, &YS, 1.0, 0.0);
    let h = logreg_h_hessian(0.1, 0.4, &XS, &YS);
    assert_relative_eq!(hv.0, h[0][0], max_relative = 1e-13);
    assert_relative_eq!(hv.1, h[1][0], max_relative = 1e-13);
}

#[allow(dead_code)] // the example's `main`
#[path = "../examples/newton.rs"]
mod newton;

#[test]
fn newtons_method_converges_in_a_handful_of_iterations() {
    let path = newton::newton(7);
    // Quadratic convergence: from a gradient of 0.5 to rounding in six steps.
    let first_small = path.iter().position(|p| p.2 < 1e-12).expect("converged");
    assert!(first_small <= 6, "took {first_small} iterations: {path:?}");
    let (b0, b1, _) = path[first_small];
    // Gradient descent needs a thousand steps or more for 1e-10, and lands at the same place.
    let (steps, g0, g1) = newton::gradient_descent(1.0, 1e-10, 100_000);
    assert!(steps > 1000, "gradient descent took {steps} steps");
    assert_relative_eq!(b0, g0, max_relative = 1e-8);
    assert_relative_eq!(b1, g1, max_relative = 1e-8);
}

// ---------------------------------------------------------------------------------------------
// Jacobians
// ---------------------------------------------------------------------------------------------

/// Polar to Cartesian: two values of two parameters (forward mode, by shape).
#[grad(wrt = r, t)]
fn polar(r: f64, t: f64) -> (f64, f64) {
    (r * t.cos(), r * t.sin())
}

/// Two values of three parameters, with a loop: reverse mode by shape, forward if asked.
#[grad(wrt = a, b, c)]
fn two(a: f64, b: f64, c: f64, xs: &[f64]) -> [f64; 2] {
    let mut s = 0.0;
    for &x in xs {
        s += (a * x + b).tanh();
    }
    [s * c, a * b * c]
}

#[grad(wrt = a, b, c, mode = forward)]
fn two_forward(a: f64, b: f64, c: f64, xs: &[f64]) -> [f64; 2] {
    let mut s = 0.0;
    for &x in xs {
        s += (a * x + b).tanh();
    }
    [s * c, a * b * c]
}

/// Three values of one parameter, with a branch (forward).
#[grad(wrt = t)]
fn curve(t: f64, k: f64) -> [f64; 3] {
    let z = if t > 0.0 { t.sqrt() } else { -t };
    [t.cos(), k * t.sin(), z * t]
}

/// The Jacobian by central differences of `f` over `p`: rows are outputs.
fn fd_jacobian(f: impl Fn(&[f64]) -> Vec<f64>, p: &[f64]) -> Vec<Vec<f64>> {
    let cols: Vec<Vec<f64>> = (0..p.len())
        .map(|j| {
            let h = 1e-6 * p[j].abs().max(1.0);
            let (mut a, mut b) = (p.to_vec(), p.to_vec());
            a[j] += h;
            b[j] -= h;
            let (fa, fb) = (f(&a), f(&b));
            fa.iter()
                .zip(&fb)
                .map(|(x, y)| (x - y) / (2.0 * h))
                .collect()
        })
        .collect();
    (0..cols[0].len())
        .map(|i| cols.iter().map(|c| c[i]).collect())
        .collect()
}

fn assert_jacobian(j: &[Vec<f64>], fd: &[Vec<f64>]) {
    for (row, want) in j.iter().zip(fd) {
        for (a, b) in row.iter().zip(want) {
            assert_relative_eq!(a, b, max_relative = 1e-6, epsilon = 1e-8);
        }
    }
}

#[test]
fn jacobians_match_finite_differences_in_both_modes() {
    let j = polar_jacobian(2.0, 0.5);
    assert_eq!(
        j,
        [
            [0.5f64.cos(), -2.0 * 0.5f64.sin()],
            [0.5f64.sin(), 2.0 * 0.5f64.cos()]
        ]
    );
    let xs = [0.5, -1.0, 2.0];
    let p = [0.3, 0.1, 1.5];
    let rev = two_jacobian(p[0], p[1], p[2], &xs);
    let fwd = two_forward_jacobian(p[0], p[1], p[2], &xs);
    let fd = fd_jacobian(|q| two(q[0], q[1], q[2], &xs).to_vec(), &p);
    assert_jacobian(&rev.map(|r| r.to_vec()), &fd);
    for (a, b) in rev.iter().flatten().zip(fwd.iter().flatten()) {
        assert_relative_eq!(a, b, max_relative = 1e-13, epsilon = 1e-15);
    }
    for t in [0.7, -0.4] {
        let j = curve_jacobian(t, 2.0);
        let fd = fd_jacobian(|q| curve(q[0], 2.0).to_vec(), &[t]);
        assert_jacobian(&j.map(|r| r.to_vec()), &fd);
    }
}

// A function returning an array that changes an array parameter in place: every row (reverse
// mode) and every column (forward mode) of its Jacobian starts from the arguments. Before, each
// sweep after the first started from the array the one before had changed: a wrong Jacobian,
// and wrong gradients in every caller through its pullback.
#[grad]
fn shifts_in_place(mut s: [f64; 2], k: f64) -> [f64; 2] {
    s[0] *= k;
    s[1] += s[0] * s[0];
    [s[0] * s[1], s[1] - k]
}

#[grad(wrt = s, k, mode = forward)]
fn shifts_in_place_forward(mut s: [f64; 2], k: f64) -> [f64; 2] {
    s[0] *= k;
    s[1] += s[0] * s[0];
    [s[0] * s[1], s[1] - k]
}

#[grad(wrt = s, k)]
fn shifts_in_place_vec(mut s: Vec<f64>, k: f64) -> [f64; 2] {
    s[0] *= k;
    s[1] += s[0] * s[0];
    [s[0] * s[1], s[1] - k]
}

#[grad(wrt = s, k, mode = forward)]
fn shifts_in_place_vec_forward(mut s: Vec<f64>, k: f64) -> [f64; 2] {
    s[0] *= k;
    s[1] += s[0] * s[0];
    [s[0] * s[1], s[1] - k]
}

#[grad(wrt = a, b, c)]
fn through_shifts_in_place(a: f64, b: f64, c: f64) -> f64 {
    let r: [f64; 2] = shifts_in_place([a, b], c);
    r[0] * r[1]
}

#[test]
fn jacobians_of_functions_changing_a_parameter_in_place() {
    let p = [0.7, -0.4, 1.3];
    let fd = fd_jacobian(|q| shifts_in_place([q[0], q[1]], q[2]).to_vec(), &p);
    let rev = shifts_in_place_jacobian([p[0], p[1]], p[2]).map(|r| r.to_vec());
    let fwd = shifts_in_place_forward_jacobian([p[0], p[1]], p[2]).map(|r| r.to_vec());
    let vec_rev = shifts_in_place_vec_jacobian(vec![p[0], p[1]], p[2]);
    let vec_fwd = shifts_in_place_vec_forward_jacobian(vec![p[0], p[1]], p[2]);
    for j in [&rev[..], &fwd[..], &vec_rev[..], &vec_fwd[..]] {
        assert_jacobian(j, &fd);
    }
    // Through the pullback, in a caller.
    let g = through_shifts_in_place_grad(p[0], p[1], p[2]);
    let fd = fd_jacobian(|q| vec![through_shifts_in_place(q[0], q[1], q[2])], &p);
    assert_jacobian(&[vec![g.0, g.1, g.2]], &fd);
}

/// A local array in a function with a Jacobian, computed in forward mode (no more parameters
/// than values): the array has tangent arrays.
#[grad(wrt = a, b)]
fn through_array(a: f64, b: f64) -> (f64, f64) {
    let v = [a, b];
    (v[0] * v[1], v[1])
}

#[grad(wrt = x, y, hessian)]
fn power(x: f64, y: f64) -> f64 {
    x.powf(y)
}

#[test]
fn a_jacobian_through_a_local_array() {
    assert_eq!(through_array_jacobian(3.0, 2.0), [[2.0, 3.0], [0.0, 1.0]]);
}

#[test]
fn the_hessian_of_powf_at_a_zero_exponent_keeps_the_mixed_derivative() {
    // ∂²(x^y)/∂x∂y = x^(y−1)(1 + y ln x): 1/x at y = 0, where the base's partial is guarded.
    let h = power_hessian(2.0, 0.0);
    assert_eq!(h[0][1], 0.5);
    assert_eq!(h[1][0], 0.5);
    assert_relative_eq!(h[1][1], 2.0f64.ln().powi(2), max_relative = 1e-15);
}

// ---------------------------------------------------------------------------------------------
// Arrays: flattened in `wrt` order, each row-major
// ---------------------------------------------------------------------------------------------

/// Logistic regression with two features: the weights an array, the bias a scalar. Three times:
/// reverse, forward, second derivatives.
macro_rules! logreg2 {
    ($name:ident, $($opt:tt)*) => {
        #[grad(wrt = w, b, $($opt)*)]
        fn $name(w: [f64; 2], b: f64, xs: &[[f64; 2]], ys: &[f64]) -> f64 {
            let mut s = 0.0;
            for (x, y) in xs.iter().zip(ys) {
                let p = backprop::sigmoid(w[0] * x[0] + w[1] * x[1] + b);
                s += -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
            }
            s
        }
    };
}
logreg2!(lr2, mode = reverse);
logreg2!(lr2_f, mode = forward);
logreg2!(lr2_h, hessian);

const XS2: [[f64; 2]; 5] = [
    [0.5, 1.0],
    [-1.0, 0.25],
    [2.0, -0.5],
    [0.0, 1.5],
    [1.0, 1.0],
];
const YS2: [f64; 5] = [1.0, 0.0, 1.0, 0.0, 1.0];

/// The flat gradient of `lr2` at `p = [w0, w1, b]`.
fn lr2_flat(p: &[f64]) -> Vec<f64> {
    let (w, b) = lr2_grad([p[0], p[1]], p[2], &XS2, &YS2);
    vec![w[0], w[1], b]
}

#[test]
fn forward_mode_takes_array_parameters() {
    let (w, b) = ([0.3, -0.8], 0.2);
    let (v, (gw, gb)) = lr2_value_and_grad(w, b, &XS2, &YS2);
    let (vf, (fw, fb)) = lr2_f_value_and_grad(w, b, &XS2, &YS2);
    assert_eq!(v, vf);
    for (a, c) in gw.iter().chain([&gb]).zip(fw.iter().chain([&fb])) {
        assert_relative_eq!(a, c, max_relative = 1e-13);
    }
    // A tangent of the array's shape.
    let (vj, d) = lr2_f_jvp(w, b, &XS2, &YS2, [0.5, -2.0], 3.0);
    assert_eq!(vj, v);
    assert_relative_eq!(
        d,
        0.5 * gw[0] - 2.0 * gw[1] + 3.0 * gb,
        max_relative = 1e-13
    );
}

#[test]
fn the_hessian_of_an_array_parameter_is_flattened_in_wrt_order() {
    let (w, b) = ([0.3, -0.8], 0.2);
    let h = lr2_h_hessian(w, b, &XS2, &YS2);
    // Σ p(1 − p)·[x0, x1, 1]ᵀ[x0, x1, 1].
    let mut want = [[0.0; 3]; 3];
    for x in XS2 {
        let p = backprop::sigmoid(w[0] * x[0] + w[1] * x[1] + b);
        let v = [x[0], x[1], 1.0];
        for i in 0..3 {
            for j in 0..3 {
                want[i][j] += p * (1.0 - p) * v[i] * v[j];
            }
        }
    }
    for i in 0..3 {
        for j in 0..3 {
            assert_relative_eq!(h[i][j], want[i][j], max_relative = 1e-12);
        }
    }
    let fd = fd_hessian(lr2_flat, &[w[0], w[1], b]);
    assert_hessian(&h.map(|r| r.to_vec()), &fd);
    // H·v in the gradient's shape.
    let (vw, vb) = lr2_h_hvp(w, b, &XS2, &YS2, [1.0, -0.5], 2.0);
    let v = [1.0, -0.5, 2.0];
    let hv: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|j| h[i][j] * v[j]).sum())
        .collect();
    for (a, c) in [vw[0], vw[1], vb].iter().zip(&hv) {
        assert_relative_eq!(a, c, max_relative = 1e-12);
    }
}

const D: usize = 3;

/// Nested arrays, a length that is a constant, and an array by reference.
#[grad(wrt = m, u, c, hessian, mode = forward)]
fn shapes(m: [[f64; 2]; 2], u: &[f64; D], c: f64) -> f64 {
    let a = m[0][0] * u[0] + m[0][1] * u[1] + m[1][0] * u[2] * c;
    let b = m[1][1] * m[1][1] * u[0] - (m[0][1] * u[2]).sin();
    let mut s = a * b + c * c * c;
    for x in u.iter() {
        s += (x * m[1][0]).exp();
    }
    s
}

#[grad(wrt = m, u, c)]
fn shapes_r(m: [[f64; 2]; 2], u: &[f64; D], c: f64) -> f64 {
    let a = m[0][0] * u[0] + m[0][1] * u[1] + m[1][0] * u[2] * c;
    let b = m[1][1] * m[1][1] * u[0] - (m[0][1] * u[2]).sin();
    let mut s = a * b + c * c * c;
    for x in u.iter() {
        s += (x * m[1][0]).exp();
    }
    s
}

#[test]
fn nested_arrays_constant_lengths_and_references_flatten_row_major() {
    let (m, u, c) = ([[0.4, -0.3], [0.2, 0.9]], [0.5, -1.1, 0.7], 1.3);
    let unflat = |p: &[f64]| ([[p[0], p[1]], [p[2], p[3]]], [p[4], p[5], p[6]], p[7]);
    let flat_grad = |p: &[f64]| {
        let (m, u, c) = unflat(p);
        let (gm, gu, gc) = shapes_r_grad(m, &u, c);
        let mut g: Vec<f64> = gm.iter().flatten().copied().collect();
        g.extend(gu);
        g.push(gc);
        g
    };
    let p = [0.4, -0.3, 0.2, 0.9, 0.5, -1.1, 0.7, 1.3];
    let h: [[f64; 8]; 8] = shapes_hessian(m, &u, c);
    assert_hessian(&h.map(|r| r.to_vec()), &fd_hessian(flat_grad, &p));
    // Forward mode, with the same shapes.
    let (gm, gu, gc) = shapes_grad(m, &u, c);
    let mut g: Vec<f64> = gm.iter().flatten().copied().collect();
    g.extend(gu);
    g.push(gc);
    for (a, b) in g.iter().zip(flat_grad(&p)) {
        assert_relative_eq!(*a, b, max_relative = 1e-13);
    }
}

/// A Jacobian with respect to an array (4 elements, 2 values: reverse mode by default).
#[grad(wrt = w, x)]
fn affine(w: [[f64; 2]; 2], x: [f64; 2]) -> [f64; 2] {
    [
        (w[0][0] * x[0] + w[0][1] * x[1]).tanh(),
        w[1][0] * x[0] * x[0] + w[1][1] * x[1],
    ]
}

#[grad(wrt = w, x, mode = forward)]
fn affine_f(w: [[f64; 2]; 2], x: [f64; 2]) -> [f64; 2] {
    [
        (w[0][0] * x[0] + w[0][1] * x[1]).tanh(),
        w[1][0] * x[0] * x[0] + w[1][1] * x[1],
    ]
}

#[test]
fn jacobians_with_respect_to_arrays_in_both_modes() {
    let (w, x) = ([[0.3, -0.7], [1.1, 0.4]], [0.9, -0.2]);
    let rev: [[f64; 6]; 2] = affine_jacobian(w, x);
    let fwd = affine_f_jacobian(w, x);
    let fd = fd_jacobian(
        |p| affine([[p[0], p[1]], [p[2], p[3]]], [p[4], p[5]]).to_vec(),
        &[0.3, -0.7, 1.1, 0.4, 0.9, -0.2],
    );
    assert_jacobian(&rev.map(|r| r.to_vec()), &fd);
    for (a, b) in rev.iter().flatten().zip(fwd.iter().flatten()) {
        assert_relative_eq!(a, b, max_relative = 1e-14, epsilon = 1e-15);
    }
    // Row 1 does not depend on `w[0]`.
    assert_eq!(&rev[1][..2], &[0.0, 0.0]);
}

/// A local array of differentiated values in forward mode and in a Hessian.
#[grad(wrt = a, b, mode = forward, hessian)]
fn local_array(a: f64, b: f64, xs: &[f64]) -> f64 {
    let mut z = [0.0; 3];
    for i in 0..3 {
        z[i] = a * xs[i] + b;
    }
    let mut s = 0.0;
    for v in z.iter() {
        s += v * v * v;
    }
    s
}

#[test]
fn local_arrays_carry_tangents() {
    let xs = [0.5, -1.0, 2.0];
    let (a, b) = (0.7, -0.2);
    let (ga, gb) = local_array_grad(a, b, &xs);
    let (wa, wb) = xs.iter().fold((0.0, 0.0), |(da, db), x| {
        let z: f64 = a * x + b;
        (da + 3.0 * z * z * x, db + 3.0 * z * z)
    });
    assert_relative_eq!(ga, wa, max_relative = 1e-14);
    assert_relative_eq!(gb, wb, max_relative = 1e-14);
    let h = local_array_hessian(a, b, &xs);
    let want = xs.iter().fold([[0.0; 2]; 2], |mut h, x| {
        let z = a * x + b;
        let v = [*x, 1.0];
        for i in 0..2 {
            for j in 0..2 {
                h[i][j] += 6.0 * z * v[i] * v[j];
            }
        }
        h
    });
    for i in 0..2 {
        for j in 0..2 {
            assert_relative_eq!(h[i][j], want[i][j], max_relative = 1e-13);
        }
    }
}

/// A `wrt` array the body changes in place: its tangent (and vector) parameters are `mut`.
#[grad(wrt = w, hessian, mode = forward)]
fn in_place(mut w: [f64; 3], k: f64) -> f64 {
    w[1] *= k;
    w[0] * w[1] * w[2]
}

/// A method, in `f32`, with an array and data from `self`.
struct Cubes {
    xs: Vec<[f32; 2]>,
}

impl Cubes {
    #[grad(wrt = w, b, hessian, mode = forward)]
    fn loss(&self, w: [f32; 2], b: f32) -> f32 {
        let mut s = 0.0;
        for x in self.xs.iter() {
            let z = w[0] * x[0] + w[1] * x[1] + b;
            s += z * z * z;
        }
        s
    }
}

#[test]
fn arrays_changed_in_place_and_methods() {
    // k·w0·w1·w2.
    assert_eq!(
        in_place_hessian([1.0, 2.0, 3.0], 2.0),
        [[0.0, 6.0, 4.0], [6.0, 0.0, 2.0], [4.0, 2.0, 0.0]]
    );
    assert_eq!(in_place_grad([1.0, 2.0, 3.0], 2.0), [12.0, 6.0, 4.0]);
    assert_eq!(in_place_jvp([1.0, 2.0, 3.0], 2.0, [0.0, 1.0, 0.0]).1, 6.0);
    // Σ 6z·[x, 1]ᵀ[x, 1].
    let m = Cubes {
        xs: vec![[1.0, 2.0], [0.5, -1.0]],
    };
    let (w, b) = ([0.1, 0.2], 0.3);
    let h = m.loss_hessian(w, b);
    let mut want = [[0.0f32; 3]; 3];
    for x in &m.xs {
        let z = w[0] * x[0] + w[1] * x[1] + b;
        let v = [x[0], x[1], 1.0];
        for i in 0..3 {
            for j in 0..3 {
                want[i][j] += 6.0 * z * v[i] * v[j];
            }
        }
    }
    for i in 0..3 {
        for j in 0..3 {
            assert_relative_eq!(h[i][j], want[i][j], max_relative = 1e-5);
        }
    }
    let (hw, hb) = m.loss_hvp(w, b, [0.0, 0.0], 1.0);
    assert_eq!([hw[0], hw[1], hb], h[2]);
}

#[test]
fn the_value_comes_with_the_jacobian_from_the_same_passes() {
    // Forward, all directions in one pass (2 ≤ 2), a tuple.
    let (v, j) = polar_value_and_jacobian(2.0, 0.5);
    assert_eq!(v, polar(2.0, 0.5));
    assert_eq!(j, polar_jacobian(2.0, 0.5));
    // Reverse (3 parameters, 2 values) and forward, an array.
    let xs = [0.5, -1.0, 2.0];
    let (v, j) = two_value_and_jacobian(0.3, 0.1, 1.5, &xs);
    assert_eq!(v, two(0.3, 0.1, 1.5, &xs));
    assert_eq!(j, two_jacobian(0.3, 0.1, 1.5, &xs));
    let (v, j) = two_forward_value_and_jacobian(0.3, 0.1, 1.5, &xs);
    assert_eq!(v, two_forward(0.3, 0.1, 1.5, &xs));
    assert_eq!(j, two_forward_jacobian(0.3, 0.1, 1.5, &xs));
    // Arrays: reverse by shape (6 elements, 2 values), forward one pass per element.
    let (w, x) = ([[0.3, -0.7], [1.1, 0.4]], [0.9, -0.2]);
    let (v, j) = affine_value_and_jacobian(w, x);
    assert_eq!((v, j), (affine(w, x), affine_jacobian(w, x)));
    let (v, j) = affine_f_value_and_jacobian(w, x);
    assert_eq!((v, j), (affine_f(w, x), affine_f_jacobian(w, x)));
}

// ---------------------------------------------------------------------------------------------
// Loops whose reverse sweep reads back stored values: the tangents are stored with them
// ---------------------------------------------------------------------------------------------

#[grad(wrt = w, u, hessian)]
fn rnn_h(w: f64, u: f64, xs: &[f64]) -> f64 {
    let mut h = 0.0;
    for &x in xs {
        h = (w * h + u * x).tanh();
    }
    h * h
}

/// A `while` loop (its trip count is kept too) and a `loop` with `break`.
macro_rules! iterations {
    ($name:ident, $($opt:tt)*) => {
        #[grad(wrt = a, b, $($opt)*)]
        fn $name(a: f64, b: f64, n: usize) -> f64 {
            let mut x = 1.0;
            let mut i = 0;
            while i < n {
                x = (a * x + b).cos() + 0.1 * x * x;
                i += 1;
            }
            let mut y = x * x + 1.0;
            loop {
                y = y * 1.5 + a * b * b;
                if y > 10.0 {
                    break;
                }
            }
            x * y
        }
    };
}
iterations!(iterate, mode = reverse);
iterations!(iterate_h, hessian);

#[test]
fn hessians_of_loops_with_carried_state() {
    for (w, u) in [(0.7, 0.4), (-1.3, 0.9)] {
        let h = rnn_h_hessian(w, u, &XS);
        let fd = fd_hessian(
            |p| {
                let (a, b) = rnn_grad(p[0], p[1], &XS);
                vec![a, b]
            },
            &[w, u],
        );
        assert_hessian(&h.map(|r| r.to_vec()), &fd);
        let hv = rnn_h_hvp(w, u, &XS, 1.0, -2.0);
        assert_relative_eq!(hv.0, h[0][0] - 2.0 * h[0][1], max_relative = 1e-12);
        assert_relative_eq!(hv.1, h[1][0] - 2.0 * h[1][1], max_relative = 1e-12);
    }
    for (a, b, n) in [(0.6, 0.3, 5), (1.1, -0.4, 12)] {
        let h = iterate_h_hessian(a, b, n);
        let fd = fd_hessian(
            |p| {
                let (da, db) = iterate_grad(p[0], p[1], n);
                vec![da, db]
            },
            &[a, b],
        );
        assert_hessian(&h.map(|r| r.to_vec()), &fd);
    }
}

// ---------------------------------------------------------------------------------------------
// What forward mode takes that reverse mode does not
// ---------------------------------------------------------------------------------------------

/// An array written after a loop has read it (an array-valued recurrence): the reverse sweep
/// would recompute the loop from the array's final contents, so reverse mode refuses it;
/// `mode = forward` has no sweep.
#[grad(wrt = w, x, mode = forward)]
fn vector_recurrence(w: [f64; 3], x: f64) -> f64 {
    let mut z = [1.0; 3];
    for i in 0..7 {
        z[i % 3] = (z[i % 3] * w[i % 3] + x).tanh() + z[(i + 1) % 3];
    }
    z[0] * z[1] * z[2]
}

const M3: usize = 3;

/// A constant length in the return type: the length of the array the body ends with.
#[grad(wrt = a, b)]
fn constant_length(a: f64, b: f64) -> [f64; M3] {
    [a * b, a.sin(), b * b]
}

#[test]
fn forward_mode_takes_array_recurrences_and_constant_lengths() {
    let (w, x) = ([0.5, 1.5, -0.5], 0.3);
    let (v, (gw, gx)) = vector_recurrence_value_and_grad(w, x);
    assert_eq!(v, vector_recurrence(w, x));
    let flat = |p: &[f64]| vector_recurrence([p[0], p[1], p[2]], p[3]);
    let fd = fd_jacobian(|p| vec![flat(p)], &[w[0], w[1], w[2], x]);
    assert_jacobian(&[vec![gw[0], gw[1], gw[2], gx]], &fd);
    let (_, d) = vector_recurrence_jvp(w, x, [1.0, -1.0, 0.5], 2.0);
    assert_relative_eq!(
        d,
        gw[0] - gw[1] + 0.5 * gw[2] + 2.0 * gx,
        max_relative = 1e-12
    );
    assert_eq!(
        constant_length_jacobian(2.0, 3.0),
        [[3.0, 2.0], [2.0f64.cos(), 0.0], [0.0, 6.0]]
    );
}

/// A product over a differentiated array's elements: the reverse sweep binds each element's
/// position itself (`enumerate_rev`), and the tangents are read there (they were read at the
/// sweep's own count, reversed, until the compiled second-order batch found it).
#[grad(wrt = w, hessian)]
fn product_of(w: [f64; 3]) -> f64 {
    let mut p = 1.0;
    for &c in w.iter() {
        p *= c;
    }
    p
}

/// A loop that keeps values, run only on one path (its storage leaves an `if`).
#[grad(wrt = w, hessian)]
fn after_return(w: f64, flag: bool) -> f64 {
    if flag {
        return w;
    }
    let mut v = w;
    for _ in 0..3 {
        v = v.sin();
    }
    v * w
}

#[grad(wrt = w)]
fn after_return_r(w: f64, flag: bool) -> f64 {
    if flag {
        return w;
    }
    let mut v = w;
    for _ in 0..3 {
        v = v.sin();
    }
    v * w
}

#[grad(wrt = w, hessian)]
fn loop_in_while(w: f64, k: usize) -> f64 {
    let mut v = w;
    let mut t = 0;
    while t < 2 {
        t += 1;
        if k > t {
            continue;
        }
        for _ in 0..2 {
            v = (v * w).sin();
        }
    }
    v
}

#[grad(wrt = w)]
fn loop_in_while_r(w: f64, k: usize) -> f64 {
    let mut v = w;
    let mut t = 0;
    while t < 2 {
        t += 1;
        if k > t {
            continue;
        }
        for _ in 0..2 {
            v = (v * w).sin();
        }
    }
    v
}

#[test]
fn products_over_elements_and_loops_on_one_path() {
    assert_eq!(
        product_of_hessian([2.0, 3.0, 5.0]),
        [[0.0, 5.0, 3.0], [5.0, 0.0, 2.0], [3.0, 2.0, 0.0]]
    );
    assert_eq!(
        product_of_hvp([2.0, 3.0, 5.0], [0.0, 0.0, 1.0]),
        [3.0, 2.0, 0.0]
    );
    for flag in [false, true] {
        let h = after_return_hessian(0.7, flag);
        let fd = fd_hessian(|p| vec![after_return_r_grad(p[0], flag)], &[0.7]);
        assert_hessian(&h.map(|r| r.to_vec()), &fd);
    }
    for k in [0, 1, 3] {
        let h = loop_in_while_hessian(0.7, k);
        let fd = fd_hessian(|p| vec![loop_in_while_r_grad(p[0], k)], &[0.7]);
        assert_hessian(&h.map(|r| r.to_vec()), &fd);
    }
}

/// Lifetimes in the signature reach every companion.
#[grad(wrt = w, b, hessian, mode = forward)]
#[allow(clippy::needless_lifetimes)] // written out on purpose
fn with_lifetime<'a>(w: [f64; 2], b: f64, xs: &'a [f64]) -> f64 {
    let t = w[0] * xs[0] + w[1] * b;
    t * t
}

#[grad(wrt = a, b, hessian, trace)]
#[allow(clippy::needless_lifetimes)] // written out on purpose
fn traced_with_lifetime<'a>(a: f64, b: f64, xs: &'a [f64]) -> f64 {
    a * b * xs[0]
}

#[grad(wrt = a, b)]
#[allow(clippy::needless_lifetimes)] // written out on purpose
fn jacobian_with_lifetime<'a>(a: f64, b: f64, xs: &'a [f64]) -> (f64, f64) {
    (a * xs[0], b * a)
}

#[test]
fn lifetimes_in_second_order_companions() {
    let xs = [3.0];
    // t = 3·w0 + b·w1 at w = (0.1, 0.2), b = 0.5: t = 0.4; ∂²(t²) = 2·∇t∇tᵀ + 2t·∇²t.
    let h = with_lifetime_hessian([0.1, 0.2], 0.5, &xs);
    assert_relative_eq!(h[0][0], 18.0, max_relative = 1e-14);
    assert_relative_eq!(h[1][2], 2.0 * 0.5 * 0.2 + 2.0 * 0.4, max_relative = 1e-14);
    assert_eq!(
        traced_with_lifetime_hessian(1.0, 2.0, &xs),
        [[0.0, 3.0], [3.0, 0.0]]
    );
    assert_eq!(traced_with_lifetime_trace(1.0, 2.0, &xs).value(), 6.0);
    assert_eq!(
        jacobian_with_lifetime_jacobian(1.0, 2.0, &xs),
        [[3.0, 0.0], [2.0, 1.0]]
    );
}

// ---------------------------------------------------------------------------------------------
// Slices and `Vec`s in `wrt`: lengths known at run time, results as `Vec`s
// ---------------------------------------------------------------------------------------------

/// `Σ sin(xᵢ t) xᵢ`.
#[grad(wrt = xs, t, mode = forward, hessian)]
fn slice_and_scalar(xs: &[f64], t: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..xs.len() {
        s += (xs[i] * t).sin() * xs[i];
    }
    s
}

/// `Σ vᵢ³`, the `Vec` by value.
#[grad(wrt = v, hessian)]
fn cubes(v: Vec<f64>) -> f64 {
    v.iter().map(|a| a * a * a).sum()
}

/// `(k Σ vᵢ, Π vᵢ)`: reverse mode, one sweep per value.
#[grad(wrt = v)]
fn sum_and_product(v: &[f64], k: f64) -> [f64; 2] {
    let mut s = 0.0;
    let mut q = 1.0;
    for i in 0..v.len() {
        s += v[i] * k;
        q *= v[i];
    }
    [s, q]
}

/// Forward mode: one pass per element of the `Vec`.
#[grad(wrt = v, mode = forward)]
fn pair_of(v: &Vec<f64>) -> (f64, f64) {
    (v[0] * v[1], v[1].exp())
}

#[test]
fn slices_and_vecs_in_forward_mode_hessians_and_jacobians() {
    let (xs, t) = ([1.0, 2.0, 3.0], 0.5);
    // Forward mode: ∂/∂xᵢ = sin(xᵢ t) + xᵢ t cos(xᵢ t), ∂/∂t = Σ xᵢ² cos(xᵢ t).
    let (gx, gt) = slice_and_scalar_grad(&xs, t);
    assert_eq!(gx.len(), 3);
    for i in 0..3 {
        let x: f64 = xs[i];
        assert_relative_eq!(
            gx[i],
            (x * t).sin() + x * t * (x * t).cos(),
            max_relative = 1e-14
        );
    }
    let want_t: f64 = xs.iter().map(|x| x * x * (x * t).cos()).sum();
    assert_relative_eq!(gt, want_t, max_relative = 1e-14);
    // The Hessian over (x₀, x₁, x₂, t): diagonal in x, ∂²/∂xᵢ² = 2t cos − x t² sin,
    // ∂²/∂xᵢ∂t = 2x cos − x² t sin, ∂²/∂t² = −Σ x³ sin.
    let h = slice_and_scalar_hessian(&xs, t);
    assert_eq!((h.len(), h[0].len()), (4, 4));
    for i in 0..3 {
        let x: f64 = xs[i];
        let (s, c) = (x * t).sin_cos();
        assert_relative_eq!(h[i][i], 2.0 * t * c - x * t * t * s, max_relative = 1e-13);
        assert_relative_eq!(h[i][3], 2.0 * x * c - x * x * t * s, max_relative = 1e-13);
        assert_eq!(h[i][3], h[3][i]);
        for j in 0..3 {
            if j != i {
                assert_eq!(h[i][j], 0.0);
            }
        }
    }
    let want: f64 = -xs.iter().map(|x| x * x * x * (x * t).sin()).sum::<f64>();
    assert_relative_eq!(h[3][3], want, max_relative = 1e-13);
    // `_hvp` and `_jvp` take a direction of each parameter's type (a slice, a float).
    let (hx, ht) = slice_and_scalar_hvp(&xs, t, &[1.0, 0.0, -1.0], 2.0);
    let v = [1.0, 0.0, -1.0, 2.0];
    for (i, got) in hx.iter().chain([&ht]).enumerate() {
        let want: f64 = (0..4).map(|j| h[i][j] * v[j]).sum();
        assert_relative_eq!(*got, want, max_relative = 1e-13);
    }
    let (_, d) = slice_and_scalar_jvp(&xs, t, &[1.0, 0.0, -1.0], 2.0);
    assert_relative_eq!(d, gx[0] - gx[2] + 2.0 * gt, max_relative = 1e-13);
    // A `Vec` by value: the Hessian of Σ v³ is diag(6v).
    assert_eq!(
        cubes_hessian(vec![1.0, 2.0]),
        vec![vec![6.0, 0.0], vec![0.0, 12.0]]
    );
    assert_eq!(cubes_hvp(vec![1.0, 2.0], vec![1.0, 1.0]), vec![6.0, 12.0]);
    // Jacobians: rows of the run-time length, in reverse and in forward mode.
    let j = sum_and_product_jacobian(&[1.0, 2.0, 3.0], 2.0);
    assert_eq!(j, vec![vec![2.0; 3], vec![6.0, 3.0, 2.0]]);
    let (value, j) = pair_of_value_and_jacobian(&vec![1.0, 2.0]);
    let e2 = 2.0f64.exp();
    assert_eq!(value, (2.0, e2));
    assert_eq!(j, vec![vec![2.0, 1.0], vec![0.0, e2]]);
    // An empty slice: no parameters, no rows' entries, but the value.
    assert_eq!(
        sum_and_product_value_and_jacobian(&[], 2.0),
        ([0.0, 1.0], vec![vec![], vec![]])
    );
    assert_eq!(slice_and_scalar_hessian(&[], t), vec![vec![0.0]]);
}

#[test]
#[should_panic(
    expected = "a direction has the shape of its parameter: `xs` has 3 parameters, its direction 2"
)]
fn a_direction_of_another_length_is_refused() {
    let _ = slice_and_scalar_jvp(&[1.0, 2.0, 3.0], 0.5, &[1.0, 0.0], 1.0);
}

/// A caller of `sum_and_product` (a slice in `wrt`, an array returned): its pullback's block
/// for the slice is `[Vec<f64>; 2]`.
#[grad(wrt = v)]
fn through_sum_and_product(v: &[f64], k: f64) -> f64 {
    let y = sum_and_product(v, k);
    y[0] * y[1]
}

#[grad(wrt = v, mode = forward)]
fn through_sum_and_product_forward(v: &[f64], k: f64) -> f64 {
    let y = sum_and_product(v, k);
    y[0] * y[1]
}

#[test]
fn a_slice_passes_through_a_function_returning_an_array() {
    // f = k Σv · Π v: ∂/∂vᵢ = k Π v + k Σv Π v / vᵢ.
    let v = [1.0, 2.0, 3.0];
    let (s, p, k) = (6.0, 6.0, 0.5);
    let want: Vec<f64> = v.iter().map(|x| k * p + k * s * p / x).collect();
    assert_eq!(through_sum_and_product_grad(&v, k), want);
    assert_eq!(through_sum_and_product_forward_grad(&v, k), want);
}

// ---------------------------------------------------------------------------------------------
// Second order through calls (issue 20): `#[grad]` helpers that ask for `hessian`, in a loop
// and from another module, and a `#[backprop::rule]` whose partials the macro differentiates
// ---------------------------------------------------------------------------------------------

#[grad(hessian)]
fn sq(x: f64) -> f64 {
    x * x
}

mod parts {
    use backprop::grad;

    /// `sin(a b) + aᵏ`, differentiated in `a` and `b`, with a data parameter.
    #[grad(wrt = a, b, hessian)]
    pub fn inner(a: f64, b: f64, k: i32) -> f64 {
        (a * b).sin() + a.powi(k)
    }
}

/// Calls in a loop and through a module path.
#[grad(wrt = x, y, hessian)]
fn composed(x: f64, y: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        let u = sq(x + i as f64 * y);
        s += parts::inner(u, x, 2) * y;
    }
    s
}

/// `composed` written inline.
fn composed_inline(x: f64, y: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        let u = (x + i as f64 * y) * (x + i as f64 * y);
        s += ((u * x).sin() + u.powi(2)) * y;
    }
    s
}

/// erf by its series: a function the macro does not differentiate, under a rule whose partial
/// it does.
#[backprop::rule(x = 2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp())]
fn erf(x: f64) -> f64 {
    let mut sum = 0.0;
    let mut term = x;
    let mut n = 0.0;
    while term.abs() > 1e-17 {
        sum += term / (2.0 * n + 1.0);
        n += 1.0;
        term *= -x * x / n;
    }
    2.0 / std::f64::consts::PI.sqrt() * sum
}

/// A European call (Black–Scholes) through the normal CDF, `Φ(d) = (1 + erf(d/√2))/2`.
#[grad(wrt = s, sigma, hessian)]
fn call_price(s: f64, k: f64, r: f64, sigma: f64, t: f64) -> f64 {
    let d1 = ((s / k).ln() + (r + 0.5 * sigma * sigma) * t) / (sigma * t.sqrt());
    let d2 = d1 - sigma * t.sqrt();
    let n1 = 0.5 * (1.0 + erf(d1 / std::f64::consts::SQRT_2));
    let n2 = 0.5 * (1.0 + erf(d2 / std::f64::consts::SQRT_2));
    s * n1 - k * (-r * t).exp() * n2
}

#[test]
fn hessians_go_through_grad_helpers() {
    let (x, y) = (0.3, 0.7);
    let h = composed_hessian(x, y);
    let e = 1e-4;
    for i in 0..2 {
        for j in 0..2 {
            let f = |di: f64, dj: f64| {
                let mut v = [x, y];
                v[i] += di;
                v[j] += dj;
                composed_inline(v[0], v[1])
            };
            let fd = (f(e, e) - f(e, -e) - f(-e, e) + f(-e, -e)) / (4.0 * e * e);
            assert_relative_eq!(h[i][j], fd, max_relative = 1e-6);
        }
    }
    assert_eq!(h[0][1], h[1][0]);
    // `_hvp` agrees with the Hessian, and the gradient with the inline function's.
    let (hx, hy) = composed_hvp(x, y, 1.0, 0.5);
    assert_relative_eq!(hx, h[0][0] + 0.5 * h[0][1], max_relative = 1e-13);
    assert_relative_eq!(hy, h[1][0] + 0.5 * h[1][1], max_relative = 1e-13);
    assert_eq!(composed(x, y), composed_inline(x, y));
    // The helpers' own Hessians.
    assert_eq!(
        parts::inner_hessian(0.5, 2.0, 3)[0][1],
        (1.0f64).cos() - (1.0f64).sin()
    );
}

#[test]
fn black_scholes_gamma_and_vanna_through_an_erf_rule() {
    let (s, k, r, sigma, t) = (100.0, 95.0, 0.03, 0.2, 0.75);
    let h = call_price_hessian(s, k, r, sigma, t);
    let d1 = ((s / k).ln() + (r + 0.5 * sigma * sigma) * t) / (sigma * t.sqrt());
    let d2 = d1 - sigma * t.sqrt();
    let phi = (-d1 * d1 / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    // Gamma ∂²V/∂S² = φ(d₁)/(S σ √T); vanna ∂²V/∂S∂σ = −φ(d₁) d₂/σ; volga ∂²V/∂σ² =
    // S φ(d₁) √T d₁ d₂/σ.
    assert_relative_eq!(h[0][0], phi / (s * sigma * t.sqrt()), max_relative = 1e-12);
    assert_relative_eq!(h[0][1], -phi * d2 / sigma, max_relative = 1e-12);
    assert_relative_eq!(
        h[1][1],
        s * phi * t.sqrt() * d1 * d2 / sigma,
        max_relative = 1e-11
    );
}

/// A rule's argument that has no tangent (a literal) beside one that has.
#[backprop::rule(a = b * (a * b).cos(), b = a * (a * b).cos())]
fn wave2(a: f64, b: f64) -> f64 {
    (a * b).sin()
}

#[grad(wrt = x, hessian)]
fn through_wave2(x: f64) -> f64 {
    wave2(x, 2.0) * x
}

#[test]
fn a_rule_with_an_argument_without_tangent() {
    // f = x sin(2x): f'' = 4 cos(2x) − 4x sin(2x).
    let x: f64 = 0.4;
    let h = through_wave2_hessian(x);
    assert_relative_eq!(
        h[0][0],
        4.0 * (2.0 * x).cos() - 4.0 * x * (2.0 * x).sin(),
        max_relative = 1e-14
    );
}

/// A model whose energy is a method of its own: second derivatives go through calls of
/// methods that ask for `hessian`, `self` data.
struct Spring {
    k: f64,
    rest: f64,
}

impl Spring {
    #[grad(wrt = x, y, hessian)]
    fn energy(&self, x: f64, y: f64) -> f64 {
        let d = (x * x + y * y).sqrt() - self.rest;
        0.5 * self.k * d * d
    }

    #[grad(wrt = a, b, hessian)]
    fn total(&self, a: f64, b: f64) -> f64 {
        let mut e = 0.0;
        for i in 0..3 {
            let t = i as f64;
            e += self.energy(a - t, b * t);
        }
        e + Self::energy(self, a, b)
    }
}

#[test]
fn hessians_go_through_methods() {
    let s = Spring { k: 3.0, rest: 0.5 };
    let f = |a: f64, b: f64| {
        let en = |x: f64, y: f64| {
            let d = (x * x + y * y).sqrt() - 0.5;
            1.5 * d * d
        };
        (0..3).map(|i| en(a - i as f64, b * i as f64)).sum::<f64>() + en(a, b)
    };
    let (a, b) = (0.7, -0.4);
    let h = s.total_hessian(a, b);
    let e = 1e-4;
    let hab =
        (f(a + e, b + e) - f(a + e, b - e) - f(a - e, b + e) + f(a - e, b - e)) / (4.0 * e * e);
    let hbb = (f(a, b + e) - 2.0 * f(a, b) + f(a, b - e)) / (e * e);
    assert_relative_eq!(h[0][1], hab, max_relative = 1e-6);
    assert_relative_eq!(h[1][1], hbb, max_relative = 1e-6);
    assert_eq!(h[0][1], h[1][0]);
    let hv = s.total_hvp(a, b, 1.0, 0.0);
    assert_relative_eq!(hv.1, h[1][0], max_relative = 1e-14);
}

/// A helper taking an array (by value) and a float.
#[grad(wrt = w, x, hessian)]
fn array_energy(w: [f64; 3], x: f64) -> f64 {
    (w[0] * x).sin() + w[1] * w[2] * x * x + w[0] * w[2]
}

/// A helper taking an array by reference.
#[grad(wrt = w, k, hessian)]
fn array_by_ref(w: &[f64; 2], k: f64) -> f64 {
    w[0].exp() * w[1] * k
}

/// Arrays built from differentiated values and passed whole, in a loop too.
#[grad(wrt = a, b, c, hessian)]
fn through_array_calls(a: f64, b: f64, c: f64) -> f64 {
    let z = [a, b * c, c];
    let mut s = array_energy(z, a * b);
    for i in 0..3 {
        let t = i as f64;
        s += array_by_ref(&[a * t, b], c) + array_energy([c, a, b], t);
    }
    s
}

/// A slice's elements passed to a helper taking an array.
#[grad(wrt = v, hessian)]
fn slice_through_an_array_call(v: &[f64]) -> f64 {
    array_by_ref(&[v[0], v[1]], 2.0) + array_energy([v[1], v[0], v[1]], v[0])
}

#[test]
fn hessians_go_through_calls_of_functions_of_arrays() {
    let f = |p: [f64; 3]| {
        let (a, b, c) = (p[0], p[1], p[2]);
        let e = |w: [f64; 3], x: f64| (w[0] * x).sin() + w[1] * w[2] * x * x + w[0] * w[2];
        let r = |w: [f64; 2], k: f64| w[0].exp() * w[1] * k;
        let mut s = e([a, b * c, c], a * b);
        for i in 0..3 {
            let t = i as f64;
            s += r([a * t, b], c) + e([c, a, b], t);
        }
        s
    };
    let p = [0.3, -0.7, 1.1];
    let h = through_array_calls_hessian(p[0], p[1], p[2]);
    assert_second_differences(f, p, h);
    // `_hvp` (through `pullback_jvp`) agrees with `_hessian` (through `pullback_hessian`).
    let hv = through_array_calls_hvp(p[0], p[1], p[2], 1.0, 0.5, -2.0);
    let want: Vec<f64> = (0..3)
        .map(|i| h[i][0] + 0.5 * h[i][1] - 2.0 * h[i][2])
        .collect();
    assert_relative_eq!(hv.0, want[0], max_relative = 1e-13);
    assert_relative_eq!(hv.1, want[1], max_relative = 1e-13);
    assert_relative_eq!(hv.2, want[2], max_relative = 1e-13);
    // 2·e^v0·v1 + (v1·v0).sin() + v0·v1·v0² + v1²: by hand at (0.3, 0.5).
    let (v0, v1) = (0.3_f64, 0.5_f64);
    let hs = slice_through_an_array_call_hessian(&[v0, v1]);
    let h00 = 2.0 * v0.exp() * v1 - v1 * v1 * (v1 * v0).sin() + 6.0 * v1 * v0;
    let h01 = 2.0 * v0.exp() + (v1 * v0).cos() - v1 * v0 * (v1 * v0).sin() + 3.0 * v0 * v0;
    assert_relative_eq!(hs[0][0], h00, max_relative = 1e-13);
    assert_relative_eq!(hs[0][1], h01, max_relative = 1e-13);
}

/// What the generator found (seed 3): a call taking an array inside a branch, whose partial
/// (an array) the reverse sweep computes again in its own arm of the branch; the tangent of
/// the call was the forward arm's, out of scope there.
#[grad(wrt = w, hessian)]
fn array_call_in_a_branch(w: [f64; 3], k: i32) -> f64 {
    let mut v = array_energy(w, 0.5);
    if k < 2 {
        v *= array_energy(w, w[1]) * w[0];
    } else {
        v += w[2];
    }
    v * w[1]
}

#[test]
fn an_array_call_in_a_branch() {
    let f = |w: [f64; 3]| {
        let e = |w: [f64; 3], x: f64| (w[0] * x).sin() + w[1] * w[2] * x * x + w[0] * w[2];
        e(w, 0.5) * e(w, w[1]) * w[0] * w[1]
    };
    let w = [0.4, -0.3, 0.9];
    assert_second_differences(f, w, array_call_in_a_branch_hessian(w, 1));
}

/// `h` is the Hessian of `f` at `p`, against central second differences.
fn assert_second_differences<const N: usize>(
    f: impl Fn([f64; N]) -> f64,
    p: [f64; N],
    h: [[f64; N]; N],
) {
    let e = 1e-4;
    for i in 0..N {
        for j in 0..N {
            let at = |di: f64, dj: f64| {
                let mut q = p;
                q[i] += di;
                q[j] += dj;
                f(q)
            };
            let fd = (at(e, e) - at(e, -e) - at(-e, e) + at(-e, -e)) / (4.0 * e * e);
            assert_relative_eq!(h[i][j], fd, max_relative = 1e-5, epsilon = 1e-6);
        }
    }
}

// Second order through calls of functions returning arrays (Jacobian blocks): RK4 on
// Lotka–Volterra, its right-hand side a `#[grad(hessian)]` helper returning `[f64; 2]`.

#[grad(wrt = s, k, hessian)]
fn lv_rhs(s: [f64; 2], k: &[f64; 4]) -> [f64; 2] {
    [
        k[0] * s[0] - k[1] * s[0] * s[1],
        k[2] * s[0] * s[1] - k[3] * s[1],
    ]
}

#[grad(wrt = k, hessian)]
fn lv_rk4(k: [f64; 4], s0: [f64; 2]) -> f64 {
    let h = 0.05;
    let mut s = s0;
    for _ in 0..12 {
        let k1 = lv_rhs(s, &k);
        let k2 = lv_rhs([s[0] + 0.5 * h * k1[0], s[1] + 0.5 * h * k1[1]], &k);
        let k3 = lv_rhs([s[0] + 0.5 * h * k2[0], s[1] + 0.5 * h * k2[1]], &k);
        let k4 = lv_rhs([s[0] + h * k3[0], s[1] + h * k3[1]], &k);
        s = [
            s[0] + h / 6.0 * (k1[0] + 2.0 * k2[0] + 2.0 * k3[0] + k4[0]),
            s[1] + h / 6.0 * (k1[1] + 2.0 * k2[1] + 2.0 * k3[1] + k4[1]),
        ];
    }
    (s[0] - 1.2).powi(2) + (s[1] - 0.4).powi(2)
}

#[test]
fn hessians_go_through_calls_returning_arrays() {
    let (k, s0) = ([1.0, 0.5, 0.3, 0.8], [1.0, 0.7]);
    let h = lv_rk4_hessian(k, s0);
    assert_second_differences(|k| lv_rk4(k, s0), k, h);
    // Exactly symmetric, and `_hvp` agrees with the matrix.
    for i in 0..4 {
        for j in 0..4 {
            assert_eq!(h[i][j], h[j][i]);
        }
    }
    let v = [0.5, -1.0, 0.25, 2.0];
    let hv = lv_rk4_hvp(k, s0, v);
    for i in 0..4 {
        let expected: f64 = (0..4).map(|j| h[i][j] * v[j]).sum();
        assert_relative_eq!(hv[i], expected, max_relative = 1e-12);
    }
}

// A float argument (its block a row of floats), an argument changed in place in the helper,
// and a helper returning an array that calls another: against closed forms.
#[grad(hessian)]
fn shifted(mut s: [f64; 2], k: f64) -> [f64; 2] {
    s[0] *= k;
    s[1] += s[0] * s[0];
    [s[0] * s[1], s[1] - k]
}

#[grad(hessian)]
fn twice_shifted(s: [f64; 2], k: f64) -> [f64; 2] {
    let t = shifted(s, k);
    [t[0] + t[1], t[0] * k]
}

#[grad(wrt = a, b, c, hessian)]
fn through_nested_blocks(a: f64, b: f64, c: f64) -> f64 {
    let r: [f64; 2] = twice_shifted([a, b], c);
    r[0] * r[1]
}

#[test]
fn hessians_go_through_nested_calls_returning_arrays() {
    // The same function written inline, differentiated by the macro directly.
    #[grad(wrt = a, b, c, hessian)]
    fn inline(a: f64, b: f64, c: f64) -> f64 {
        let s0 = a * c;
        let s1 = b + s0 * s0;
        let (t0, t1) = (s0 * s1, s1 - c);
        (t0 + t1) * (t0 * c)
    }
    let p = [0.7, -0.4, 1.3];
    let h = through_nested_blocks_hessian(p[0], p[1], p[2]);
    let expected = inline_hessian(p[0], p[1], p[2]);
    for i in 0..3 {
        for j in 0..3 {
            assert_relative_eq!(
                h[i][j],
                expected[i][j],
                max_relative = 1e-12,
                epsilon = 1e-12
            );
        }
    }
    assert_second_differences(|q| through_nested_blocks(q[0], q[1], q[2]), p, h);
}

// Calls in the arms of a branch that read an array the function writes: the pullback's
// results are carried out of the arm for the reversed arm, and their tangents with them (the
// sixteenth generator batch found the refusal this replaced).
#[grad(hessian)]
fn arm_step(w: f64, s: [f64; 2]) -> [f64; 2] {
    [w * s[0], s[1] * s[0]]
}

#[grad(hessian)]
fn arm_energy(s: &[f64; 2], w: f64) -> f64 {
    s[0] * s[1] * w
}

#[grad(wrt = w, u, hessian)]
fn calls_in_arms(w: f64, u: f64, k: i32) -> f64 {
    let z: [f64; 2] = arm_step(w, [w, u]);
    let mut z2 = z;
    let mut acc = 0.0;
    if k > 1 {
        z2 = arm_step(u * w, z2);
        acc += arm_energy(&z2, w);
        z2[0] = acc * u;
    } else {
        z2 = arm_step(2.0, z2);
        acc += arm_energy(&z2, u);
        z2[1] += acc;
    }
    z2[0] * z2[1] + acc
}

#[test]
fn hessians_go_through_calls_carried_out_of_branches() {
    for k in [0, 2] {
        let h = calls_in_arms_hessian(0.7, -0.3, k);
        let e = 1e-5;
        let g = |w: f64, u: f64| {
            let g = calls_in_arms_grad(w, u, k);
            [g.0, g.1]
        };
        let (a, b) = (g(0.7 + e, -0.3), g(0.7 - e, -0.3));
        let (c, d) = (g(0.7, -0.3 + e), g(0.7, -0.3 - e));
        for i in 0..2 {
            assert_relative_eq!(h[0][i], (a[i] - b[i]) / (2.0 * e), max_relative = 1e-6);
            assert_relative_eq!(h[1][i], (c[i] - d[i]) / (2.0 * e), max_relative = 1e-6);
        }
        let hv = calls_in_arms_hvp(0.7, -0.3, k, 1.0, 0.0);
        assert_relative_eq!(hv.0, h[0][0], max_relative = 1e-13);
        assert_relative_eq!(hv.1, h[0][1], max_relative = 1e-13);
    }
}

// A `wrt` array taken by reference, passed on to helpers with `hessian` (its tangent is bound
// by reference; found by a review helper: a rustc error in generated code before).
#[grad(hessian)]
fn by_ref_block(x: &[f64; 2]) -> [f64; 2] {
    [x[0] * x[1], x[0]]
}

#[grad(hessian)]
fn by_ref_float(x: &[f64; 2]) -> f64 {
    x[0] * x[1] * x[1]
}

#[grad(wrt = x, hessian)]
fn passes_its_reference_on(x: &[f64; 2]) -> f64 {
    let h: [f64; 2] = by_ref_block(x);
    h[0] * h[1] + by_ref_float(x)
}

#[test]
fn a_reference_parameter_passed_on_to_helpers() {
    // f = x0²·x1 + x0·x1²: H = [[2·x1, 2·x0 + 2·x1], [2·x0 + 2·x1, 2·x0]].
    let (a, b) = (0.7, 1.3);
    let h = passes_its_reference_on_hessian(&[a, b]);
    let want = [[2.0 * b, 2.0 * a + 2.0 * b], [2.0 * a + 2.0 * b, 2.0 * a]];
    for i in 0..2 {
        for j in 0..2 {
            assert_relative_eq!(h[i][j], want[i][j], max_relative = 1e-14);
        }
    }
}
