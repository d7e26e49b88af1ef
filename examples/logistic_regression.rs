//! Logistic regression trained by plain gradient descent, with the gradient written by
//! `#[grad]` instead of by hand.
//!
//! The data is the "hours studied vs passed the exam" example of Wikipedia's *Logistic
//! regression* article: 20 students. The model is `P(pass) = σ(b0 + b1 · hours)`; the loss is the
//! mean binary cross-entropy. The per-student loss is an ordinary Rust function annotated with
//! `#[grad(wrt = b0, b1)]`; summing it over the data is plain Rust in `main`.
//!
//! ```text
//! cargo run --example logistic_regression
//! ```

use backprop::{grad, log_sigmoid};

#[path = "data/students.rs"]
mod students;
use students::{HOURS, PASSED};

const LEARNING_RATE: f64 = 1.0;
const MAX_STEPS: usize = 10_000;
const REPORT_EVERY: usize = 200;
/// Stop when the gradient of the mean loss is this small.
const TOLERANCE: f64 = 1e-10;

/// Binary cross-entropy of one student, `−y ln p − (1 − y) ln(1 − p)` with
/// `p = σ(b0 + b1 · hours)`.
///
/// `ln p = log_sigmoid(z)` and `ln(1 − p) = log_sigmoid(−z)`: the same loss, in a form that
/// neither overflows nor takes the log of 0 however confident the model gets.
#[grad(wrt = b0, b1)]
fn loss(b0: f64, b1: f64, hours: f64, passed: f64) -> f64 {
    let z = b0 + b1 * hours;
    -passed * log_sigmoid(z) - (1.0 - passed) * log_sigmoid(-z)
}

/// Mean loss over the data set and its gradient `(∂/∂b0, ∂/∂b1)`.
fn mean_loss_and_gradient(b0: f64, b1: f64) -> (f64, (f64, f64)) {
    let (mut total, mut d_b0, mut d_b1) = (0.0, 0.0, 0.0);
    for (&hours, &passed) in HOURS.iter().zip(&PASSED) {
        let (l, (g0, g1)) = loss_value_and_grad(b0, b1, hours, passed);
        total += l;
        d_b0 += g0;
        d_b1 += g1;
    }
    let n = HOURS.len() as f64;
    (total / n, (d_b0 / n, d_b1 / n))
}

fn main() {
    let (mut b0, mut b1) = (0.0, 0.0);
    println!(" step   mean loss           b0         b1   |gradient|");
    let mut step = 0;
    loop {
        let (mean, (d_b0, d_b1)) = mean_loss_and_gradient(b0, b1);
        let norm = d_b0.hypot(d_b1);
        let converged = norm < TOLERANCE;
        if step % REPORT_EVERY == 0 || converged || step == MAX_STEPS {
            println!("{step:5}   {mean:.12}   {b0:8.5}   {b1:8.5}   {norm:.3e}");
        }
        if converged {
            println!("converged after {step} steps (|gradient| < {TOLERANCE:e})");
            break;
        }
        if step == MAX_STEPS {
            println!("stopped after {step} steps without converging");
            break;
        }
        b0 -= LEARNING_RATE * d_b0;
        b1 -= LEARNING_RATE * d_b1;
        step += 1;
    }

    // The annotated function is still an ordinary function: evaluate the fit with it.
    let n = HOURS.len() as f64;
    let final_loss = HOURS
        .iter()
        .zip(&PASSED)
        .map(|(&hours, &passed)| loss(b0, b1, hours, passed))
        .sum::<f64>()
        / n;

    println!();
    println!("fitted: b0 = {b0:.4}, b1 = {b1:.4}, mean loss {final_loss:.6}");
    println!("(the maximum-likelihood fit is about b0 = -4.08, b1 = 1.50)");
    println!("50% chance of passing at {:.2} hours of study", -b0 / b1);

    let correct = HOURS
        .iter()
        .zip(&PASSED)
        .filter(|&(&hours, &passed)| {
            let predicts_pass = backprop::sigmoid(b0 + b1 * hours) >= 0.5;
            predicts_pass == (passed > 0.5)
        })
        .count();
    println!(
        "training accuracy: {correct}/{} = {:.0}%",
        HOURS.len(),
        100.0 * correct as f64 / n
    );
}
