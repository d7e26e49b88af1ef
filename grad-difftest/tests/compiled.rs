//! The full path: generated programs compiled by the real macro (see `build.rs`). Each
//! companion's gradient must match the dual-number oracle, and `_value_and_grad`'s value must
//! be the original function's, bit for bit.

/// A gradient, as a tuple or a single float, as a slice.
trait Components {
    fn components(&self) -> Vec<f64>;
}
impl Components for f64 {
    fn components(&self) -> Vec<f64> {
        vec![*self]
    }
}
impl Components for (f64, f64) {
    fn components(&self) -> Vec<f64> {
        vec![self.0, self.1]
    }
}
impl Components for (f64, f64, f64) {
    fn components(&self) -> Vec<f64> {
        vec![self.0, self.1, self.2]
    }
}

/// A generated program, the point, and what the oracle says there.
struct Case {
    source: &'static str,
    args: &'static str,
    value: f64,
    gradient: &'static [f64],
    /// The oracle's cancellation scale per component (see `grad_testgen::Expected`).
    scale: &'static [f64],
}

fn check<G: Components>(case: Case, original: f64, (value, grad): (f64, G)) -> usize {
    let at = format!("\n{}at ({})", case.source, case.args);
    assert_eq!(
        value.to_bits(),
        original.to_bits(),
        "value {value} vs the original's {original}:{at}"
    );
    assert!(
        close(value, case.value, 1.0),
        "value {value} vs oracle {}:{at}",
        case.value
    );
    for (i, (g, e)) in grad.components().iter().zip(case.gradient).enumerate() {
        assert!(
            close(*g, *e, case.scale[i]),
            "d/dw{i} = {g:e}, oracle {e:e}:{at}"
        );
    }
    1
}

/// As `grad_testgen::close` (not a dependency of this test, which sees only `grad`).
fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-8 * a.abs().max(b.abs()) + 1e-12 * scale.max(1.0)
}

#[allow(unused, clippy::all, clippy::pedantic)]
mod generated {
    use super::{check, Case};
    include!(concat!(env!("OUT_DIR"), "/generated.rs"));
}

#[test]
fn compiled_companions_match_the_oracle() {
    let n = generated::check_all();
    eprintln!("compiled: {n} points checked");
    assert!(n > 0);
}
