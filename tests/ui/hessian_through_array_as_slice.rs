// A Hessian through a call passing an array to a helper that takes a slice: refused at the
// call (second derivatives go through arrays of lengths the helper's signature writes), once.
use backprop::grad;

#[grad(wrt = xs, hessian)]
fn sum_of_squares(xs: &[f64]) -> f64 {
    xs.iter().map(|x| x * x).sum()
}

#[grad(wrt = w, hessian)]
fn f(w: [f64; 2]) -> f64 {
    sum_of_squares(&w) * w[0]
}

fn main() {
    let _ = f([0.5, 1.5]);
}
