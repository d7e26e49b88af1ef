// A real f64 method that has no derivative rule (`rem_euclid`), called on a differentiated value.
use grad::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    w.rem_euclid(1.0)
}

fn main() {
    let _ = f(1.5);
}
