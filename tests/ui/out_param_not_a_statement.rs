// A `&mut` float lent to a `#[grad]` function outside a statement of its own (here, in a
// `let`): refused by the escape analysis, which says how to write it.
use backprop::grad;

#[grad]
fn update(acc: &mut f64, x: f64) {
    *acc += x * x;
}

fn unit(_: ()) -> f64 {
    1.0
}

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut s = 0.0;
    let k = unit(update(&mut s, w));
    s * k
}

fn main() {
    let _ = f(1.0);
}
