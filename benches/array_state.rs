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

// ---------------------------------------------------------------------------------------------
// RK4 Lotka–Volterra with an array-valued right-hand side (a `#[grad]` helper), 40 steps
// ---------------------------------------------------------------------------------------------

pub const LV_K: [f64; 4] = [1.1, 0.4, 0.1, 0.4];
pub const LV_S0: [f64; 2] = [1.0, 0.8];

#[grad(wrt = s, k)]
pub fn lv_rhs(s: [f64; 2], k: &[f64; 4]) -> [f64; 2] {
    [
        k[0] * s[0] - k[1] * s[0] * s[1],
        k[2] * s[0] * s[1] - k[3] * s[1],
    ]
}

/// RK4, the stages from the helper.
#[grad(wrt = k, s0)]
pub fn lv(k: [f64; 4], s0: [f64; 2]) -> f64 {
    let dt = 0.05;
    let mut s = s0;
    for _ in 0..40 {
        let k1 = lv_rhs(s, &k);
        let mut m = s;
        for j in 0..2 {
            m[j] += 0.5 * dt * k1[j];
        }
        let k2 = lv_rhs(m, &k);
        m = s;
        for j in 0..2 {
            m[j] += 0.5 * dt * k2[j];
        }
        let k3 = lv_rhs(m, &k);
        m = s;
        for j in 0..2 {
            m[j] += dt * k3[j];
        }
        let k4 = lv_rhs(m, &k);
        for j in 0..2 {
            s[j] += dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
        }
    }
    (s[0] - 1.0).powi(2) + (s[1] - 0.5).powi(2)
}

/// The same, differentiated in forward mode.
#[grad(wrt = k, s0, mode = forward)]
pub fn lv_fwd(k: [f64; 4], s0: [f64; 2]) -> f64 {
    let dt = 0.05;
    let mut s = s0;
    for _ in 0..40 {
        let k1 = lv_rhs(s, &k);
        let mut m = s;
        for j in 0..2 {
            m[j] += 0.5 * dt * k1[j];
        }
        let k2 = lv_rhs(m, &k);
        m = s;
        for j in 0..2 {
            m[j] += 0.5 * dt * k2[j];
        }
        let k3 = lv_rhs(m, &k);
        m = s;
        for j in 0..2 {
            m[j] += dt * k3[j];
        }
        let k4 = lv_rhs(m, &k);
        for j in 0..2 {
            s[j] += dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
        }
    }
    (s[0] - 1.0).powi(2) + (s[1] - 0.5).powi(2)
}

fn rhs_plain(s: [f64; 2], k: &[f64; 4]) -> [f64; 2] {
    [
        k[0] * s[0] - k[1] * s[0] * s[1],
        k[2] * s[0] * s[1] - k[3] * s[1],
    ]
}

/// `(x̄, k̄)` of the right-hand side at `x` for the adjoint `g` of its value.
fn rhs_vjp(x: [f64; 2], k: &[f64; 4], g: [f64; 2], dk: &mut [f64; 4]) -> [f64; 2] {
    dk[0] += g[0] * x[0];
    dk[1] -= g[0] * x[0] * x[1];
    dk[2] += g[1] * x[0] * x[1];
    dk[3] -= g[1] * x[1];
    [
        g[0] * (k[0] - k[1] * x[1]) + g[1] * k[2] * x[1],
        -g[0] * k[1] * x[0] + g[1] * (k[2] * x[0] - k[3]),
    ]
}

/// The adjoint written by hand: the states kept, each step's stages recomputed and reversed.
pub fn lv_hand(k: [f64; 4], s0: [f64; 2]) -> ([f64; 4], [f64; 2]) {
    let dt = 0.05;
    let stage = |s: [f64; 2], kk: [f64; 2], h: f64| [s[0] + h * kk[0], s[1] + h * kk[1]];
    let mut ss = [[0.0; 2]; 41];
    ss[0] = s0;
    for t in 0..40 {
        let s = ss[t];
        let k1 = rhs_plain(s, &k);
        let k2 = rhs_plain(stage(s, k1, 0.5 * dt), &k);
        let k3 = rhs_plain(stage(s, k2, 0.5 * dt), &k);
        let k4 = rhs_plain(stage(s, k3, dt), &k);
        ss[t + 1] = [
            s[0] + dt / 6.0 * (k1[0] + 2.0 * k2[0] + 2.0 * k3[0] + k4[0]),
            s[1] + dt / 6.0 * (k1[1] + 2.0 * k2[1] + 2.0 * k3[1] + k4[1]),
        ];
    }
    let mut ds = [2.0 * (ss[40][0] - 1.0), 2.0 * (ss[40][1] - 0.5)];
    let mut dk = [0.0; 4];
    for t in (0..40).rev() {
        let s = ss[t];
        let k1 = rhs_plain(s, &k);
        let m1 = stage(s, k1, 0.5 * dt);
        let k2 = rhs_plain(m1, &k);
        let m2 = stage(s, k2, 0.5 * dt);
        let k3 = rhs_plain(m2, &k);
        let m3 = stage(s, k3, dt);
        let w = [dt / 6.0 * ds[0], dt / 6.0 * ds[1]];
        let mut dk3 = [2.0 * w[0], 2.0 * w[1]];
        let mut dk2 = dk3;
        let mut dk1 = w;
        let dm3 = rhs_vjp(m3, &k, w, &mut dk);
        let mut d = [ds[0] + dm3[0], ds[1] + dm3[1]];
        dk3 = [dk3[0] + dt * dm3[0], dk3[1] + dt * dm3[1]];
        let dm2 = rhs_vjp(m2, &k, dk3, &mut dk);
        d = [d[0] + dm2[0], d[1] + dm2[1]];
        dk2 = [dk2[0] + 0.5 * dt * dm2[0], dk2[1] + 0.5 * dt * dm2[1]];
        let dm1 = rhs_vjp(m1, &k, dk2, &mut dk);
        d = [d[0] + dm1[0], d[1] + dm1[1]];
        dk1 = [dk1[0] + 0.5 * dt * dm1[0], dk1[1] + 0.5 * dt * dm1[1]];
        let d0 = rhs_vjp(s, &k, dk1, &mut dk);
        ds = [d[0] + d0[0], d[1] + d0[1]];
    }
    (dk, ds)
}

fn lv_dual(p: SVector<DV<6>, 6>) -> DV<6> {
    let k = [p[0], p[1], p[2], p[3]];
    let f = |s: [DV<6>; 2]| {
        [
            k[0] * s[0] - k[1] * s[0] * s[1],
            k[2] * s[0] * s[1] - k[3] * s[1],
        ]
    };
    let dt = 0.05;
    let mut s = [p[4], p[5]];
    for _ in 0..40 {
        let k1 = f(s);
        let k2 = f([s[0] + k1[0] * (0.5 * dt), s[1] + k1[1] * (0.5 * dt)]);
        let k3 = f([s[0] + k2[0] * (0.5 * dt), s[1] + k2[1] * (0.5 * dt)]);
        let k4 = f([s[0] + k3[0] * dt, s[1] + k3[1] * dt]);
        for j in 0..2 {
            s[j] += (k1[j] + k2[j] * 2.0 + k3[j] * 2.0 + k4[j]) * (dt / 6.0);
        }
    }
    (s[0] - 1.0).powi(2) + (s[1] - 0.5).powi(2)
}

fn lv_flat(k: &[f64; 4], s: &[f64; 2]) -> SVector<f64, 6> {
    SVector::from_fn(|i, _| if i < 4 { k[i] } else { s[i - 4] })
}

// ---------------------------------------------------------------------------------------------
// A 4-8-3 MLP (tanh, softmax cross-entropy) over 150 samples
// ---------------------------------------------------------------------------------------------

pub fn mlp_data() -> ([[f64; 4]; 150], [usize; 150]) {
    let x =
        core::array::from_fn(|n| core::array::from_fn(|f| ((n * 7 + f * 3) as f64 * 0.37).sin()));
    let y = core::array::from_fn(|n| n % 3);
    (x, y)
}

pub fn mlp_params() -> MlpGrad {
    (
        core::array::from_fn(|i| core::array::from_fn(|j| 0.3 * ((i * 4 + j) as f64).cos())),
        core::array::from_fn(|i| 0.1 * (i as f64).sin()),
        core::array::from_fn(|i| core::array::from_fn(|j| 0.2 * ((i * 8 + j) as f64 * 0.7).sin())),
        [0.05, -0.1, 0.02],
    )
}

#[grad(wrt = w1, b1, w2, b2)]
pub fn mlp(
    w1: [[f64; 4]; 8],
    b1: [f64; 8],
    w2: [[f64; 8]; 3],
    b2: [f64; 3],
    xs: &[[f64; 4]; 150],
    ys: &[usize; 150],
) -> f64 {
    let mut loss = 0.0;
    for n in 0..150 {
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
    loss / 150.0
}

/// The MLP's parameters (and their gradient): `w1`, `b1`, `w2`, `b2`.
pub type MlpGrad = ([[f64; 4]; 8], [f64; 8], [[f64; 8]; 3], [f64; 3]);

/// The adjoint written by hand, sample by sample.
pub fn mlp_hand(
    w1: [[f64; 4]; 8],
    b1: [f64; 8],
    w2: [[f64; 8]; 3],
    b2: [f64; 3],
    xs: &[[f64; 4]; 150],
    ys: &[usize; 150],
) -> MlpGrad {
    let (mut dw1, mut db1, mut dw2, mut db2) = ([[0.0; 4]; 8], [0.0; 8], [[0.0; 8]; 3], [0.0; 3]);
    for n in 0..150 {
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
        let e = [(o[0] - m).exp(), (o[1] - m).exp(), (o[2] - m).exp()];
        let sum = e[0] + e[1] + e[2];
        let mut dh = [0.0; 8];
        for c in 0..3 {
            let d = (e[c] / sum - if c == ys[n] { 1.0 } else { 0.0 }) / 150.0;
            db2[c] += d;
            for i in 0..8 {
                dw2[c][i] += d * h[i];
                dh[i] += d * w2[c][i];
            }
        }
        for i in 0..8 {
            let dz = dh[i] * (1.0 - h[i] * h[i]);
            db1[i] += dz;
            for j in 0..4 {
                dw1[i][j] += dz * xs[n][j];
            }
        }
    }
    (dw1, db1, dw2, db2)
}

fn mlp_dual(p: SVector<DV<67>, 67>, xs: &[[f64; 4]; 150], ys: &[usize; 150]) -> DV<67> {
    let mut loss = DV::<67>::from_re(0.0);
    for n in 0..150 {
        let mut h = [DV::<67>::from_re(0.0); 8];
        for i in 0..8 {
            let mut z = p[32 + i];
            for j in 0..4 {
                z += p[i * 4 + j] * xs[n][j];
            }
            h[i] = z.tanh();
        }
        let mut o = [DV::<67>::from_re(0.0); 3];
        for c in 0..3 {
            let mut z = p[64 + c];
            for i in 0..8 {
                z += p[40 + c * 8 + i] * h[i];
            }
            o[c] = z;
        }
        let m = if o[0].re >= o[1].re && o[0].re >= o[2].re {
            o[0]
        } else if o[1].re >= o[2].re {
            o[1]
        } else {
            o[2]
        };
        let lse = m + ((o[0] - m).exp() + (o[1] - m).exp() + (o[2] - m).exp()).ln();
        loss += lse - o[ys[n]];
    }
    loss / 150.0
}

fn mlp_flat(g: &MlpGrad) -> SVector<f64, 67> {
    let v: Vec<f64> =
        g.0.iter()
            .flatten()
            .chain(&g.1)
            .chain(g.2.iter().flatten())
            .chain(&g.3)
            .copied()
            .collect();
    SVector::from_column_slice(&v)
}

pub fn agree_more(close: Close) {
    let (dk, ds) = lv_grad(LV_K, LV_S0);
    let ours = lv_flat(&dk, &ds);
    let (hk, hs) = lv_hand(LV_K, LV_S0);
    close(ours.as_slice(), lv_flat(&hk, &hs).as_slice(), "lv hand");
    let (fk, fs) = lv_fwd_grad(LV_K, LV_S0);
    close(ours.as_slice(), lv_flat(&fk, &fs).as_slice(), "lv forward");
    let (_, d) = gradient(lv_dual, lv_flat(&LV_K, &LV_S0));
    close(ours.as_slice(), d.as_slice(), "lv num-dual");

    let (xs, ys) = mlp_data();
    let (w1, b1, w2, b2) = mlp_params();
    let ours = mlp_flat(&mlp_grad(w1, b1, w2, b2, &xs, &ys));
    close(
        ours.as_slice(),
        mlp_flat(&mlp_hand(w1, b1, w2, b2, &xs, &ys)).as_slice(),
        "mlp hand",
    );
    let (_, d) = gradient(|v| mlp_dual(v, &xs, &ys), mlp_flat(&(w1, b1, w2, b2)));
    close(ours.as_slice(), d.as_slice(), "mlp num-dual");
}

pub fn benches_more(c: &mut Criterion) {
    let mut g = c.benchmark_group("rk4_lv_40");
    g.bench_function("primal", |bn| {
        bn.iter(|| lv(black_box(LV_K), black_box(LV_S0)))
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| lv_hand(black_box(LV_K), black_box(LV_S0)))
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| lv_grad(black_box(LV_K), black_box(LV_S0)))
    });
    g.bench_function("forward", |bn| {
        bn.iter(|| lv_fwd_grad(black_box(LV_K), black_box(LV_S0)))
    });
    g.bench_function("num-dual", |bn| {
        bn.iter(|| gradient(lv_dual, lv_flat(&black_box(LV_K), &black_box(LV_S0))))
    });
    g.finish();

    let mut g = c.benchmark_group("mlp_4x8x3_150");
    let (xs, ys) = mlp_data();
    let (w1, b1, w2, b2) = mlp_params();
    g.bench_function("primal", |bn| {
        bn.iter(|| {
            mlp(
                black_box(w1),
                black_box(b1),
                black_box(w2),
                black_box(b2),
                &xs,
                &ys,
            )
        })
    });
    g.bench_function("hand", |bn| {
        bn.iter(|| {
            mlp_hand(
                black_box(w1),
                black_box(b1),
                black_box(w2),
                black_box(b2),
                &xs,
                &ys,
            )
        })
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| {
            mlp_grad(
                black_box(w1),
                black_box(b1),
                black_box(w2),
                black_box(b2),
                &xs,
                &ys,
            )
        })
    });
    g.bench_function("num-dual", |bn| {
        bn.iter(|| {
            gradient(
                |v| mlp_dual(v, &xs, &ys),
                mlp_flat(&(black_box(w1), black_box(b1), black_box(w2), black_box(b2))),
            )
        })
    });
    g.finish();
}

// ---------------------------------------------------------------------------------------------
// A long heat equation (20 cells × 2,000 steps), with and without `checkpoint`
// ---------------------------------------------------------------------------------------------

/// The heat equation over 2,000 steps: its sweep keeps 2,000 states of 20 floats (320 kB).
#[grad(wrt = kappa, u0)]
pub fn heat_long(kappa: f64, u0: [f64; 20], target: &[f64; 20]) -> f64 {
    let mut u = u0;
    for _ in 0..2000 {
        let mut un = u;
        for i in 1..19 {
            un[i] = u[i] + kappa * 0.02 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
    }
    (0..20).map(|i| (u[i] - target[i]).powi(2)).sum()
}

/// The same with `checkpoint`: 45 segments of 45 steps, about 2 × 45 states kept.
#[grad(wrt = kappa, u0, checkpoint)]
pub fn heat_long_checkpointed(kappa: f64, u0: [f64; 20], target: &[f64; 20]) -> f64 {
    let mut u = u0;
    for _ in 0..2000 {
        let mut un = u;
        for i in 1..19 {
            un[i] = u[i] + kappa * 0.02 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
    }
    (0..20).map(|i| (u[i] - target[i]).powi(2)).sum()
}

pub fn agree_checkpoint(close: Close) {
    let (u0, target) = (heat_u0(), HEAT_TARGET);
    let (dk, du) = heat_long_grad(HEAT_K, u0, &target);
    let (ck, cu) = heat_long_checkpointed_grad(HEAT_K, u0, &target);
    close(
        heat_flat(dk, &du).as_slice(),
        heat_flat(ck, &cu).as_slice(),
        "heat checkpoint",
    );
}

pub fn benches_checkpoint(c: &mut Criterion) {
    let mut g = c.benchmark_group("heat_20x2000");
    let (u0, target) = (heat_u0(), HEAT_TARGET);
    g.bench_function("primal", |bn| {
        bn.iter(|| heat_long(black_box(HEAT_K), black_box(u0), black_box(&target)))
    });
    g.bench_function("grad", |bn| {
        bn.iter(|| heat_long_grad(black_box(HEAT_K), black_box(u0), black_box(&target)))
    });
    g.bench_function("checkpoint", |bn| {
        bn.iter(|| {
            heat_long_checkpointed_grad(black_box(HEAT_K), black_box(u0), black_box(&target))
        })
    });
    g.finish();
}
