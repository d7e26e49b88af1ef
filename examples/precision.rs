//! One model for both float types: the notes' logistic regression written once, generic over
//! `T: Real`, differentiated once by `#[grad(wrt = b0, b1, hessian)]`, and fitted by Newton's
//! method in `f32` and in `f64` side by side.
//!
//! Each instance is the code written for its type. Newton's method roughly squares the error
//! at each step, until the gradient reaches what the type can resolve: about `1e-7` for `f32`,
//! `1e-16` for `f64`. Both reach the same fit to the precision of `f32`.
//!
//! ```text
//! cargo run --example precision
//! ```

use backprop::{grad, log_sigmoid, Real};

#[path = "data/students.rs"]
mod students;
use students::{HOURS, PASSED};

/// The mean binary cross-entropy, for any float type `T` (constants through `T::from_f64`).
#[grad(wrt = b0, b1, hessian)]
pub fn mean_loss<T: Real>(b0: T, b1: T, xs: &[T], ys: &[T]) -> T {
    let mut s = T::ZERO;
    for (x, y) in xs.iter().zip(ys) {
        let z = b0 + b1 * *x;
        s -= *y * log_sigmoid(z) + (T::ONE - *y) * log_sigmoid(-z);
    }
    s / T::from_f64(xs.len() as f64)
}

/// Newton's method from `(0, 0)` in the float type `T`: each iterate and its gradient's norm.
pub fn newton<T: Real>(xs: &[T], ys: &[T], steps: usize) -> Vec<(T, T, T)> {
    let (mut b0, mut b1) = (T::ZERO, T::ZERO);
    let mut out = Vec::new();
    for _ in 0..=steps {
        let (g0, g1) = mean_loss_grad(b0, b1, xs, ys);
        out.push((b0, b1, g0.hypot(g1)));
        let [[h00, h01], [h10, h11]] = mean_loss_hessian(b0, b1, xs, ys);
        let det = h00 * h11 - h01 * h10;
        b0 -= (h11 * g0 - h01 * g1) / det;
        b1 -= (h00 * g1 - h10 * g0) / det;
    }
    out
}

fn main() {
    let xs32: Vec<f32> = HOURS.iter().map(|&x| x as f32).collect();
    let ys32: Vec<f32> = PASSED.iter().map(|&y| y as f32).collect();
    let single = newton(&xs32, &ys32, 7);
    let double = newton(&HOURS, &PASSED, 7);
    println!(
        "Newton's method on the mean cross-entropy, the same generic function in f32 and f64:\n"
    );
    println!("step   b1 (f32)      |∇L| (f32)    b1 (f64)              |∇L| (f64)");
    for (k, (s, d)) in single.iter().zip(&double).enumerate() {
        println!(
            "{k:>4}   {:<12.7} {:<12.3e}  {:<20.15} {:.3e}",
            s.1, s.2, d.1, d.2
        );
    }
    let (s, d) = (single[single.len() - 1], double[double.len() - 1]);
    println!(
        "\nfit: b0 = {:.6} (f32), {:.6} (f64); b1 = {:.6} (f32), {:.6} (f64)",
        s.0, d.0, s.1, d.1
    );
    assert!((s.1 as f64 - d.1).abs() < 1e-5 && d.2 < 1e-12);
}
