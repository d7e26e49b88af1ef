// A rule whose arguments are not `name = expression`.
#[backprop::rule(x)]
fn square(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = square(1.0);
}
