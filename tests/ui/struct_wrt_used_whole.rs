use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
}

impl P {
    fn norm(&self) -> f64 {
        self.b
    }
}

// A method called on the struct: its fields cannot be followed.
#[grad(wrt = p)]
fn f(p: &P) -> f64 {
    p.w[0] * p.norm()
}

fn main() {}
