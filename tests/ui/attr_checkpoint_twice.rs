use backprop::grad;

#[grad(wrt = w, checkpoint, checkpoint)]
fn f(w: f64) -> f64 {
    w * w
}

fn main() {
    let _ = f(1.0);
}
