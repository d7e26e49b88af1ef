// A `wrt` name misspelled: the nearest parameter is suggested.
use backprop::grad;

#[grad(wrt = weigth)]
fn f(weight: f64, x: f64) -> f64 {
    weight * x
}

fn main() {
    let _ = f(1.0, 2.0);
}
