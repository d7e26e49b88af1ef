// A Hessian through a call of a `#[grad]` function that does not ask for `hessian` itself:
// refused at the call, saying to mark it.
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
