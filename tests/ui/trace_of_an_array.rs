// `trace` on a function with an array of differentiated values: refused at the array (an
// array of data, `xs[i]`, is shown).
use backprop::grad;

#[grad(wrt = w, trace)]
fn f(w: f64, xs: &[f64]) -> f64 {
    let s = w * xs[0];
    let a = [w, 2.0 * s];
    a[0] * a[1]
}

fn main() {
    let _ = f(1.0, &[2.0]);
}
