use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
    #[backprop(skip)]
    n: usize,
}

#[grad(wrt = p.w)]
fn f(p: &P) -> f64 {
    p.w[0] * p.b
}

fn main() {}
