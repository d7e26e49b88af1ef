// A sum of the wrong float type in an f64 function (rustc also refuses summing f64 into f32).
use backprop::grad;

#[grad(wrt = w)]
fn f(w: [f64; 3]) -> f64 {
    w.iter().map(|&x| x * x).sum::<f32>() as f64
}

fn main() {
    let _ = f([1.0, 2.0, 3.0]);
}
