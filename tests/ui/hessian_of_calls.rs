// A Hessian of a function that calls another #[grad] function.
use backprop::grad;

#[grad]
fn sq(x: f64) -> f64 {
    x * x
}

#[grad(wrt = w, hessian)]
fn f(w: f64) -> f64 {
    sq(w) * w
}

fn main() {
    let _ = f(1.0);
}
