// `graph` on a function with an `if`: refused at the `if`.
use backprop::grad;

#[grad(wrt = w, graph)]
fn f(w: f64) -> f64 {
    let z = w * 2.0;
    if z > 1.0 {
        z
    } else {
        w
    }
}

fn main() {
    let _ = f(1.0);
}
