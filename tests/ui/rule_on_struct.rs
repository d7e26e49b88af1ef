// A rule on something that is not a function.
#[backprop::rule(x = 1.0)]
struct S {
    x: f64,
}

fn main() {
    let _ = S { x: 1.0 };
}
