// A user function named like a runtime helper (`sigmoid`) is not differentiated as the helper.
use backprop::grad;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    sigmoid(x) * 2.0
}

fn main() {
    let _ = f(1.0);
    let _ = f_grad(1.0);
}
