use backprop::Differentiable;

// Every field skipped: nothing to differentiate.
#[derive(Differentiable)]
struct Settings {
    #[backprop(skip)]
    steps: usize,
}

fn main() {}
