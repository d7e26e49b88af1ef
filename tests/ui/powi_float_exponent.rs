// A float literal as `powi`'s exponent: said once, with `powf` as the alternative.
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    x.powi(2.0)
}

fn main() {
    let _ = f(1.0);
}
