// `hessian` on a building block, which has no `wrt`.
use backprop::grad;

#[grad(hessian)]
fn f(w: f64) -> f64 {
    w * w
}

fn main() {
    let _ = f(1.0);
}
