use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct P {
    u0: [f64; 3],
    k: f64,
}

fn total(u: &[f64; 3]) -> f64 {
    u[0] + u[1] + u[2]
}

// An array field read whole into a local used only whole, its type not written: taken for a
// number.
#[grad(wrt = p)]
fn f(p: &P) -> f64 {
    let u = p.u0;
    total(&u) * p.k
}

fn main() {}
