//! The body language of a `#[grad]` function, construct by construct: each test's gradient is
//! checked against a closed form or finite differences, and values against the original.

#![deny(warnings)]

use approx::assert_relative_eq;
use backprop::check::{check_gradient, Tolerance};
use backprop::grad;

const SCALE: f64 = 3.0;

#[grad(wrt = a)]
fn lets_and_shadowing(a: f64) -> f64 {
    let b = a * a; // a²
    let b = b + a; // shadowed: a² + a
    let _ = b * 1000.0; // evaluated, ignored
    let c: f64 = b * SCALE;
    c
}

#[test]
fn let_shadowing_and_type_annotations() {
    // 3(a² + a) → 3(2a + 1)
    assert_relative_eq!(lets_and_shadowing_grad(2.0), 15.0);
    assert_eq!(
        lets_and_shadowing_value_and_grad(2.0).0,
        lets_and_shadowing(2.0)
    );
}

#[grad(wrt = w)]
fn compound(w: f64, x: f64) -> f64 {
    let mut s = w;
    s += x * w; // w + xw
    s -= 1.0; // w + xw − 1
    s *= w; // w² + xw² − w
    s /= 2.0;
    s
}

#[test]
fn let_mut_and_compound_assignment() {
    let (w, x) = (1.5, 0.5);
    // (w² + xw² − w)/2 → (2w + 2xw − 1)/2
    assert_relative_eq!(compound_grad(w, x), (2.0 * w + 2.0 * x * w - 1.0) / 2.0);
}

#[grad(wrt = w)]
fn reassign_param(mut w: f64) -> f64 {
    w = w * w;
    w = w.sin();
    w
}

#[test]
fn reassigning_a_wrt_parameter() {
    let w: f64 = 0.7;
    assert_relative_eq!(reassign_param_grad(w), (w * w).cos() * 2.0 * w);
}

#[grad(wrt = x)]
fn blocks(x: f64) -> f64 {
    let inner = {
        let sq = x * x;
        let x = sq + 1.0; // shadows the parameter inside the block only
        x * 2.0
    };
    inner + x // the parameter again
}

#[test]
fn nested_blocks_and_scopes() {
    // 2(x² + 1) + x → 4x + 1
    assert_relative_eq!(blocks_grad(3.0), 13.0);
}

#[grad(wrt = x)]
fn unary_and_parens(x: f64) -> f64 {
    -(-(x * (2.0 - x))) / (-(x + 1.0))
}

#[test]
fn unary_minus_and_parentheses() {
    let f = |v: &[f64]| unary_and_parens(v[0]);
    for x in [0.3, 2.0, -3.5] {
        check_gradient(f, &[x], &[unary_and_parens_grad(x)], Tolerance::default()).unwrap();
    }
}

#[grad(wrt = r)]
fn consts_and_casts(r: f64, n: usize, k: i32) -> f64 {
    const HALF: f64 = 0.5;
    let area = std::f64::consts::PI * r * r;
    area * n as f64 + HALF * (k * 2 + 1) as f64 * r
}

#[test]
fn constants_and_integer_casts() {
    let (r, n, k) = (2.0, 3, 4);
    let expected = 2.0 * std::f64::consts::PI * r * n as f64 + 0.5 * 9.0;
    assert_relative_eq!(consts_and_casts_grad(r, n, k), expected);
}

struct Config {
    lambda: f64,
    targets: [f64; 2],
}

#[grad(wrt = w)]
fn data_of_any_type(w: f64, cfg: &Config, xs: &[f64], flag: bool) -> f64 {
    let t = cfg.targets[1];
    let x = xs[0] + xs.len() as f64;
    let fit = (w * x - t).powi(2);
    if flag {
        fit + cfg.lambda * w * w
    } else {
        fit
    }
}

#[test]
fn data_parameters_of_any_type_pass_through() {
    let cfg = Config {
        lambda: 0.1,
        targets: [0.0, 2.0],
    };
    let xs = [1.0, 5.0, 6.0];
    let w = 0.5;
    let x = 1.0 + 3.0;
    let fit = 2.0 * (w * x - 2.0) * x;
    assert_relative_eq!(data_of_any_type_grad(w, &cfg, &xs, true), fit + 0.2 * w);
    assert_relative_eq!(data_of_any_type_grad(w, &cfg, &xs, false), fit);
}

#[grad(wrt = x, y)]
fn if_expression(x: f64, y: f64, mode: u8) -> f64 {
    let z = if x > y && mode != 0 {
        x * y
    } else if !(mode == 1 && x > 0.0) {
        x - y
    } else {
        y.exp()
    };
    z * 2.0
}

#[test]
fn if_else_if_else_as_expression() {
    assert_eq!(if_expression_grad(3.0, 2.0, 1), (4.0, 6.0));
    assert_eq!(if_expression_grad(-1.0, 2.0, 1), (2.0, -2.0));
    assert_eq!(if_expression_grad(1.0, 2.0, 2), (2.0, -2.0));
    assert_eq!(if_expression_grad(1.0, 2.0, 1), (0.0, 2.0 * 2f64.exp()));
}

#[grad(wrt = x)]
fn if_statements(x: f64, n: i32) -> f64 {
    let mut acc = x;
    let mut count = 0;
    if n > 0 {
        acc *= x;
        count += 1;
    }
    if n > 1 {
        acc *= x;
    } else {
        acc += 1.0;
    }
    acc * (count + 1) as f64
}

#[test]
fn if_statements_assign_variables() {
    // n = 0: (x + 1)·1; n = 1: (x² + 1)·2; n = 2: x³·2
    assert_relative_eq!(if_statements_grad(1.5, 0), 1.0);
    assert_relative_eq!(if_statements_grad(1.5, 1), 2.0 * 2.0 * 1.5);
    assert_relative_eq!(if_statements_grad(1.5, 2), 2.0 * 3.0 * 1.5 * 1.5);
}

#[grad(wrt = x)]
fn predicates_on_differentiated_values(x: f64) -> f64 {
    let y = x.ln();
    if y.is_nan() || (x as i64) > 100 {
        0.0
    } else {
        y
    }
}

#[test]
fn predicates_and_integer_casts_have_no_derivative() {
    assert_relative_eq!(predicates_on_differentiated_values_grad(4.0), 0.25);
    assert_eq!(predicates_on_differentiated_values_grad(-4.0), 0.0);
    assert_eq!(predicates_on_differentiated_values_grad(200.0), 0.0);
}

#[grad(wrt = a, b, c)]
fn fan_out_and_unused(a: f64, b: f64, c: f64) -> f64 {
    let _ = c;
    let s = a * b;
    s * s + s.sin() + a
}

#[test]
fn fan_out_sums_and_unused_parameter_is_zero() {
    let (a, b) = (0.4, -1.3);
    let s: f64 = a * b;
    let ds = 2.0 * s + s.cos();
    assert_eq!(
        fan_out_and_unused_grad(a, b, 9.0),
        (ds * b + 1.0, ds * a, 0.0)
    );
}

#[grad(wrt = w)]
fn passive_result(w: f64, x: f64) -> f64 {
    let _unused = w * 2.0;
    x * 3.0
}

#[test]
fn a_result_that_does_not_depend_on_wrt() {
    assert_eq!(passive_result_value_and_grad(1.0, 2.0), (6.0, 0.0));
}

#[grad(wrt = a, b)]
fn in_f32(a: f32, b: f32) -> f32 {
    (a * b).sin() + a.powi(3) / b
}

#[test]
fn f32_functions_get_f32_gradients() {
    let (a, b) = (0.5f32, 2.0f32);
    let (da, db): (f32, f32) = in_f32_grad(a, b);
    assert_relative_eq!(da, (a * b).cos() * b + 3.0 * a * a / b, max_relative = 1e-6);
    assert_relative_eq!(
        db,
        (a * b).cos() * a - a.powi(3) / (b * b),
        max_relative = 1e-6
    );
    let v: f32 = in_f32_value_and_grad(a, b).0;
    assert_eq!(v.to_bits(), in_f32(a, b).to_bits());
}

#[grad(wrt = a)]
fn same_expression_twice(a: f64, x: f64) -> f64 {
    // The same subexpression written twice is computed once and still differentiated twice.
    (a * x).exp() + (a * x).exp() * 2.0
}

#[test]
fn repeated_subexpressions() {
    let (a, x) = (0.3, 1.7);
    assert_relative_eq!(same_expression_twice_grad(a, x), 3.0 * x * (a * x).exp());
}

mod nested {
    use backprop::grad;

    /// Documented.
    #[grad(wrt = x)]
    #[inline]
    pub fn public(x: f64) -> f64 {
        x * x * x
    }
}

#[test]
fn companions_have_the_original_visibility() {
    assert_eq!(nested::public_grad(2.0), 12.0);
    assert_eq!(nested::public_value_and_grad(2.0), (8.0, 12.0));
}

#[grad(wrt = b0, b1)]
fn bce(b0: f64, b1: f64, x: f64, y: f64) -> f64 {
    let p = 1.0 / (1.0 + (-(b0 + b1 * x)).exp());
    -y * p.ln() - (1.0 - y) * (1.0 - p).ln()
}

#[test]
fn value_is_bit_for_bit_the_original() {
    for &(b0, b1, x, y) in &[
        (0.3, -1.2, 2.0, 1.0),
        (-2.0, 0.7, 0.1, 0.0),
        (5.0, 5.0, 5.0, 1.0),
    ] {
        let (v, _) = bce_value_and_grad(b0, b1, x, y);
        assert_eq!(v.to_bits(), bce(b0, b1, x, y).to_bits());
    }
}

#[grad(wrt = w, v)]
fn branch_shapes(w: f64, v: f64, x: f64) -> f64 {
    // A parameter yielded as is, a variable changed in one branch only, a nested `if` whose
    // branch-local values the reverse sweep needs, and an integer decided alongside.
    let picked = if x > 0.0 { w } else { 0.0 };
    let mut a = v;
    let mut k = 1;
    if x > 1.0 {
        let s = (w * v).sin();
        a = if x > 2.0 {
            let e = (s * x).exp();
            k = 3;
            e * a
        } else {
            s + a
        };
    }
    picked * a + (k as f64) * w
}

#[test]
fn branch_shapes_match_finite_differences() {
    for x in [-1.0, 0.5, 1.5, 2.5] {
        let (w, v) = (0.4, -0.9);
        let (dw, dv) = branch_shapes_grad(w, v, x);
        check_gradient(
            |p| branch_shapes(p[0], p[1], x),
            &[w, v],
            &[dw, dv],
            Tolerance::default(),
        )
        .unwrap();
    }
}

#[grad(wrt = x)]
fn typed_lets(x: f64, v: &[f64]) -> f64 {
    let a: f32 = 16_777_217.0; // rounds to 16777216 in f32, as in the original
    let b: f64 = 0.1;
    let total: f64 = v.iter().sum(); // the annotation drives inference
    let half = 0.5_f64;
    let n: usize = v.len();
    x * a as f64 + x * b * total + backprop::sigmoid(half).ln() * x + n as f64
}

#[test]
fn type_annotations_and_suffixes_are_kept() {
    let v = [1.0, 2.0];
    let (value, d) = typed_lets_value_and_grad(3.0, &v);
    assert_eq!(value.to_bits(), typed_lets(3.0, &v).to_bits());
    let expected = 16_777_216.0 + 0.1 * 3.0 + backprop::sigmoid(0.5_f64).ln();
    assert_eq!(d, expected);
}

#[grad(wrt = x)]
fn impl_trait_data(x: f64, scale: impl Fn(f64) -> f64) -> f64 {
    x * scale(2.0)
}

#[test]
fn impl_trait_data_parameter() {
    // (The original is called too: a companion cannot name an `impl Trait` original to mark
    // it used.)
    assert_eq!(impl_trait_data(1.0, |s| s * 10.0), 20.0);
    assert_eq!(impl_trait_data_grad(1.0, |s| s * 10.0), 20.0);
}

fn in_range(v: f64) -> bool {
    (0.0..10.0).contains(&v)
}

#[grad(wrt = x)]
fn any_condition(x: f64, xs: &[f64]) -> f64 {
    // Conditions have no derivative: comparisons, `total_cmp`, user predicates of data and
    // guarded indexing are all fine, and `&&` still short-circuits (`xs[0]` is never read when
    // `xs` is empty). (A user predicate given `x` itself is refused: tests/ui/escape.)
    if (0.0..10.0).contains(&x)
        && x.total_cmp(&5.0).is_lt()
        && !xs.is_empty()
        && in_range(xs[0])
        && xs[0] > 0.0
    {
        x * x
    } else {
        -x
    }
}

#[test]
fn conditions_may_use_anything() {
    assert_eq!(any_condition_grad(3.0, &[1.0]), 6.0);
    assert_eq!(any_condition_grad(3.0, &[]), -1.0);
    assert_eq!(any_condition_grad(7.0, &[1.0]), -1.0);
}

#[grad(wrt = w)]
fn literal_if_then_method(w: f64, x: f64) -> f64 {
    // Found by the compiled differential batch: an `if` choosing between bare literals had no
    // type in the generated code (the suffixes are folded away), so a method call on it did
    // not compile.
    (if w > x { 2.125_f64 } else { -0.75_f64 }).mul_add(w, x)
}

#[test]
fn an_if_of_literals_can_take_a_method_call() {
    assert_eq!(literal_if_then_method_grad(1.0, 0.0), 2.125);
    assert_eq!(literal_if_then_method_grad(-1.0, 0.0), -0.75);
}

// Reported by the crates.io review: the parentheses a method call on a range needs were
// copied into the generated loop (`for i in (0..3)`, `enumerate((0..n))`), and rustc's
// `unused_parens` fired at the user's line, so this file (`deny(warnings)`) did not build.
#[grad(wrt = x)]
fn range_sum(x: f64) -> f64 {
    (0..3).map(|i| x * i as f64).sum()
}

#[grad(wrt = x)]
fn range_fold(x: f64, n: usize) -> f64 {
    (0..n).fold(1.0, |acc, _| acc * x)
}

#[grad(wrt = x)]
fn range_loop(x: f64) -> f64 {
    let mut s = 0.0;
    for i in (1..4).rev() {
        s += x * i as f64;
    }
    s
}

#[test]
fn method_calls_on_ranges_compile_without_warnings() {
    assert_eq!(range_sum_grad(2.0), 3.0);
    assert_eq!(range_fold_grad(2.0, 3), 12.0);
    assert_eq!(range_loop_grad(2.0), 6.0);
}
