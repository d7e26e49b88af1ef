// `f64::from_bits` given a differentiated value: not a function of the rule table (rustc used
// to report an unresolved import `f64`).
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let b = 4_u64;
    f64::from_bits(b + x as u64) * x
}

fn main() {
    let _ = f(3.0);
}
