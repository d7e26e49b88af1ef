//! Rust as people write it (issue 22): local closures (`let f = |v: f64| ..;` called `f(x)`,
//! inlined where it is called, its other names read as they were where it was written), `const
//! fn` gradients, references to differentiated floats. Each checked against finite
//! differences or the same body written out, and in forward mode and with `hessian`.

#![deny(warnings)]

use approx::assert_relative_eq;
use backprop::grad;

fn fd(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    let h = 1e-6 * x.abs().max(1.0);
    (f(x + h) - f(x - h)) / (2.0 * h)
}

/// Clad's `Lambdas` first case: a closure called twice.
#[grad(wrt = a, b)]
fn squares(a: f64, b: f64) -> f64 {
    let sq = |v: f64| v * v;
    sq(a) + sq(b)
}

#[test]
fn a_closure_called_twice_is_its_body_twice() {
    assert_eq!(squares_grad(1.5, -2.0), (3.0, -4.0));
    assert_eq!(squares(1.5, -2.0), 1.5 * 1.5 + 4.0);
}

/// A closure capturing a differentiated value, a later `let` of the same name shadowing it (the
/// closure still reads the first), and one on data called in a loop.
#[grad(wrt = w)]
fn captures(w: f64, xs: &[f64]) -> f64 {
    let k = 2.0 * w;
    let scaled = |x: f64| (k * x).tanh();
    let k = 0.01;
    let at = |i: usize| xs[i] + k;
    let mut s = 0.0;
    for i in 0..xs.len() {
        s += scaled(at(i));
    }
    s
}

#[test]
fn a_closure_reads_what_it_captured_where_it_was_written() {
    let xs = [0.5, -1.0, 2.0];
    let g = captures_grad(0.3, &xs);
    assert_relative_eq!(g, fd(|w| captures(w, &xs), 0.3), max_relative = 1e-7);
    // Written out: Σ (1 − tanh²(2w(x + 0.01)))·2(x + 0.01).
    let written: f64 = xs
        .iter()
        .map(|x| {
            let t = (0.6 * (x + 0.01)).tanh();
            (1.0 - t * t) * 2.0 * (x + 0.01)
        })
        .sum();
    assert_relative_eq!(g, written, max_relative = 1e-14);
}

/// A `move` closure copies a float when it is written: a later assignment does not reach it.
#[grad(wrt = w)]
fn moved(w: f64) -> f64 {
    let mut k = w * 3.0;
    let f = move |v: f64| v * k;
    k = 1.0;
    f(w) + k
}

#[test]
fn a_move_closure_reads_its_copy() {
    // f(w) = w · 3w, then + 1: ∂/∂w = 6w.
    assert_eq!(moved(0.7), 0.7 * (0.7 * 3.0) + 1.0);
    assert_relative_eq!(moved_grad(0.7), 6.0 * 0.7, max_relative = 1e-15);
}

/// Closures calling closures, given a call as argument, and a closure of several parameters.
#[grad(wrt = w, hessian)]
fn nested(w: f64) -> f64 {
    let sq = |v: f64| v * v;
    let quad = |v: f64| sq(sq(v));
    let mix = |a: f64, b: f64| a * b + a;
    mix(quad(w), sq(w + 1.0))
}

#[grad(wrt = w, mode = forward)]
fn nested_forward(w: f64) -> f64 {
    let sq = |v: f64| v * v;
    let quad = |v: f64| sq(sq(v));
    let mix = |a: f64, b: f64| a * b + a;
    mix(quad(w), sq(w + 1.0))
}

#[test]
fn closures_compose_in_every_mode() {
    // w⁴(w + 1)² + w⁴.
    let w: f64 = 0.7;
    let exact = 4.0 * w.powi(3) * (w + 1.0).powi(2) + 2.0 * w.powi(4) * (w + 1.0) + 4.0 * w.powi(3);
    assert_relative_eq!(nested_grad(w), exact, max_relative = 1e-14);
    assert_relative_eq!(nested_forward_grad(w), exact, max_relative = 1e-14);
    let second = 12.0 * w * w * (w + 1.0).powi(2)
        + 16.0 * w.powi(3) * (w + 1.0)
        + 2.0 * w.powi(4)
        + 12.0 * w * w;
    assert_relative_eq!(nested_hessian(w)[0][0], second, max_relative = 1e-13);
}

/// A closure whose body is a block, with its own `let`s and an `if`.
#[grad(wrt = w)]
fn huber(w: f64, xs: &[f64], delta: f64) -> f64 {
    let loss = |r: f64| {
        let a = r.abs();
        if a <= delta {
            0.5 * r * r
        } else {
            delta * (a - 0.5 * delta)
        }
    };
    let mut s = 0.0;
    for &x in xs {
        s += loss(w * x - 1.0);
    }
    s
}

#[test]
fn a_closure_with_a_block_and_a_branch() {
    let xs = [0.5, 3.0, -2.0, 1.2];
    for w in [0.3, 1.1] {
        assert_relative_eq!(
            huber_grad(w, &xs, 1.0),
            fd(|w| huber(w, &xs, 1.0), w),
            max_relative = 1e-7
        );
    }
}

/// Issue 22: the companions of a `const fn` whose derivative code is arithmetic are `const fn`
/// too, so a gradient can be a constant.
#[grad(wrt = w, b)]
const fn affine_loss(w: f64, b: f64, x: f64) -> f64 {
    let z = w * x + b;
    if z > 0.0 {
        z * z - 3.0 * w / b
    } else {
        -z
    }
}

const GRADIENT: (f64, f64) = affine_loss_grad(2.0, 0.5, 3.0);
const BOTH: (f64, (f64, f64)) = affine_loss_value_and_grad(2.0, 0.5, 3.0);

/// A cube: its derivative is arithmetic too.
#[grad(wrt = w)]
const fn cubed(w: f64) -> f64 {
    w * w * w
}

const SLOPE: f64 = cubed_grad(2.0);

#[test]
fn a_const_fns_gradient_is_a_constant() {
    // z = 6.5: ∂/∂w = 2z·x − 3/b = 33, ∂/∂b = 2z + 3w/b² = 37.
    assert_eq!(GRADIENT, (33.0, 37.0));
    assert_eq!(BOTH, (30.25, (33.0, 37.0)));
    assert_eq!(affine_loss_grad(2.0, 0.5, 3.0), GRADIENT);
    assert_eq!(SLOPE, 12.0);
}

/// `&z` of a differentiated float the function computed: the reference is the value while it
/// lives (`z` cannot change then), `*r` reads it back.
#[grad(wrt = x)]
fn through_references(x: f64, y: f64) -> f64 {
    let z = 2.0 * x;
    let r = &z;
    *r * *r + r.sin() * y
}

/// `&x` of a parameter declared a float: the same.
#[grad(wrt = x)]
fn parameter_reference(x: f64, y: f64) -> f64 {
    let r = &x;
    let q = &y;
    *r * 2.0 * *q + r.sin()
}

#[test]
fn a_reference_to_a_float_reads_its_value() {
    assert_eq!(parameter_reference_grad(0.5, 3.0), 6.0 + 0.5_f64.cos());
    // 4x² + 3 sin(2x): 8x + 6 cos(2x).
    assert_eq!(
        through_references_grad(0.5, 3.0),
        8.0 * 0.5 + 6.0 * 1.0_f64.cos()
    );
}

/// A `const fn` whose derivative code converts a data value with a runtime helper: its
/// companions are plain functions (marked `const`, they did not compile: found by the
/// generator, seed 4305).
const K: f64 = 0.75;

#[grad(wrt = w0, w2)]
const fn with_data(w0: f64, w2: f64, x1: f64) -> f64 {
    let v0 = -(-K);
    (v0 * w0) + (x1 + w2)
}

#[test]
fn a_const_fn_with_data_has_plain_companions() {
    assert_eq!(with_data_grad(0.5, 1.5, 2.0), (K, 1.0));
}

/// A `wrt` parameter taken as `&f64`: differentiated as its value (`*x`, `x` in arithmetic,
/// passed on as a reference), its companions take the value.
#[grad(wrt = v)]
fn doubled(v: &f64) -> f64 {
    2.0 * *v
}

#[grad(wrt = x, y)]
fn shared_reference(x: &f64, y: f64) -> f64 {
    let scaled = |v: f64| v * *x;
    *x * y + x.sin() + x * x + doubled(x) + scaled(1.0) - *x
}

/// Called with `&` of a differentiated value.
#[grad(wrt = w)]
fn lends_a_reference(w: f64) -> f64 {
    let v = w * 3.0;
    shared_reference(&v, 2.0) + shared_reference(&w, w)
}

#[test]
fn a_wrt_reference_is_differentiated_as_its_value() {
    let (x, y) = (2.0, 3.0);
    let (dx, dy) = shared_reference_grad(x, y);
    assert_relative_eq!(dx, y + x.cos() + 2.0 * x + 2.0, max_relative = 1e-15);
    assert_eq!(dy, x);
    assert_eq!(shared_reference(&x, y), x * y + x.sin() + x * x + 2.0 * x);
    let w = 0.7;
    assert_relative_eq!(
        lends_a_reference_grad(w),
        fd(lends_a_reference, w),
        max_relative = 1e-8
    );
}

/// A local `&mut` alias of a float or an array: `*a` is the float itself while `a` lives.
#[grad(wrt = s)]
fn through_a_mut_alias(s: f64) -> f64 {
    let mut t = s * 2.0;
    let a = &mut t;
    *a *= 3.0;
    *a += a.sin();
    let mut v = [s, 1.0];
    let r = &mut v;
    r[1] = r[0] * 2.0;
    t + v[1]
}

#[test]
fn a_mut_alias_writes_the_float_itself() {
    // t = 6s + sin 6s, v[1] = 2s: 6 + 6 cos 6s + 2.
    let s = 0.7;
    assert_relative_eq!(
        through_a_mut_alias_grad(s),
        8.0 + 6.0 * (6.0 * s).cos(),
        max_relative = 1e-14
    );
}

/// `&` of an `if`'s value and of a loop's: each is a float the function computed.
#[grad(wrt = w)]
fn references_of_branches_and_loops(w: f64, xs: &[f64]) -> f64 {
    let y = if w > 0.0 { w * w } else { -w };
    let r = &y;
    let mut s = 0.0;
    for x in xs {
        s += x * w;
    }
    let q = &s;
    *r * 2.0 + q.sin()
}

#[test]
fn a_reference_to_an_ifs_or_a_loops_value_reads_it() {
    // 2w² + sin(3w) for w > 0: 4w + 3 cos 3w.
    let (w, xs) = (0.7, [1.0, 2.0]);
    assert_relative_eq!(
        references_of_branches_and_loops_grad(w, &xs),
        4.0 * w + 3.0 * (3.0 * w).cos(),
        max_relative = 1e-14
    );
}

/// A slice of data re-sliced as it is consumed (`xs = &xs[1..]`): data, passed through.
#[grad(wrt = w)]
fn consumed(w: f64, xs: &[f64]) -> f64 {
    let mut xs = xs;
    let mut s = 0.0;
    while !xs.is_empty() {
        s = s * w + xs[0];
        xs = &xs[1..];
    }
    s
}

#[test]
fn a_data_slice_may_be_resliced() {
    // Horner: ((1·w + 2)·w + 3) = w² + 2w + 3: 2w + 2.
    let w = 0.7;
    assert_relative_eq!(
        consumed_grad(w, &[1.0, 2.0, 3.0]),
        2.0 * w + 2.0,
        max_relative = 1e-15
    );
    assert_eq!(consumed(w, &[]), 0.0);
}
