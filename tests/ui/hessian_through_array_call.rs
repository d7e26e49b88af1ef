// A Hessian through a call of a function of arrays (which second derivatives cannot go
// through yet): refused at the call.
use backprop::grad;

#[grad]
fn norm2(w: [f64; 2]) -> f64 {
    w[0] * w[0] + w[1] * w[1]
}

#[grad(wrt = x, hessian)]
fn f(x: f64) -> f64 {
    norm2([x, 2.0 * x]) * x
}

fn main() {
    let _ = f(1.0);
}
