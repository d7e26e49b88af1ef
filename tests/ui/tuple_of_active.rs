// A differentiated value stored in a tuple (an expression the macro has no rule for).
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let t = (w, 1.0);
    t.0 * t.1
}

fn main() {
    let _ = f(1.0);
}
