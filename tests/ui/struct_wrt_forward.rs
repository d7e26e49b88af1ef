use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
}

// Forward mode with a struct and another `wrt` parameter beside it.
#[grad(wrt = p, t, mode = forward)]
fn f(p: &P, t: f64) -> f64 {
    p.w[0] * p.b * t
}

fn main() {}
