// A supported method called with the wrong number of arguments (rustc also refuses it).
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    w.powf()
}

fn main() {
    let _ = f(2.0);
}
