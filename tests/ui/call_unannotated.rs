// A call to a function that is neither annotated nor given a rule, on a differentiated value.
use backprop::grad;

fn foo(x: f64) -> f64 {
    x + 1.0
}

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    foo(w) * 2.0
}

fn main() {
    let _ = f(1.0);
}
