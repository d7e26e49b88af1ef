// `let` without an initializer, assigned later.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let y;
    y = w * 2.0;
    y
}

fn main() {
    let _ = f(1.0);
}
