// An unknown option in the attribute (`foo = x`).
use backprop::grad;

#[grad(foo = x)]
fn f(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = f(1.0);
}
