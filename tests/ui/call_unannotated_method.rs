// A method calling a function that is not #[grad]: said once, though each companion has a
// body of its own.
use backprop::grad;

fn foo(x: f64) -> f64 {
    x * 2.0
}

pub struct Model;

impl Model {
    #[grad(wrt = w)]
    pub fn f(&self, w: f64) -> f64 {
        foo(w) * 2.0
    }
}

fn main() {
    let _ = Model.f(1.0);
}
