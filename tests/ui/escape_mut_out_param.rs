// A differentiated value written through a `&mut` out-parameter: refused at the reference
// (the gradient used to be 0).
use backprop::grad;

fn set(o: &mut f64, v: f64) {
    *o = v;
}

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let mut out = 0.0;
    set(&mut out, x * x);
    out
}

fn main() {
    let _ = f(3.0);
}
