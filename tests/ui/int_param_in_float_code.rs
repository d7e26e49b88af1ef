// An integer parameter mixed into float arithmetic: the message says how to convert it.
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64, n: usize) -> f64 {
    x * n
}

fn main() {
    let _ = f(1.0, 2);
}
