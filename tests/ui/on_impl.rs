// The attribute on an `impl` block.
use backprop::grad;

struct Model {
    k: f64,
}

#[grad(wrt = x)]
impl Model {
    fn eval(&self, x: f64) -> f64 {
        self.k * x
    }
}

fn main() {
    let m = Model { k: 2.0 };
    let _ = m.eval(1.0);
}
