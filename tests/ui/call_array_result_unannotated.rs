// An array a `#[grad]` function returned, bound without its type and only passed on by
// reference: the macro takes `r` for a float, and says to write the type.
use backprop::grad;

#[grad]
fn h(w: &[f64; 2]) -> [f64; 2] {
    [w[0] * w[1], w[0] + w[1]]
}

#[grad]
fn n(v: &[f64; 2]) -> f64 {
    v[0] * v[0] + v[1]
}

#[grad(wrt = w)]
fn f(w: [f64; 2]) -> f64 {
    let r = h(&w);
    n(&r)
}

fn main() {
    let _ = f_grad([1.5, 2.0]);
}
