// A differentiated array passed to another #[grad] function.
use backprop::grad;

#[grad(wrt = v)]
fn first(v: [f64; 2]) -> f64 {
    v[0]
}

#[grad(wrt = w)]
fn f(w: [f64; 2]) -> f64 {
    first(w) * 2.0
}

fn main() {
    let _ = f([1.0, 2.0]);
}
