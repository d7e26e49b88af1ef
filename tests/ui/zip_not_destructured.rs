// The items of a zip over a differentiated array, not destructured.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: [f64; 3], x: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for p in w.iter().zip(x.iter()) {
        s += p.0 * p.1;
    }
    s
}

fn main() {
    let _ = f([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]);
}
