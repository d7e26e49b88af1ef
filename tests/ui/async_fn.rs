// An `async fn`.
use backprop::grad;

#[grad(wrt = x)]
async fn f(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = f(1.0);
}
