// A generic function (`fn f<T>`).
use backprop::grad;

#[grad(wrt = x)]
fn f<T: Into<f64>>(x: f64, k: T) -> f64 {
    x * k.into()
}

fn main() {
    let _ = f(1.0, 2.0f32);
}
