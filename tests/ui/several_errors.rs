// Several errors in one function (an unknown function and a closure) are all reported.
use grad::grad;

fn foo(x: f64) -> f64 {
    x + 1.0
}

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let inc = |t: f64| t + 1.0;
    foo(w) * inc(2.0)
}

fn main() {
    let _ = f(1.0);
}
