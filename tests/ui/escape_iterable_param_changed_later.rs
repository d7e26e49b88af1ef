// A loop over a `&mut` parameter that a call changes after the loop: the reverse sweep would
// iterate the changed data (the gradient used to be 6.81 against 0.426).
use backprop::grad;

fn scale(d: &mut [f64]) {
    for v in d.iter_mut() {
        *v *= 3.0;
    }
}

#[grad(wrt = x)]
fn f(x: f64, data: &mut [f64]) -> f64 {
    let mut s = x;
    for &v in data.iter() {
        s = (s * v).sin();
    }
    scale(data);
    s
}

fn main() {
    let _ = f(0.5, &mut [1.0, 2.0]);
}
