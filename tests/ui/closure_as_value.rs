// A local closure used as a value (passed on, stored): refused where it is read, once.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let sq = |t: f64| t * t;
    let g = sq;
    g(w)
}

fn main() {
    let _ = f(1.0);
}
