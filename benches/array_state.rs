//! Array state through loops (issue 18): the heat equation (20 cells × 100 steps) and a vector
//! RNN (hidden 4, 30 steps), each as the function, a hand-written adjoint (the states kept,
//! then swept backwards), `#[grad]` in reverse mode, `#[grad]` in forward mode (one pass per
//! parameter: the only way before reverse mode took array state) and num-dual.

// The simulations are written as the issue writes them, with index loops.
#![allow(clippy::needless_range_loop)]

use backprop::grad;
use criterion::{black_box, Criterion};
use nalgebra::{Const, SVector};
use num_dual::{gradient, DualNum, DualVec64};

type DV<const N: usize> = DualVec64<Const<N>>;

pub const HEAT_K: f64 = 0.7;

pub fn heat_u0() -> [f64; 20] {
    core::array::from_fn(|i| (i as f64 * 0.3).sin() + 0.05 * i as f64)
}

pub const HEAT_TARGET: [f64; 20] = [0.1; 20];

/// The heat equation, as a user writes it.
#[grad(wrt = kappa, u0)]
pub fn heat(kappa: f64, u0: [f64; 20], target: &[f64; 20]) -> f64 {
    let mut u = u0;
    for _ in 0..100 {
        let mut un = u;
        for i in 1..19 {
            un[i] = u[i] + kappa * 0.4 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
    }
    (0..20).map(|i| (u[i] - target[i]).powi(2)).sum()
}

/// The same, differentiated in forward mode.
#[grad(wrt = kappa, u0, mode = forward)]
pub fn heat_fwd(kappa: f64, u0: [f64; 20], target: &[f64; 20]) -> f64 {
    let mut u = u0;
    for _ in 0..100 {
        let mut un = u;
        for i in 1..19 {
            un[i] = u[i] + kappa * 0.4 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
    }
    (0..20).map(|i| (u[i] - target[i]).powi(2)).sum()
}

/// The adjoint written by hand: every state kept, then the steps reversed.
pub fn heat_hand(kappa: f64, u0: [f64; 20], target: &[f64; 20]) -> (f64, [f64; 20]) {
    let c = 0.4 * kappa;
    let mut us = [[0.0; 20]; 101];
    us[0] = u0;
    for t in 0..100 {
        let u = us[t];
        let mut un = u;
        for i in 1..19 {
            un[i] = u[i] + c * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        us[t + 1] = un;
    }
    let mut du = [0.0; 20];
    for i in 0..20 {
        du[i] = 2.0 * (us[100][i] - target[i]);
    }
    let mut dk = 0.0;
    for t in (0..100).rev() {
        let u = &us[t];
        let mut prev = [0.0; 20];
        prev[0] = du[0];
        prev[19] = du[19];
        for i in 1..19 {
            let d = du[i];
            prev[i] += d * (1.0 - 2.0 * c);
            prev[i + 1] += d * c;
            prev[i - 1] += d * c;
            dk += d * 0.4 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        du = prev;
    }
    (dk, du)
}

fn heat_generic<T: DualNum<f64> + Copy>(kappa: T, u0: [T; 20], target: &[f64; 20]) -> T {
    let mut u = u0;
    for _ in 0..100 {
        let mut un = u;
        for i in 1..19 {
            un[i] = u[i] + kappa * 0.4 * (u[i + 1] - u[i] * 2.0 + u[i - 1]);
        }
        u = un;
    }
    let mut s = T::zero();
    for i in 0..20 {
        s += (u[i] - target[i]).powi(2);
    }
    s
}

fn heat_dual(p: SVector<DV<21>, 21>, target: &[f64; 20]) -> DV<21> {
    heat_generic(p[0], core::array::from_fn(|i| p[i + 1]), target)
}

pub fn heat_flat(k: f64, u: &[f64; 20]) -> SVector<f64, 21> {
    SVector::from_fn(|i, _| if i == 0 { k } else { u[i - 1] })
}

pub fn vrnn_params() -> ([[f64; 4]; 4], [f64; 4], [f64; 30]) {
    let w = core::array::from_fn(|i| core::array::from_fn(|j| 0.3 * ((i * 4 + j) as f64).cos()));
    (
        w,
        [0.5, -0.4, 0.8, 0.2],
        core::array::from_fn(|t| (t as f64 * 0.7).sin()),
    )
}

/// A vector RNN: `h ← tanh(W h + U x_t)`, hidden 4, 30 steps, a loss read at every step.
#[grad(wrt = w, uw)]
pub fn vrnn(w: [[f64; 4]; 4], uw: [f64; 4], xs: &[f64; 30]) -> f64 {
    let mut h = [0.0; 4];
    let mut loss = 0.0;
    for t in 0..30 {
        let mut hn = [0.0; 4];
        for i in 0..4 {
            let mut s = uw[i] * xs[t];
            for j in 0..4 {
                s += w[i][j] * h[j];
            }
            hn[i] = s.tanh();
        }
        h = hn;
        loss += h[0] * h[0] - 0.5 * h[3];
    }
    loss
}

/// The same, differentiated in forward mode.
#[grad(wrt = w, uw, mode = forward)]
pub fn vrnn_fwd(w: [[f64; 4]; 4], uw: [f64; 4], xs: &[f64; 30]) -> f64 {
    let mut h = [0.0; 4];
    let mut loss = 0.0;
    for t in 0..30 {
        let mut hn = [0.0; 4];
        for i in 0..4 {
            let mut s = uw[i] * xs[t];
            for j in 0..4 {
                s += w[i][j] * h[j];
            }
            hn[i] = s.tanh();
        }
        h = hn;
        loss += h[0] * h[0] - 0.5 * h[3];
    }
    loss
}

/// The adjoint written by hand: the hidden states kept, then back-propagated through time.
pub fn vrnn_hand(w: [[f64; 4]; 4], uw: [f64; 4], xs: &[f64; 30]) -> ([[f64; 4]; 4], [f64; 4]) {
    let mut hs = [[0.0; 4]; 31];
    for t in 0..30 {
        for i in 0..4 {
            let mut s = uw[i] * xs[t];
            for j in 0..4 {
                s += w[i][j] * hs[t][j];
            }
            hs[t + 1][i] = s.tanh();
        }
    }
    let (mut dw, mut du, mut dh) = ([[0.0; 4]; 4], [0.0; 4], [0.0; 4]);
    for t in (0..30).rev() {
        let h = &hs[t + 1];
        dh[0] += 2.0 * h[0];
        dh[3] -= 0.5;
        let mut prev = [0.0; 4];
        for i in 0..4 {
            let dz = dh[i] * (1.0 - h[i] * h[i]);
            du[i] += dz * xs[t];
            for j in 0..4 {
                dw[i][j] += dz * hs[t][j];
                prev[j] += dz * w[i][j];
            }
        }
        dh = prev;
    }
    (dw, du)
}

fn vrnn_dual(p: SVector<DV<20>, 20>, xs: &[f64; 30]) -> DV<20> {
    let mut h = [DV::<20>::from_re(0.0); 4];
    let mut loss = DV::<20>::from_re(0.0);
    for x in xs {
        let mut hn = h;
        for i in 0..4 {
            let mut s = p[16 + i] * *x;
            for j in 0..4 {
                s += p[i * 4 + j] * h[j];
            }
            hn[i] = s.tanh();
        }
        h = hn;
        loss += h[0] * h[0] - h[3] * 0.5;
    }
    loss
}

pub fn vrnn_flat(w: &[[f64; 4]; 4], u: &[f64; 4]) -> SVector<f64, 20> {
    SVector::from_fn(|k, _| if k < 16 { w[k / 4][k % 4] } else { u[k - 16] })
}

/// A check that two gradients agree (`what` names the pair in the panic message).
pub type Close<'a> = &'a dyn Fn(&[f64], &[f64], &str);

/// Every implementation gives the same gradient, checked before anything is timed.
pub fn agree(close: Close) {
    let (u0, target) = (heat_u0(), HEAT_TARGET);
    let (dk, du) = heat_grad(HEAT_K, u0, &target);
    let ours = heat_flat(dk, &du);
    let (hk, hu) = heat_hand(HEAT_K, u0, &target);
    close(ours.as_slice(), heat_flat(hk, &hu).as_slice(), "heat hand");
    let (fk, fu) = heat_fwd_grad(HEAT_K, u0, &target);
    close(
        ours.as_slice(),
        heat_flat(fk, &fu).as_slice(),
        "heat forward",
    );
    let (_, d) = gradient(|v| heat_dual(v, &target), heat_flat(HEAT_K, &u0));
    close(ours.as_slice(), d.as_slice(), "heat num-dual");

    let (w, uw, xs) = vrnn_params();
    let (dw, du) = vrnn_grad(w, uw, &xs);
    let ours = vrnn_flat(&dw, &du);
    let (hw, hu) = vrnn_hand(w, uw, &xs);
    close(ours.as_slice(), vrnn_flat(&hw, &hu).as_slice(), "vrnn hand");
    let (fw, fu) = vrnn_fwd_grad(w, uw, &xs);
    close(
        ours.as_slice(),
        vrnn_flat(&fw, &fu).as_slice(),
        "vrnn forward",
    );
    let (_, d) = gradient(|v| vrnn_dual(v, &xs), vrnn_flat(&w, &uw));
    close(ours.as_slice(), d.as_slice(), "vrnn num-dual");
}

pub fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("heat_20x100");
    let (u0, target) = (heat_u0(), HEAT_TARGET);
    g.bench_function("primal", |bn| {
        bn.iter(|| heat(black_box(HEAT_K), black_box(u0), black_box(&target)))
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| heat_hand(black_box(HEAT_K), black_box(u0), black_box(&target)))
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| heat_grad(black_box(HEAT_K), black_box(u0), black_box(&target)))
    });
    g.bench_function("forward", |bn| {
        bn.iter(|| heat_fwd_grad(black_box(HEAT_K), black_box(u0), black_box(&target)))
    });
    g.bench_function("num-dual", |bn| {
        bn.iter(|| {
            gradient(
                |v| heat_dual(v, black_box(&target)),
                heat_flat(black_box(HEAT_K), black_box(&u0)),
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("vrnn_4x30");
    let (w, uw, xs) = vrnn_params();
    g.bench_function("primal", |bn| {
        bn.iter(|| vrnn(black_box(w), black_box(uw), black_box(&xs)))
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| vrnn_hand(black_box(w), black_box(uw), black_box(&xs)))
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| vrnn_grad(black_box(w), black_box(uw), black_box(&xs)))
    });
    g.bench_function("forward", |bn| {
        bn.iter(|| vrnn_fwd_grad(black_box(w), black_box(uw), black_box(&xs)))
    });
    g.bench_function("num-dual", |bn| {
        bn.iter(|| gradient(|v| vrnn_dual(v, black_box(&xs)), vrnn_flat(&w, &uw)))
    });
    g.finish();
}
