// A Jacobian with respect to a slice: its number of columns would not be known at compile
// time.
use backprop::grad;

#[grad(wrt = w, b)]
fn f(w: &[f64], b: f64) -> (f64, f64) {
    let s = w.iter().map(|x| x * b).sum::<f64>();
    (s, s * b)
}

fn main() {
    let _ = f(&[1.0, 2.0], 3.0);
}
