// A closure in the body.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let sq = |t: f64| t * t;
    sq(w)
}

fn main() {
    let _ = f(1.0);
}
