// `#[grad(wrt = )]`: `wrt =` without a name.
use backprop::grad;

#[grad(wrt = )]
fn f(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = f(1.0);
}
