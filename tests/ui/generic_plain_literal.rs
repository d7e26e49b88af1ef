// A plain literal in a function generic over its float type: the macro says what to write,
// at the literal (`T::from_f64(2.0)`).

use backprop::{grad, Real};

#[grad(wrt = x)]
fn f<T: Real>(x: T) -> T {
    x * 2.0
}

fn main() {
    let _ = f(1.0_f64);
}
