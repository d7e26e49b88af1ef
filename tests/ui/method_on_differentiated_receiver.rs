// A method of the user's own, called on a differentiated value.
use backprop::grad;

trait Twice {
    fn twice(self) -> f64;
}

impl Twice for f64 {
    fn twice(self) -> f64 {
        2.0 * self
    }
}

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    w.twice()
}

fn main() {
    let _ = f(1.0);
}
