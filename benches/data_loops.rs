//! Losses summed over a data set (issue 23): a Gaussian mixture's negative log-likelihood over
//! 200 points and a Poisson regression over 500, each against a gradient written by hand as a
//! careful person would (parameters' derivatives accumulated over the data, term by term).

use super::array_state::Close;
use backprop::grad;
use criterion::{black_box, Criterion};

// ---------------------------------------------------------------------------------------------
// A one-dimensional mixture of three Gaussians, 200 points
// ---------------------------------------------------------------------------------------------

pub const GMM_LOGITS: [f64; 3] = [0.2, -0.1, 0.4];
pub const GMM_MU: [f64; 3] = [-1.5, 0.3, 2.0];
pub const GMM_LOG_SIGMA: [f64; 3] = [-0.2, 0.1, 0.3];

pub fn gmm_data() -> Vec<f64> {
    (0..200)
        .map(|i| {
            let t = i as f64;
            match i % 3 {
                0 => -1.4 + 0.8 * (t * 0.91).sin(),
                1 => 0.2 + 1.1 * (t * 0.53).cos(),
                _ => 2.1 + 1.3 * (t * 0.37).sin(),
            }
        })
        .collect()
}

/// The mixture's negative log-likelihood (without the constant `n/2 · ln 2π`): weights
/// `softmax(logits)`, means `mu`, standard deviations `exp(log_sigma)`. What does not depend
/// on the point is computed before the loop, as the hand-written gradient does.
#[grad(wrt = logits, mu, log_sigma)]
pub fn gmm(logits: [f64; 3], mu: [f64; 3], log_sigma: [f64; 3], xs: &[f64]) -> f64 {
    let m = logits[0].max(logits[1]).max(logits[2]);
    let lse = m + ((logits[0] - m).exp() + (logits[1] - m).exp() + (logits[2] - m).exp()).ln();
    let mut inv_sigma = [0.0; 3];
    let mut offset = [0.0; 3];
    for k in 0..3 {
        inv_sigma[k] = (-log_sigma[k]).exp();
        offset[k] = logits[k] - lse - log_sigma[k];
    }
    let mut nll = 0.0;
    for x in xs {
        let mut s = 0.0;
        for k in 0..3 {
            let z = (x - mu[k]) * inv_sigma[k];
            s += (offset[k] - 0.5 * z * z).exp();
        }
        nll -= s.ln();
    }
    nll
}

/// ∂/∂logits_k = Σ (π_k − r_k), ∂/∂mu_k = −Σ r_k z_k / σ_k, ∂/∂log_sigma_k = −Σ r_k (z_k² − 1),
/// with `r_k` the responsibilities.
pub fn gmm_hand(
    logits: [f64; 3],
    mu: [f64; 3],
    log_sigma: [f64; 3],
    xs: &[f64],
) -> ([f64; 3], [f64; 3], [f64; 3]) {
    let m = logits[0].max(logits[1]).max(logits[2]);
    let e = [
        (logits[0] - m).exp(),
        (logits[1] - m).exp(),
        (logits[2] - m).exp(),
    ];
    let total = e[0] + e[1] + e[2];
    let lse = m + total.ln();
    let inv_sigma = [
        (-log_sigma[0]).exp(),
        (-log_sigma[1]).exp(),
        (-log_sigma[2]).exp(),
    ];
    let (mut d_logits, mut d_mu, mut d_ls) = ([0.0; 3], [0.0; 3], [0.0; 3]);
    let mut r_total = [0.0; 3];
    for x in xs {
        let mut p = [0.0; 3];
        let mut z = [0.0; 3];
        let mut s = 0.0;
        for k in 0..3 {
            z[k] = (x - mu[k]) * inv_sigma[k];
            p[k] = (logits[k] - lse - log_sigma[k] - 0.5 * z[k] * z[k]).exp();
            s += p[k];
        }
        let inv_s = 1.0 / s;
        for k in 0..3 {
            let r = p[k] * inv_s;
            r_total[k] += r;
            d_mu[k] -= r * z[k] * inv_sigma[k];
            d_ls[k] -= r * (z[k] * z[k] - 1.0);
        }
    }
    let n = xs.len() as f64;
    for k in 0..3 {
        d_logits[k] = n * e[k] / total - r_total[k];
    }
    (d_logits, d_mu, d_ls)
}

// ---------------------------------------------------------------------------------------------
// Poisson regression, four features, 500 points
// ---------------------------------------------------------------------------------------------

pub const POISSON_W: [f64; 4] = [0.3, -0.2, 0.1, 0.25];
pub const POISSON_B: f64 = 0.4;

pub fn poisson_data() -> (Vec<[f64; 4]>, Vec<f64>) {
    let xs: Vec<[f64; 4]> = (0..500)
        .map(|i| {
            let t = i as f64;
            [
                (t * 0.13).sin(),
                (t * 0.07).cos(),
                ((t * 0.29).sin() * 0.5).tanh(),
                (i % 5) as f64 * 0.2,
            ]
        })
        .collect();
    let ys = (0..500).map(|i| ((i * 7) % 5) as f64).collect();
    (xs, ys)
}

/// The mean negative log-likelihood of counts `ys` (without `ln y!`), rate `exp(w·x + b)`.
#[grad(wrt = w, b)]
pub fn poisson(w: [f64; 4], b: f64, xs: &[[f64; 4]], ys: &[f64]) -> f64 {
    let mut nll = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let mut eta = b;
        for f in 0..4 {
            eta += w[f] * x[f];
        }
        nll += eta.exp() - y * eta;
    }
    nll / xs.len() as f64
}

pub fn poisson_hand(w: [f64; 4], b: f64, xs: &[[f64; 4]], ys: &[f64]) -> ([f64; 4], f64) {
    let (mut dw, mut db) = ([0.0; 4], 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let mut eta = b;
        for f in 0..4 {
            eta += w[f] * x[f];
        }
        let g = eta.exp() - y;
        for f in 0..4 {
            dw[f] += g * x[f];
        }
        db += g;
    }
    let n = xs.len() as f64;
    for d in &mut dw {
        *d /= n;
    }
    (dw, db / n)
}

// ---------------------------------------------------------------------------------------------

pub fn agree(close: Close) {
    let xs = gmm_data();
    let (dl, dm, ds) = gmm_grad(GMM_LOGITS, GMM_MU, GMM_LOG_SIGMA, &xs);
    let (hl, hm, hs) = gmm_hand(GMM_LOGITS, GMM_MU, GMM_LOG_SIGMA, &xs);
    close(
        &[dl, dm, ds].concat(),
        &[hl, hm, hs].concat(),
        "gaussian mixture hand",
    );

    let (xs, ys) = poisson_data();
    let (dw, db) = poisson_grad(POISSON_W, POISSON_B, &xs, &ys);
    let (hw, hb) = poisson_hand(POISSON_W, POISSON_B, &xs, &ys);
    close(
        &[&dw[..], &[db]].concat(),
        &[&hw[..], &[hb]].concat(),
        "poisson hand",
    );
}

pub fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("gmm_3x200");
    let xs = gmm_data();
    let (l, m, s) = (GMM_LOGITS, GMM_MU, GMM_LOG_SIGMA);
    g.bench_function("primal", |bn| {
        bn.iter(|| gmm(black_box(l), black_box(m), black_box(s), black_box(&xs)))
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| gmm_hand(black_box(l), black_box(m), black_box(s), black_box(&xs)))
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| gmm_grad(black_box(l), black_box(m), black_box(s), black_box(&xs)))
    });
    g.finish();

    let mut g = c.benchmark_group("poisson_4x500");
    let (xs, ys) = poisson_data();
    let (w, b) = (POISSON_W, POISSON_B);
    g.bench_function("primal", |bn| {
        bn.iter(|| poisson(black_box(w), black_box(b), black_box(&xs), black_box(&ys)))
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| poisson_hand(black_box(w), black_box(b), black_box(&xs), black_box(&ys)))
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| poisson_grad(black_box(w), black_box(b), black_box(&xs), black_box(&ys)))
    });
    g.finish();
}
