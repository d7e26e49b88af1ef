// A `let ... else`.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64, k: Option<f64>) -> f64 {
    let Some(k) = k else { return w };
    w * k
}

fn main() {
    let _ = f(1.0, Some(2.0));
}
