// A Hessian with respect to an array calls `_hvp` once per element, passing every argument
// again: a parameter that is not `Copy` is refused at the parameter.
use backprop::grad;

#[grad(wrt = w, hessian)]
fn f(w: [f64; 2], xs: Vec<f64>) -> f64 {
    let mut s = 0.0;
    for x in xs.iter() {
        s += (w[0] * x + w[1]).exp();
    }
    s
}

fn main() {
    let _ = f([1.0, 2.0], vec![1.0]);
}
