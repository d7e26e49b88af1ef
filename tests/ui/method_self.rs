// A method with a `self` parameter, inside an `impl`.
use grad::grad;

struct Model {
    k: f64,
}

impl Model {
    #[grad(wrt = x)]
    fn eval(&self, x: f64) -> f64 {
        self.k * x
    }
}

fn main() {
    let m = Model { k: 2.0 };
    let _ = m.eval(1.0);
}
