// `powi` with a differentiated exponent (rustc also refuses an f64 where `powi` wants an i32).
use backprop::grad;

#[grad(wrt = x, n)]
fn f(x: f64, n: f64) -> f64 {
    x.powi(n)
}

fn main() {
    let _ = f(2.0, 3.0);
}
