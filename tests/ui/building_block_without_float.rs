// A building block (no `wrt`) with no parameter of its return type.
use backprop::grad;

#[grad]
fn count(n: usize) -> f64 {
    n as f64
}

fn main() {
    let _ = count(3);
}
