// Printing in the body: refused, with `trace` as the way to see intermediate values.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64, x: f64) -> f64 {
    let z = w * x;
    println!("{z}");
    z.tanh()
}

fn main() {
    let _ = f(1.0, 2.0);
}
