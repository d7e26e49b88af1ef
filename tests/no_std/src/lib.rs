//! A `#![no_std]` crate with `alloc`, as a user would write one: what `#[grad]` generates for
//! it must name nothing of `std` (a slice's gradient is a `Vec`, a trace's rows are too).
//! `cargo test --workspace` builds it, so a `::std` in generated code fails the suite; its own
//! test checks the numbers.

#![no_std]
#![deny(warnings)]

extern crate alloc;

use backprop::grad;

/// A mean squared error over data in slices, with respect to a slice of weights.
#[grad(wrt = w)]
pub fn mse(w: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..xs.len() {
        let r = w[0] + w[1] * xs[i] - ys[i];
        total += r * r;
    }
    total / xs.len() as f64
}

/// A straight-line function with its trace: the table of nodes, local partials and adjoints.
#[grad(wrt = w, b, trace)]
pub fn neuron(w: f64, b: f64, x: f64) -> f64 {
    let z = w * x + b;
    backprop::sigmoid(z)
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn gradients_and_the_trace_hold() {
        let (xs, ys) = ([1.0, 2.0, 3.0], [2.0, 4.1, 5.9]);
        let g = mse_grad(&[0.5, 1.5], &xs, &ys);
        // d/dw0 = 2/n Σ r, d/dw1 = 2/n Σ r·x, with r = 0.5 + 1.5x − y.
        let r: [f64; 3] = core::array::from_fn(|i| 0.5 + 1.5 * xs[i] - ys[i]);
        let d0 = 2.0 / 3.0 * (r[0] + r[1] + r[2]);
        let d1 = 2.0 / 3.0 * (r[0] * xs[0] + r[1] * xs[1] + r[2] * xs[2]);
        assert!(
            (g[0] - d0).abs() < 1e-12 && (g[1] - d1).abs() < 1e-12,
            "{g:?}"
        );
        let t = neuron_trace(0.3, -0.1, 2.0);
        let (dw, db) = neuron_grad(0.3, -0.1, 2.0);
        assert_eq!(t.node("w").and_then(|n| n.derivative), Some(dw));
        assert_eq!(t.node("b").and_then(|n| n.derivative), Some(db));
    }
}
