use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
    #[backprop(skip)]
    n: usize,
}

#[grad(wrt = p)]
fn f(p: &P) -> f64 {
    let s = p.b;
    let p = 2.0;
    s * p
}

fn main() {}
