// `#[grad(wrt)]`: `wrt` without `= names`.
use backprop::grad;

#[grad(wrt)]
fn f(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = f(1.0);
}
