use backprop::Differentiable;

#[derive(Differentiable)]
struct Params {
    w: [f64; 3],
    #[backprop(ignore)]
    n: usize,
}

fn main() {}
