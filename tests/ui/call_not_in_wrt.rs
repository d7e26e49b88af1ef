// A call that passes a differentiated value to a parameter the callee is not differentiated in.
use backprop::grad;

#[grad(wrt = a)]
fn scale(a: f64, b: f64) -> f64 {
    a * b
}

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    scale(2.0, w)
}

fn main() {
    let _ = f(1.0);
}
