use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
    #[backprop(skip)]
    n: usize,
}

// Only data is read: nothing to differentiate.
#[grad(wrt = p)]
fn f(p: &P, xs: &[f64]) -> f64 {
    xs[p.n] * 2.0
}

fn main() {}
