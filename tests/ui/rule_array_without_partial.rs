// A differentiated array passed to a rule that gives no partial for that parameter.
use backprop::grad;

#[backprop::rule(s = y / s)]
fn weighted(v: &[f64; 2], s: f64) -> f64 {
    s * (v[0] + v[1])
}

#[grad(wrt = w)]
fn f(w: [f64; 2]) -> f64 {
    weighted(&w, 2.0)
}

fn main() {
    let _ = f([1.0, 2.0]);
}
