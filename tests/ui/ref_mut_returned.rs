// A `&mut` a function returns is not followed: written through in a caller, or returned by a
// #[grad] function.
use backprop::grad;

fn at(v: &mut [f64; 3], i: usize) -> &mut f64 {
    &mut v[i]
}

#[grad(wrt = w)]
fn written(w: f64) -> f64 {
    let mut v = [1.0, 2.0, 3.0];
    *at(&mut v, 1) += w;
    v[1] * w
}

#[grad]
fn returned(v: &mut [f64; 3], i: usize) -> &mut f64 {
    &mut v[i]
}

fn main() {
    let mut v = [1.0, 2.0, 3.0];
    let _ = written(1.0);
    let _ = returned(&mut v, 0);
}
