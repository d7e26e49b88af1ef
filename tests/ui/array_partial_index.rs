// A row of a 2-D differentiated array used as a value.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: [[f64; 2]; 2]) -> f64 {
    let r = w[0];
    r[0] + r[1]
}

fn main() {
    let _ = f([[1.0, 2.0], [3.0, 4.0]]);
}
