// A Hessian through a call of a method that does not ask for `hessian`: refused at the call,
// saying to add it.
use backprop::grad;

struct Model {
    k: f64,
}

impl Model {
    #[grad(wrt = x)]
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
