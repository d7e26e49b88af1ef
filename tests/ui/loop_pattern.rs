// A loop over a differentiated array whose pattern is not a plain name.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for ref x in w {
        s += x;
    }
    s
}

fn main() {
    let _ = f([1.0, 2.0, 3.0]);
}
