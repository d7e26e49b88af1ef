// An `f32` parameter in `f64` arithmetic: said once, at the parameter's use, with the cast.
use backprop::grad;

#[grad(wrt = b)]
fn f(a: f32, b: f64) -> f64 {
    a * b
}

fn main() {
    let _ = f(1.0, 2.0);
}
