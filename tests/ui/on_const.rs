// The attribute on a const.
use backprop::grad;

#[grad(wrt = x)]
const X: f64 = 1.0;

fn main() {
    let _ = X;
}
