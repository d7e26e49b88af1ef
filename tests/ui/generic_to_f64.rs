// A differentiated value made `f64` data by `to_f64`: its derivative would be lost.
use backprop::{grad, Real};

#[grad(wrt = x)]
fn f<T: Real>(x: T) -> T {
    let c = x.to_f64();
    x * T::from_f64(c)
}

fn main() {
    let _ = f(1.0_f64);
}
