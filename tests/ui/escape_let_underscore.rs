// A call whose value is thrown away with `let _ =`, given a differentiated value.
use backprop::grad;

fn record(v: f64) -> f64 {
    v
}

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let _ = record(x * x);
    x
}

fn main() {
    let _ = f(3.0);
}
