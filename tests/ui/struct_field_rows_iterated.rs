use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
pub struct S {
    pub w: [[f64; 2]; 2],
}

// The rows of a nested array field, iterated: they would be read as numbers, without their
// derivatives (found by a review: the gradient was zero). Refused at the field.
#[grad(wrt = p)]
fn field_rows(p: &S, x: [f64; 2]) -> f64 {
    let mut s = 0.0;
    for row in p.w.iter() {
        s += row.iter().zip(x.iter()).map(|(a, b)| a * b).sum::<f64>();
    }
    s
}

fn main() {}
