use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    w: [f64; 3],
    b: f64,
    #[backprop(skip)]
    calls: usize,
}

impl P {
    // `&mut self` is accepted when the method only reads `self`; a write is refused.
    #[grad(wrt = self)]
    fn f(&mut self) -> f64 {
        self.calls += 1;
        self.w[0] * self.b
    }
}

fn main() {}
