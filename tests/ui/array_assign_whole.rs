// Assigning a whole local array of floats.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut z = [0.0; 2];
    let a = w * z[0];
    z = [1.0, 2.0];
    a + z[1]
}

fn main() {
    let _ = f(1.0);
}
