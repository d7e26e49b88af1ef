// A `#[grad]` helper given a `&Cell` (which it may change) inside a branch of a loop: it must
// run exactly once per iteration, and its value cannot be kept there for the sweep (it used to
// be called again by the sweep: value and gradient wrong).
use backprop::grad;
use std::cell::Cell;

#[grad]
fn step(s: f64, c: &Cell<f64>) -> f64 {
    c.set(c.get() + 1.0);
    (s * c.get()).sin()
}

#[grad(wrt = x)]
fn f(x: f64, c: &Cell<f64>) -> f64 {
    let mut s = 0.0;
    for i in 0..4 {
        if i % 2 == 0 {
            s += step(x, c).powi(2);
        }
    }
    s
}

fn main() {
    let _ = f(0.5, &Cell::new(0.0));
}
