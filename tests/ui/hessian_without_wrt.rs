// `mode = forward` on a building block, which has no `wrt` (`hessian` there asks for the
// tangent of its pullback, for callers' second derivatives).
use backprop::grad;

#[grad(mode = forward)]
fn f(w: f64) -> f64 {
    w * w
}

fn main() {
    let _ = f(1.0);
}
