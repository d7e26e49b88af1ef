//! Generated code never collides with the user's names: variables named like generated ones,
//! locals named like functions, user functions named like runtime helpers, a renamed crate.

#![deny(warnings)]

use approx::assert_relative_eq;
use backprop::grad;

#[grad(wrt = x)]
fn generated_looking_names(x: f64, d_x: f64, t0: f64) -> f64 {
    let c0 = x * d_x;
    let d_c0 = c0 * t0;
    let t1 = d_c0.exp();
    let _arg0 = t1 + x;
    _arg0 * 2.0
}

#[test]
fn user_variables_named_like_generated_ones() {
    let (x, d_x, t0): (f64, f64, f64) = (0.3, 1.1, -0.4);
    let expected = 2.0 * ((x * d_x * t0).exp() * d_x * t0 + 1.0);
    assert_relative_eq!(
        generated_looking_names_grad(x, d_x, t0),
        expected,
        max_relative = 1e-14
    );
}

#[grad(wrt = x)]
#[allow(clippy::let_and_return)] // the point is the local's name
fn locals_named_like_functions(x: f64) -> f64 {
    let exp = x.exp();
    let sin = exp.sin();
    let sigmoid = backprop::sigmoid(sin);
    sigmoid
}

#[test]
fn locals_named_like_functions_do_not_confuse_calls() {
    let x: f64 = 0.2;
    let s = x.exp().sin();
    let sg = backprop::sigmoid(s);
    let expected = sg * (1.0 - sg) * x.exp().cos() * x.exp();
    assert_relative_eq!(
        locals_named_like_functions_grad(x),
        expected,
        max_relative = 1e-14
    );
}

/// A user function named like a runtime helper, called on data only: passed through.
fn relu(n: i32) -> f64 {
    if n > 0 {
        n as f64
    } else {
        0.5
    }
}

#[grad(wrt = w)]
fn user_relu_on_data(w: f64, n: i32) -> f64 {
    w * relu(n)
}

#[test]
fn user_function_named_like_a_helper_on_data() {
    assert_eq!(user_relu_on_data_grad(2.0, 3), 3.0);
    assert_eq!(user_relu_on_data_grad(2.0, -3), 0.5);
}

mod helper_after_use {
    use backprop::{grad, softplus};

    #[grad(wrt = z)]
    pub fn f(z: f64) -> f64 {
        softplus(z)
    }
}

#[test]
fn helper_imported_with_use() {
    assert_relative_eq!(helper_after_use::f_grad(0.0), 0.5);
}

mod renamed {
    extern crate backprop as gr;

    #[gr::grad(wrt = w, crate = gr)]
    pub fn loss(w: f64) -> f64 {
        gr::log_sigmoid(w) + w
    }
}

#[test]
fn renamed_crate_with_the_crate_option() {
    // d/dw (log σ(w) + w) = σ(−w) + 1
    assert_relative_eq!(renamed::loss_grad(0.0), 1.5);
}

#[grad(wrt = a)]
fn unused_companions(a: f64) -> f64 {
    a * 2.0
}

#[test]
fn original_still_callable_and_companions_may_go_unused() {
    // Only the original is called here: the companions must not warn (`deny(warnings)` above).
    assert_eq!(unused_companions(1.0), 2.0);
}

/// A tanh hidden layer: this doc comment mentions "hidden" and must not hide anything.
#[grad(wrt = w)]
#[expect(unused_variables)]
fn expected_lint(w: f64, unused: f64) -> f64 {
    w * 2.0
}

#[test]
fn an_expect_on_the_original_does_not_fail_on_the_companions() {
    assert_eq!(expected_lint_grad(1.0, 0.0), 2.0);
}

#[grad(wrt = w)]
#[deprecated(note = "use something else")]
#[allow(dead_code)]
fn old_loss(w: f64) -> f64 {
    w * w
}

#[test]
#[allow(deprecated)]
fn a_deprecated_original_raises_no_warning_at_its_definition() {
    assert_eq!(old_loss_grad(3.0), 6.0);
}

/// Generated code passes clippy's pedantic and nursery groups, which CI's clippy checks on this
/// file: their advice (`suboptimal_flops` fired five times at the attribute) is for code a
/// person writes, and the companions allow them. The user's own code here is clean of them.
#[deny(clippy::pedantic, clippy::nursery)]
mod strict_lints {
    use backprop::grad;

    #[grad(wrt = weight, bias)]
    pub fn loss(weight: f64, bias: f64, input: f64, target: f64) -> f64 {
        let prob = backprop::sigmoid(weight.mul_add(input, bias));
        let err = prob - target;
        err.mul_add(err, 0.1 * weight * weight)
    }
}

#[test]
fn strict_lints_leave_the_gradient_alone() {
    let (dw, db) = strict_lints::loss_grad(0.5, -0.2, 2.0, 1.0);
    let p = backprop::sigmoid(0.5_f64.mul_add(2.0, -0.2));
    let d = 2.0 * (p - 1.0) * p * (1.0 - p);
    assert!((dw - (d * 2.0 + 0.2 * 0.5)).abs() < 1e-12);
    assert!((db - d).abs() < 1e-12);
}
