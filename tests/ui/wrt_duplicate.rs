// The same name listed twice in `wrt`.
use backprop::grad;

#[grad(wrt = x, x)]
fn f(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = f(1.0);
}
