// `Box::new(x)` with a differentiated value (rustc used to report E0599, no `Box::new_pullback`).
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let b = Box::new(x);
    *b * 2.0
}

fn main() {
    let _ = f(3.0);
}
