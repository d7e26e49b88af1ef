// A function without a return type.
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) {
    let _ = x * 2.0;
}

fn main() {
    f(1.0);
}
