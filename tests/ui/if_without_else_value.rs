// An `if` without `else` used as a value (rustc also refuses it).
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let y = if w > 0.0 { w };
    y
}

fn main() {
    let _ = f(1.0);
}
