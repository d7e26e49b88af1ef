// A function returning an empty array: nothing to differentiate.
use backprop::grad;

#[grad]
fn empty(s: [f64; 2]) -> [f64; 0] {
    let _first = s[0];
    []
}

fn main() {
    let _ = empty([1.0, 2.0]);
}
