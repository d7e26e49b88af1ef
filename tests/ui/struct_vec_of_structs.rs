use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct Dense {
    w: [f64; 2],
}

#[derive(Clone, Differentiable)]
struct Net {
    layers: Vec<Dense>,
}

// A field of an element of a `Vec` of structs.
#[grad(wrt = p)]
fn f(p: &Net) -> f64 {
    let mut s = 0.0;
    for l in 0..p.layers.len() {
        s += p.layers[l].w[0];
    }
    s
}

fn main() {}
