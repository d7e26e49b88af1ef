//! The worked examples of the lecture notes in `shared/seeds/` (000 to 004), each written as a
//! `#[grad]` function, with its gradient asserted against the numbers and the hand-derived
//! chain-rule formulas of the notes, and against finite differences. Where the notes slip on a
//! sign, the comment says so and the test asserts the correct value.

// The networks of the notes have one scalar parameter per weight (arrays come later).

use approx::assert_relative_eq;
use backprop::check::{check_gradient, Tolerance};
#[path = "../examples/seed_models/mod.rs"]
mod seed_models;

use seed_models::*;

/// Panics with the mismatch report unless `analytic` agrees with central differences of `f`.
fn assert_fd(f: impl Fn(&[f64]) -> f64, x: &[f64], analytic: &[f64]) {
    if let Err(e) = check_gradient(f, x, analytic, Tolerance::default()) {
        panic!("{e}");
    }
}

/// `σ(z)`, written out, for the closed forms.
fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

// ---------------------------------------------------------------------------------------------
// 000 / 001: logistic regression, one example
//   h = β0 + β1 X,  p = σ(h) = 1 / (1 + e^-h),  L = -y ln p - (1 - y) ln(1 - p)
// ---------------------------------------------------------------------------------------------

#[test]
fn logistic_regression_gradient_is_p_minus_y_times_1_x() {
    for (b0, b1, x, y) in [
        (0.3, -1.2, 2.0, 1.0),
        (0.3, -1.2, 2.0, 0.0),
        (-4.0, 1.5, 3.25, 1.0),
        (1.0, 0.5, -0.7, 0.0),
    ] {
        let (d_b0, d_b1) = logistic_loss_grad(b0, b1, x, y);
        let h = b0 + b1 * x;
        let p = logistic(h);
        // Closed form: ∂L/∂β = (p − y) · (1, X).
        assert_relative_eq!(d_b0, p - y, max_relative = 1e-12);
        assert_relative_eq!(d_b1, (p - y) * x, max_relative = 1e-12);
        // The notes' chain: ∂L/∂p · ∂p/∂h · ∂h/∂β. 001 has ∂L/∂p = −y/p + (1 − y)/(1 − p);
        // 000 prints it as −y/p − (1 − y)/(1 − p), a sign slip (and carries it into its
        // ∂L/∂β1 = −Xσ(h)(1 − σ(h))[y/p + (1 − y)/(1 − p)]); 001's sign is the right one.
        let dl_dp = -y / p + (1.0 - y) / (1.0 - p);
        let dp_dh = logistic(h) * (1.0 - logistic(h));
        assert_relative_eq!(d_b0, dl_dp * dp_dh, max_relative = 1e-10);
        assert_relative_eq!(d_b1, dl_dp * dp_dh * x, max_relative = 1e-10);
        assert_fd(
            |v| logistic_loss(v[0], v[1], x, y),
            &[b0, b1],
            &[d_b0, d_b1],
        );
        // Value and gradient together.
        let (loss, (v_b0, v_b1)) = logistic_loss_value_and_grad(b0, b1, x, y);
        assert_relative_eq!(loss, logistic_loss(b0, b1, x, y), max_relative = 1e-15);
        assert_relative_eq!(v_b0, d_b0, max_relative = 1e-15);
        assert_relative_eq!(v_b1, d_b1, max_relative = 1e-15);
    }
}

// ---------------------------------------------------------------------------------------------
// 001: the ξ table, at X = 3, y = 1, W = 3 (the y = 1 half of the loss, L^A = -y ln p)
// ---------------------------------------------------------------------------------------------

#[test]
fn xi_table_at_x3_y1_w3() {
    let (w, x, y) = (3.0, 3.0, 1.0);
    let e9 = (-9.0_f64).exp();

    // Value column: L^A = −ln(1 / (1 + e^−9)) = ln(1 + e^−9).
    let (loss, d_w) = xi_loss_value_and_grad(w, x, y);
    assert_relative_eq!(loss, -(1.0 / (1.0 + e9)).ln(), max_relative = 1e-12);
    assert_relative_eq!(loss, e9.ln_1p(), max_relative = 1e-12);

    // dL/dW = −3 e^−9 / (1 + e^−9) = −3.7018372796e−4. 001 prints −0.00037018372; one of the
    // tables of 000 prints +0.00037018372, a sign slip: raising W raises p towards y = 1, so
    // the loss falls and the derivative is negative.
    assert_relative_eq!(d_w, -3.0 * e9 / (1.0 + e9), max_relative = 1e-12);
    assert_relative_eq!(d_w, -3.701_837_279_587e-4, max_relative = 1e-12);
    // The notes' figure, truncated to 8 significant digits.
    assert_relative_eq!(d_w, -0.000_370_183_72, max_relative = 1e-7);
    assert!(d_w < 0.0);
    assert_relative_eq!(d_w, xi_loss_grad(w, x, y), max_relative = 1e-15);
    assert_fd(|v| xi_loss(v[0], x, y), &[w], &[d_w]);

    // The dξ/dW column of 001: 3e^−9 / (1 + e^−9)^2 for ξ4, 3e^−9 / (1 + e^−9) for ξ5.
    assert_relative_eq!(
        xi4_grad(w, x),
        3.0 * e9 / ((1.0 + e9) * (1.0 + e9)),
        max_relative = 1e-12
    );
    assert_relative_eq!(xi5_grad(w, x), 3.0 * e9 / (1.0 + e9), max_relative = 1e-12);
    assert_relative_eq!(xi4(w, x), 1.0 / (1.0 + e9), max_relative = 1e-15);
    assert_relative_eq!(xi5(w, x), -loss, max_relative = 1e-12);
}

// ---------------------------------------------------------------------------------------------
// 003: L2-regularised univariate logistic least squares
//   z = w x + b,  y = σ(z),  L = ½ (y − t)²,  R = ½ w²,  L_reg = L + λ R
// ---------------------------------------------------------------------------------------------

#[test]
fn l2_regularised_regression_matches_the_notes() {
    for (w, b, x, t, lambda) in [
        (0.8, -0.3, 1.5, 1.0, 0.1),
        (-1.2, 0.4, 0.7, 0.0, 0.5),
        (2.0, 1.0, -2.0, 1.0, 0.0),
    ] {
        let (d_w, d_b) = l2_regularised_grad(w, b, x, t, lambda);
        // Backward pass of the notes: ∂L_reg/∂z = (y − t) σ'(z),
        // ∂L_reg/∂w = ∂L_reg/∂z · x + λ w,  ∂L_reg/∂b = ∂L_reg/∂z.
        let z = w * x + b;
        let y = logistic(z);
        let dz = (y - t) * y * (1.0 - y);
        assert_relative_eq!(d_w, dz * x + lambda * w, max_relative = 1e-12);
        assert_relative_eq!(d_b, dz, max_relative = 1e-12);
        assert_fd(
            |v| l2_regularised(v[0], v[1], x, t, lambda),
            &[w, b],
            &[d_w, d_b],
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 003: multivariate chain rule, f(x(t), y(t)) with f = y + e^(xy), x = cos t, y = t²
// ---------------------------------------------------------------------------------------------

#[test]
fn multivariate_chain_rule() {
    for t in [0.7_f64, 1.9, -1.2] {
        let (x, y) = (t.cos(), t * t);
        let e = (x * y).exp();
        // df/dt = ∂f/∂x dx/dt + ∂f/∂y dy/dt = (y e^(xy)) (−sin t) + (1 + x e^(xy)) (2t).
        let want = (y * e) * (-t.sin()) + (1.0 + x * e) * (2.0 * t);
        let got = f_of_t_grad(t);
        assert_relative_eq!(got, want, max_relative = 1e-12);
        assert_fd(|v| f_of_t(v[0]), &[t], &[got]);
    }
}

// ---------------------------------------------------------------------------------------------
// 003: softmax (multiclass logistic) regression, K = 3 classes, 2 features
//   z_ℓ = Σ_j w_ℓj x_j + b_ℓ,  y_k = e^(z_k) / Σ_ℓ e^(z_ℓ),  L = −Σ_k t_k ln y_k
// ---------------------------------------------------------------------------------------------

#[test]
fn softmax_regression_gradient_is_y_minus_t_times_x() {
    let w = [[0.5, -0.2], [-0.3, 0.8], [0.1, 0.4]];
    let b = [0.2, -0.1, 0.05];
    let x = [1.5, -0.7];
    // A one-hot target (class 2) and a soft one: both sum to 1, which the closed form needs.
    for t in [[0.0, 1.0, 0.0], [0.2, 0.5, 0.3]] {
        let params = [
            w[0][0], w[0][1], w[1][0], w[1][1], w[2][0], w[2][1], b[0], b[1], b[2],
        ];
        let loss_at = |p: &[f64]| {
            softmax_loss(
                p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], x[0], x[1], t[0], t[1], t[2],
            )
        };
        let (g11, g12, g21, g22, g31, g32, gb1, gb2, gb3) = softmax_loss_grad(
            w[0][0], w[0][1], w[1][0], w[1][1], w[2][0], w[2][1], b[0], b[1], b[2], x[0], x[1],
            t[0], t[1], t[2],
        );
        let grad_w = [[g11, g12], [g21, g22], [g31, g32]];
        let grad_b = [gb1, gb2, gb3];

        let z: Vec<f64> = (0..3)
            .map(|k| w[k][0] * x[0] + w[k][1] * x[1] + b[k])
            .collect();
        let sum: f64 = z.iter().map(|z| z.exp()).sum();
        for k in 0..3 {
            let y_k = z[k].exp() / sum;
            // ∂L/∂w_kj = (y_k − t_k) x_j,  ∂L/∂b_k = y_k − t_k.
            for j in 0..2 {
                assert_relative_eq!(
                    grad_w[k][j],
                    (y_k - t[k]) * x[j],
                    epsilon = 1e-14,
                    max_relative = 1e-12
                );
            }
            assert_relative_eq!(grad_b[k], y_k - t[k], epsilon = 1e-14, max_relative = 1e-12);
        }
        assert_fd(
            loss_at,
            &params,
            &[g11, g12, g21, g22, g31, g32, gb1, gb2, gb3],
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 002: the fan-out network
//   h1 = z1,       z1 = w11 x1 + w21 x2
//   h2 = ½ z2²,    z2 = w12 x1 + w22 x2
//   h3 = 2 z3,     z3 = v11 h1
//   h4 = e^(z4),   z4 = v12 h1 + v22 h2
//   o  = sin(zo),  zo = u1 h3 + u2 h4
//   J  = ½ (o − t)²
// ---------------------------------------------------------------------------------------------

/// The nine gradients by the hand chain rule of the notes, in `fan_out`'s wrt order.
///
/// The notes write ∂J/∂o as (t − o) from the "Layer 3" step on, but J = ½(o − t)² gives
/// ∂J/∂o = o − t (as the notes themselves state one step earlier): another sign slip. This
/// uses o − t throughout.
fn fan_out_by_hand(weights: [f64; 9], x1: f64, x2: f64, t: f64) -> [f64; 9] {
    let [w11, w12, w21, w22, v11, v12, v22, u1, u2] = weights;
    // Forward pass.
    let z1 = w11 * x1 + w21 * x2;
    let h1 = z1;
    let z2 = w12 * x1 + w22 * x2;
    let h2 = 0.5 * z2 * z2;
    let h3 = 2.0 * (v11 * h1);
    let z4 = v12 * h1 + v22 * h2;
    let h4 = z4.exp();
    let zo = u1 * h3 + u2 * h4;
    let o = zo.sin();
    // Layer 3: ∂J/∂u1 = (o − t) cos(zo) h3, ∂J/∂u2 = (o − t) cos(zo) h4, and the
    // gradients flowing into h3 and h4.
    let dj_dzo = (o - t) * zo.cos();
    let (dj_du1, dj_du2) = (dj_dzo * h3, dj_dzo * h4);
    let (dj_dh3, dj_dh4) = (dj_dzo * u1, dj_dzo * u2);
    // Layer 2: h3 = 2 v11 h1 and h4 = e^(v12 h1 + v22 h2).
    let dj_dv11 = dj_dh3 * 2.0 * h1;
    let dj_dz4 = dj_dh4 * h4;
    let (dj_dv12, dj_dv22) = (dj_dz4 * h1, dj_dz4 * h2);
    // h1 fans out to h3 and h4: its two sub-gradients add up.
    let dj_dh1 = dj_dh3 * 2.0 * v11 + dj_dz4 * v12;
    let dj_dh2 = dj_dz4 * v22;
    // Layer 1: h1 = z1 and h2 = ½ z2², so ∂h2/∂z2 = z2.
    let dj_dz2 = dj_dh2 * z2;
    [
        dj_dh1 * x1, // w11
        dj_dz2 * x1, // w12
        dj_dh1 * x2, // w21
        dj_dz2 * x2, // w22
        dj_dv11,
        dj_dv12,
        dj_dv22,
        dj_du1,
        dj_du2,
    ]
}

/// `fan_out_grad` at `weights`, as an array in wrt order.
fn fan_out_gradient(weights: [f64; 9], x1: f64, x2: f64, t: f64) -> [f64; 9] {
    let [w11, w12, w21, w22, v11, v12, v22, u1, u2] = weights;
    let (a, b, c, d, e, f, g, h, i) =
        fan_out_grad(w11, w12, w21, w22, v11, v12, v22, u1, u2, x1, x2, t);
    [a, b, c, d, e, f, g, h, i]
}

/// `fan_out` with its weights in a slice, for finite differences.
fn fan_out_at(p: &[f64], x1: f64, x2: f64, t: f64) -> f64 {
    fan_out(
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], x1, x2, t,
    )
}

#[test]
fn fan_out_network_at_zero_weights_has_zero_gradient() {
    // The notes' cycle: all weights 0 and (x1, x2, t) = (0, 1, 0). Forward: h1 = h2 = h3 = 0,
    // h4 = e^0 = 1, zo = 0, o = sin 0 = 0 = t, so J = 0, ∂J/∂o = 0 and every gradient is 0:
    // the gradient-descent update leaves all nine weights at 0.
    let weights = [0.0; 9];
    let (x1, x2, t) = (0.0, 1.0, 0.0);
    assert_eq!(fan_out_at(&weights, x1, x2, t), 0.0);
    let (loss, grads) = {
        let [w11, w12, w21, w22, v11, v12, v22, u1, u2] = weights;
        fan_out_value_and_grad(w11, w12, w21, w22, v11, v12, v22, u1, u2, x1, x2, t)
    };
    assert_eq!(loss, 0.0);
    assert_eq!(grads, (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0));
    assert_eq!(fan_out_gradient(weights, x1, x2, t), [0.0; 9]);
}

#[test]
fn fan_out_network_matches_the_hand_chain_rule() {
    let weights = [0.3, -0.2, 0.5, 0.4, 0.7, -0.6, 0.9, 0.8, -0.5];
    for (x1, x2, t) in [(0.6, 1.0, 0.25), (0.0, 1.0, 0.0), (-1.1, 0.4, 0.9)] {
        let got = fan_out_gradient(weights, x1, x2, t);
        let want = fan_out_by_hand(weights, x1, x2, t);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                approx::relative_eq!(*g, *w, epsilon = 1e-14, max_relative = 1e-12),
                "component {i} at {:?}: got {g:e}, by hand {w:e}",
                (x1, x2, t)
            );
        }
        assert!(got.iter().any(|g| g.abs() > 1e-3), "trivial point");
        assert_fd(|p| fan_out_at(p, x1, x2, t), &weights, &got);
    }
}

// ---------------------------------------------------------------------------------------------
// 004: sigmoid perceptron, x = [−1, −2], w = [2, −3], b = −3
// ---------------------------------------------------------------------------------------------

#[test]
fn sigmoid_perceptron() {
    let (x1, x2) = (-1.0, -2.0);
    let (w1, w2, b) = (2.0, -3.0, -3.0);
    let dot = w1 * x1 + w2 * x2 + b;
    assert_eq!(dot, 1.0);

    // The notes print ddot = (1 − f) f = 0.19661193324148185. Differentiating the Python's
    // 1 / (1 + e^−dot) may round differently in the last place, hence a few ulps of slack.
    let ddot = 0.196_611_933_241_481_85;
    assert_relative_eq!(sigmoid_of_dot_grad(dot), ddot, max_relative = 1e-15);
    assert_relative_eq!(
        sigmoid_of_dot(dot),
        0.731_058_578_630_004_9,
        max_relative = 1e-15
    );

    let (out, (d_w1, d_w2, d_b, d_x1, d_x2)) = perceptron_value_and_grad(w1, w2, b, x1, x2);
    assert_relative_eq!(out, 0.731_058_578_630_004_9, max_relative = 1e-15);
    // Product node: each factor gets the other; sum node: distributes the gradient unchanged.
    assert_relative_eq!(d_w1, x1 * ddot, max_relative = 1e-15); // −0.1966…
    assert_relative_eq!(d_w2, x2 * ddot, max_relative = 1e-15); // −0.3932…
    assert_relative_eq!(d_b, ddot, max_relative = 1e-15); //        0.1966…
    assert_relative_eq!(d_x1, w1 * ddot, max_relative = 1e-15); //  0.3932…
    assert_relative_eq!(d_x2, w2 * ddot, max_relative = 1e-15); // −0.5898…
    assert_fd(
        |v| perceptron(v[0], v[1], v[2], v[3], v[4]),
        &[w1, w2, b, x1, x2],
        &[d_w1, d_w2, d_b, d_x1, d_x2],
    );
}

// ---------------------------------------------------------------------------------------------
// 004: ReLU perceptron y = relu(w x + b), at x = 2
// ---------------------------------------------------------------------------------------------

#[test]
fn relu_unit_gradients_flow_or_die() {
    let x = 2.0;
    // (b) w = b = 1: z = 3 > 0, so ∂y/∂w = x = 2 and ∂y/∂b = 1.
    assert_eq!(relu_unit(1.0, 1.0, x), 3.0);
    assert_eq!(relu_unit_grad(1.0, 1.0, x), (2.0, 1.0));
    // (c) w = b = −1: z = −3 < 0, the ReLU "kills" the gradient.
    assert_eq!(relu_unit(-1.0, -1.0, x), 0.0);
    assert_eq!(relu_unit_grad(-1.0, -1.0, x), (0.0, 0.0));
}

/// 000's loss summed over three points, each a call of the per-point loss: the trace shows each
/// point's loss as a node whose local derivatives are that point's gradient, and the
/// parameters' derivatives are their sums (fan-out), equal to `_grad`'s.
#[test]
fn the_summed_loss_table_adds_each_points_gradient() {
    let (b0, b1) = (0.3, -1.2);
    let points = [(2.0, 1.0), (3.25, 0.0), (-0.5, 1.0)];
    let [(x1, y1), (x2, y2), (x3, y3)] = points;
    let t = seed_models::summed_logistic_loss_trace(b0, b1, x1, y1, x2, y2, x3, y3);
    let calls: Vec<_> = t
        .nodes
        .iter()
        .filter(|n| n.expression.starts_with("logistic_loss("))
        .collect();
    assert_eq!(calls.len(), 3);
    for (node, &(x, y)) in calls.iter().zip(&points) {
        let (g0, g1) = seed_models::logistic_loss_grad(b0, b1, x, y);
        assert_eq!(
            node.local,
            vec![("b0".to_string(), g0), ("b1".to_string(), g1)]
        );
        assert_eq!(node.value, seed_models::logistic_loss(b0, b1, x, y));
        assert_eq!(node.derivative, Some(1.0));
    }
    let (d_b0, d_b1) = seed_models::summed_logistic_loss_grad(b0, b1, x1, y1, x2, y2, x3, y3);
    assert_eq!(t.node("b0").and_then(|n| n.derivative), Some(d_b0));
    assert_eq!(t.node("b1").and_then(|n| n.derivative), Some(d_b1));
    let (s0, s1) = points.iter().fold((0.0, 0.0), |(s0, s1), &(x, y)| {
        let p = backprop::sigmoid(b0 + b1 * x);
        (s0 + (p - y), s1 + (p - y) * x)
    });
    assert_relative_eq!(d_b0, s0, max_relative = 1e-14);
    assert_relative_eq!(d_b1, s1, max_relative = 1e-14);
}
