// A local closure that changes a variable it captured: its change would be lost.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut acc = 0.0;
    let mut add = |v: f64| acc += v;
    add(w);
    add(2.0 * w);
    acc
}

fn main() {
    let _ = f(1.0);
}
