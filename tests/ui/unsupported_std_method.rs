// A real f64 method with no derivative rule (`sin_cos`, which returns a pair), called on a differentiated value.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    w.sin_cos().0
}

fn main() {
    let _ = f(1.5);
}
