// A parameter written as a pattern (`(a, b): (f64, f64)`).
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64, (a, b): (f64, f64)) -> f64 {
    x * a + b
}

fn main() {
    let _ = f(1.0, (2.0, 3.0));
}
