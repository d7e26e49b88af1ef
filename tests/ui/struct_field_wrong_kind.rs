use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
}

// `p.w` read as a number: it is an array.
#[grad(wrt = p)]
fn f(p: &P) -> f64 {
    p.w * p.b
}

fn main() {}
