use backprop::grad;

// A slice copied as a whole: its length is known only at run time.
#[grad(wrt = xs)]
fn f(xs: &[f64]) -> f64 {
    let v = xs;
    v[0] * 2.0
}

fn main() {
    let _ = f(&[1.0, 2.0]);
}
