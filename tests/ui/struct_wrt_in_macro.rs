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
    let v = [p.b, 1.0];
    assert!(p.b > 0.0, "{}", p.b);
    v[0]
}

fn main() {}
