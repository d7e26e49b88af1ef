// The largest of differentiated values by `.max_by(..)`: refused at the comparator's method,
// with the fold to write instead.
use backprop::grad;

#[grad(wrt = w)]
fn best(w: f64, xs: &[f64]) -> f64 {
    let m = xs.iter().map(|x| w * x).max_by(|a, b| a.total_cmp(b)).unwrap_or(0.0);
    m * w
}

fn main() {
    let _ = best(1.0, &[2.0]);
}
