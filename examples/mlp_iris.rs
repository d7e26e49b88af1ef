//! A two-layer network held in structs, trained on Fisher's Iris data with Adam, through
//! `#[grad(wrt = p)]`: the gradient of the loss with respect to the whole model is a value of
//! the model's type.
//!
//! ```text
//! x (4 features) ── hidden: Dense<4, 8>, tanh ── out: Dense<8, 3> ── softmax ── cross-entropy
//! ```
//!
//! The layers derive `Differentiable` (their weights and biases are the parameters); the model
//! nests them and keeps a name, marked `#[backprop(skip)]`, that is not a parameter. `loss`
//! reads the fields it needs (`p.hidden.w[j][f]`, `p.out.b[k]`), and `loss_grad(&p, ..)`
//! returns an `Mlp` holding the derivative of each. `Adam::step` takes the model and its
//! gradient as they are.
//!
//! It prints the gradient check at the start (all 67 components against central finite
//! differences), the loss and training accuracy every 50 steps, and the final confusion matrix.
//!
//! ```text
//! cargo run --release --example mlp_iris
//! ```

#[path = "data/iris.rs"]
mod iris;

use backprop::check::{check_gradient, Tolerance};
use backprop::{grad, Adam, Differentiable};

/// A dense layer from `I` inputs to `O` outputs: `y = w x + b`.
#[derive(Clone, Debug, Differentiable)]
pub struct Dense<const I: usize, const O: usize> {
    pub w: [[f64; I]; O],
    pub b: [f64; O],
}

/// The network: a tanh hidden layer of 8, then 3 logits.
#[derive(Clone, Debug, Differentiable)]
pub struct Mlp {
    pub hidden: Dense<4, 8>,
    pub out: Dense<8, 3>,
    /// Not a parameter: cloned into the gradient, never updated.
    #[backprop(skip)]
    pub name: &'static str,
}

/// One flower: 4 standardised measurements and the species index.
pub type Flower = ([f64; 4], usize);

pub const STEPS: usize = 300;
pub const LEARNING_RATE: f64 = 0.05;

/// Mean softmax cross-entropy of the network over `data`.
// Written with index loops, as the formulas are.
#[allow(clippy::needless_range_loop)]
#[grad(wrt = p)]
pub fn loss(p: &Mlp, data: &[Flower]) -> f64 {
    let mut total = 0.0;
    for (x, label) in data.iter() {
        let mut h = [0.0; 8];
        for j in 0..8 {
            let mut z = p.hidden.b[j];
            for f in 0..4 {
                z += p.hidden.w[j][f] * x[f];
            }
            h[j] = z.tanh();
        }
        let mut z = [0.0; 3];
        for k in 0..3 {
            z[k] = p.out.b[k];
            for j in 0..8 {
                z[k] += p.out.w[k][j] * h[j];
            }
        }
        let m = z[0].max(z[1]).max(z[2]);
        let sum = z.iter().map(|z_k| (z_k - m).exp()).sum::<f64>();
        total += m + sum.ln() - z[*label];
    }
    total / data.len() as f64
}

/// The class with the largest logit.
pub fn predict(p: &Mlp, x: &[f64; 4]) -> usize {
    let h: [f64; 8] = std::array::from_fn(|j| {
        (p.hidden.b[j] + (0..4).map(|f| p.hidden.w[j][f] * x[f]).sum::<f64>()).tanh()
    });
    let logit = |k: usize| p.out.b[k] + (0..8).map(|j| p.out.w[k][j] * h[j]).sum::<f64>();
    (1..3).fold(0, |best, k| if logit(k) > logit(best) { k } else { best })
}

/// The fraction of `data` classified correctly.
pub fn accuracy(p: &Mlp, data: &[Flower]) -> f64 {
    let right = data.iter().filter(|(x, l)| predict(p, x) == *l).count();
    right as f64 / data.len() as f64
}

/// The Iris data, each feature standardised to mean 0 and standard deviation 1.
pub fn standardised_iris() -> Vec<Flower> {
    let n = iris::IRIS.len() as f64;
    let mean: [f64; 4] =
        std::array::from_fn(|f| iris::IRIS.iter().map(|(x, _)| x[f]).sum::<f64>() / n);
    let std: [f64; 4] = std::array::from_fn(|f| {
        let var = iris::IRIS
            .iter()
            .map(|(x, _)| (x[f] - mean[f]).powi(2))
            .sum::<f64>()
            / n;
        var.sqrt()
    });
    iris::IRIS
        .iter()
        .map(|&(x, l)| (std::array::from_fn(|f| (x[f] - mean[f]) / std[f]), l))
        .collect()
}

/// Small weights of a fixed pattern (no random-number crate needed), zero biases.
pub fn initial() -> Mlp {
    let wave = |k: usize| 0.5 * ((k as f64) * 1.7).sin();
    Mlp {
        hidden: Dense {
            w: std::array::from_fn(|j| std::array::from_fn(|f| wave(4 * j + f))),
            b: [0.0; 8],
        },
        out: Dense {
            w: std::array::from_fn(|k| std::array::from_fn(|j| wave(100 + 8 * k + j))),
            b: [0.0; 3],
        },
        name: "iris 4-8-3",
    }
}

/// Trains from [`initial`]; returns the model and the loss at each step.
pub fn train(data: &[Flower], steps: usize) -> (Mlp, Vec<f64>) {
    let mut p = initial();
    let mut adam = Adam::new(LEARNING_RATE);
    let mut losses = Vec::with_capacity(steps);
    for _ in 0..steps {
        let (value, g) = loss_value_and_grad(&p, data);
        adam.step(&mut p, &g);
        losses.push(value);
    }
    (p, losses)
}

fn main() {
    let data = standardised_iris();
    let p = initial();

    // The gradient, a model, against central finite differences of every parameter.
    let g = loss_grad(&p, &data);
    let f = |x: &[f64]| {
        let mut q = p.clone();
        q.set_flat(x);
        loss(&q, &data)
    };
    match check_gradient(f, &p.to_flat(), &g.to_flat(), Tolerance::default()) {
        Ok(()) => println!(
            "gradient check: all {} components agree with finite differences",
            g.num_params()
        ),
        Err(e) => panic!("{e}"),
    }
    println!();

    println!(" step   mean loss   accuracy");
    let mut p = p;
    let mut adam = Adam::new(LEARNING_RATE);
    for s in 0..=STEPS {
        if s % 50 == 0 {
            println!(
                "{s:5}   {:.6}    {:5.1}%",
                loss(&p, &data),
                100.0 * accuracy(&p, &data)
            );
        }
        if s < STEPS {
            let g = loss_grad(&p, &data);
            adam.step(&mut p, &g);
        }
    }

    let mut confusion = [[0usize; 3]; 3];
    for (x, l) in &data {
        confusion[*l][predict(&p, x)] += 1;
    }
    println!();
    println!("{} after {STEPS} Adam steps:", p.name);
    println!("confusion (rows: species, columns: predicted)");
    for (name, row) in iris::SPECIES.iter().zip(confusion) {
        println!("  {name:>10}  {:3} {:3} {:3}", row[0], row[1], row[2]);
    }
}
