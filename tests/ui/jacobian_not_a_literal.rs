// A function returning several values whose body does not end with their tuple.
use backprop::grad;

fn pair(x: f64) -> (f64, f64) {
    (x, x)
}

#[grad(wrt = w)]
fn f(w: f64) -> (f64, f64) {
    pair(w)
}

fn main() {
    let _ = f(1.0);
}
