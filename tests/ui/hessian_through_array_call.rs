// A Hessian through a call of a function returning an array that does not ask for `hessian`:
// refused at the call, saying to add it to the callee.
use backprop::grad;

#[grad]
fn scaled(w: [f64; 2], k: f64) -> [f64; 2] {
    [w[0] * k, w[1] * k]
}

#[grad(wrt = x, hessian)]
fn f(x: f64) -> f64 {
    let s: [f64; 2] = scaled([x, 2.0 * x], x);
    s[0] * s[1]
}

fn main() {
    let _ = f(1.0);
}
