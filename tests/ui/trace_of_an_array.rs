// `trace` on a function with a local array: refused at the array.
use backprop::grad;

#[grad(wrt = w, trace)]
fn f(w: f64) -> f64 {
    let a = [w, 2.0 * w];
    a[0] * a[1]
}

fn main() {
    let _ = f(1.0);
}
