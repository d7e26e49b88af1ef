// A macro used inside an expression (`vec![..]`).
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let v = vec![w, 2.0 * w];
    v[0] + v[1]
}

fn main() {
    let _ = f(1.0);
}
