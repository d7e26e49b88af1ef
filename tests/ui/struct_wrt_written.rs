use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
    #[backprop(skip)]
    n: usize,
}

// A field of the struct written.
#[grad(wrt = p)]
fn f(mut p: P) -> f64 {
    p.b = 2.0 * p.w[0];
    p.b
}

fn main() {}
