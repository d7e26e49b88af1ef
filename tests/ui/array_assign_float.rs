use backprop::grad;

// An array of floats assigned something that is not an array.
#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut z = [0.0; 2];
    z = w;
    z[0] + z[1]
}

fn main() {
    let _ = f(1.0);
}
