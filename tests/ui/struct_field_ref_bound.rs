use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: Vec<f64>,
}

// A reference to a field, bound to a name.
#[grad(wrt = p)]
fn f(p: &P) -> f64 {
    let v = &p.w;
    v[0] * v[1]
}

fn main() {}
