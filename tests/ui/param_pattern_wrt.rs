// `wrt` names a variable bound by a parameter pattern (`(a, b): (f64, f64)`).
use backprop::grad;

#[grad(wrt = a)]
fn f((a, b): (f64, f64)) -> f64 {
    a * b
}

fn main() {
    let _ = f((2.0, 3.0));
}
