use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
    #[backprop(skip)]
    n: usize,
}

impl P {
    #[grad(wrt = self)]
    fn f(&mut self) -> f64 {
        self.w[0] * self.b
    }
}

fn main() {}
