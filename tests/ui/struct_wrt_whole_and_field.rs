use backprop::{grad, Differentiable};

#[derive(Clone, Differentiable)]
struct Inner {
    w: [f64; 2],
}

#[derive(Clone, Differentiable)]
struct Outer {
    inner: Inner,
    b: f64,
}

fn first(i: &Inner) -> f64 {
    i.w[0]
}

#[grad(wrt = p)]
fn f(p: &Outer) -> f64 {
    p.inner.w[1] * first(&p.inner) + p.b
}

fn main() {}
