// A differentiated value pushed into a `Vec` (rustc used to report E0282 on generated code).
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let mut v = Vec::new();
    v.push(x * x);
    v[0]
}

fn main() {
    let _ = f(3.0);
}
