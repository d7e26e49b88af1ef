// A method that may change a local array in place.
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let mut a = [0.0; 3];
    a[0] = x;
    a.reverse();
    a[2] * x
}

fn main() {
    let _ = f(3.0);
}
