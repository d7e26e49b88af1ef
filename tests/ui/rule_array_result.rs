// A rule on an array-valued function: such a function is written with `#[grad]` instead.
#[backprop::rule(a = 2.0)]
fn twice(a: f64) -> [f64; 2] {
    [2.0 * a, 2.0 * a]
}

fn main() {
    let _ = twice(1.0);
}
