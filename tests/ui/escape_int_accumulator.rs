// Floats added into an integer accumulator (rustc used to report E0308 on generated code).
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let mut s = 0;
    s += x;
    s
}

fn main() {
    let _ = f(3.0);
}
