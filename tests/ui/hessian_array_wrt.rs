// A Hessian with respect to an array.
use grad::grad;

#[grad(wrt = w, hessian)]
fn f(w: [f64; 2]) -> f64 {
    w[0] * w[1]
}

fn main() {
    let _ = f([1.0, 2.0]);
}
