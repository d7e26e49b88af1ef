//! Parameters in structs (issue 19): `cargo bench --bench params`.
//!
//! - `mlp_struct_150`: the 4-8-3 MLP of `gradients`' array-state cases over 150 samples, its
//!   parameters held in nested structs (`#[grad(wrt = p)]`) against the same body with four
//!   array parameters (`#[grad(wrt = w1, b1, w2, b2)]`).
//! - `parallel_60000`: the same network's gradient over 60,000 samples on one thread, and in
//!   one chunk per core on rayon's threads, the struct-shaped gradients summed
//!   (`examples/parallel_gradient.rs`).

// The models are written with index loops, as users write them.
#![allow(clippy::needless_range_loop)]

use backprop::{grad, Differentiable};
use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rayon::prelude::*;

#[derive(Clone, Debug, Differentiable)]
pub struct Dense<const I: usize, const O: usize> {
    pub w: [[f64; I]; O],
    pub b: [f64; O],
}

#[derive(Clone, Debug, Differentiable)]
pub struct Mlp {
    pub hidden: Dense<4, 8>,
    pub out: Dense<8, 3>,
}

/// The MLP, its parameters in a struct.
#[grad(wrt = p)]
pub fn mlp_struct(p: &Mlp, xs: &[[f64; 4]], ys: &[usize]) -> f64 {
    let mut loss = 0.0;
    for n in 0..xs.len() {
        let mut h = [0.0; 8];
        for i in 0..8 {
            let mut z = p.hidden.b[i];
            for j in 0..4 {
                z += p.hidden.w[i][j] * xs[n][j];
            }
            h[i] = z.tanh();
        }
        let mut o = [0.0; 3];
        for c in 0..3 {
            let mut z = p.out.b[c];
            for i in 0..8 {
                z += p.out.w[c][i] * h[i];
            }
            o[c] = z;
        }
        let m = o[0].max(o[1]).max(o[2]);
        let lse = m + ((o[0] - m).exp() + (o[1] - m).exp() + (o[2] - m).exp()).ln();
        loss += lse - o[ys[n]];
    }
    loss / xs.len() as f64
}

/// The same body, its parameters passed one by one.
#[grad(wrt = w1, b1, w2, b2)]
pub fn mlp_arrays(
    w1: &[[f64; 4]; 8],
    b1: &[f64; 8],
    w2: &[[f64; 8]; 3],
    b2: &[f64; 3],
    xs: &[[f64; 4]],
    ys: &[usize],
) -> f64 {
    let mut loss = 0.0;
    for n in 0..xs.len() {
        let mut h = [0.0; 8];
        for i in 0..8 {
            let mut z = b1[i];
            for j in 0..4 {
                z += w1[i][j] * xs[n][j];
            }
            h[i] = z.tanh();
        }
        let mut o = [0.0; 3];
        for c in 0..3 {
            let mut z = b2[c];
            for i in 0..8 {
                z += w2[c][i] * h[i];
            }
            o[c] = z;
        }
        let m = o[0].max(o[1]).max(o[2]);
        let lse = m + ((o[0] - m).exp() + (o[1] - m).exp() + (o[2] - m).exp()).ln();
        loss += lse - o[ys[n]];
    }
    loss / xs.len() as f64
}

fn data(n: usize) -> (Vec<[f64; 4]>, Vec<usize>) {
    let x = (0..n)
        .map(|k| core::array::from_fn(|f| ((k * 7 + f * 3) as f64 * 0.37).sin()))
        .collect();
    (x, (0..n).map(|k| k % 3).collect())
}

fn params() -> Mlp {
    Mlp {
        hidden: Dense {
            w: core::array::from_fn(|i| core::array::from_fn(|j| 0.3 * ((i * 4 + j) as f64).cos())),
            b: core::array::from_fn(|i| 0.1 * (i as f64).sin()),
        },
        out: Dense {
            w: core::array::from_fn(|i| {
                core::array::from_fn(|j| 0.2 * ((i * 8 + j) as f64 * 0.7).sin())
            }),
            b: [0.05, -0.1, 0.02],
        },
    }
}

/// The mean loss's gradient over `xs`, one chunk per thread, weighted by the chunks' sizes.
fn parallel(p: &Mlp, xs: &[[f64; 4]], ys: &[usize]) -> Mlp {
    let n = xs.len();
    let chunk = n.div_ceil(rayon::current_num_threads()).max(1);
    xs.par_chunks(chunk)
        .zip(ys.par_chunks(chunk))
        .map(|(x, y)| {
            let mut share = p.zero_like();
            share.add_scaled(&mlp_struct_grad(p, x, y), x.len() as f64 / n as f64);
            share
        })
        .reduce(
            || p.zero_like(),
            |mut a, b| {
                a.add_scaled(&b, 1.0);
                a
            },
        )
}

fn agree() {
    let (xs, ys) = data(150);
    let p = params();
    let s = mlp_struct_grad(&p, &xs, &ys).to_flat();
    let (w1, b1, w2, b2) = mlp_arrays_grad(&p.hidden.w, &p.hidden.b, &p.out.w, &p.out.b, &xs, &ys);
    let a = Mlp {
        hidden: Dense { w: w1, b: b1 },
        out: Dense { w: w2, b: b2 },
    }
    .to_flat();
    assert_eq!(s, a, "the struct's gradient differs from the arrays'");
    let (xs, ys) = data(6_000);
    let one = mlp_struct_grad(&p, &xs, &ys).to_flat();
    let many = parallel(&p, &xs, &ys).to_flat();
    for (x, y) in one.iter().zip(&many) {
        assert!((x - y).abs() <= 1e-12 * x.abs().max(1e-3), "{x} vs {y}");
    }
}

fn benches(c: &mut Criterion) {
    agree();
    let p = params();
    let mut g = c.benchmark_group("mlp_struct_150");
    let (xs, ys) = data(150);
    g.bench_function("arrays", |bn| {
        bn.iter(|| {
            let p = black_box(&p);
            mlp_arrays_grad(&p.hidden.w, &p.hidden.b, &p.out.w, &p.out.b, &xs, &ys)
        })
    });
    g.bench_function("struct", |bn| {
        bn.iter(|| mlp_struct_grad(black_box(&p), &xs, &ys))
    });
    g.finish();

    let mut g = c.benchmark_group("parallel_60000");
    let (xs, ys) = data(60_000);
    g.bench_function("one_thread", |bn| {
        bn.iter(|| mlp_struct_grad(black_box(&p), &xs, &ys))
    });
    g.bench_function("chunks", |bn| bn.iter(|| parallel(black_box(&p), &xs, &ys)));
    g.finish();
}

criterion_group! {
    name = params_benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_secs(1))
        .sample_size(30);
    targets = benches
}
criterion_main!(params_benches);
