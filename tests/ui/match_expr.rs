// A `match` expression.
use grad::grad;

#[grad(wrt = w)]
fn f(w: f64, n: i32) -> f64 {
    match n {
        0 => w,
        _ => w * w,
    }
}

fn main() {
    let _ = f(1.0, 2);
}
