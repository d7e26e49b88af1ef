// A rule with a partial for a name that is not a parameter (one too many).
#[backprop::rule(x = 2.0 * x, z = 1.0)]
fn square(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = square(1.0);
}
