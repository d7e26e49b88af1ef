// `trace` on a function with a loop.
use backprop::grad;

#[grad(wrt = w, trace)]
fn f(w: f64, xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for &x in xs {
        s += w * x;
    }
    s
}

fn main() {
    let _ = f(1.0, &[1.0]);
}
