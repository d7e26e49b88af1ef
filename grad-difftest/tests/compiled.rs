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

fn check<G: Components>(
    name: &str,
    original: f64,
    (value, grad): (f64, G),
    expected: &[f64],
) -> usize {
    assert_eq!(
        value.to_bits(),
        original.to_bits(),
        "{name}: value {value} vs original {original}"
    );
    for (i, (g, e)) in grad.components().iter().zip(expected).enumerate() {
        assert!(grad_close(*g, *e), "{name}: d/dw{i} = {g:e}, oracle {e:e}");
    }
    1
}

fn grad_close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-8 * a.abs().max(b.abs()).max(1.0)
}

#[allow(unused, clippy::all, clippy::pedantic)]
mod generated {
    use super::check;
    include!(concat!(env!("OUT_DIR"), "/generated.rs"));
}

#[test]
fn compiled_companions_match_the_oracle() {
    let n = generated::check_all();
    eprintln!("compiled: {n} points checked");
    assert!(n > 0);
}
