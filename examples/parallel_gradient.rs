//! Data-parallel gradients: a data set split into one chunk per core, each chunk's gradient
//! computed on its own thread with rayon, and the struct-shaped gradients summed.
//!
//! The model is `examples/mlp_iris.rs`'s 4-8-3 network, held in a struct, on a synthetic data
//! set of 60,000 points (three Gaussian clusters in four dimensions). Its loss is a mean, so
//! the whole data set's gradient is the chunks' gradients weighted by their share of the
//! points: `Σ_c (n_c / n) ∇L_c`, added with `Differentiable::add_scaled`. The sum is associated
//! differently from the one-thread gradient, so the two agree to rounding (printed), not to
//! the bit.
//!
//! ```text
//! cargo run --release --example parallel_gradient
//! ```

#[allow(dead_code)] // the example's `main` and what only it uses
#[path = "mlp_iris.rs"]
mod mlp_iris;

use backprop::Differentiable;
use mlp_iris::{initial, loss_grad, Flower, Mlp};
use rayon::prelude::*;
use std::time::Instant;

/// `n` points around three centres, labelled by their centre (a fixed linear congruential
/// generator: the same data on every run).
pub fn clusters(n: usize) -> Vec<Flower> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut uniform = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let centres = [
        [1.0, 0.0, -1.0, 0.5],
        [-1.0, 1.0, 0.0, -0.5],
        [0.0, -1.0, 1.0, 0.0],
    ];
    (0..n)
        .map(|i| {
            let label = i % 3;
            let x = std::array::from_fn(|f| {
                // Box–Muller: a standard normal from two uniforms.
                let (u, v) = (uniform(), uniform());
                let g = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                centres[label][f] + 0.6 * g
            });
            (x, label)
        })
        .collect()
}

/// The gradient of the mean loss over `data`, one chunk per thread of rayon's pool.
pub fn parallel_grad(p: &Mlp, data: &[Flower]) -> Mlp {
    let n = data.len();
    let chunk = n.div_ceil(rayon::current_num_threads()).max(1);
    data.par_chunks(chunk)
        .map(|c| {
            let g = loss_grad(p, c);
            let mut share = g.zero_like();
            share.add_scaled(&g, c.len() as f64 / n as f64);
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

/// The median of `runs` timings of `f`, in milliseconds.
fn time_ms(runs: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

fn main() {
    let data = clusters(60_000);
    let p = initial();
    let one = loss_grad(&p, &data);
    let many = parallel_grad(&p, &data);
    let largest = one
        .to_flat()
        .iter()
        .zip(many.to_flat())
        .map(|(a, b)| (a - b).abs() / a.abs().max(1e-12))
        .fold(0.0, f64::max);
    println!(
        "{} points, {} parameters, {} threads",
        data.len(),
        one.num_params(),
        rayon::current_num_threads()
    );
    println!("largest relative difference, one thread against chunks: {largest:.1e}");
    let seq = time_ms(21, || {
        std::hint::black_box(loss_grad(std::hint::black_box(&p), &data));
    });
    let par = time_ms(21, || {
        std::hint::black_box(parallel_grad(std::hint::black_box(&p), &data));
    });
    println!(
        "one thread: {seq:.2} ms   chunks in parallel: {par:.2} ms   speed-up: {:.2}×",
        seq / par
    );
}
