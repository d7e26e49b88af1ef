// A labelled loop (and the labelled `break` that leaves it).
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut s = 0.0;
    'outer: for i in 0..3 {
        for j in 0..3 {
            if i + j > 3 {
                break 'outer;
            }
            s += w * j as f64;
        }
    }
    s
}

fn main() {
    let _ = f(1.0);
}
