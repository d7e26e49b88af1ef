//! Arrays as values and array state through loops (issue 18): copies (`let mut u = u0;`,
//! `u = un;`), arrays written and read by the same loop, in place or double-buffered, in
//! branches and inner loops. Every reverse-mode gradient against central finite differences and
//! against forward mode, and Hessians (forward over reverse) against finite differences of the
//! gradient.

#![deny(warnings)]
// The simulations are written with index loops, as users write them.
#![allow(clippy::needless_range_loop, clippy::assign_op_pattern)]

use backprop::check::{check_gradient, Tolerance};
use backprop::grad;

fn fd(f: impl Fn(&[f64]) -> f64, x: &[f64], g: &[f64]) {
    if let Err(e) = check_gradient(f, x, g, Tolerance::default()) {
        panic!("{e}");
    }
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        approx::assert_relative_eq!(x, y, max_relative = 1e-12, epsilon = 1e-13);
    }
}

fn profile() -> [f64; 20] {
    core::array::from_fn(|i| (i as f64 * 0.3).sin() + 0.1 * i as f64)
}

/// The heat equation, as written there: explicit steps, double-buffered.
#[grad(wrt = kappa, u0)]
fn heat(kappa: f64, u0: [f64; 20], target: &[f64; 20]) -> f64 {
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

#[grad(wrt = kappa, u0, mode = forward)]
fn heat_forward(kappa: f64, u0: [f64; 20], target: &[f64; 20]) -> f64 {
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

fn flat(k: f64, u: &[f64; 20]) -> Vec<f64> {
    let mut v = vec![k];
    v.extend_from_slice(u);
    v
}

#[test]
fn the_heat_equation_in_reverse_mode_matches_finite_differences_and_forward_mode() {
    let (u0, target) = (profile(), [0.1; 20]);
    let (v, (dk, du)) = heat_value_and_grad(0.7, u0, &target);
    assert_eq!(v, heat(0.7, u0, &target));
    let g = flat(dk, &du);
    fd(
        |p| heat(p[0], core::array::from_fn(|i| p[i + 1]), &target),
        &flat(0.7, &u0),
        &g,
    );
    let (fk, fu) = heat_forward_grad(0.7, u0, &target);
    close(&g, &flat(fk, &fu));
}

/// The heat equation's adjoint as one loop per step, adding into `d[i - 1]`, `d[i]`, `d[i + 1]`
/// in the order the reversed body has them. The macro splits that loop by offset (so that
/// each part vectorises); splitting in decreasing order of offset gives every element the same
/// additions in the same order.
fn heat_one_loop_adjoint(kappa: f64, u0: [f64; 20], target: &[f64; 20]) -> (f64, [f64; 20]) {
    let mut states = [[0.0; 20]; 100];
    let mut u = u0;
    for s in &mut states {
        *s = u;
        let mut un = u;
        for i in 1..19 {
            un[i] = u[i] + kappa * 0.4 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
    }
    let mut d = [0.0; 20];
    for i in 0..20 {
        d[i] += 2.0 * (u[i] - target[i]);
    }
    let mut dk = 0.0;
    for u in states.iter().rev() {
        let mut dn = [0.0; 20];
        for i in 0..20 {
            dn[i] += d[i];
        }
        d = [0.0; 20];
        let mut dk_step = 0.0;
        for i in 1..19 {
            let t = dn[i];
            dn[i] = 0.0;
            let c = t * (kappa * 0.4);
            d[i - 1] += c;
            d[i] += -(2.0 * c);
            d[i + 1] += c;
            d[i] += t;
            dk_step += t * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        for i in 0..20 {
            d[i] += dn[i];
        }
        dk += dk_step;
    }
    (0.4 * dk, d)
}

#[test]
fn the_heat_sweep_split_by_offset_adds_in_the_original_order() {
    let target = [0.1; 20];
    for (k, u0) in [
        (0.7, profile()),
        (0.31, core::array::from_fn(|i| 1.0 / (1.0 + i as f64))),
    ] {
        let (dk, du) = heat_grad(k, u0, &target);
        let (hk, hu) = heat_one_loop_adjoint(k, u0, &target);
        assert_eq!(dk.to_bits(), hk.to_bits(), "d/dkappa");
        for i in 0..20 {
            assert_eq!(du[i].to_bits(), hu[i].to_bits(), "d/du0[{i}]");
        }
    }
}

/// A wider stencil (`i - 2` to `i + 2`), with a subtraction: its sweep adds into `d_u` at five
/// offsets and is split into five loops.
#[grad(wrt = a, b, u0)]
fn wide_stencil(a: f64, b: f64, u0: [f64; 9]) -> f64 {
    let mut u = u0;
    for _ in 0..6 {
        let mut un = u;
        for i in 2..7 {
            un[i] = u[i] + a * (u[i + 1] - 2.0 * u[i] + u[i - 1]) - b * (u[i + 2] - u[i - 2]);
        }
        u = un;
    }
    u.iter().map(|v| v * v).sum::<f64>()
}

#[grad(wrt = a, b, u0, mode = forward)]
fn wide_stencil_forward(a: f64, b: f64, u0: [f64; 9]) -> f64 {
    let mut u = u0;
    for _ in 0..6 {
        let mut un = u;
        for i in 2..7 {
            un[i] = u[i] + a * (u[i + 1] - 2.0 * u[i] + u[i - 1]) - b * (u[i + 2] - u[i - 2]);
        }
        u = un;
    }
    u.iter().map(|v| v * v).sum::<f64>()
}

#[test]
fn a_wider_stencil_split_by_offset_matches_finite_differences_and_forward_mode() {
    let u0: [f64; 9] = core::array::from_fn(|i| (i as f64 * 0.7).cos());
    let (da, db, du) = wide_stencil_grad(0.2, 0.05, u0);
    let mut g = vec![da, db];
    g.extend_from_slice(&du);
    let mut x = vec![0.2, 0.05];
    x.extend_from_slice(&u0);
    fd(
        |p| wide_stencil(p[0], p[1], core::array::from_fn(|i| p[i + 2])),
        &x,
        &g,
    );
    let (fa, fb, fu) = wide_stencil_forward_grad(0.2, 0.05, u0);
    let mut f = vec![fa, fb];
    f.extend_from_slice(&fu);
    close(&g, &f);
}

/// A vector RNN: hidden state of 4, weights `W` (4×4) and `U` (4), 30 steps; the inner loops
/// write the new state, then it replaces the old.
#[grad(wrt = w, uw)]
fn vrnn(w: [[f64; 4]; 4], uw: [f64; 4], xs: &[f64; 30]) -> f64 {
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

#[grad(wrt = w, uw, mode = forward)]
fn vrnn_forward(w: [[f64; 4]; 4], uw: [f64; 4], xs: &[f64; 30]) -> f64 {
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

fn rnn_params() -> ([[f64; 4]; 4], [f64; 4], [f64; 30]) {
    let w = core::array::from_fn(|i| core::array::from_fn(|j| 0.3 * ((i * 4 + j) as f64).cos()));
    let uw = [0.5, -0.4, 0.8, 0.2];
    let xs = core::array::from_fn(|t| (t as f64 * 0.7).sin());
    (w, uw, xs)
}

fn rnn_flat(w: &[[f64; 4]; 4], uw: &[f64; 4]) -> Vec<f64> {
    w.iter().flatten().chain(uw).copied().collect()
}

fn rnn_unflat(p: &[f64]) -> ([[f64; 4]; 4], [f64; 4]) {
    (
        core::array::from_fn(|i| core::array::from_fn(|j| p[i * 4 + j])),
        core::array::from_fn(|i| p[16 + i]),
    )
}

#[test]
fn a_vector_rnn_in_reverse_mode_matches_finite_differences_and_forward_mode() {
    let (w, uw, xs) = rnn_params();
    let (v, (dw, du)) = vrnn_value_and_grad(w, uw, &xs);
    assert_eq!(v, vrnn(w, uw, &xs));
    let g = rnn_flat(&dw, &du);
    fd(
        |p| {
            let (w, uw) = rnn_unflat(p);
            vrnn(w, uw, &xs)
        },
        &rnn_flat(&w, &uw),
        &g,
    );
    let (fw, fu) = vrnn_forward_grad(w, uw, &xs);
    close(&g, &rnn_flat(&fw, &fu));
}

/// A prefix recurrence in place: each element from the one before, in the same array.
#[grad(wrt = a, x)]
fn prefix_in_place(a: f64, x: [f64; 8]) -> f64 {
    let mut z = x;
    for i in 1..8 {
        z[i] = (a * z[i - 1]).sin() + z[i];
    }
    let mut s = 0.0;
    for i in 0..8 {
        s += z[i] * z[i];
    }
    s
}

#[test]
fn a_prefix_recurrence_in_place_matches_finite_differences() {
    let x = [0.3, -0.2, 0.5, 0.1, 0.9, -0.7, 0.4, 0.2];
    let (dv, (da, dx)) = prefix_in_place_value_and_grad(1.3, x);
    assert_eq!(dv, prefix_in_place(1.3, x));
    let mut g = vec![da];
    g.extend_from_slice(&dx);
    let mut p = vec![1.3];
    p.extend_from_slice(&x);
    fd(
        |p| prefix_in_place(p[0], core::array::from_fn(|i| p[i + 1])),
        &p,
        &g,
    );
}

/// Gauss–Seidel sweeps in place: the inner loop reads what it wrote an iteration before, and
/// the outer loop carries the array through its iterations.
#[grad(wrt = w, u0)]
fn gauss_seidel(w: f64, u0: [f64; 6]) -> f64 {
    let mut u = u0;
    for _ in 0..5 {
        for i in 1..5 {
            u[i] = (1.0 - w) * u[i] + w * 0.5 * (u[i - 1] + u[i + 1]);
        }
    }
    u[2] * u[3] + u[1]
}

#[test]
fn gauss_seidel_sweeps_in_place_match_finite_differences() {
    let u0 = [1.0, 0.2, -0.4, 0.7, 0.1, -1.0];
    let (_, (dw, du)) = gauss_seidel_value_and_grad(1.2, u0);
    let mut g = vec![dw];
    g.extend_from_slice(&du);
    let mut p = vec![1.2];
    p.extend_from_slice(&u0);
    fd(
        |p| gauss_seidel(p[0], core::array::from_fn(|i| p[i + 1])),
        &p,
        &g,
    );
}

/// Explicit RK4 on Lotka–Volterra with the state in an array, the stages written out.
#[grad(wrt = k, s0)]
fn lotka_volterra(k: [f64; 4], s0: [f64; 2]) -> f64 {
    let dt = 0.05;
    let mut s = s0;
    for _ in 0..40 {
        let mut k1 = [0.0; 2];
        k1[0] = k[0] * s[0] - k[1] * s[0] * s[1];
        k1[1] = k[2] * s[0] * s[1] - k[3] * s[1];
        let mut m = s;
        for j in 0..2 {
            m[j] += 0.5 * dt * k1[j];
        }
        let mut k2 = [0.0; 2];
        k2[0] = k[0] * m[0] - k[1] * m[0] * m[1];
        k2[1] = k[2] * m[0] * m[1] - k[3] * m[1];
        m = s;
        for j in 0..2 {
            m[j] += 0.5 * dt * k2[j];
        }
        let mut k3 = [0.0; 2];
        k3[0] = k[0] * m[0] - k[1] * m[0] * m[1];
        k3[1] = k[2] * m[0] * m[1] - k[3] * m[1];
        m = s;
        for j in 0..2 {
            m[j] += dt * k3[j];
        }
        let mut k4 = [0.0; 2];
        k4[0] = k[0] * m[0] - k[1] * m[0] * m[1];
        k4[1] = k[2] * m[0] * m[1] - k[3] * m[1];
        for j in 0..2 {
            s[j] += dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
        }
    }
    (s[0] - 1.0).powi(2) + (s[1] - 0.5).powi(2)
}

#[test]
fn rk4_with_array_state_matches_finite_differences() {
    let (k, s0) = ([1.1, 0.4, 0.1, 0.4], [1.0, 0.8]);
    let (_, (dk, ds)) = lotka_volterra_value_and_grad(k, s0);
    let mut g = dk.to_vec();
    g.extend_from_slice(&ds);
    fd(
        |p| lotka_volterra([p[0], p[1], p[2], p[3]], [p[4], p[5]]),
        &[1.1, 0.4, 0.1, 0.4, 1.0, 0.8],
        &g,
    );
}

/// Copies and whole writes in branches, an array read after a loop and written again, a
/// parameter of data copied into a differentiated array.
#[grad(wrt = w)]
fn branches_and_copies(w: [f64; 3], base: &[f64; 3], flip: bool) -> f64 {
    let mut z = *base;
    let mut s = 0.0;
    for i in 0..3 {
        z[i] += w[i] * w[i];
        s += z[i];
    }
    let old = z;
    if flip {
        z = w;
    } else {
        z[1] = s * w[0];
    }
    let mut t = 0.0;
    for zi in z.iter() {
        t += zi * old[0];
    }
    z[2] = 0.0;
    t + s * z[1] + z[2]
}

#[test]
fn copies_and_whole_writes_in_branches_match_finite_differences() {
    let base = [0.5, -1.0, 2.0];
    for flip in [false, true] {
        let w = [0.3, -0.8, 1.1];
        let (v, dw) = branches_and_copies_value_and_grad(w, &base, flip);
        assert_eq!(v, branches_and_copies(w, &base, flip));
        fd(
            |p| branches_and_copies([p[0], p[1], p[2]], &base, flip),
            &w,
            &dw,
        );
    }
}

/// The cases that used to be refused: a prefix sum in place, and a store after a loop
/// that read the array.
#[grad(wrt = w)]
fn prefix_sum(w: f64) -> f64 {
    let mut z = [0.0; 3];
    for i in 0..3 {
        z[i] = w * i as f64 * w;
    }
    for i in 1..3 {
        z[i] += z[i - 1];
    }
    z[2]
}

#[grad(wrt = w)]
fn store_after_loop_read(w: f64) -> f64 {
    let mut z = [0.0; 3];
    for i in 0..3 {
        z[i] = w * i as f64;
    }
    let mut s = 0.0;
    for zi in z.iter() {
        s += zi * zi;
    }
    z[0] = 1.0;
    s + z[0]
}

#[test]
fn the_formerly_refused_stores_give_their_closed_forms() {
    // z = [0, w², 2w²] summed in place: z[2] = 3w².
    approx::assert_relative_eq!(prefix_sum_grad(1.5), 6.0 * 1.5, max_relative = 1e-15);
    // s = w² (0 + 1 + 4).
    approx::assert_relative_eq!(
        store_after_loop_read_grad(0.5),
        10.0 * 0.5,
        max_relative = 1e-15
    );
}

/// Second order through array state: the Hessian of a short heat equation, forward over
/// reverse.
#[grad(wrt = kappa, u0, hessian)]
fn small_heat(kappa: f64, u0: [f64; 5]) -> f64 {
    let mut u = u0;
    for _ in 0..6 {
        let mut un = u;
        for i in 1..4 {
            un[i] = u[i] + kappa * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
    }
    u[1] * u[2] + u[3].powi(3)
}

#[test]
fn the_hessian_through_array_state_matches_finite_differences_of_the_gradient() {
    let (k, u0) = (0.2, [0.3, 1.0, -0.5, 0.8, 0.1]);
    let h = small_heat_hessian(k, u0);
    let grad = |p: &[f64]| {
        let (dk, du) = small_heat_grad(p[0], core::array::from_fn(|i| p[i + 1]));
        let mut g = vec![dk];
        g.extend_from_slice(&du);
        g
    };
    let p: Vec<f64> = [k].iter().chain(&u0).copied().collect();
    let e = 1e-5;
    for j in 0..6 {
        let (mut a, mut b) = (p.clone(), p.clone());
        a[j] += e;
        b[j] -= e;
        let (ga, gb) = (grad(&a), grad(&b));
        for i in 0..6 {
            let fdv = (ga[i] - gb[i]) / (2.0 * e);
            approx::assert_relative_eq!(h[i][j], fdv, max_relative = 1e-6, epsilon = 1e-7);
        }
    }
}

/// The cases the UI suite used to refuse: a whole copy of a differentiated array, and a local
/// array assigned an array literal after a read.
#[grad(wrt = w)]
fn copy_whole(w: [f64; 2]) -> f64 {
    let v = w;
    v[0] * v[1]
}

#[grad(wrt = w)]
fn assign_literal(w: f64) -> f64 {
    let mut z = [0.0; 2];
    let a = w * z[0];
    z = [1.0, w * w];
    a + z[1] + z[0]
}

#[test]
fn a_copy_and_an_assigned_literal_give_their_closed_forms() {
    assert_eq!(copy_whole_grad([2.0, 3.0]), [3.0, 2.0]);
    assert_eq!(assign_literal_grad(1.5), 3.0);
}

/// Found by the generator (seed 1801): a carried value read an element of an array before the
/// array was written whole later in the same iteration, and the companion printed the read
/// after the write (the value was wrong, not only the gradient). In reverse and forward mode,
/// with a whole write and an element store.
#[grad(wrt = w)]
fn read_before_write(w: [f64; 2]) -> f64 {
    let mut z = w;
    let mut v = 0.0;
    for i in 0..2 {
        let mut zn = z;
        zn[i] = z[1 - i] * 1.5 + w[0];
        v -= z[i].sin();
        z = zn;
    }
    v + z[0] + z[1]
}

#[grad(wrt = w, mode = forward)]
fn read_before_write_forward(w: [f64; 2]) -> f64 {
    let mut z = w;
    let mut v = 0.0;
    for i in 0..2 {
        let mut zn = z;
        zn[i] = z[1 - i] * 1.5 + w[0];
        v -= z[i].sin();
        z = zn;
    }
    v + z[0] + z[1]
}

#[test]
fn a_read_before_a_later_write_keeps_its_place() {
    let w = [0.4, -0.9];
    let (v, g) = read_before_write_value_and_grad(w);
    assert_eq!(v, read_before_write(w));
    let (fv, fg) = read_before_write_forward_value_and_grad(w);
    assert_eq!(fv, read_before_write(w));
    fd(|p| read_before_write([p[0], p[1]]), &w, &g);
    close(&g, &fg);
}

// Found by the generator's array-state batch, one test each.

/// A whole assignment in a branch was left out of the sweep (the gradient was that of the
/// program without it).
#[grad(wrt = wa)]
fn assign_in_branch(wa: [f64; 3], flag: bool) -> f64 {
    let mut z = wa;
    z[0] = z[0] * z[1];
    if flag {
        z = wa;
    }
    z[0] + z[1] + z[2]
}

/// The same in a loop, and a double buffer skipped by `continue`.
#[grad(wrt = wa)]
fn assign_in_loops(wa: [f64; 3], flag: bool) -> f64 {
    let mut z = wa;
    z[0] = z[0] * z[1];
    for _ in 0..2 {
        z = [0.0; 3];
        z[1] = wa[0] * wa[2];
    }
    for _ in 0..1 {
        let mut zn = z;
        zn[1] = z[0] * z[1] + wa[1];
        if flag {
            continue;
        }
        z = zn;
    }
    z[0] + z[1] + z[2]
}

/// An array kept by two nested loops that both write it (the inner sweep's adjoint was an
/// undeclared array); its Hessian too.
#[grad(wrt = wa, hessian)]
fn kept_twice(wa: [f64; 3]) -> f64 {
    let mut z = wa;
    for _ in 0..2 {
        for _ in 0..2 {
            let z2 = z;
            z[0] = z2[1].sin() * z2[0];
        }
    }
    z[0]
}

/// Data copied into an array the body writes (was refused as "an array of data").
#[grad(wrt = w)]
fn data_copy_written(w: f64, xs: [f64; 3]) -> f64 {
    let mut z = xs;
    z[0] = 2.0 * z[1];
    z[0] * w
}

#[test]
fn the_generators_array_state_findings_stay_fixed() {
    let wa = [0.3, -0.7, 0.5];
    for flag in [false, true] {
        fd(
            |p| assign_in_branch([p[0], p[1], p[2]], flag),
            &wa,
            &assign_in_branch_grad(wa, flag),
        );
        fd(
            |p| assign_in_loops([p[0], p[1], p[2]], flag),
            &wa,
            &assign_in_loops_grad(wa, flag),
        );
    }
    assert_eq!(assign_in_branch_grad(wa, true), [1.0, 1.0, 1.0]);
    fd(
        |p| kept_twice([p[0], p[1], p[2]]),
        &wa,
        &kept_twice_grad(wa),
    );
    // z0 sin(z1)⁴: the mixed partial is 4 sin³ cos.
    let (s, c) = (wa[1].sin(), wa[1].cos());
    let h = kept_twice_hessian(wa);
    approx::assert_relative_eq!(h[0][1], 4.0 * s * s * s * c, max_relative = 1e-13);
    approx::assert_relative_eq!(h[1][0], 4.0 * s * s * s * c, max_relative = 1e-13);
    assert_eq!(data_copy_written_grad(2.0, [1.0, -0.7, 3.0]), -1.4);
}

// Arrays across calls: a `#[grad]` function taking arrays (by value or by reference) and
// returning a float or an array.

/// The right-hand side of Lotka–Volterra, an array-valued helper.
#[grad(wrt = s, k)]
fn lv_rhs(s: [f64; 2], k: &[f64; 4]) -> [f64; 2] {
    [
        k[0] * s[0] - k[1] * s[0] * s[1],
        k[2] * s[0] * s[1] - k[3] * s[1],
    ]
}

/// RK4 written with the helper, as the issue asks.
#[grad(wrt = k, s0)]
fn lv_helper(k: [f64; 4], s0: [f64; 2]) -> f64 {
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

#[grad(wrt = k, s0, mode = forward)]
fn lv_helper_forward(k: [f64; 4], s0: [f64; 2]) -> f64 {
    let dt = 0.05;
    let mut s = s0;
    for _ in 0..40 {
        let k1: [f64; 2] = lv_rhs(s, &k);
        let mut m = s;
        for j in 0..2 {
            m[j] += 0.5 * dt * k1[j];
        }
        let k2: [f64; 2] = lv_rhs(m, &k);
        m = s;
        for j in 0..2 {
            m[j] += 0.5 * dt * k2[j];
        }
        let k3: [f64; 2] = lv_rhs(m, &k);
        m = s;
        for j in 0..2 {
            m[j] += dt * k3[j];
        }
        let k4: [f64; 2] = lv_rhs(m, &k);
        for j in 0..2 {
            s[j] += dt / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
        }
    }
    (s[0] - 1.0).powi(2) + (s[1] - 0.5).powi(2)
}

#[test]
fn rk4_with_an_array_valued_helper_matches_the_inline_rk4_and_finite_differences() {
    let (k, s0) = ([1.1, 0.4, 0.1, 0.4], [1.0, 0.8]);
    let (v, (dk, ds)) = lv_helper_value_and_grad(k, s0);
    assert_eq!(v, lv_helper(k, s0));
    let mut g = dk.to_vec();
    g.extend_from_slice(&ds);
    fd(
        |p| lv_helper([p[0], p[1], p[2], p[3]], [p[4], p[5]]),
        &[1.1, 0.4, 0.1, 0.4, 1.0, 0.8],
        &g,
    );
    // The same model written inline (`lotka_volterra` above).
    let (ik, is) = lotka_volterra_grad(k, s0);
    let mut inline = ik.to_vec();
    inline.extend_from_slice(&is);
    close(&g, &inline);
    let (fk, fs) = lv_helper_forward_grad(k, s0);
    let mut fwd = fk.to_vec();
    fwd.extend_from_slice(&fs);
    close(&g, &fwd);
}

/// Float-valued helpers taking arrays by value and by reference, called in a loop that writes
/// the array passed.
#[grad(wrt = v)]
fn norm_sin(v: [f64; 2]) -> f64 {
    v[0] * v[0] + v[1].sin()
}

#[grad(wrt = v, m)]
fn row_dot(v: &[f64; 2], m: [[f64; 2]; 2], i: usize) -> f64 {
    v[0] * m[i][0] + v[1] * m[i][1]
}

#[grad(wrt = w, m)]
fn calls_with_arrays(w: [f64; 2], m: [[f64; 2]; 2]) -> f64 {
    let mut z = w;
    let mut s = 0.0;
    for i in 0..2 {
        s += norm_sin(z) * row_dot(&z, m, i);
        z[i] = z[0] * 1.5 + s;
    }
    s + norm_sin(w)
}

#[grad(wrt = w, m, mode = forward)]
fn calls_with_arrays_forward(w: [f64; 2], m: [[f64; 2]; 2]) -> f64 {
    let mut z = w;
    let mut s = 0.0;
    for i in 0..2 {
        s += norm_sin(z) * row_dot(&z, m, i);
        z[i] = z[0] * 1.5 + s;
    }
    s + norm_sin(w)
}

#[test]
fn arrays_passed_to_helpers_match_finite_differences_and_forward_mode() {
    let (w, m) = ([0.3, -0.8], [[1.0, 2.0], [-0.5, 0.7]]);
    let (dw, dm) = calls_with_arrays_grad(w, m);
    let mut g = dw.to_vec();
    g.extend(dm.iter().flatten());
    let p: Vec<f64> = w.iter().chain(m.iter().flatten()).copied().collect();
    fd(
        |p| calls_with_arrays([p[0], p[1]], [[p[2], p[3]], [p[4], p[5]]]),
        &p,
        &g,
    );
    let (fw, fm) = calls_with_arrays_forward_grad(w, m);
    let mut f = fw.to_vec();
    f.extend(fm.iter().flatten());
    close(&g, &f);
}

/// Arrays as the value of an `if` (with `else if`), of a block ending in an array literal, and
/// of a block ending in an array it made.
#[grad(wrt = w)]
fn array_valued_branches(w: [f64; 2], v: [f64; 2], flip: bool, k: i32) -> f64 {
    let z = if flip {
        w
    } else if k > 1 {
        [w[1], 2.0 * w[0]]
    } else {
        v
    };
    let y = {
        let a = w[0] * 2.0;
        [a, w[1]]
    };
    let mut q = {
        let mut t = z;
        t[0] *= y[1];
        t
    };
    q[1] += 1.0;
    z[0] * z[1] + y[0] * y[1] + q[0] * q[1]
}

#[grad(wrt = w, mode = forward)]
fn array_valued_branches_forward(w: [f64; 2], v: [f64; 2], flip: bool, k: i32) -> f64 {
    let z = if flip {
        w
    } else if k > 1 {
        [w[1], 2.0 * w[0]]
    } else {
        v
    };
    let y = {
        let a = w[0] * 2.0;
        [a, w[1]]
    };
    let mut q = {
        let mut t = z;
        t[0] *= y[1];
        t
    };
    q[1] += 1.0;
    z[0] * z[1] + y[0] * y[1] + q[0] * q[1]
}

#[test]
fn arrays_as_the_values_of_ifs_and_blocks_match_finite_differences_and_forward_mode() {
    let (w, v) = ([0.3, -0.8], [1.5, 0.25]);
    for (flip, k) in [(true, 0), (false, 2), (false, 0)] {
        let g = array_valued_branches_grad(w, v, flip, k);
        fd(|p| array_valued_branches([p[0], p[1]], v, flip, k), &w, &g);
        close(&g, &array_valued_branches_forward_grad(w, v, flip, k));
    }
}

// `checkpoint`: the outermost range loops run in about √T segments.

#[grad(wrt = kappa, u0, checkpoint)]
fn heat_checkpointed(kappa: f64, u0: [f64; 20], target: &[f64; 20]) -> f64 {
    let mut u = u0;
    let mut s = 0.0;
    for t in 0..100 {
        let mut un = u;
        for i in 1..19 {
            un[i] = u[i] + kappa * 0.4 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
        s = (s + u[3] * t as f64 * 1e-3).sin();
    }
    s + (0..20).map(|i| (u[i] - target[i]).powi(2)).sum::<f64>()
}

#[grad(wrt = kappa, u0)]
fn heat_plain(kappa: f64, u0: [f64; 20], target: &[f64; 20]) -> f64 {
    let mut u = u0;
    let mut s = 0.0;
    for t in 0..100 {
        let mut un = u;
        for i in 1..19 {
            un[i] = u[i] + kappa * 0.4 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
        s = (s + u[3] * t as f64 * 1e-3).sin();
    }
    s + (0..20).map(|i| (u[i] - target[i]).powi(2)).sum::<f64>()
}

/// A range with a start, a trip count known at run time, an early `return`, and a second loop
/// that `break`s (left as it is).
#[grad(wrt = w, checkpoint)]
fn recurrence_checkpointed(w: [f64; 3], n: usize, stop: f64) -> f64 {
    let mut z = w;
    for k in 2..n {
        let prev = z;
        z[k % 3] = (prev[(k + 1) % 3] * 0.9 + prev[(k + 2) % 3] * w[1]).tanh();
        if z[0] > stop {
            return z[0] * 2.0 + z[1];
        }
    }
    let mut s = 0.0;
    for i in 0..3 {
        if z[i] < -10.0 {
            break;
        }
        s += z[i] * z[i];
    }
    s
}

#[test]
fn checkpointed_loops_give_the_same_gradients() {
    let u0: [f64; 20] = core::array::from_fn(|i| (i as f64 * 0.3).sin());
    let t = [0.1; 20];
    let (v, (dk, du)) = heat_checkpointed_value_and_grad(0.7, u0, &t);
    let (pv, (pk, pu)) = heat_plain_value_and_grad(0.7, u0, &t);
    assert_eq!(v, pv);
    close(&flat(dk, &du), &flat(pk, &pu));
    let w = [0.4, -0.3, 0.8];
    for (n, stop) in [(2, 9.0), (3, 9.0), (17, 9.0), (40, 9.0), (40, 0.1)] {
        let g = recurrence_checkpointed_grad(w, n, stop);
        fd(
            |p| recurrence_checkpointed([p[0], p[1], p[2]], n, stop),
            &w,
            &g,
        );
    }
}

// Found by the generator's array-call batch, one test each.

#[grad(wrt = s)]
fn sin_of_second(s: &[f64; 3]) -> f64 {
    s[1].sin()
}

#[grad]
fn rhs3(s: [f64; 3], a: f64) -> [f64; 3] {
    [s[1].sin() * a, s[0] * s[1], s[2]]
}

#[grad]
fn product_plus(s: &[f64; 3]) -> f64 {
    s[0] * s[1] + s[2]
}

/// A call given an array in a branch, the array written after it in the branch: the sweep ran
/// the call's pullback again at the new value (`[0, cos 7, 0]` for `[0, cos 3, 0]`).
#[grad(wrt = w)]
fn call_then_write(w: [f64; 3], flag: bool) -> f64 {
    let mut z = w;
    let mut v = 0.0;
    if flag {
        v = sin_of_second(&z);
        z[1] = 7.0;
    }
    v + z[1]
}

/// A call's result assigned whole in a `while` loop, a result bound in a branch, a call with
/// an array written after it in a `for` loop, a result passed on, an assignment from a call,
/// a building block taking and returning arrays, and an array literal passed whole.
#[grad(wrt = w)]
fn calls_and_state(w: [f64; 3], a: f64, n: usize) -> f64 {
    let mut z = w;
    let mut v = 0.0;
    let mut k = 0;
    while k < n {
        let r: [f64; 3] = rhs3(z, a);
        v += sin_of_second(&z) * r[0];
        z = r;
        k += 1;
    }
    if a > 0.5 {
        let r = rhs3(w, a);
        v += r[0] * r[1];
    }
    for i in 1..3 {
        v += product_plus(&z);
        z[i] = z[i - 1].tanh();
    }
    z = rhs3(z, 0.5 * a);
    let q: [f64; 3] = rhs3(z, a);
    v + product_plus(&q) + product_plus(&[z[0], z[1] * a, w[2]])
}

/// A result of a call on data, written by the body (was "an array of data").
#[grad(wrt = c)]
fn data_result(c: f64, x: f64, xs: [f64; 3]) -> f64 {
    let mut z: [f64; 3] = rhs3(xs, x);
    z[0] = 2.0 * z[1] * c;
    z[0] * c + z[2]
}

#[test]
fn the_generators_array_call_findings_stay_fixed() {
    let g = call_then_write_grad([2.0, 3.0, 0.5], true);
    assert_eq!(g, [0.0, 3.0f64.cos(), 0.0]);
    let w = [0.2, 0.7, -0.4];
    for (a, n) in [(0.9, 3), (0.3, 0), (0.7, 2)] {
        let g = calls_and_state_grad(w, a, n);
        fd(|p| calls_and_state([p[0], p[1], p[2]], a, n), &w, &g);
    }
    let xs = [0.2, 0.7, -0.4];
    let z1 = xs[0] * xs[1];
    approx::assert_relative_eq!(
        data_result_grad(1.5, 2.0, xs),
        4.0 * z1 * 1.5,
        max_relative = 1e-15
    );
}

#[grad]
fn scaled_copy(w0: f64, wa: &[f64; 3]) -> [f64; 3] {
    [w0 * wa[0], wa[1] * w0, wa[2] * w0 * w0]
}

/// An array a loop assigns whole, each iteration: its sweep zeroes the array's adjoint, so the
/// iterations must be swept last first (they were swept in order, as if they only added).
#[grad(wrt = w0, w1, wa)]
fn assigned_each_iteration(w0: f64, w1: f64, wa: [f64; 3]) -> f64 {
    let z0 = scaled_copy(w0, &wa);
    let mut z1 = z0;
    for i0 in 0..=1 {
        z1 = scaled_copy(w0 * (w1 * (i0 as f64)), &wa);
    }
    z1[2] * z0[0]
}

#[test]
fn an_array_assigned_each_iteration_is_swept_last_first() {
    let (w0, w1, wa) = (1.1, -0.2, [0.3, 0.5, -0.1]);
    let (d0, d1, da) = assigned_each_iteration_grad(w0, w1, wa);
    let mut g = vec![d0, d1];
    g.extend_from_slice(&da);
    fd(
        |p| assigned_each_iteration(p[0], p[1], [p[2], p[3], p[4]]),
        &[w0, w1, wa[0], wa[1], wa[2]],
        &g,
    );
}

// What the sweep reads back instead of computing again: an activation the iteration stored in
// its own element (`h[i] = z.tanh()`), an array the next iteration's kept state already is
// (`h = hn;`), and, in a loop fused with its sweep, the arrays its primal body built. Each
// against finite differences, with the cases where reading back would be wrong beside them.

/// An MLP's hidden layer over samples: the sweep is fused with the loop, shares the layer the
/// primal body built and reads each `tanh` back from it.
#[grad(wrt = w1, w2)]
fn layer_over_samples(w1: [[f64; 2]; 3], w2: [f64; 3], xs: &[[f64; 2]; 5]) -> f64 {
    let mut loss = 0.0;
    for n in 0..5 {
        let mut h = [0.0; 3];
        for i in 0..3 {
            let mut z = 0.1;
            for j in 0..2 {
                z += w1[i][j] * xs[n][j];
            }
            h[i] = z.tanh();
        }
        let mut o = 0.0;
        for i in 0..3 {
            o += w2[i] * h[i];
        }
        loss += (o - 0.5).powi(2);
    }
    loss
}

/// The same layer, overwritten after the loop that filled it: its elements no longer hold the
/// activations, so the sweep must compute them again.
#[grad(wrt = w1, w2)]
fn layer_overwritten(w1: [[f64; 2]; 3], w2: [f64; 3], xs: &[[f64; 2]; 5]) -> f64 {
    let mut loss = 0.0;
    for n in 0..5 {
        let mut h = [0.0; 3];
        for i in 0..3 {
            let mut z = 0.1;
            for j in 0..2 {
                z += w1[i][j] * xs[n][j];
            }
            h[i] = z.tanh();
        }
        h[1] = h[0] * h[2];
        let mut o = 0.0;
        for i in 0..3 {
            o += w2[i] * h[i];
        }
        loss += (o - 0.5).powi(2);
    }
    loss
}

/// Each iteration stores twice in its element (the last value is not the `tanh`), and a loop
/// over listed positions (two iterations may write the same element).
#[grad(wrt = w)]
fn stored_twice_and_listed(w: [f64; 3]) -> f64 {
    let mut h = [0.0; 3];
    for i in 0..3 {
        let z = w[i] * 0.7 + 0.2;
        h[i] = z.tanh();
        h[i] = h[i] * z;
    }
    let mut g = [0.0; 3];
    for &i in [2usize, 0, 2].iter() {
        let z = w[i] * 1.3 - 0.1;
        g[i] = z.tanh();
    }
    h[0] + h[1] * h[2] + g[0] * g[2] + g[1]
}

/// A recurrence whose new state is built, then changed after the assignment (`hn` then no
/// longer equals the next state), and one that stops early.
#[grad(wrt = w)]
fn next_state_changed(w: [f64; 3], xs: &[f64; 6]) -> f64 {
    let mut h = [0.1, -0.2, 0.3];
    let mut loss = 0.0;
    for t in 0..6 {
        let mut hn = [0.0; 3];
        for i in 0..3 {
            hn[i] = (w[i] * h[(i + 1) % 3] + xs[t]).tanh();
        }
        h = hn;
        hn[0] = 2.0 * hn[1];
        loss += hn[0] * h[2];
    }
    loss
}

#[grad(wrt = w)]
fn next_state_break(w: [f64; 3], xs: &[f64; 6]) -> f64 {
    let mut h = [0.1, -0.2, 0.3];
    let mut loss = 0.0;
    for t in 0..6 {
        let mut hn = [0.0; 3];
        for i in 0..3 {
            hn[i] = (w[i] * h[(i + 1) % 3] + xs[t]).tanh();
        }
        h = hn;
        loss += h[0] * h[1];
        if loss > 0.4 {
            break;
        }
    }
    loss + h[2]
}

/// A layer summed over iterations, scaled after the loop by an element of `w` (the loop is
/// fused with its sweep once that read moves before it).
#[grad(wrt = w)]
fn layer_scaled(w: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for n in 0..4 {
        let mut h = [0.0; 3];
        for i in 0..3 {
            h[i] = (w[i] * n as f64 + 0.1).tanh();
        }
        s += h.iter().map(|&c| c * c).sum::<f64>();
    }
    s * w[0]
}

#[test]
fn values_read_back_by_the_sweep_match_finite_differences() {
    let w = [0.4, -0.9, 1.3];
    fd(
        |p| layer_scaled([p[0], p[1], p[2]]),
        &w,
        &layer_scaled_grad(w),
    );
    let xs = [
        [0.3, -0.8],
        [1.1, 0.4],
        [-0.6, 0.9],
        [0.2, 0.2],
        [-1.0, -0.3],
    ];
    let w1 = [[0.4, -0.3], [0.8, 0.1], [-0.5, 0.6]];
    let w2 = [0.7, -1.1, 0.5];
    let flat = |w1: &[[f64; 2]; 3], w2: &[f64; 3]| {
        let mut v: Vec<f64> = w1.iter().flatten().copied().collect();
        v.extend_from_slice(w2);
        v
    };
    let unflat = |p: &[f64]| -> ([[f64; 2]; 3], [f64; 3]) {
        (
            core::array::from_fn(|i| [p[2 * i], p[2 * i + 1]]),
            [p[6], p[7], p[8]],
        )
    };
    type Layer = fn([[f64; 2]; 3], [f64; 3], &[[f64; 2]; 5]) -> f64;
    type LayerGrad = fn([[f64; 2]; 3], [f64; 3], &[[f64; 2]; 5]) -> ([[f64; 2]; 3], [f64; 3]);
    let layers: [(Layer, LayerGrad); 2] = [
        (layer_over_samples, layer_over_samples_grad),
        (layer_overwritten, layer_overwritten_grad),
    ];
    for (f, g) in layers {
        let (d1, d2) = g(w1, w2, &xs);
        fd(
            |p| {
                let (a, b) = unflat(p);
                f(a, b, &xs)
            },
            &flat(&w1, &w2),
            &flat(&d1, &d2),
        );
    }

    let w = [0.4, -0.9, 1.3];
    fd(
        |p| stored_twice_and_listed([p[0], p[1], p[2]]),
        &w,
        &stored_twice_and_listed_grad(w),
    );
    let ts = [0.5, -0.2, 0.8, 0.1, -0.7, 0.3];
    for w in [[0.4, -0.9, 1.3], [0.9, 0.8, 0.7]] {
        fd(
            |p| next_state_changed([p[0], p[1], p[2]], &ts),
            &w,
            &next_state_changed_grad(w, &ts),
        );
        fd(
            |p| next_state_break([p[0], p[1], p[2]], &ts),
            &w,
            &next_state_break_grad(w, &ts),
        );
    }
}

/// Found by the tenth batch (array state with `hessian`): a loop over `0..4` that assigns an
/// array whole (`z0 = z1;`) was fused with the later sum over `0..4` reading that array, as if
/// the whole assignment wrote nothing, so the sum read the array mid-loop (value and derivative
/// wrong in `mode = forward`).
#[grad(wrt = w0, mode = forward)]
fn whole_write_then_sum_forward(w0: f64, xs: [f64; 4]) -> f64 {
    let mut z0 = xs;
    for i0 in 0..4 {
        for i1 in 1..=2 {
            let mut z1 = [0.0_f64; 4];
            for i2 in 0..2 {
                z1[i2] = z0[i0] * 0.5 + xs[i1];
            }
            z0 = z1;
        }
    }
    let v1 = (0..4)
        .map(|j0| z0[j0] - z0.iter().map(|&c1| c1 / z0[1]).product::<f64>())
        .sum::<f64>();
    v1 * w0 * w0
}

#[grad(wrt = w0)]
fn whole_write_then_sum(w0: f64, xs: [f64; 4]) -> f64 {
    let mut z0 = xs;
    for i0 in 0..4 {
        for i1 in 1..=2 {
            let mut z1 = [0.0_f64; 4];
            for i2 in 0..2 {
                z1[i2] = z0[i0] * 0.5 + xs[i1];
            }
            z0 = z1;
        }
    }
    let v1 = (0..4)
        .map(|j0| z0[j0] - z0.iter().map(|&c1| c1 / z0[1]).product::<f64>())
        .sum::<f64>();
    v1 * w0 * w0
}

#[test]
fn a_whole_write_keeps_a_later_loop_from_being_fused_with_it() {
    let (w0, xs) = (-0.85, [-0.11, -1.47, -1.24, -0.85]);
    let want = whole_write_then_sum(w0, xs);
    let (v, g) = whole_write_then_sum_forward_value_and_grad(w0, xs);
    assert_eq!(v, want);
    let (v, gr) = whole_write_then_sum_value_and_grad(w0, xs);
    assert_eq!(v, want);
    fd(|p| whole_write_then_sum(p[0], xs), &[w0], &[g]);
    close(&[g], &[gr]);
}

/// A rule with an array parameter: its partial is an array of the parameter's shape.
#[backprop::rule(v = [v[0] / y, v[1] / y, v[2] / y])]
fn norm3(v: &[f64; 3]) -> f64 {
    (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()
}

/// A rule taking an array by value, and data beside it (no partial).
#[backprop::rule(a = [s * a[1], s * a[0]], s = y / s)]
fn scaled_product(a: [f64; 2], s: f64, _tag: &[f64; 2]) -> f64 {
    s * a[0] * a[1]
}

#[grad(wrt = w, s)]
fn through_array_rules(w: [f64; 3], s: f64) -> f64 {
    let mut acc = 0.0;
    for k in 0..3 {
        let v = [w[0] * (k as f64 + 1.0), w[1], w[2] - 0.5 * k as f64];
        acc += norm3(&v);
    }
    acc + scaled_product([w[0], w[2]], s, &[0.0, 1.0])
}

#[grad(wrt = w, s, mode = forward)]
fn through_array_rules_forward(w: [f64; 3], s: f64) -> f64 {
    let mut acc = 0.0;
    for k in 0..3 {
        let v = [w[0] * (k as f64 + 1.0), w[1], w[2] - 0.5 * k as f64];
        acc += norm3(&v);
    }
    acc + scaled_product([w[0], w[2]], s, &[0.0, 1.0])
}

#[test]
fn rules_with_array_parameters_match_finite_differences_and_forward_mode() {
    let (w, s) = ([0.7, -1.2, 0.4], 1.3);
    let (dw, ds) = through_array_rules_grad(w, s);
    let mut g = dw.to_vec();
    g.push(ds);
    fd(
        |p| through_array_rules([p[0], p[1], p[2]], p[3]),
        &[w[0], w[1], w[2], s],
        &g,
    );
    let (fw, fs) = through_array_rules_forward_grad(w, s);
    let mut f = fw.to_vec();
    f.push(fs);
    close(&g, &f);
}

/// Found by the tenth batch (seed 2001, `sh293`): a `while` loop's body (a branch, to the
/// sweep) builds an array that a loop inside it reads. The reversed branch exports the array it
/// recomputes, but an export did not count as a read, so the store filling the array was dropped
/// as dead: the gradient with respect to `wa` was zero, silently.
#[grad(wrt = w0, wa, hessian)]
fn array_exported_from_a_while_body(w0: f64, wa: [f64; 2]) -> f64 {
    let mut v = 0.0;
    let mut t = 0;
    while t < 3 {
        t += 1;
        let mut z = [0.0; 2];
        z[0] = (wa[0] * t as f64).tanh();
        z[1] = wa[1] * z[0];
        for j in 0..2 {
            v += z[j] * z[0];
        }
    }
    v * w0
}

#[test]
fn an_array_a_reversed_branch_exports_keeps_its_stores() {
    let (w0, wa) = (0.7, [0.3, -0.5]);
    let (d0, da) = array_exported_from_a_while_body_grad(w0, wa);
    let g = [d0, da[0], da[1]];
    fd(
        |p| array_exported_from_a_while_body(p[0], [p[1], p[2]]),
        &[w0, wa[0], wa[1]],
        &g,
    );
    assert!(da[0] != 0.0);
    // The Hessian against central differences of the gradient.
    let h = array_exported_from_a_while_body_hessian(w0, wa);
    let grad = |p: [f64; 3]| {
        let (d0, da) = array_exported_from_a_while_body_grad(p[0], [p[1], p[2]]);
        [d0, da[0], da[1]]
    };
    let x = [w0, wa[0], wa[1]];
    for j in 0..3 {
        let (mut a, mut b) = (x, x);
        a[j] += 1e-6;
        b[j] -= 1e-6;
        let (ga, gb) = (grad(a), grad(b));
        for i in 0..3 {
            let want = (ga[i] - gb[i]) / 2e-6;
            approx::assert_relative_eq!(h[i][j], want, max_relative = 1e-6, epsilon = 1e-7);
        }
    }
}

/// Found by the tenth batch (seed 2003, `sh229`): a local that copies data under a name that
/// holds a differentiated array elsewhere (`z1`, shadowed) is an array of the macro's; a copy
/// of it was replaced by the data parameter itself, whose shape the macro does not know, and
/// the copy's adjoint came out a float (a compile error in the generated code).
#[grad(wrt = w0, wa, hessian)]
fn shadowed_copy_of_data(w0: f64, wa: [f64; 3], x0: f64, xs: [f64; 4]) -> f64 {
    let mut z0 = wa;
    let mut t = 0;
    while t < 2 {
        t += 1;
        let mut z1 = z0;
        for i in 0..3 {
            z1[i] = (z0[i] * z0[0]).tanh();
        }
        z0 = z1;
    }
    let z1 = xs;
    let z2 = z1;
    let v = z2.iter().map(|&c| c / x0).sum::<f64>();
    v * w0 * w0 + z0[1]
}

#[test]
fn a_copy_of_a_copy_of_data_keeps_its_shape() {
    let (w0, wa, x0, xs) = (0.7, [0.3, -0.5, 0.8], 1.3, [0.5, -1.0, 2.0, 0.25]);
    let (d0, da) = shadowed_copy_of_data_grad(w0, wa, x0, xs);
    fd(
        |p| shadowed_copy_of_data(p[0], [p[1], p[2], p[3]], x0, xs),
        &[w0, wa[0], wa[1], wa[2]],
        &[d0, da[0], da[1], da[2]],
    );
    let h = shadowed_copy_of_data_hessian(w0, wa, x0, xs);
    let v: f64 = xs.iter().map(|c| c / x0).sum();
    approx::assert_relative_eq!(h[0][0], 2.0 * v, max_relative = 1e-12);
}

#[grad(wrt = w0)]
fn three(w0: f64, s: f64) -> [f64; 3] {
    [w0 * s, w0, s]
}

/// Found by the ninth batch (seed 2503, `ac126`): an array a `#[grad]` function returned for
/// data arguments, copied, then assigned whole to a differentiated array: a copy of data.
#[grad(wrt = w0, w1)]
fn data_result_assigned(w0: f64, w1: f64, x0: f64) -> f64 {
    let z0 = three(x0, 2.0);
    let z1 = z0;
    let mut z2 = three(w1, 1.0);
    let a = z2[0] * w0;
    z2 = z1;
    a + z2[1] * w1
}

#[grad(wrt = w0, w1, mode = forward)]
fn data_result_assigned_forward(w0: f64, w1: f64, x0: f64) -> f64 {
    let z0 = three(x0, 2.0);
    let z1 = z0;
    let mut z2 = three(w1, 1.0);
    let a = z2[0] * w0;
    z2 = z1;
    a + z2[1] * w1
}

#[test]
fn an_array_of_data_assigned_whole_carries_no_derivative() {
    // f = w0·w1 + x0·w1 once `z2` holds the data.
    assert_eq!(data_result_assigned_grad(0.5, 2.0, 3.0), (2.0, 3.5));
    assert_eq!(data_result_assigned_forward_grad(0.5, 2.0, 3.0), (2.0, 3.5));
}

// An array a `#[grad]` function returned on data, copied into an array that a later call on
// differentiated values replaces, then written element by element: the copy holds
// differentiated values (the sixteenth generator batch met this refused, at seed 3501).
#[grad]
fn from_data(x: f64, xs: [f64; 2]) -> [f64; 2] {
    [x * xs[0], x + xs[1]]
}

#[grad(wrt = w)]
fn copy_of_data_result(w: f64, x0: f64, xs: [f64; 2], k: i32) -> f64 {
    let z1 = from_data(x0, xs);
    let mut z2 = z1;
    for _ in 0..k {
        z2 = from_data(w * w, xs);
    }
    let mut z3 = z2;
    for i in 1..3 {
        z3[i % 2] = z3[(i + 1) % 2] * x0 * z3[i % 2];
    }
    z3[0] + z1[1] * w
}

#[grad(wrt = w, mode = forward)]
fn copy_of_data_result_forward(w: f64, x0: f64, xs: [f64; 2], k: i32) -> f64 {
    let z1 = from_data(x0, xs);
    let mut z2 = z1;
    for _ in 0..k {
        z2 = from_data(w * w, xs);
    }
    let mut z3 = z2;
    for i in 1..3 {
        z3[i % 2] = z3[(i + 1) % 2] * x0 * z3[i % 2];
    }
    z3[0] + z1[1] * w
}

#[test]
fn a_copy_of_a_call_result_on_data_takes_differentiated_values() {
    let xs = [1.0, 2.0];
    for k in [0, 2] {
        let g = copy_of_data_result_grad(0.5, 1.5, xs, k);
        let e = 1e-6;
        let fd = (copy_of_data_result(0.5 + e, 1.5, xs, k)
            - copy_of_data_result(0.5 - e, 1.5, xs, k))
            / (2.0 * e);
        approx::assert_relative_eq!(g, fd, max_relative = 1e-7);
        assert_eq!(g, copy_of_data_result_forward_grad(0.5, 1.5, xs, k));
    }
    // k = 2: f = 2.25·(w⁶ + 2w⁴) + 3.5·w, f' = 2.25·(6w⁵ + 8w³) + 3.5 = 6.171875 at w = 0.5.
    assert_eq!(copy_of_data_result_grad(0.5, 1.5, xs, 2), 6.171875);
}
