// A data parameter of a type with `Add<f64>`: `q + x` is that type's operator, not float
// arithmetic (the gradient used to be 1 where it is 3).
use backprop::grad;
use std::ops::Add;

#[derive(Clone, Copy)]
pub struct Sq {
    k: f64,
}

impl Add<f64> for Sq {
    type Output = f64;
    fn add(self, v: f64) -> f64 {
        self.k * v * v
    }
}

#[grad(wrt = x)]
fn f(x: f64, q: Sq) -> f64 {
    q + x
}

fn main() {
    let _ = f(0.5, Sq { k: 3.0 });
}
