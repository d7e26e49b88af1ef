use backprop::grad;

// An array of floats as the value of an `if`: not yet (declare the array, assign it in the
// branches).
#[grad(wrt = w)]
fn f(w: [f64; 2], v: [f64; 2], flip: bool) -> f64 {
    let z = if flip { w } else { v };
    z[0] * z[1]
}

fn main() {
    let _ = f([1.0, 2.0], [3.0, 4.0], true);
}
