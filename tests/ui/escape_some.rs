// A differentiated value wrapped in `Some`.
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let s = Some(x);
    s.unwrap_or(0.0)
}

fn main() {
    let _ = f(3.0);
}
