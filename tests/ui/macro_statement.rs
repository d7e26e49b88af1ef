// A macro used as a statement (`println!`).
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    println!("w = {w}");
    w * w
}

fn main() {
    let _ = f(1.0);
}
