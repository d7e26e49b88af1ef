//! Failure classes other AD tools shipped, each pinned by a regression test. The classes
//! tested elsewhere are listed in TESTING.md with their place; these are the rest.

#![deny(warnings)]

use backprop::grad;

#[grad(wrt = w)]
fn compound_on_wrt(mut w: f64, x: f64) -> f64 {
    w += x * w; // w(1 + x)
    w *= w; // w²(1 + x)²
    w -= x;
    w
}

#[test]
fn compound_assignment_to_a_wrt_parameter() {
    let (w, x) = (0.5, 2.0);
    // d/dw [w²(1 + x)² − x] = 2w(1 + x)²
    assert_eq!(compound_on_wrt_grad(w, x), 2.0 * w * 9.0);
}

#[grad(wrt = w)]
fn nan_in_dead_code(w: f64) -> f64 {
    let dead = (-w).ln() * w; // NaN for w > 0, never used
    let also_dead = (w * 800.0).exp(); // +inf, never used
    let _ = also_dead;
    let _ = dead;
    3.0 * w
}

#[test]
fn nan_and_infinity_in_dead_code_do_not_reach_the_gradient() {
    assert_eq!(nan_in_dead_code_grad(2.0), 3.0);
    assert_eq!(nan_in_dead_code_value_and_grad(2.0), (6.0, 3.0));
}

#[grad(wrt = x)]
fn in_f64(x: f64) -> f64 {
    (x * 0.1).sin()
}

#[grad(wrt = x)]
fn in_f32(x: f32) -> f32 {
    (x * 0.1).sin()
}

#[test]
fn f32_and_f64_side_by_side() {
    // The same body in both types: each computes in its own type (0.1 rounds differently).
    let d64: f64 = in_f64_grad(1.0);
    let d32: f32 = in_f32_grad(1.0);
    assert_eq!(d64, 0.1 * 0.1_f64.cos());
    assert_eq!(d32, 0.1_f32 * 0.1_f32.cos());
    assert_ne!(f64::from(d32), d64);
}

#[grad(wrt = w)]
fn shadowed_wrt(w: f64) -> f64 {
    let w = w * w; // the parameter, shadowed at the top level
    let w = w.sin() + w;
    w * 2.0
}

#[test]
fn shadowing_a_wrt_parameter_at_the_top_level() {
    let w: f64 = 0.8;
    // 2(sin(w²) + w²) → 2(cos(w²) + 1)·2w
    let expected = 2.0 * ((w * w).cos() + 1.0) * 2.0 * w;
    assert!((shadowed_wrt_grad(w) - expected).abs() < 1e-15);
}
