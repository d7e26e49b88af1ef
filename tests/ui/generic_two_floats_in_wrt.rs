// A second float type, differentiated: said once, at the type parameter.
use backprop::{grad, Real};

#[grad(wrt = x, y)]
fn f<T: Real, U: Real>(x: T, y: U) -> T {
    x * T::from_f64(y.to_f64())
}

fn main() {
    let _ = f(1.0_f64, 2.0_f32);
}
