// An iterator adaptor grad does not support, over a differentiated array.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for x in w.iter().skip(1) {
        s += x;
    }
    s
}

fn main() {
    let _ = f([1.0, 2.0, 3.0]);
}
