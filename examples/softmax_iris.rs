//! Softmax (multiclass logistic) regression on Fisher's Iris data, trained by full-batch gradient
//! descent, with the gradient of the whole data set's loss written by `#[grad]`.
//!
//! The model is the notes' multiclass logistic regression (`shared/seeds/` 003) with `K = 3`
//! classes and 4 features instead of 2:
//!
//! ```text
//! z_k = b_k + Σ_f w[k][f] x_f          (k = 0, 1, 2: setosa, versicolor, virginica)
//! y_k = e^(z_k) / Σ_l e^(z_l)          (softmax)
//! L   = −Σ_k t_k ln y_k = ln Σ_l e^(z_l) − z_label    (t one-hot)
//! ```
//!
//! averaged over the 150 flowers. The features are standardised first (mean 0, standard
//! deviation 1, computed in plain Rust), so one learning rate suits all four weights.
//!
//! [`loss`] is one annotated function over the whole data set: a loop over the flowers, a local
//! array of logits filled in a nested loop, and the log-sum-exp written the numerically stable
//! way, `ln Σ e^(z_l) = m + ln Σ e^(z_l − m)` with `m = max_l z_l`. The macro differentiates all
//! of it. By hand, `∂L/∂z_k = y_k − t_k`, so `∂L/∂w[k][f] = mean over flowers of (y_k − t_k) x_f`
//! and `∂L/∂b_k = mean of (y_k − t_k)`; the subtracted `m` contributes nothing
//! (`∂/∂m [m + ln Σ e^(z_l − m)] = 1 − Σ y_l = 0`), whichever logit the `max` picks.
//!
//! It prints: the gradient check at the start (the macro's gradient against central finite
//! differences, all 15 components, and against the closed form above), the loss every 100 steps, then the final loss, the training
//! accuracy and the confusion matrix.
//!
//! ```text
//! cargo run --release --example softmax_iris
//! ```

#[path = "data/iris.rs"]
mod iris;

use backprop::check::{check_gradient, GradCheckError, Tolerance};
use backprop::grad;

/// One flower: 4 (standardised) measurements and the species index.
pub type Flower = ([f64; 4], usize);

pub const LEARNING_RATE: f64 = 0.5;
pub const STEPS: usize = 1_000;
const REPORT_EVERY: usize = 100;

/// The Iris data with every feature shifted and scaled to mean 0 and standard deviation 1.
pub fn standardised_iris() -> Vec<Flower> {
    let n = iris::IRIS.len() as f64;
    let mut mean = [0.0; 4];
    let mut std = [0.0; 4];
    for f in 0..4 {
        mean[f] = iris::IRIS.iter().map(|(x, _)| x[f]).sum::<f64>() / n;
        let var = iris::IRIS
            .iter()
            .map(|(x, _)| (x[f] - mean[f]).powi(2))
            .sum::<f64>()
            / n;
        std[f] = var.sqrt();
    }
    iris::IRIS
        .iter()
        .map(|&(x, label)| (std::array::from_fn(|f| (x[f] - mean[f]) / std[f]), label))
        .collect()
}

/// Mean softmax cross-entropy of the linear model `z = w x + b` over `data`.
#[grad(wrt = w, b)]
pub fn loss(w: [[f64; 4]; 3], b: [f64; 3], data: &[Flower]) -> f64 {
    let mut total = 0.0;
    for (x, label) in data.iter() {
        let mut z = [0.0; 3];
        for k in 0..3 {
            z[k] = b[k];
            for f in 0..4 {
                z[k] += w[k][f] * x[f];
            }
        }
        // −ln y_label = ln Σ_l e^(z_l) − z_label, with the largest logit factored out.
        let m = z[0].max(z[1]).max(z[2]);
        let sum = z.iter().map(|z_k| (z_k - m).exp()).sum::<f64>();
        total += m + sum.ln() - z[*label];
    }
    total / data.len() as f64
}

/// The class with the largest logit.
pub fn predict(w: &[[f64; 4]; 3], b: &[f64; 3], x: &[f64; 4]) -> usize {
    let logit = |k: usize| b[k] + (0..4).map(|f| w[k][f] * x[f]).sum::<f64>();
    (1..3).fold(0, |best, k| if logit(k) > logit(best) { k } else { best })
}

/// The fraction of `data` the model classifies correctly.
pub fn accuracy(w: &[[f64; 4]; 3], b: &[f64; 3], data: &[Flower]) -> f64 {
    let correct = data
        .iter()
        .filter(|(x, label)| predict(w, b, x) == *label)
        .count();
    correct as f64 / data.len() as f64
}

/// The 15 parameters as one vector: `w` row by row, then `b`.
pub fn flatten(w: &[[f64; 4]; 3], b: &[f64; 3]) -> Vec<f64> {
    w.iter().flatten().chain(b).copied().collect()
}

/// The inverse of [`flatten`].
pub fn unflatten(p: &[f64]) -> ([[f64; 4]; 3], [f64; 3]) {
    let w = std::array::from_fn(|k| std::array::from_fn(|f| p[4 * k + f]));
    let b = std::array::from_fn(|k| p[12 + k]);
    (w, b)
}

/// Compares the macro's gradient of [`loss`] at `(w, b)` with central finite differences.
pub fn check(w: [[f64; 4]; 3], b: [f64; 3], data: &[Flower]) -> Result<(), GradCheckError> {
    let (d_w, d_b) = loss_grad(w, b, data);
    let f = |p: &[f64]| {
        let (w, b) = unflatten(p);
        loss(w, b, data)
    };
    check_gradient(
        f,
        &flatten(&w, &b),
        &flatten(&d_w, &d_b),
        Tolerance::default(),
    )
}

/// The gradient derived by hand: `∂L/∂z_k = y_k − t_k` for each flower, times `x_f` for
/// `w[k][f]`, averaged.
pub fn closed_form_grad(
    w: &[[f64; 4]; 3],
    b: &[f64; 3],
    data: &[Flower],
) -> ([[f64; 4]; 3], [f64; 3]) {
    let n = data.len() as f64;
    let (mut d_w, mut d_b) = ([[0.0; 4]; 3], [0.0; 3]);
    for (x, label) in data {
        let z: [f64; 3] =
            std::array::from_fn(|k| b[k] + (0..4).map(|f| w[k][f] * x[f]).sum::<f64>());
        let sum: f64 = z.iter().map(|z| z.exp()).sum();
        for k in 0..3 {
            let delta = z[k].exp() / sum - if k == *label { 1.0 } else { 0.0 };
            for f in 0..4 {
                d_w[k][f] += delta * x[f] / n;
            }
            d_b[k] += delta / n;
        }
    }
    (d_w, d_b)
}

/// One step of gradient descent; returns the loss before the step.
pub fn step(w: &mut [[f64; 4]; 3], b: &mut [f64; 3], data: &[Flower], learning_rate: f64) -> f64 {
    let (value, (d_w, d_b)) = loss_value_and_grad(*w, *b, data);
    for k in 0..3 {
        for f in 0..4 {
            w[k][f] -= learning_rate * d_w[k][f];
        }
        b[k] -= learning_rate * d_b[k];
    }
    value
}

fn main() {
    let data = standardised_iris();

    // An arbitrary point, away from the optimum and from any tie between logits.
    let (w0, b0) = unflatten(&[
        0.3, -0.7, 0.2, 0.5, -0.4, 0.1, 0.9, -0.6, 0.8, 0.4, -0.3, 0.2, 0.1, -0.2, 0.05,
    ]);
    match check(w0, b0, &data) {
        Ok(()) => println!("gradient check: all 15 components agree with finite differences"),
        Err(e) => panic!("{e}"),
    }
    let (d_w, d_b) = loss_grad(w0, b0, &data);
    let (c_w, c_b) = closed_form_grad(&w0, &b0, &data);
    let largest = flatten(&d_w, &d_b)
        .iter()
        .zip(flatten(&c_w, &c_b))
        .map(|(g, c)| (g - c).abs())
        .fold(0.0, f64::max);
    println!("largest difference from the closed form mean (y_k - t_k) x_f: {largest:.1e}");
    println!();

    let mut w = [[0.0; 4]; 3];
    let mut b = [0.0; 3];
    println!(" step   mean loss   accuracy");
    for s in 0..STEPS {
        // The accuracy of the weights the step's loss is computed at.
        let acc = (s % REPORT_EVERY == 0).then(|| accuracy(&w, &b, &data));
        let value = step(&mut w, &mut b, &data, LEARNING_RATE);
        if let Some(acc) = acc {
            println!("{s:5}   {value:.6}    {:5.1}%", 100.0 * acc);
        }
    }

    let final_loss = loss(w, b, &data);
    let acc = accuracy(&w, &b, &data);
    println!();
    println!("after {STEPS} steps (learning rate {LEARNING_RATE}): mean loss {final_loss:.6}");
    println!(
        "training accuracy: {}/{} = {:.1}%",
        (acc * data.len() as f64).round(),
        data.len(),
        100.0 * acc
    );
    println!();
    println!("confusion matrix (rows: species, columns: predicted)");
    let mut confusion = [[0; 3]; 3];
    for (x, label) in &data {
        confusion[*label][predict(&w, &b, x)] += 1;
    }
    for (name, row) in iris::SPECIES.iter().zip(confusion) {
        println!("  {name:>10}  {:3} {:3} {:3}", row[0], row[1], row[2]);
    }
    println!();
    println!(
        "weights (standardised features: sepal length, sepal width, petal length, petal width)"
    );
    for (k, name) in iris::SPECIES.iter().enumerate() {
        println!(
            "  {name:>10}  w = [{:7.3}, {:7.3}, {:7.3}, {:7.3}]  b = {:7.3}",
            w[k][0], w[k][1], w[k][2], w[k][3], b[k]
        );
    }
}
