// A local closure whose parameter is a pattern.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let add = |(a, b): (f64, f64)| a + b;
    add((w, 2.0))
}

fn main() {
    let _ = f(1.0);
}
