// A `for` loop.
use grad::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        s += w * i as f64;
    }
    s
}

fn main() {
    let _ = f(1.0);
}
