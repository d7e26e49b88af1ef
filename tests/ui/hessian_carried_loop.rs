// A Hessian of a loop that carries a value other than a sum.
use grad::grad;

#[grad(wrt = w, hessian)]
fn f(w: f64, xs: &[f64]) -> f64 {
    let mut h = 0.0;
    for &x in xs {
        h = (w * h + x).tanh();
    }
    h
}

fn main() {
    let _ = f(1.0, &[0.5]);
}
