//! Gradient sums over data in lanes (issue 23): a loop's adjoint sums are kept as four partial
//! sums, item `j` in lane `j % 4`, added as `(l0 + l1) + (l2 + l3)` after the loop;
//! `ordered_sums` adds the terms one after the other. Each is checked bit for bit against the
//! same order written by hand, and against finite differences; every length that leaves a
//! different remainder.

#![deny(warnings)]
#![allow(clippy::needless_range_loop)]

use backprop::check::{check_gradient, Tolerance};
use backprop::grad;

#[grad(wrt = w, b)]
fn mse(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let r = w * x + b - y;
        loss += r * r;
    }
    loss / xs.len() as f64
}

#[grad(wrt = w, b, ordered_sums)]
fn mse_ordered(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let r = w * x + b - y;
        loss += r * r;
    }
    loss / xs.len() as f64
}

/// `Σ r·x` and `Σ r` in the lanes' order.
fn in_lanes(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let (mut lw, mut lb) = ([0.0f64; 4], [0.0f64; 4]);
    for (j, (x, y)) in xs.iter().zip(ys).enumerate() {
        let r = w * x + b - y;
        lw[j % 4] += r * x;
        lb[j % 4] += r;
    }
    let n = xs.len() as f64;
    let (sw, sb) = (
        0.0 + ((lw[0] + lw[1]) + (lw[2] + lw[3])),
        0.0 + ((lb[0] + lb[1]) + (lb[2] + lb[3])),
    );
    (2.0 * (1.0 / n) * sw, 2.0 * (1.0 / n) * sb)
}

/// The same sums term by term.
fn in_order(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> (f64, f64) {
    let (mut sw, mut sb) = (0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let r = w * x + b - y;
        sw += r * x;
        sb += r;
    }
    let n = xs.len() as f64;
    (2.0 * (1.0 / n) * sw, 2.0 * (1.0 / n) * sb)
}

fn data(n: usize) -> (Vec<f64>, Vec<f64>) {
    let xs: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin() * 3.1).collect();
    let ys = xs
        .iter()
        .enumerate()
        .map(|(i, x)| 2.0 * x - 1.0 + 0.1 * (i as f64).cos())
        .collect();
    (xs, ys)
}

#[test]
fn the_lanes_add_in_their_documented_order() {
    for n in [1, 2, 3, 4, 5, 7, 8, 9, 1000, 1003] {
        let (xs, ys) = data(n);
        let g = mse_grad(0.7, -0.2, &xs, &ys);
        let want = in_lanes(0.7, -0.2, &xs, &ys);
        assert_eq!(
            (g.0.to_bits(), g.1.to_bits()),
            (want.0.to_bits(), want.1.to_bits()),
            "n = {n}"
        );
        // `_value_and_grad` gives the same bits, and its value adds the loss term by term.
        let (value, vg) = mse_value_and_grad(0.7, -0.2, &xs, &ys);
        assert_eq!(
            (vg.0.to_bits(), vg.1.to_bits()),
            (g.0.to_bits(), g.1.to_bits())
        );
        assert_eq!(value.to_bits(), mse(0.7, -0.2, &xs, &ys).to_bits());
    }
}

#[test]
fn ordered_sums_add_term_by_term() {
    for n in [1, 4, 5, 1000] {
        let (xs, ys) = data(n);
        let g = mse_ordered_grad(0.7, -0.2, &xs, &ys);
        let want = in_order(0.7, -0.2, &xs, &ys);
        assert_eq!(
            (g.0.to_bits(), g.1.to_bits()),
            (want.0.to_bits(), want.1.to_bits()),
            "n = {n}"
        );
    }
    // Over 1,000 points the two orders round differently (here, in the last bits).
    let (xs, ys) = data(1000);
    let (a, b) = (
        mse_grad(0.7, -0.2, &xs, &ys),
        mse_ordered_grad(0.7, -0.2, &xs, &ys),
    );
    assert!((a.0 - b.0).abs() <= 1e-12 * a.0.abs(), "{a:?} {b:?}");
    assert!((a.1 - b.1).abs() <= 1e-12 * a.1.abs(), "{a:?} {b:?}");
}

#[test]
fn an_empty_loop_leaves_the_sums_at_zero() {
    let g = mse_grad(0.7, -0.2, &[], &[]);
    // 0 / 0: the loss is NaN, and so are its derivatives (`2 · (1/0) · 0`).
    assert!(g.0.is_nan() && g.1.is_nan());
}

/// Sums that subtract (`s -= ..`), next to one that adds; a loop over indices; and the lanes'
/// remainders, against finite differences.
#[grad(wrt = a, k)]
fn differences(a: f64, k: f64, xs: &[f64]) -> f64 {
    let mut s = 0.0;
    let mut t = 1.0;
    for i in 0..xs.len() {
        s -= (a * xs[i]).sin();
        t += k * xs[i] * xs[i];
    }
    s * 2.0 + t
}

#[test]
fn differences_match_finite_differences() {
    for n in [0, 1, 3, 6, 11] {
        let (xs, _) = data(n);
        let (da, dk) = differences_grad(0.4, 1.3, &xs);
        let f = |p: &[f64]| differences(p[0], p[1], &xs);
        if let Err(e) = check_gradient(f, &[0.4, 1.3], &[da, dk], Tolerance::default()) {
            panic!("n = {n}: {e}");
        }
        // Closed forms: ∂/∂a = −2 Σ x cos(a x), ∂/∂k = Σ x².
        let want_a: f64 = -2.0 * xs.iter().map(|x| x * (0.4 * x).cos()).sum::<f64>();
        let want_k: f64 = xs.iter().map(|x| x * x).sum();
        assert!(
            (da - want_a).abs() <= 1e-12 * (1.0 + want_a.abs()),
            "{da} {want_a}"
        );
        assert!(
            (dk - want_k).abs() <= 1e-12 * (1.0 + want_k.abs()),
            "{dk} {want_k}"
        );
    }
}

/// In a function generic over its float type, at `f32`.
#[grad(wrt = w)]
fn generic_sum<T: backprop::Real>(w: T, xs: &[T]) -> T {
    let mut s = T::from_f64(0.0);
    for x in xs {
        s += (w * *x).tanh();
    }
    s
}

#[test]
fn lanes_in_a_generic_function() {
    let xs: Vec<f32> = (0..13).map(|i| (i as f32 * 0.3).cos()).collect();
    let g = generic_sum_grad(0.8f32, &xs);
    let want: f32 = xs
        .iter()
        .map(|x| x * (1.0 - (0.8 * x).tanh().powi(2)))
        .sum();
    assert!((g - want).abs() <= 1e-5 * want.abs(), "{g} {want}");
    let xs64: Vec<f64> = xs.iter().map(|&x| f64::from(x)).collect();
    let g64 = generic_sum_grad(0.8f64, &xs64);
    assert!((f64::from(g) - g64).abs() < 1e-5, "{g} {g64}");
}

/// A sum whose terms read a value the loop carries and changes (`h`): each term reads `h` as
/// the iteration found it.
#[grad(wrt = w)]
fn carried_read(w: f64, xs: &[f64]) -> f64 {
    let mut h = 1.0;
    let mut s = 0.0;
    for x in xs {
        s += w * h * x;
        h = h * 0.9 + x;
    }
    s
}

#[grad(wrt = w)]
fn carried_read_after(w: f64, xs: &[f64]) -> f64 {
    let mut s = 0.0;
    let mut h = 1.0;
    for x in xs {
        h = h * 0.9 + x;
        s += w * h * x;
    }
    s
}

#[test]
fn terms_read_carried_values_as_the_iteration_found_them() {
    let (xs, _) = data(11);
    let mut h = 1.0;
    let mut before = 0.0;
    let mut after = 0.0;
    for x in &xs {
        before += h * x;
        h = h * 0.9 + x;
        after += h * x;
    }
    let (a, b) = (
        carried_read_grad(0.3, &xs),
        carried_read_after_grad(0.3, &xs),
    );
    assert!((a - before).abs() < 1e-12 * before.abs(), "{a} {before}");
    assert!((b - after).abs() < 1e-12 * after.abs(), "{b} {after}");
}

/// Loops over parameters of every slice-like type, walked in chunks of four where they are
/// slices by reference: arrays and `Vec`s by value and by reference, `&xs`, `.iter()`,
/// `.zip(..)` of each; an array by value zipped in (its items by value) is walked item by item.
#[grad(wrt = w)]
#[allow(clippy::ptr_arg)]
fn shapes(w: f64, a: [f64; 9], v: Vec<f64>, r: &Vec<f64>, s: &[f64; 9]) -> f64 {
    let mut t = 0.0;
    for x in &a {
        t += (w * x).sin();
    }
    for x in v.iter() {
        t += w * x * x;
    }
    for (x, y) in r.iter().zip(s) {
        t += (w * x - y).powi(2);
    }
    for (x, y) in s.iter().zip(a) {
        t += w * x * y;
    }
    for (x, &y) in v.iter().zip(r.iter()) {
        t -= w * x / (1.0 + y * y);
    }
    t
}

#[test]
fn every_slice_shape_matches_finite_differences() {
    let a: [f64; 9] = core::array::from_fn(|i| (i as f64 * 0.7).sin());
    let v: Vec<f64> = (0..9).map(|i| (i as f64 * 0.4).cos()).collect();
    let r: Vec<f64> = (0..7).map(|i| i as f64 * 0.3 - 1.0).collect();
    let s: [f64; 9] = core::array::from_fn(|i| 0.5 - i as f64 * 0.1);
    let g = shapes_grad(0.6, a, v.clone(), &r, &s);
    let f = |p: &[f64]| shapes(p[0], a, v.clone(), &r, &s);
    if let Err(e) = check_gradient(f, &[0.6], &[g], Tolerance::default()) {
        panic!("{e}");
    }
    let (value, vg) = shapes_value_and_grad(0.6, a, v.clone(), &r, &s);
    assert_eq!(vg.to_bits(), g.to_bits());
    assert_eq!(value.to_bits(), shapes(0.6, a, v, &r, &s).to_bits());
}

#[test]
fn a_reverse_sweep_adds_in_lanes_last_item_first() {
    for n in [1, 3, 4, 5, 8, 11, 100] {
        let (xs, _) = data(n);
        // The values of `h` each iteration found, then the sweep's items, last first: item
        // `j` of the sweep into lane `j % 4`.
        let mut hs = Vec::new();
        let mut h = 1.0;
        for x in &xs {
            hs.push(h);
            h = h * 0.9 + x;
        }
        let mut lanes = [0.0f64; 4];
        for (j, i) in (0..n).rev().enumerate() {
            lanes[j % 4] += xs[i] * hs[i];
        }
        let want = 0.0 + ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]));
        assert_eq!(
            carried_read_grad(0.3, &xs).to_bits(),
            want.to_bits(),
            "n = {n}"
        );
    }
}
