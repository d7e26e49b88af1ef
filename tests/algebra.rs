//! The algebra derivative code is simplified with (factors that cancel, a product distributed
//! over a sum when a term then cancels, `1 − p` of a logistic `p` as `p · e`): the gradients
//! stay those of the function, checked against closed forms and central differences, at
//! ordinary points and where the logistic saturates.

use approx::relative_eq;
use backprop::check::{check_gradient, Tolerance};
use backprop::grad;

fn assert_fd(f: impl Fn(&[f64]) -> f64, x: &[f64], analytic: &[f64]) {
    if let Err(e) = check_gradient(f, x, analytic, Tolerance::default()) {
        panic!("{e}");
    }
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        relative_eq!(got, want, epsilon = 1e-15, max_relative = 1e-13),
        "{what}: got {got:e}, closed form {want:e}"
    );
}

/// The notes' logistic regression: its gradient is generated as `p - y`, like the hand
/// derivation (the expansion is checked in `tests/expand/bce.rs`).
#[grad(wrt = b0, b1)]
fn bce(b0: f64, b1: f64, x: f64, y: f64) -> f64 {
    let p = 1.0 / (1.0 + (-(b0 + b1 * x)).exp());
    -y * p.ln() - (1.0 - y) * (1.0 - p).ln()
}

#[test]
fn logistic_cross_entropy_is_p_minus_y() {
    for &(b0, b1, x, y) in &[
        (0.3, -1.2, 2.0, 1.0),
        (0.3, -1.2, 2.0, 0.0),
        (-4.0777, 1.5046, 3.5, 1.0),
        (0.0, 0.0, 1.0, 0.25),
        (2.0, 3.0, 4.0, 0.0),  // h = 14: p close to 1
        (2.0, -3.0, 4.0, 1.0), // h = −10: p close to 0
    ] {
        let (g0, g1) = bce_grad(b0, b1, x, y);
        let p = 1.0 / (1.0 + (-(b0 + b1 * x)).exp());
        assert_close(g0, p - y, "∂/∂b0");
        assert_close(g1, (p - y) * x, "∂/∂b1");
        // Near saturation `ln(1 − p)` itself cancels, and so do its finite differences.
        if (b0 + b1 * x).abs() < 8.0 {
            assert_fd(|v| bce(v[0], v[1], x, y), &[b0, b1], &[g0, g1]);
        }
        let (v, (h0, h1)) = bce_value_and_grad(b0, b1, x, y);
        assert_eq!(v.to_bits(), bce(b0, b1, x, y).to_bits());
        assert_eq!((h0.to_bits(), h1.to_bits()), (g0.to_bits(), g1.to_bits()));
    }
}

/// Where `p` is within an ulp of 1 the loss's second term is `ln(1 − p)` of a tiny or zero
/// number; the gradient is still `p − y`, finite.
#[test]
fn saturated_logistic_keeps_a_finite_gradient() {
    let (g0, _) = bce_grad(40.0, 0.0, 1.0, 0.0);
    assert_eq!(g0, 1.0);
    let (g0, _) = bce_grad(-40.0, 0.0, 1.0, 1.0);
    assert!((g0 + 1.0).abs() < 1e-15, "{g0}");
}

/// `1 − p` of a logistic written on its own, and `ln p`: the log-sigmoid pair by hand.
#[grad(wrt = h)]
fn log_one_minus_logistic(h: f64) -> f64 {
    let p = 1.0 / (1.0 + (-h).exp());
    (1.0 - p).ln() + 0.5 * p.ln()
}

#[test]
fn log_of_a_logistic_and_its_complement() {
    for &h in &[-3.0, -0.5, 0.0, 0.7, 5.0, 20.0] {
        let g = log_one_minus_logistic_grad(h);
        let p = 1.0 / (1.0 + (-h).exp());
        // d/dh ln(1 − p) = −p; d/dh ln(p) = 1 − p.
        assert_close(g, -p + 0.5 * (1.0 - p), "∂/∂h");
        if h.abs() < 10.0 {
            assert_fd(|v| log_one_minus_logistic(v[0]), &[h], &[g]);
        }
    }
}

/// Quotients whose denominators appear again in the chain rule.
#[grad(wrt = x, y)]
fn quotients(x: f64, y: f64) -> f64 {
    let q = x / y;
    let r = 1.0 / (x * x + 1.0);
    q.ln() * y + (r * x).exp() - (y / (1.0 + x * x)).sqrt()
}

#[test]
fn quotients_and_reciprocals_in_the_chain_rule() {
    for &(x, y) in &[(0.5, 2.0), (3.0, 0.25), (1.0, 1.0), (7.5, 40.0)] {
        let (gx, gy) = quotients_grad(x, y);
        let q = x / y;
        let r = 1.0 / (x * x + 1.0);
        let s = (y * r).sqrt();
        let e = (r * x).exp();
        let dr = -2.0 * x * r * r; // ∂r/∂x
        let want_x = y / x + e * (dr * x + r) - 0.5 / s * y * dr;
        let want_y = q.ln() - 1.0 - 0.5 / s * r;
        assert!(
            relative_eq!(gx, want_x, max_relative = 1e-12),
            "{gx} {want_x}"
        );
        assert!(
            relative_eq!(gy, want_y, epsilon = 1e-14, max_relative = 1e-12),
            "{gy} {want_y}"
        );
        assert_fd(|v| quotients(v[0], v[1]), &[x, y], &[gx, gy]);
    }
}

/// Logistic regression over a dataset with the `sigmoid` helper: the loop is fused with its
/// sweep, the row's values are read once, and each point contributes `(p − y) / n`.
#[grad(wrt = w)]
fn logistic_over_data(w: [f64; 3], data: &[[f64; 2]], labels: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (row, y) in data.iter().zip(labels) {
        let p = backprop::sigmoid(w[0] * row[0] + w[1] * row[1] + w[2]);
        loss += -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
    }
    loss / data.len() as f64
}

#[test]
fn logistic_regression_over_data_is_the_mean_of_p_minus_y() {
    let data: Vec<[f64; 2]> = (0..50)
        .map(|i| [(i as f64 * 0.3).sin() * 2.0, (i as f64 * 0.7).cos()])
        .collect();
    let labels: Vec<f64> = (0..50).map(|i| (i % 3 == 0) as u8 as f64).collect();
    let w = [0.4, -1.3, 0.2];
    let g = logistic_over_data_grad(w, &data, &labels);
    let mut want = [0.0; 3];
    for (row, y) in data.iter().zip(&labels) {
        let p = 1.0 / (1.0 + (-(w[0] * row[0] + w[1] * row[1] + w[2])).exp());
        for (k, x) in [row[0], row[1], 1.0].iter().enumerate() {
            want[k] += (p - y) * x / 50.0;
        }
    }
    for k in 0..3 {
        assert_close(g[k], want[k], "∂/∂w");
    }
    assert_fd(
        |v| logistic_over_data([v[0], v[1], v[2]], &data, &labels),
        &w,
        &g,
    );
}

/// `1 − p` of a logistic is only rewritten as `p · e` where the factors then cancel: a
/// quotient by `1 − p` that stays a quotient keeps `1 − p`, which is 1 where `e = exp(−h)`
/// overflows (`p · e` would be `0 · ∞ = NaN` there). Found by an adversarial test batch.
#[grad(wrt = h, x)]
fn over_one_minus_logistic(h: f64, x: f64) -> f64 {
    let p = 1.0 / (1.0 + (-h).exp());
    x / (1.0 - p)
}

#[grad(wrt = h, x)]
fn over_one_minus_logistic_f32(h: f32, x: f32) -> f32 {
    let p = 1.0 / (1.0 + (-h).exp());
    x / (1.0 - p)
}

#[test]
fn a_quotient_by_one_minus_a_logistic_stays_finite() {
    let (_, gx) = over_one_minus_logistic_grad(-710.0, 0.5);
    assert_eq!(gx, 1.0);
    let (_, gx) = over_one_minus_logistic_f32_grad(-89.0, 0.5);
    assert_eq!(gx, 1.0);
    for h in [-3.0, 0.0, 2.5] {
        let (gh, gx) = over_one_minus_logistic_grad(h, 0.5);
        let p: f64 = 1.0 / (1.0 + (-h).exp());
        assert_close(gx, 1.0 / (1.0 - p), "∂/∂x");
        assert_fd(
            |v| over_one_minus_logistic(v[0], v[1]),
            &[h, 0.5],
            &[gh, gx],
        );
    }
}

/// The same cross-entropy with `recip()` for the logistic: also `p − y`.
#[grad(wrt = b0, b1)]
fn bce_recip(b0: f64, b1: f64, x: f64, y: f64) -> f64 {
    let p = (1.0 + (-(b0 + b1 * x)).exp()).recip();
    -y * p.ln() - (1.0 - y) * (1.0 - p).ln()
}

#[test]
fn recip_is_a_reciprocal_too() {
    for &(b0, b1, x, y) in &[
        (0.3, -1.2, 2.0, 1.0),
        (2.0, 3.0, 4.0, 0.0),
        (-1.0, 0.5, 1.0, 0.3),
    ] {
        let (g0, g1) = bce_recip_grad(b0, b1, x, y);
        let p = (1.0 + (-(b0 + b1 * x)).exp()).recip();
        assert_close(g0, p - y, "∂/∂b0");
        assert_close(g1, (p - y) * x, "∂/∂b1");
    }
}
