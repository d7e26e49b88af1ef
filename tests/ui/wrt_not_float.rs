// A `wrt` parameter that is not a float (`n: i32`).
use backprop::grad;

#[grad(wrt = n)]
fn f(x: f64, n: i32) -> f64 {
    x * n as f64
}

fn main() {
    let _ = f(1.0, 2);
}
