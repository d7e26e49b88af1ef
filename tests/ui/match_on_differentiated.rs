// A `match` whose scrutinee depends on a `wrt` parameter.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut r = w;
    match w > 0.0 {
        true => r = w * 2.0,
        false => {}
    }
    r
}

fn main() {
    let _ = f(1.0);
}
