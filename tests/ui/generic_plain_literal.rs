// A plain literal in a function generic over its float type: rustc's one error, at the
// literal (the manual says to write `T::from_f64(2.0)`).
use backprop::{grad, Real};

#[grad(wrt = x)]
fn f<T: Real>(x: T) -> T {
    x * 2.0
}

fn main() {
    let _ = f(1.0_f64);
}
