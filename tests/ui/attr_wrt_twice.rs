// `wrt` given twice (`wrt = a, wrt = b` instead of `wrt = a, b`).
use backprop::grad;

#[grad(wrt = a, wrt = b)]
fn f(a: f64, b: f64) -> f64 {
    a * b
}

fn main() {
    let _ = f(1.0, 2.0);
}
