// A `wrt` parameter that is a `&mut f64`.
use backprop::grad;

#[grad(wrt = x)]
fn f(x: &mut f64) -> f64 {
    *x * 2.0
}

fn main() {
    let mut x = 1.0;
    let _ = f(&mut x);
}
