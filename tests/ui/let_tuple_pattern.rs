// A `let` with a tuple pattern whose value is not a tuple of values (a tuple literal is
// destructured: tests/escapes.rs).
use backprop::grad;

fn pair(v: f64) -> (f64, f64) {
    (v, 2.0 * v)
}

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let (a, b) = pair(w);
    a * b
}

fn main() {
    let _ = f(1.0);
}
