//! The reverse sweep of a loop keeps no tape: a loop that only accumulates allocates nothing,
//! and a loop with other carried state allocates its storage once (or not at all, on the stack,
//! when the trip count is a constant). Counted with a global allocator that counts.

#![deny(warnings)]

use backprop::grad;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; counting touches only a thread-local `Cell`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        COUNT.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = COUNT.with(Cell::get);
    let v = f();
    (v, COUNT.with(Cell::get) - before)
}

#[grad(wrt = w, b)]
fn mse(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let r = w * x + b - y;
        loss += r * r;
    }
    loss / xs.len() as f64
}

#[grad(wrt = w)]
fn softmax_nll(w: [[f64; 2]; 3], data: &[([f64; 2], usize)]) -> f64 {
    let mut total = 0.0;
    for (x, label) in data.iter() {
        let mut z = [0.0; 3];
        for k in 0..3 {
            for f in 0..2 {
                z[k] += w[k][f] * x[f];
            }
        }
        let m = z[0].max(z[1]).max(z[2]);
        let mut s = 0.0;
        for zk in z.iter() {
            s += (zk - m).exp();
        }
        total += m + s.ln() - z[*label];
    }
    total
}

#[grad(wrt = w)]
fn rnn_slice(w: f64, xs: &[f64]) -> f64 {
    let mut h = 0.0;
    for x in xs.iter() {
        h = (w * h + x).tanh();
    }
    h
}

#[grad(wrt = w)]
fn rnn_array(w: f64, xs: [f64; 8]) -> f64 {
    let mut h = 0.0;
    for x in xs.iter() {
        h = (w * h + x).tanh();
    }
    h
}

#[grad(wrt = w)]
fn rnn_range(w: f64) -> f64 {
    let mut h = 0.5;
    for k in 0..16 {
        h = (w * h + k as f64 * 0.1).sin();
    }
    h
}

/// A recurrence (the powers of `x`) inside an accumulation over the data.
#[grad(wrt = c)]
fn poly_mse(c: &[f64], xs: &[f64], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let mut p = 0.0;
        let mut xp = 1.0;
        for ck in c {
            p += ck * xp;
            xp *= x;
        }
        loss += (p - y) * (p - y);
    }
    loss / xs.len() as f64
}

#[test]
fn an_inner_loop_reuses_one_allocation() {
    let xs: Vec<f64> = (0..500).map(|i| (i as f64 * 0.37).sin()).collect();
    let ys: Vec<f64> = xs.iter().map(|x| 2.0 * x - 1.0).collect();
    let c = [0.5, -1.0, 0.25, 0.1];
    // The gradient's `Vec`, and the inner loop's storage once (not once per point).
    for n_points in [5, 500] {
        let (g, n) = allocations(|| poly_mse_grad(&c, &xs[..n_points], &ys[..n_points]));
        assert_eq!(n, 2, "{n_points} points");
        let h = 1e-6;
        for k in 0..c.len() {
            let (mut up, mut down) = (c, c);
            up[k] += h;
            down[k] -= h;
            let fd = (poly_mse(&up, &xs[..n_points], &ys[..n_points])
                - poly_mse(&down, &xs[..n_points], &ys[..n_points]))
                / (2.0 * h);
            approx::assert_relative_eq!(g[k], fd, max_relative = 1e-6);
        }
    }
}

#[test]
fn loops_allocate_only_their_carried_state() {
    let xs: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin()).collect();
    let ys: Vec<f64> = xs.iter().map(|x| 2.0 * x - 1.0).collect();
    let data: Vec<([f64; 2], usize)> = (0..200)
        .map(|i| ([(i as f64).cos(), (i as f64 * 0.5).sin()], i % 3))
        .collect();
    let arr = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8];

    // Only sums: recomputed, nothing stored.
    let (_, n) = allocations(|| mse_value_and_grad(0.5, 0.1, &xs, &ys));
    assert_eq!(n, 0, "an accumulating loop allocated");
    let w = [[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]];
    let (_, n) = allocations(|| softmax_nll_value_and_grad(w, &data));
    assert_eq!(
        n, 0,
        "nested accumulating loops with a local array allocated"
    );

    // Carried state, trip count known only at run time: one allocation, whatever the length.
    let (_, n) = allocations(|| rnn_slice_value_and_grad(0.7, &xs));
    assert_eq!(
        n, 1,
        "a recurrence over a slice should allocate its storage once"
    );
    let (_, n) = allocations(|| rnn_slice_value_and_grad(0.7, &xs[..10]));
    assert_eq!(n, 1);

    // Carried state with a constant trip count: on the stack.
    let (_, n) = allocations(|| rnn_array_value_and_grad(0.7, arr));
    assert_eq!(
        n, 0,
        "a recurrence over an array should keep its state on the stack"
    );
    let (_, n) = allocations(|| rnn_range_value_and_grad(0.7));
    assert_eq!(
        n, 0,
        "a recurrence over a literal range should keep its state on the stack"
    );

    // And the gradients are right.
    let g = rnn_array_grad(0.7, arr);
    let h = 1e-6;
    let fd = (rnn_array(0.7 + h, arr) - rnn_array(0.7 - h, arr)) / (2.0 * h);
    approx::assert_relative_eq!(g, fd, max_relative = 1e-6);
    let g = rnn_range_grad(0.7);
    let fd = (rnn_range(0.7 + h) - rnn_range(0.7 - h)) / (2.0 * h);
    approx::assert_relative_eq!(g, fd, max_relative = 1e-6);
}
