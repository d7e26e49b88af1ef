use backprop::Differentiable;

// An enum's variants hold different parameters.
#[derive(Differentiable)]
enum Model {
    Linear { w: f64 },
    Quadratic { a: f64, b: f64 },
}

fn main() {}
