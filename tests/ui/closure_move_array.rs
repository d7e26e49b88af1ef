// A `move` closure capturing an array: it would read the copy made when it was written.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut a = [w, 2.0];
    let first = move |k: f64| k * a[0];
    a[0] = 3.0 * w;
    first(a[0])
}

fn main() {
    let _ = f(1.0);
}
