// A function of the user's own, without #[grad], given a differentiated value in a condition:
// rustc checks that it is a #[grad] function (it could keep the value).
use backprop::grad;

fn in_range(v: f64) -> bool {
    v > 0.0
}

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    if in_range(x) {
        x * x
    } else {
        0.0
    }
}

fn main() {
    let _ = f(3.0);
}
