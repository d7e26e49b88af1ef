// A closure given to a function as an argument: refused (a local closure is inlined where it
// is called; one passed on is not).
use backprop::grad;

fn apply(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    f(x)
}

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    apply(|t: f64| t * w, 2.0)
}

fn main() {
    let _ = f(1.0);
}
