// A Hessian through a call of a method differentiated in `self` (a struct of parameters):
// refused at the call.
use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct Model {
    k: f64,
}

impl Model {
    #[grad(wrt = self, x, hessian)]
    fn energy(&self, x: f64) -> f64 {
        self.k * x * x
    }

    #[grad(wrt = x, hessian)]
    fn total(&self, x: f64) -> f64 {
        self.energy(x) * x
    }
}

fn main() {
    let _ = Model { k: 1.0 }.total(1.0);
}
