use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
}

// `trace` over a struct of parameters.
#[grad(wrt = p, trace)]
fn f(p: &P) -> f64 {
    p.w[0] * p.b
}

fn main() {}
