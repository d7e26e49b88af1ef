//! Gradient cost against the primal function, a hand-derived gradient and the peers, case by
//! case, in one run: `cargo bench --bench gradients`. See BENCHMARKS.md.

#![allow(clippy::too_many_arguments)]
// symdiff's generated code, not ours, trips these.
#![allow(clippy::neg_multiply)]

use backprop::grad;
use criterion::{black_box, criterion_group, Criterion};
use nalgebra::{Const, SVector};
use num_dual::{gradient, DualNum, DualVec64};
use std::time::Duration;

mod array_state;
mod data_loops;
mod plot;
#[allow(dead_code)]
#[path = "../examples/seed_models/mod.rs"]
mod seed_models;

type DV<const N: usize> = DualVec64<Const<N>>;

// The data every implementation is first checked at (`agree`), then timed at (`benches`).
const LOGREG_DATA: (f64, f64) = (2.0, 1.0);
const FAN_OUT_P: [f64; 9] = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9];
const FAN_OUT_DATA: [f64; 3] = [1.0, 2.0, 0.5];
const SOFTMAX_W: [[f64; 4]; 3] = [
    [0.1, -0.2, 0.3, 0.05],
    [0.4, 0.5, -0.6, 0.1],
    [-0.7, 0.8, 0.2, -0.3],
];
const SOFTMAX_B: [f64; 3] = [0.05, -0.1, 0.2];
const SOFTMAX_X: [f64; 4] = [1.0, -0.5, 2.0, 0.3];

/// The softmax parameters as one vector, `w` row by row then `b` (num-dual's and symdiff's).
fn softmax_flat(w: [[f64; 4]; 3], b: [f64; 3]) -> [f64; 15] {
    let mut flat = [0.0; 15];
    for k in 0..3 {
        flat[4 * k..4 * k + 4].copy_from_slice(&w[k]);
        flat[12 + k] = b[k];
    }
    flat
}

/// 1,000 points on a line, for the mean squared error.
fn mse_data() -> (Vec<f64>, Vec<f64>) {
    let xs: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin()).collect();
    let ys = xs.iter().map(|x| 2.0 * x - 1.0).collect();
    (xs, ys)
}

/// The RNN's 100 inputs.
fn rnn_data() -> [f64; 100] {
    std::array::from_fn(|i| (i as f64 * 0.21).cos())
}

// ---------------------------------------------------------------------------------------------
// Logistic regression (seeds 001): 2 parameters
// ---------------------------------------------------------------------------------------------

fn logreg_hand(b0: f64, b1: f64, x: f64, y: f64) -> [f64; 2] {
    let p = 1.0 / (1.0 + (-(b0 + b1 * x)).exp());
    [p - y, (p - y) * x]
}

fn logreg_dual(b: SVector<DV<2>, 2>, x: f64, y: f64) -> DV<2> {
    let h = b[0] + b[1] * x;
    let p = ((-h).exp() + 1.0).recip();
    -p.ln() * y - (-p + 1.0).ln() * (1.0 - y)
}

#[symdiff::gradient(var = b, dim = 2)]
fn logreg_sym(b: &[f64], d: &[f64]) -> f64 {
    let p = 1.0 / (1.0 + (-(b[0] + b[1] * d[0])).exp());
    -d[1] * p.ln() - (1.0 - d[1]) * (1.0 - p).ln()
}

// ---------------------------------------------------------------------------------------------
// The fan-out network (seeds 002): 9 parameters
// ---------------------------------------------------------------------------------------------

fn fan_out_hand(p: [f64; 9], x1: f64, x2: f64, t: f64) -> [f64; 9] {
    let [w11, w12, w21, w22, v11, v12, v22, u1, u2] = p;
    let h1 = w11 * x1 + w21 * x2;
    let z2 = w12 * x1 + w22 * x2;
    let h2 = 0.5 * z2 * z2;
    let h3 = 2.0 * v11 * h1;
    let h4 = (v12 * h1 + v22 * h2).exp();
    let zo = u1 * h3 + u2 * h4;
    let o = zo.sin();
    let d_zo = (o - t) * zo.cos();
    let (d_h3, d_h4) = (d_zo * u1, d_zo * u2);
    let d_z4 = d_h4 * h4;
    let d_h1 = 2.0 * v11 * d_h3 + v12 * d_z4; // fan-out: h1 feeds h3 and h4
    let d_h2 = v22 * d_z4;
    let d_z2 = d_h2 * z2;
    [
        d_h1 * x1,
        d_z2 * x1,
        d_h1 * x2,
        d_z2 * x2,
        2.0 * d_h3 * h1,
        d_z4 * h1,
        d_z4 * h2,
        d_zo * h3,
        d_zo * h4,
    ]
}

type FanOutArgs<R> = fn(f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64, f64) -> R;

/// Calls `f`, a function of the fan-out network's nine parameters and three data values.
#[inline(always)]
fn with_fan_out_args<R>(f: FanOutArgs<R>, p: [f64; 9], d: [f64; 3]) -> R {
    f(
        p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], d[0], d[1], d[2],
    )
}

fn fan_out_dual(p: SVector<DV<9>, 9>, x1: f64, x2: f64, t: f64) -> DV<9> {
    let h1 = p[0] * x1 + p[2] * x2;
    let z2 = p[1] * x1 + p[3] * x2;
    let h2 = z2 * z2 * 0.5;
    let h3 = p[4] * h1 * 2.0;
    let h4 = (p[5] * h1 + p[6] * h2).exp();
    let o = (p[7] * h3 + p[8] * h4).sin();
    (o - t) * (o - t) * 0.5
}

#[symdiff::gradient(var = p, dim = 9)]
fn fan_out_sym(p: &[f64], d: &[f64]) -> f64 {
    let h1 = p[0] * d[0] + p[2] * d[1];
    let z2 = p[1] * d[0] + p[3] * d[1];
    let h2 = 0.5 * z2 * z2;
    let h3 = 2.0 * p[4] * h1;
    let h4 = (p[5] * h1 + p[6] * h2).exp();
    let o = (p[7] * h3 + p[8] * h4).sin();
    0.5 * (o - d[2]) * (o - d[2])
}

// ---------------------------------------------------------------------------------------------
// Softmax regression (seeds 003): 3 classes × 4 features + 3 biases
// ---------------------------------------------------------------------------------------------

#[grad(wrt = w, b)]
fn softmax(w: [[f64; 4]; 3], b: [f64; 3], x: [f64; 4], label: usize) -> f64 {
    let mut z = [0.0; 3];
    for k in 0..3 {
        z[k] = b[k] + w[k][0] * x[0] + w[k][1] * x[1] + w[k][2] * x[2] + w[k][3] * x[3];
    }
    let m = z[0].max(z[1]).max(z[2]);
    let s = (z[0] - m).exp() + (z[1] - m).exp() + (z[2] - m).exp();
    m + s.ln() - z[label]
}

fn softmax_hand(
    w: [[f64; 4]; 3],
    b: [f64; 3],
    x: [f64; 4],
    label: usize,
) -> ([[f64; 4]; 3], [f64; 3]) {
    let mut z = [0.0; 3];
    for k in 0..3 {
        z[k] = b[k] + w[k][0] * x[0] + w[k][1] * x[1] + w[k][2] * x[2] + w[k][3] * x[3];
    }
    let m = z[0].max(z[1]).max(z[2]);
    let e = [(z[0] - m).exp(), (z[1] - m).exp(), (z[2] - m).exp()];
    let s = e[0] + e[1] + e[2];
    let mut gw = [[0.0; 4]; 3];
    let mut gb = [0.0; 3];
    for k in 0..3 {
        let d = e[k] / s - if k == label { 1.0 } else { 0.0 };
        gb[k] = d;
        for f in 0..4 {
            gw[k][f] = d * x[f];
        }
    }
    (gw, gb)
}

fn softmax_dual(p: SVector<DV<15>, 15>, x: [f64; 4], label: usize) -> DV<15> {
    let z: Vec<DV<15>> = (0..3)
        .map(|k| {
            p[12 + k]
                + p[4 * k] * x[0]
                + p[4 * k + 1] * x[1]
                + p[4 * k + 2] * x[2]
                + p[4 * k + 3] * x[3]
        })
        .collect();
    let m = if z[0].re >= z[1].re && z[0].re >= z[2].re {
        z[0]
    } else if z[1].re >= z[2].re {
        z[1]
    } else {
        z[2]
    };
    let s = (z[0] - m).exp() + (z[1] - m).exp() + (z[2] - m).exp();
    m + s.ln() - z[label]
}

#[symdiff::gradient(var = p, dim = 15)]
fn softmax_sym(p: &[f64], x: &[f64]) -> f64 {
    // symdiff has no `max`: the log-sum-exp without the shift (label fixed to class 1).
    let z0 = p[12] + p[0] * x[0] + p[1] * x[1] + p[2] * x[2] + p[3] * x[3];
    let z1 = p[13] + p[4] * x[0] + p[5] * x[1] + p[6] * x[2] + p[7] * x[3];
    let z2 = p[14] + p[8] * x[0] + p[9] * x[1] + p[10] * x[2] + p[11] * x[3];
    (z0.exp() + z1.exp() + z2.exp()).ln() - z1
}

// ---------------------------------------------------------------------------------------------
// Rosenbrock
// ---------------------------------------------------------------------------------------------

#[grad(wrt = x, y)]
fn rosenbrock(x: f64, y: f64) -> f64 {
    (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2)
}

fn rosenbrock_hand(x: f64, y: f64) -> [f64; 2] {
    let r = y - x * x;
    [-2.0 * (1.0 - x) - 400.0 * x * r, 200.0 * r]
}

fn rosenbrock_dual(v: SVector<DV<2>, 2>) -> DV<2> {
    (-v[0] + 1.0).powi(2) + (v[1] - v[0] * v[0]).powi(2) * 100.0
}

#[symdiff::gradient(var = v, dim = 2)]
fn rosenbrock_sym(v: &[f64]) -> f64 {
    (1.0 - v[0]).powi(2) + 100.0 * (v[1] - v[0] * v[0]).powi(2)
}

// ---------------------------------------------------------------------------------------------
// Mean squared error over 1000 points (symdiff cannot loop)
// ---------------------------------------------------------------------------------------------

#[grad(wrt = w, b)]
fn mse(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let r = w * x + b - y;
        loss += r * r;
    }
    loss / xs.len() as f64
}

fn mse_hand(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> [f64; 2] {
    let (mut dw, mut db) = (0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let r = w * x + b - y;
        dw += r * x;
        db += r;
    }
    let n = xs.len() as f64;
    [2.0 * dw / n, 2.0 * db / n]
}

fn mse_dual(p: SVector<DV<2>, 2>, xs: &[f64], ys: &[f64]) -> DV<2> {
    let mut loss = DV::<2>::from_re(0.0);
    for (x, y) in xs.iter().zip(ys) {
        let r = p[0] * *x + p[1] - *y;
        loss += r * r;
    }
    loss / xs.len() as f64
}

// ---------------------------------------------------------------------------------------------
// An RNN-style recurrence over 100 steps (symdiff has no tanh and cannot loop)
// ---------------------------------------------------------------------------------------------

#[grad(wrt = w, u)]
fn rnn(w: f64, u: f64, xs: &[f64; 100]) -> f64 {
    let mut h = 0.0;
    for x in xs.iter() {
        h = (w * h + u * x).tanh();
    }
    h
}

fn rnn_hand(w: f64, u: f64, xs: &[f64; 100]) -> [f64; 2] {
    let mut hs = [0.0; 101];
    for (k, x) in xs.iter().enumerate() {
        hs[k + 1] = (w * hs[k] + u * x).tanh();
    }
    let (mut dh, mut dw, mut du) = (1.0, 0.0, 0.0);
    for k in (0..100).rev() {
        let dz = dh * (1.0 - hs[k + 1] * hs[k + 1]);
        dw += dz * hs[k];
        du += dz * xs[k];
        dh = dz * w;
    }
    [dw, du]
}

fn rnn_dual(p: SVector<DV<2>, 2>, xs: &[f64; 100]) -> DV<2> {
    let mut h = DV::<2>::from_re(0.0);
    for x in xs.iter() {
        h = (p[0] * h + p[1] * *x).tanh();
    }
    h
}

// ---------------------------------------------------------------------------------------------

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30)
}

/// Every implementation computes the same gradient (and symdiff's functions the same value),
/// checked before anything is timed.
fn agree() {
    use seed_models::{fan_out, fan_out_grad, logistic_loss, logistic_loss_grad};
    let close = |a: &[f64], b: &[f64], what: &str| {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-9 * (1.0 + x.abs()),
                "{what}: {a:?} vs {b:?}"
            );
        }
    };
    let (x, y) = LOGREG_DATA;
    let g = logistic_loss_grad(0.3, -1.2, x, y);
    close(&[g.0, g.1], &logreg_hand(0.3, -1.2, x, y), "logreg hand");
    let (v, d) = gradient(|v| logreg_dual(v, x, y), SVector::from([0.3, -1.2]));
    close(&[g.0, g.1], d.as_slice(), "logreg num-dual");
    close(&[v], &[logistic_loss(0.3, -1.2, x, y)], "logreg value");
    close(
        &[g.0, g.1],
        &logreg_sym_gradient(&[0.3, -1.2], &[x, y]),
        "logreg symdiff",
    );
    close(
        &[logreg_sym(&[0.3, -1.2], &[x, y])],
        &[v],
        "logreg symdiff value",
    );

    let (p, [x1, x2, t]) = (FAN_OUT_P, FAN_OUT_DATA);
    let g = with_fan_out_args(fan_out_grad, p, [x1, x2, t]);
    let g = [g.0, g.1, g.2, g.3, g.4, g.5, g.6, g.7, g.8];
    close(&g, &fan_out_hand(p, x1, x2, t), "fan_out hand");
    let (v, d) = gradient(|v| fan_out_dual(v, x1, x2, t), SVector::from(p));
    close(&g, d.as_slice(), "fan_out num-dual");
    close(
        &[v],
        &[with_fan_out_args(fan_out, p, [x1, x2, t])],
        "fan_out value",
    );
    close(
        &g,
        &fan_out_sym_gradient(&p, &[x1, x2, t]),
        "fan_out symdiff",
    );
    close(
        &[fan_out_sym(&p, &[x1, x2, t])],
        &[v],
        "fan_out symdiff value",
    );

    let (w, b, xv) = (SOFTMAX_W, SOFTMAX_B, SOFTMAX_X);
    let (gw, gb) = softmax_grad(w, b, xv, 1);
    let (hw, hb) = softmax_hand(w, b, xv, 1);
    let mut ours: Vec<f64> = gw.iter().flatten().copied().collect();
    ours.extend(gb);
    let mut hand: Vec<f64> = hw.iter().flatten().copied().collect();
    hand.extend(hb);
    close(&ours, &hand, "softmax hand");
    let flat = softmax_flat(w, b);
    let (v, d) = gradient(|v| softmax_dual(v, xv, 1), SVector::from(flat));
    close(&ours, d.as_slice(), "softmax num-dual");
    close(&ours, &softmax_sym_gradient(&flat, &xv), "softmax symdiff");
    close(&[softmax_sym(&flat, &xv)], &[v], "softmax symdiff value");

    let g = rosenbrock_grad(-1.2, 1.0);
    close(&[g.0, g.1], &rosenbrock_hand(-1.2, 1.0), "rosenbrock hand");
    close(
        &[g.0, g.1],
        &rosenbrock_sym_gradient(&[-1.2, 1.0]),
        "rosenbrock symdiff",
    );
    close(
        &[rosenbrock_sym(&[-1.2, 1.0])],
        &[rosenbrock(-1.2, 1.0)],
        "rosenbrock symdiff value",
    );
    let (_, d) = gradient(rosenbrock_dual, SVector::from([-1.2, 1.0]));
    close(&[g.0, g.1], d.as_slice(), "rosenbrock num-dual");

    let (xs, ys) = mse_data();
    let g = mse_grad(0.5, 0.1, &xs, &ys);
    close(&[g.0, g.1], &mse_hand(0.5, 0.1, &xs, &ys), "mse hand");
    let (_, d) = gradient(|v| mse_dual(v, &xs, &ys), SVector::from([0.5, 0.1]));
    close(&[g.0, g.1], d.as_slice(), "mse num-dual");

    let seq = rnn_data();
    let g = rnn_grad(0.8, 0.3, &seq);
    close(&[g.0, g.1], &rnn_hand(0.8, 0.3, &seq), "rnn hand");
    let (_, d) = gradient(|v| rnn_dual(v, &seq), SVector::from([0.8, 0.3]));
    close(&[g.0, g.1], d.as_slice(), "rnn num-dual");

    array_state::agree(&close);
    array_state::agree_more(&close);
    array_state::agree_checkpoint(&close);
    data_loops::agree(&close);
}

fn benches(c: &mut Criterion) {
    use seed_models::{fan_out, fan_out_grad, logistic_loss, logistic_loss_grad};
    agree();

    let mut g = c.benchmark_group("logreg");
    let (x, y) = LOGREG_DATA;
    g.bench_function("primal", |bn| {
        bn.iter(|| logistic_loss(black_box(0.3), black_box(-1.2), black_box(x), black_box(y)))
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| logreg_hand(black_box(0.3), black_box(-1.2), black_box(x), black_box(y)))
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| logistic_loss_grad(black_box(0.3), black_box(-1.2), black_box(x), black_box(y)))
    });
    g.bench_function("num-dual", |bn| {
        bn.iter(|| {
            gradient(
                |v| logreg_dual(v, black_box(x), black_box(y)),
                SVector::from([black_box(0.3), black_box(-1.2)]),
            )
        })
    });
    g.bench_function("symdiff", |bn| {
        bn.iter(|| logreg_sym_gradient(black_box(&[0.3, -1.2]), black_box(&[x, y])))
    });
    g.finish();

    let mut g = c.benchmark_group("fan_out");
    let (p, [x1, x2, t]) = (FAN_OUT_P, FAN_OUT_DATA);
    let data = || black_box([x1, x2, t]);
    let call = |p: [f64; 9]| with_fan_out_args(fan_out, p, data());
    let call_grad = |p: [f64; 9]| with_fan_out_args(fan_out_grad, p, data());
    g.bench_function("primal", |bn| bn.iter(|| call(black_box(p))));
    g.bench_function("hand", |bn| {
        bn.iter(|| fan_out_hand(black_box(p), black_box(x1), black_box(x2), black_box(t)))
    });
    g.bench_function("grad", |bn| bn.iter(|| call_grad(black_box(p))));
    g.bench_function("num-dual", |bn| {
        bn.iter(|| {
            gradient(
                |v| fan_out_dual(v, black_box(x1), black_box(x2), black_box(t)),
                SVector::from(black_box(p)),
            )
        })
    });
    g.bench_function("symdiff", |bn| {
        bn.iter(|| fan_out_sym_gradient(black_box(&p), black_box(&[x1, x2, t])))
    });
    g.finish();

    let mut g = c.benchmark_group("softmax");
    let (w, b, xv) = (SOFTMAX_W, SOFTMAX_B, SOFTMAX_X);
    let flat = softmax_flat(w, b);
    g.bench_function("primal", |bn| {
        bn.iter(|| softmax(black_box(w), black_box(b), black_box(xv), black_box(1)))
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| softmax_hand(black_box(w), black_box(b), black_box(xv), black_box(1)))
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| softmax_grad(black_box(w), black_box(b), black_box(xv), black_box(1)))
    });
    g.bench_function("num-dual", |bn| {
        bn.iter(|| {
            gradient(
                |v| softmax_dual(v, black_box(xv), black_box(1)),
                SVector::from(black_box(flat)),
            )
        })
    });
    g.bench_function("symdiff", |bn| {
        bn.iter(|| softmax_sym_gradient(black_box(&flat), black_box(&xv)))
    });
    g.finish();

    let mut g = c.benchmark_group("rosenbrock");
    g.bench_function("primal", |bn| {
        bn.iter(|| rosenbrock(black_box(-1.2), black_box(1.0)))
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| rosenbrock_hand(black_box(-1.2), black_box(1.0)))
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| rosenbrock_grad(black_box(-1.2), black_box(1.0)))
    });
    g.bench_function("num-dual", |bn| {
        bn.iter(|| {
            gradient(
                rosenbrock_dual,
                SVector::from([black_box(-1.2), black_box(1.0)]),
            )
        })
    });
    g.bench_function("symdiff", |bn| {
        bn.iter(|| rosenbrock_sym_gradient(black_box(&[-1.2, 1.0])))
    });
    g.finish();

    let mut g = c.benchmark_group("mse_1000");
    let (xs, ys) = mse_data();
    g.bench_function("primal", |bn| {
        bn.iter(|| {
            mse(
                black_box(0.5),
                black_box(0.1),
                black_box(&xs),
                black_box(&ys),
            )
        })
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| {
            mse_hand(
                black_box(0.5),
                black_box(0.1),
                black_box(&xs),
                black_box(&ys),
            )
        })
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| {
            mse_grad(
                black_box(0.5),
                black_box(0.1),
                black_box(&xs),
                black_box(&ys),
            )
        })
    });
    g.bench_function("num-dual", |bn| {
        bn.iter(|| {
            gradient(
                |v| mse_dual(v, black_box(&xs), black_box(&ys)),
                SVector::from([black_box(0.5), black_box(0.1)]),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("rnn_100");
    let seq = rnn_data();
    g.bench_function("primal", |bn| {
        bn.iter(|| rnn(black_box(0.8), black_box(0.3), black_box(&seq)))
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| rnn_hand(black_box(0.8), black_box(0.3), black_box(&seq)))
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| rnn_grad(black_box(0.8), black_box(0.3), black_box(&seq)))
    });
    g.bench_function("num-dual", |bn| {
        bn.iter(|| {
            gradient(
                |v| rnn_dual(v, black_box(&seq)),
                SVector::from([black_box(0.8), black_box(0.3)]),
            )
        })
    });
    g.finish();

    array_state::benches(c);
    array_state::benches_more(c);
    array_state::benches_checkpoint(c);
    data_loops::benches(c);
}

criterion_group! {
    name = gradients;
    config = config();
    targets = benches
}

/// `criterion_main!(gradients)`, then the chart `benches/gradients.svg` of this run's medians.
fn main() {
    gradients();
    Criterion::default().configure_from_args().final_summary();
    if plot::benchmarks_ran() {
        chart();
    }
}

fn chart() {
    // This package is `benches/`; the workspace's target directory is beside it.
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().unwrap_or(manifest);
    let dir = plot::criterion_dir(root);
    let chart = plot::Chart {
        title: "Gradient time relative to the hand-written gradient (lower is better)",
        subtitle: "Criterion median time per call, cargo bench --bench gradients. \
                   Bars start at the hand-written gradient's time.",
        reference: ("hand", "hand-written"),
        cases: &[
            ("logreg", "logistic regression"),
            ("fan_out", "fan-out network"),
            ("softmax", "softmax regression"),
            ("rosenbrock", "Rosenbrock"),
            ("mse_1000", "MSE, 1,000 points"),
            ("rnn_100", "RNN, 100 steps"),
            ("heat_20x100", "heat equation, 20 × 100"),
            ("vrnn_4x30", "vector RNN, 4 × 30"),
            ("rk4_lv_40", "RK4 Lotka–Volterra, 40 steps"),
            ("mlp_4x8x3_150", "MLP 4-8-3, 150 samples"),
        ],
        series: &[
            ("grad", "#[grad] (this crate)", "#0072B2"),
            ("symdiff", "symdiff", "#009E73"),
            ("num-dual", "num-dual", "#D55E00"),
            ("forward", "#[grad] in forward mode", "#CC79A7"),
            ("primal", "primal (no gradient)", "#A0A0A0"),
        ],
        notes: &[
            "symdiff cannot express the MSE and RNN cases (loops, tanh). \
                  Its softmax has no max shift, a slightly cheaper function.",
        ],
    };
    match plot::render(&dir, &chart) {
        Ok(Some(svg)) => {
            let path = manifest.join("gradients.svg");
            match std::fs::write(&path, svg) {
                Ok(()) => println!("Chart written to {}", path.display()),
                Err(e) => eprintln!("Could not write {}: {e}", path.display()),
            }
        }
        Ok(None) => eprintln!("No results in {}: no chart written", dir.display()),
        Err(e) => eprintln!("No chart written: {e}"),
    }
}
