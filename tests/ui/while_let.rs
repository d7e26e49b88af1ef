// A `while let` loop.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64, k: Option<f64>) -> f64 {
    let mut s = w;
    let mut k = k;
    while let Some(c) = k {
        s = s * c;
        k = None;
    }
    s
}

fn main() {
    let _ = f(1.0, Some(2.0));
}
