// `hessian` on a function returning several values as a tuple (an array is a building block
// for its callers' second derivatives; a tuple is not).
use backprop::grad;

#[grad(wrt = w, hessian)]
fn f(w: f64) -> (f64, f64) {
    (w * w, w)
}

fn main() {
    let _ = f(1.0);
}
