// A function that returns an integer (`-> i32`).
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> i32 {
    (x * 2.0) as i32
}

fn main() {
    let _ = f(1.0);
}
