// `trace` on a function holding the array another `#[grad]` function returns: refused at the
// call (arrays of its own are shown element by element).
use backprop::grad;

#[grad(wrt = w)]
fn scaled(w: f64) -> [f64; 2] {
    [w, 2.0 * w]
}

#[grad(wrt = w, trace)]
fn f(w: f64) -> f64 {
    let a = scaled(w);
    a[0] * a[1]
}

fn main() {
    let _ = f(1.0);
}
