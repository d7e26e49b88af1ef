// An `unsafe fn`.
use backprop::grad;

#[grad(wrt = x)]
unsafe fn f(x: f64) -> f64 {
    x * x
}

fn main() {
    let _ = unsafe { f(1.0) };
}
