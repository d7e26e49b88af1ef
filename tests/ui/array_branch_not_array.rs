use backprop::grad;

// One branch of an `if` that gives an array gives something else.
#[grad(wrt = w)]
fn f(w: [f64; 2], flip: bool) -> f64 {
    let z = if flip { w } else { g(w[0]) };
    z[0] * 2.0
}

fn g(x: f64) -> [f64; 2] {
    [x, x]
}

fn main() {
    let _ = f([1.0, 2.0], true);
}
