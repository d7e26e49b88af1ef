// Names in `wrt` not separated by commas (`wrt = a b`).
use backprop::grad;

#[grad(wrt = a b)]
fn f(a: f64, b: f64) -> f64 {
    a * b
}

fn main() {
    let _ = f(1.0, 2.0);
}
