// An integer literal where float arithmetic needs a float: said once, at the literal.
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let mut s = 2 * x + x.powf(2);
    s += 1;
    s
}

fn main() {
    let _ = f(1.0);
}
