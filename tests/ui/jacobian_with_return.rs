// An early `return` in a function returning several values.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> (f64, f64) {
    if w > 1.0 {
        return (w, w);
    }
    (w * w, w)
}

fn main() {
    let _ = f(1.0);
}
