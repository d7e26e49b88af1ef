use backprop::Differentiable;

// Parameters of two float types.
#[derive(Differentiable)]
struct Params {
    w: [f64; 3],
    b: f32,
}

fn main() {}
