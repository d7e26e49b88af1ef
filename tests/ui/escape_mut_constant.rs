// A float local lent out with `&mut`, even with data only: the macro tracks `out` as a value,
// so the write would be lost (the value and the gradient used to be wrong).
use backprop::grad;

fn set(o: &mut f64, v: f64) {
    *o = v;
}

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let mut out = 0.0;
    set(&mut out, 5.0);
    out * x
}

fn main() {
    let _ = f(3.0);
}
