// An assignment through a reference (`*out = ..`): only locals can be assigned.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64, out: &mut f64) -> f64 {
    *out = w;
    w * 2.0
}

fn main() {
    let mut out = 0.0;
    let _ = f(1.0, &mut out);
}
