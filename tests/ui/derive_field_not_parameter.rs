use backprop::Differentiable;

// A count that is not marked `#[backprop(skip)]`.
#[derive(Differentiable)]
struct Params {
    w: [f64; 3],
    n: usize,
}

fn main() {}
