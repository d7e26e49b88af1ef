//! The models of the lecture notes' worked examples, each an annotated function, shared by
//! `examples/seeds.rs` (which prints their numbers) and `tests/seeds.rs` (which asserts them).

#![allow(clippy::too_many_arguments)] // one scalar parameter per weight, as in the notes

use backprop::{grad, relu, sigmoid};

/// Per-example binary cross-entropy of logistic regression, as in the notes.
#[grad(wrt = b0, b1)]
pub fn logistic_loss(b0: f64, b1: f64, x: f64, y: f64) -> f64 {
    let h = b0 + b1 * x; // affine
    let p = 1.0 / (1.0 + (-h).exp()); // activation
    -y * p.ln() - (1.0 - y) * (1.0 - p).ln() // loss
}

/// The same loss summed over three points (000: "the full likelihood function includes summing
/// up all individual errors"): `b0` and `b1` fan out to each point's loss, a call of
/// [`logistic_loss`], and their derivatives are the sums over the points (the multivariate chain
/// rule at fan-out). Its trace shows each point's loss as a node.
#[grad(wrt = b0, b1, trace, graph)]
pub fn summed_logistic_loss(
    b0: f64,
    b1: f64,
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
    x3: f64,
    y3: f64,
) -> f64 {
    logistic_loss(b0, b1, x1, y1) + logistic_loss(b0, b1, x2, y2) + logistic_loss(b0, b1, x3, y3)
}

/// The same loss over a data set of any size, summed in a loop (000: "summing up all individual
/// errors"): each iteration's call of [`logistic_loss`] is a node of the graph, its local
/// derivatives that point's gradient, and `total` carries the sum from one iteration to the
/// next. Its trace has a row per node per iteration (`l@2` is the third point's loss).
#[grad(wrt = b0, b1, trace, graph)]
pub fn data_set_logistic_loss(b0: f64, b1: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..xs.len() {
        let l = logistic_loss(b0, b1, xs[i], ys[i]);
        total += l;
    }
    total
}

/// `L^A = −y ξ5`, one ξ per line, exactly as the table of the notes.
#[grad(wrt = w, trace)]
pub fn xi_loss(w: f64, x: f64, y: f64) -> f64 {
    let xi1 = -w * x; //            ξ1 = −W X       = −9
    let xi2 = xi1.exp(); //         ξ2 = e^ξ1       = e^−9
    let xi3 = 1.0 + xi2; //         ξ3 = 1 + ξ2     = 1 + e^−9
    let xi4 = 1.0 / xi3; //         ξ4 = 1 / ξ3     = p
    let xi5 = xi4.ln(); //          ξ5 = ln ξ4      = ln p
    -y * xi5 //                     L^A = −y ξ5
}

/// The same table in forward mode: dξ/dW carried up the table with each ξ, as the notes'
/// forward pass does (`xi_loss_forward_jvp(w, x, y, 1.0)` is the last row).
#[grad(wrt = w, mode = forward)]
pub fn xi_loss_forward(w: f64, x: f64, y: f64) -> f64 {
    let xi1 = -w * x;
    let xi2 = xi1.exp();
    let xi3 = 1.0 + xi2;
    let xi4 = 1.0 / xi3;
    let xi5 = xi4.ln();
    -y * xi5
}

/// `ξ4 = p = 1 / (1 + e^(−W X))`, for the table's dξ4/dW column.
#[grad(wrt = w)]
pub fn xi4(w: f64, x: f64) -> f64 {
    1.0 / (1.0 + (-w * x).exp())
}

/// `ξ5 = ln p`, for the table's dξ5/dW column.
#[grad(wrt = w)]
pub fn xi5(w: f64, x: f64) -> f64 {
    (1.0 / (1.0 + (-w * x).exp())).ln()
}

#[grad(wrt = w, b)]
pub fn l2_regularised(w: f64, b: f64, x: f64, t: f64, lambda: f64) -> f64 {
    let z = w * x + b;
    let y = sigmoid(z);
    let l = 0.5 * (y - t) * (y - t);
    let r = 0.5 * w * w;
    l + lambda * r
}

#[grad(wrt = t)]
pub fn f_of_t(t: f64) -> f64 {
    let x = t.cos();
    let y = t * t;
    y + (x * y).exp()
}

#[grad(wrt = w11, w12, w21, w22, w31, w32, b1, b2, b3)]
pub fn softmax_loss(
    w11: f64,
    w12: f64,
    w21: f64,
    w22: f64,
    w31: f64,
    w32: f64,
    b1: f64,
    b2: f64,
    b3: f64,
    x1: f64,
    x2: f64,
    t1: f64,
    t2: f64,
    t3: f64,
) -> f64 {
    let z1 = w11 * x1 + w12 * x2 + b1;
    let z2 = w21 * x1 + w22 * x2 + b2;
    let z3 = w31 * x1 + w32 * x2 + b3;
    let sum = z1.exp() + z2.exp() + z3.exp();
    let y1 = z1.exp() / sum;
    let y2 = z2.exp() / sum;
    let y3 = z3.exp() / sum;
    -(t1 * y1.ln() + t2 * y2.ln() + t3 * y3.ln())
}

#[grad(wrt = w11, w12, w21, w22, v11, v12, v22, u1, u2, graph)]
pub fn fan_out(
    w11: f64,
    w12: f64,
    w21: f64,
    w22: f64,
    v11: f64,
    v12: f64,
    v22: f64,
    u1: f64,
    u2: f64,
    x1: f64,
    x2: f64,
    t: f64,
) -> f64 {
    let z1 = w11 * x1 + w21 * x2;
    let h1 = z1;
    let z2 = w12 * x1 + w22 * x2;
    let h2 = 0.5 * z2 * z2;
    let z3 = v11 * h1;
    let h3 = 2.0 * z3;
    let z4 = v12 * h1 + v22 * h2;
    let h4 = z4.exp();
    let zo = u1 * h3 + u2 * h4;
    let o = zo.sin();
    0.5 * (o - t) * (o - t)
}

/// The notes' Python, `f = 1.0 / (1 + math.exp(-dot))`, differentiated w.r.t. `dot`.
#[grad(wrt = dot)]
pub fn sigmoid_of_dot(dot: f64) -> f64 {
    1.0 / (1.0 + (-dot).exp())
}

/// The whole perceptron, w.r.t. its parameters and its inputs.
#[grad(wrt = w1, w2, b, x1, x2, trace)]
pub fn perceptron(w1: f64, w2: f64, b: f64, x1: f64, x2: f64) -> f64 {
    let dot = w1 * x1 + w2 * x2 + b;
    sigmoid(dot)
}

/// 004's perceptron as the notes write it, with vectors: `w` and `x` arrays, the dot product a
/// loop (`trace` shows each element as an input of its own, `w[0]`, `x[1]`, ...).
#[grad(wrt = w, b, x, trace)]
pub fn perceptron_of_vectors(w: &[f64; 2], b: f64, x: &[f64; 2]) -> f64 {
    let mut dot = b;
    for i in 0..2 {
        dot += w[i] * x[i];
    }
    1.0 / (1.0 + (-dot).exp())
}

#[grad(wrt = w, b)]
pub fn relu_unit(w: f64, b: f64, x: f64) -> f64 {
    relu(w * x + b)
}
