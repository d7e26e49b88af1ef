// A rule that gives the same partial twice.
#[backprop::rule(x = 2.0 * x, x = 2.0)]
fn square(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = square(1.0);
}
