//! `&mut` out-parameters (issue 22): a `#[grad]` function that writes a float or an array of
//! floats through a `&mut` parameter, called as a statement (`update(&mut s, x);`), in loops,
//! on an element (`update(&mut e[i], x)`), from helpers that pass it on (`&mut *acc`), in
//! reverse mode, forward mode and with `hessian`. Each checked against the closed form or
//! finite differences.

#![deny(warnings)]

use approx::assert_relative_eq;
use backprop::grad;

fn fd(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    let h = 1e-6 * x.abs().max(1.0);
    (f(x + h) - f(x - h)) / (2.0 * h)
}

/// Clad's out-parameter: the accumulator is an input and an output (`hessian`: second order
/// goes through its calls).
#[grad(hessian)]
fn update(acc: &mut f64, x: f64) {
    *acc += x * x;
}

/// The same update twice, in a loop over data, and on a float that holds data only.
#[grad(wrt = w)]
fn accumulated(w: f64, xs: &[f64]) -> f64 {
    let mut s = 0.0;
    update(&mut s, w);
    update(&mut s, 2.0 * w);
    for x in xs {
        update(&mut s, x * w);
    }
    let mut c = 1.0;
    update(&mut c, 3.0);
    s * c
}

#[test]
fn a_float_written_through_mut_is_the_calls_value() {
    let xs = [0.5, -1.0];
    // s = w² + 4w² + Σ x²w², c = 10: ∂/∂w = 10 · 2w (5 + Σ x²).
    let w = 1.5;
    let sum: f64 = xs.iter().map(|x| x * x).sum();
    assert_relative_eq!(
        accumulated_grad(w, &xs),
        10.0 * 2.0 * w * (5.0 + sum),
        max_relative = 1e-14
    );
    assert_relative_eq!(
        accumulated_grad(w, &xs),
        fd(|w| accumulated(w, &xs), w),
        max_relative = 1e-8
    );
    // The original is untouched: it writes through the reference.
    let mut s = 1.0;
    update(&mut s, 2.0);
    assert_eq!(s, 5.0);
}

/// An array written in place, by index (`iter_mut` is refused: see the manual).
#[grad]
#[allow(clippy::needless_range_loop)]
fn scale(v: &mut [f64; 3], k: f64) {
    for i in 0..3 {
        v[i] *= k;
    }
}

/// The array copied, scaled twice (by a parameter, then by one of its own elements), each
/// element of another array updated in a loop.
#[grad(wrt = w, k)]
fn scaled(w: &[f64; 3], k: f64) -> f64 {
    let mut a = *w;
    scale(&mut a, k);
    let k2 = a[0];
    scale(&mut a, k2);
    let mut e = [0.0; 3];
    for i in 0..3 {
        e[i] = w[i];
        update(&mut e[i], a[i]);
    }
    a[0] * a[1] + a[2] + e[1]
}

#[test]
fn an_array_written_through_mut_is_the_calls_value() {
    let (w, k) = ([0.3, -0.7, 1.1], 1.3);
    let (g, gk) = scaled_grad(&w, k);
    for j in 0..3 {
        let f = |x: f64| {
            let mut v = w;
            v[j] = x;
            scaled(&v, k)
        };
        assert_relative_eq!(g[j], fd(f, w[j]), max_relative = 1e-7);
    }
    assert_relative_eq!(gk, fd(|k| scaled(&w, k), k), max_relative = 1e-7);
}

/// A helper passing its output on to another (`&mut *acc`), and a building block's own
/// gradient: the new value's partials in the old value and in `x`.
#[grad(wrt = acc, x, hessian)]
fn twice(acc: &mut f64, x: f64) {
    update(&mut *acc, x);
    *acc *= x;
}

#[test]
fn a_helper_passes_its_output_on() {
    // (acc + x²)·x: ∂/∂acc = x, ∂/∂x = acc + 3x².
    let (acc, x) = (0.5, 2.0);
    assert_eq!(twice_grad(acc, x), (2.0, 0.5 + 12.0));
    let mut a = acc;
    twice(&mut a, x);
    assert_eq!(a, 9.0);
}

/// Forward mode and `hessian` through the out-parameter.
#[grad(wrt = w, mode = forward, hessian)]
fn forward(w: f64) -> f64 {
    let mut s = w;
    twice(&mut s, w);
    s
}

#[test]
fn forward_mode_and_the_hessian_go_through_it() {
    // (w + w²)·w = w² + w³: 2w + 3w², and 2 + 6w.
    let w = 0.75;
    assert_relative_eq!(forward_grad(w), 2.0 * w + 3.0 * w * w, max_relative = 1e-15);
    assert_relative_eq!(
        forward_hessian(w)[0][0],
        2.0 + 6.0 * w,
        max_relative = 1e-15
    );
}

/// Generic over the float type, in a time loop.
#[grad]
fn step<F: backprop::Real>(x: &mut F, rate: F) {
    *x = *x - rate * *x * *x;
}

#[grad(wrt = x0)]
fn run<F: backprop::Real>(x0: F, rate: F, steps: usize) -> F {
    let mut x = x0;
    for _ in 0..steps {
        step(&mut x, rate);
    }
    x
}

#[test]
fn a_generic_function_writes_through_mut() {
    let (x0, rate) = (0.4, 0.1);
    let g = run_grad(x0, rate, 5);
    assert_relative_eq!(g, fd(|x| run(x, rate, 5), x0), max_relative = 1e-8);
    let g32 = run_grad(0.4f32, 0.1f32, 5);
    assert_relative_eq!(f64::from(g32), g, max_relative = 1e-5);
}

/// A plain function (not `#[grad]`) writing a float that holds data: called as written, on a
/// copy, its result data.
fn set(o: &mut f64, v: f64) {
    *o = v;
}

#[grad(wrt = x)]
fn on_data(x: f64) -> f64 {
    let mut out = 0.0;
    set(&mut out, 5.0);
    out * x
}

#[test]
fn a_plain_function_may_write_data() {
    assert_eq!(on_data_grad(3.0), 5.0);
    assert_eq!(on_data(3.0), 15.0);
}

/// A `&mut` alias bound again by name (`let a = &mut s; ..; let a = &mut t;`), of the same
/// float and of another, with an out-parameter call between (found by the generator, seed
/// 7401: the second `let` made the first alias refused).
#[grad(wrt = w)]
fn aliases_bound_again(w: f64, xs: &[f64]) -> f64 {
    let mut s: f64 = 0.0;
    let mut t: f64 = 1.0;
    for x in xs {
        let e = w * x;
        let a = &mut s;
        *a += e;
        add(&mut s, e * e);
        let a = &mut t;
        *a *= 1.0 + 0.1 * e;
        let a = &mut s;
        *a -= 0.5 * e;
    }
    s * t
}

#[grad]
fn add(acc: &mut f64, x: f64) {
    *acc += x;
}

#[test]
fn an_alias_bound_again_ends_the_one_before() {
    let xs = [0.5, -1.0, 2.0, 0.25];
    let g = aliases_bound_again_grad(0.7, &xs);
    assert_relative_eq!(
        g,
        fd(|w| aliases_bound_again(w, &xs), 0.7),
        max_relative = 1e-6
    );
}
