// A rule with fewer partials than float parameters.
#[backprop::rule(a = 1.0)]
fn add(a: f64, b: f64) -> f64 {
    a + b
}

fn main() {
    let _ = add(1.0, 2.0);
}
