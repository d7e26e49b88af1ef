// An f32 `wrt` parameter in a function returning f64.
use backprop::grad;

#[grad(wrt = x, y)]
fn f(x: f64, y: f32) -> f64 {
    x * y as f64
}

fn main() {
    let _ = f(1.0, 2.0);
}
