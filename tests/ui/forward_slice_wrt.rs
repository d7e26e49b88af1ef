// Forward mode with respect to a slice.
use backprop::grad;

#[grad(wrt = xs, mode = forward)]
fn f(xs: &[f64]) -> f64 {
    xs.iter().map(|x| x * x).sum::<f64>()
}

fn main() {
    let _ = f(&[1.0, 2.0]);
}
