//! Derivative rules given by hand, with `#[backprop::rule]`, for functions whose body the macro
//! should not or cannot differentiate:
//!
//! - a numerically stable log-sum-exp, whose gradient is the softmax: softmax regression's
//!   loss at scores of a thousand, where `e^s` overflows;
//! - `libm::erf`, a function from another crate, in a probit model: `P(y = 1) = Φ(w·x + b)`
//!   with `Φ(z) = (1 + erf(z/√2)) / 2`.
//!
//! Run with `cargo run --example custom_rules`.

use backprop::check::{check_gradient, Tolerance};
use backprop::grad;
use std::f64::consts::{PI, SQRT_2};

/// `ln(e^a + e^b + e^c)`, computed after subtracting the largest score so that nothing
/// overflows. Its partials are the softmax, `∂/∂a = e^(a − y)` where `y` is the result: the
/// rule says so, and the macro never looks inside the body.
#[backprop::rule(a = (a - y).exp(), b = (b - y).exp(), c = (c - y).exp())]
pub fn logsumexp(a: f64, b: f64, c: f64) -> f64 {
    let m = a.max(b).max(c);
    m + ((a - m).exp() + (b - m).exp() + (c - m).exp()).ln()
}

/// Cross-entropy of three scores against class 0: `−ln softmax(s)₀ = logsumexp(s) − s₀`.
#[grad(wrt = s0, s1, s2)]
pub fn cross_entropy(s0: f64, s1: f64, s2: f64) -> f64 {
    logsumexp(s0, s1, s2) - s0
}

/// The error function, from the `libm` crate; `erf′(x) = 2/√π · e^(−x²)`.
#[backprop::rule(x = 2.0 / PI.sqrt() * (-x * x).exp())]
pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

/// The standard normal distribution function, through `erf` (a #[grad] building block: the
/// gradient flows through it into `erf`'s rule).
#[grad]
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / SQRT_2))
}

/// Negative log-likelihood of one observation `(x, y)` under a probit model.
#[grad(wrt = w, b)]
pub fn probit_nll(w: f64, b: f64, x: f64, y: f64) -> f64 {
    let p = normal_cdf(w * x + b);
    -(y * p.ln() + (1.0 - y) * (1.0 - p).ln())
}

fn main() {
    println!("log-sum-exp with a rule: softmax regression's loss at large scores");
    let s = [1000.0, 999.0, 998.0];
    let (v, (d0, d1, d2)) = cross_entropy_value_and_grad(s[0], s[1], s[2]);
    println!("  scores {s:?}");
    println!("  loss = {v:.12}, gradient = ({d0:.12}, {d1:.12}, {d2:.12})");
    let e: Vec<f64> = [0.0, -1.0, -2.0].iter().map(|t: &f64| t.exp()).collect();
    let z: f64 = e.iter().sum();
    println!(
        "  softmax − one-hot: ({:.12}, {:.12}, {:.12})",
        e[0] / z - 1.0,
        e[1] / z,
        e[2] / z
    );
    println!("  (e^1000 overflows: the naive `(a.exp() + b.exp() + c.exp()).ln()` gives inf)");

    println!("\nerf from libm with a rule, in a probit model");
    let data = [
        (-1.5, 0.0),
        (-0.5, 0.0),
        (0.3, 1.0),
        (0.8, 0.0),
        (1.6, 1.0),
        (2.2, 1.0),
    ];
    let (mut w, mut b) = (0.0, 0.0);
    for step in 0..=200 {
        let (mut dw, mut db, mut loss) = (0.0, 0.0, 0.0);
        for &(x, y) in &data {
            let (l, (gw, gb)) = probit_nll_value_and_grad(w, b, x, y);
            loss += l;
            dw += gw;
            db += gb;
        }
        if step % 50 == 0 {
            println!("  step {step:3}: loss {loss:.6}, w {w:.4}, b {b:.4}");
        }
        w -= 0.1 * dw;
        b -= 0.1 * db;
    }
    println!("  fit: w = {w:.4}, b = {b:.4}");
    // Checked away from the optimum, where the gradient is far from zero.
    let (w, b) = (0.5, 0.1);
    let total = |p: &[f64]| {
        data.iter()
            .map(|&(x, y)| probit_nll(p[0], p[1], x, y))
            .sum()
    };
    let (dw, db) = data.iter().fold((0.0, 0.0), |(a, c), &(x, y)| {
        let (gw, gb) = probit_nll_grad(w, b, x, y);
        (a + gw, c + gb)
    });
    match check_gradient(total, &[w, b], &[dw, db], Tolerance::default()) {
        Ok(()) => println!(
            "  gradient at (w, b) = ({w}, {b}): ({dw:.9}, {db:.9}), as finite differences give"
        ),
        Err(e) => {
            eprintln!("  gradient check failed: {e}");
            std::process::exit(1);
        }
    }
}
