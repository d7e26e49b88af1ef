// A rule on a function with a parameter named `y`, which the partials would read as the result.
#[backprop::rule(x = y, y = x)]
fn product(x: f64, y: f64) -> f64 {
    x * y
}

fn main() {
    let _ = product(1.0, 2.0);
}
