// Copying a whole differentiated array.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: [f64; 2]) -> f64 {
    let v = w;
    v[0] * v[1]
}

fn main() {
    let _ = f([1.0, 2.0]);
}
