// A range's counter in float arithmetic: said once, at the counter, with the cast to write.
use backprop::grad;

#[grad(wrt = a)]
fn f(a: f64, n: usize) -> f64 {
    (0..n).map(|i| a * i).sum::<f64>()
}

fn main() {
    let _ = f(1.0, 3);
}
