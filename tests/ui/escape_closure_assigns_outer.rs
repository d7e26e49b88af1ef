// A closure of `.map(..)` that changes a local declared outside it: its change used to be
// dropped (value and gradient wrong).
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64, xs: &[f64]) -> f64 {
    let mut k = 0;
    xs.iter()
        .map(|v| {
            k += 1;
            x * x * v * k as f64
        })
        .sum::<f64>()
}

fn main() {
    let _ = f(0.5, &[1.0, 2.0]);
}
