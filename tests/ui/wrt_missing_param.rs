// `wrt` names a parameter the function does not have.
use backprop::grad;

#[grad(wrt = y)]
fn f(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = f(1.0);
}
