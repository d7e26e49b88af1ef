// The attribute on a struct.
use backprop::grad;

#[grad(wrt = x)]
struct Point {
    x: f64,
}

fn main() {
    let p = Point { x: 1.0 };
    let _ = p.x;
}
