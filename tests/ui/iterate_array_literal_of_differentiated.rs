// A loop over an array literal of differentiated values (its derivative would be lost).
use backprop::grad;

#[grad(wrt = a, b)]
fn f(a: f64, b: f64) -> f64 {
    let mut s = 0.0;
    for w in [a, b] {
        s += w * w;
    }
    s
}

fn main() {
    let _ = f(1.0, 2.0);
}
