use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
    #[backprop(skip)]
    n: usize,
}

fn norm(p: &P) -> f64 {
    p.b
}

// The struct passed whole to a function that is not `#[grad]`.
#[grad(wrt = p)]
fn f(p: &P) -> f64 {
    p.w[0] * norm(p)
}

fn main() {}
