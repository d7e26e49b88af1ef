use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
    #[backprop(skip)]
    n: usize,
}

#[grad(wrt = p)]
fn f(p: &P, xs: &[f64]) -> f64 {
    xs[p.b as usize] * p.b
}

fn main() {}
