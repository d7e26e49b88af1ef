use backprop::grad;

#[grad(wrt = s)]
fn double(s: [f64; 2]) -> [f64; 2] {
    [2.0 * s[0], 2.0 * s[1]]
}

// An array a #[grad] function returned (its lengths are not written) as the value of an `if`.
#[grad(wrt = w)]
fn f(w: [f64; 2], flip: bool) -> f64 {
    let r = double(w);
    let z = if flip { r } else { w };
    z[0] * r[1]
}

fn main() {
    let _ = f([1.0, 2.0], true);
}
