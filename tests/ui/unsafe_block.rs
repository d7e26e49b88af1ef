// An `unsafe` block in the body.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64, p: *const f64) -> f64 {
    let k = unsafe { *p };
    w * k
}

fn main() {
    let k = 2.0;
    let _ = f(1.0, &k);
}
