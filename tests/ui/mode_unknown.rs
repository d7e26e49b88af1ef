// An unknown mode.
use backprop::grad;

#[grad(wrt = w, mode = sideways)]
fn f(w: f64) -> f64 {
    w * w
}

fn main() {
    let _ = f(1.0);
}
