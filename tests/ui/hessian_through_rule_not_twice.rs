// A Hessian through a rule whose partial the macro cannot differentiate (a function it does
// not know): refused at the call.
use backprop::grad;

fn slope(x: f64) -> f64 {
    x.cos()
}

#[backprop::rule(x = slope(x))]
fn wave(x: f64) -> f64 {
    x.sin()
}

#[grad(wrt = x, hessian)]
fn f(x: f64) -> f64 {
    wave(x) * x
}

fn main() {
    let _ = f(1.0);
}
