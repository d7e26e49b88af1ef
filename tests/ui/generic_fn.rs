// Two float type parameters: a #[grad] function is generic over one.
use backprop::{grad, Real};

#[grad(wrt = x)]
fn f<T: Real, U: Real>(x: T, y: U) -> T {
    x * T::from_f64(y.to_f64())
}

fn main() {
    let _ = f(1.0_f64, 2.0_f32);
}
