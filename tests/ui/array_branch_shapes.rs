use backprop::grad;

// The branches of an `if` that gives an array give arrays of different shapes.
#[grad(wrt = w)]
fn f(w: [f64; 2], m: [[f64; 2]; 2], flip: bool) -> f64 {
    let z = if flip { w } else { m };
    z[0] * 2.0
}

fn main() {
    let _ = f([1.0, 2.0], [[3.0, 4.0], [5.0, 6.0]], true);
}
