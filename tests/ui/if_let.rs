// An `if let`.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64, k: Option<f64>) -> f64 {
    if let Some(k) = k {
        w * k
    } else {
        w
    }
}

fn main() {
    let _ = f(1.0, Some(2.0));
}
