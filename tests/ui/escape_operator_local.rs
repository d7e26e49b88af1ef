// A local of a type with `Add<f64>`, used in float arithmetic: the companions check that it
// is a float, and rustc refuses it at its `let`.
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
fn f(x: f64) -> f64 {
    let q = Sq { k: 3.0 };
    q + x
}

fn main() {
    let _ = f(0.5);
}
