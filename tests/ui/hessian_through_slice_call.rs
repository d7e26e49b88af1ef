// A Hessian through a call passing a slice (its length known at run time only): refused at
// the call, saying what to write instead.
use backprop::grad;

#[grad(wrt = v, hessian)]
fn total(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum()
}

#[grad(wrt = w, hessian)]
fn f(w: &[f64]) -> f64 {
    total(w) * w[0]
}

fn main() {
    let _ = f(&[1.0, 2.0, 3.0]);
}
