// `hessian` on a function returning several values.
use backprop::grad;

#[grad(wrt = w, hessian)]
fn f(w: f64) -> [f64; 2] {
    [w * w, w]
}

fn main() {
    let _ = f(1.0);
}
