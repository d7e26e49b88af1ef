// The `?` operator (rustc also refuses it in a function returning f64).
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64, k: Option<f64>) -> f64 {
    w * k?
}

fn main() {
    let _ = f(1.0, Some(2.0));
}
