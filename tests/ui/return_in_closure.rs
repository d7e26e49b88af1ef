// `return` inside the closure of `.map(..)`.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64, x: [f64; 3]) -> f64 {
    x.iter().map(|&xi| { if xi > 1.0 { return w; } w * xi }).sum::<f64>()
}

fn main() {
    let _ = f(1.0, [1.0, 2.0, 3.0]);
}
