// Forward mode through a local array of differentiated values.
use grad::grad;

#[grad(wrt = a, b, mode = forward)]
fn f(a: f64, b: f64) -> f64 {
    let v = [a, b];
    v[0] * v[1]
}

fn main() {
    let _ = f(1.0, 2.0);
}
