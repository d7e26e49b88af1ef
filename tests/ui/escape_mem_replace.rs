// `std::mem::replace` on a float local.
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let mut y = 1.0;
    let old = std::mem::replace(&mut y, x);
    old + y
}

fn main() {
    let _ = f(3.0);
}
