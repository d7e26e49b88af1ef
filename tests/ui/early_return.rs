// An early `return`.
use grad::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    if w < 0.0 {
        return 0.0;
    }
    w * w
}

fn main() {
    let _ = f(1.0);
}
