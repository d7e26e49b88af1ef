// A float used as an array index (rustc also refuses it).
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut z = [0.0; 3];
    z[1] = w;
    z[1.0]
}

fn main() {
    let _ = f(1.0);
}
