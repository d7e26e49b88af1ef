// A rule on a function that does not return a float.
#[backprop::rule(x = 1.0)]
fn round(x: f64) -> i64 {
    x as i64
}

fn main() {
    let _ = round(1.0);
}
