// A differentiated f64 cast to f32 inside an f64 function (`w as f32`).
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let half = w as f32 / 2.0;
    half as f64
}

fn main() {
    let _ = f(1.0);
}
