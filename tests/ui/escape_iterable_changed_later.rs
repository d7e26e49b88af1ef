// A loop over a local `Vec` that a call changes after the loop: the reverse sweep would iterate
// the changed `Vec`.
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64, xs: &[f64]) -> f64 {
    let mut seen = xs.to_vec();
    let mut s = 0.0;
    for v in seen.iter() {
        s += x * x * v;
    }
    seen.push(1.0);
    s + seen.len() as f64
}

fn main() {
    let _ = f(0.5, &[1.0, 2.0]);
}
