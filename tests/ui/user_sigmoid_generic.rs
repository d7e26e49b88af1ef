// A generic user function named like a runtime helper (`sigmoid<T>`) is not taken for it either.
use backprop::grad;

fn sigmoid<T: Into<f64>>(x: T) -> f64 {
    1.0 / (1.0 + (-x.into()).exp())
}

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    sigmoid(x) * 2.0
}

fn main() {
    let _ = f(1.0);
    let _ = f_grad(1.0);
}
