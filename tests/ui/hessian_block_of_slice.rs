// `hessian` on a function returning an array, differentiated in a slice: its callers'
// second derivatives cannot go through it (the slice's length is known at run time only).
use backprop::grad;

#[grad(wrt = v, hessian)]
fn both(v: &[f64]) -> [f64; 2] {
    [v[0] * v[1], v[0]]
}

fn main() {
    let _ = both(&[1.0, 2.0]);
}
