// A `let` with a tuple pattern.
use grad::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let (a, b) = (w, 2.0 * w);
    a * b
}

fn main() {
    let _ = f(1.0);
}
