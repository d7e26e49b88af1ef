// A differentiated value turned into bits and stored in an atomic.
use backprop::grad;
use std::sync::atomic::{AtomicU64, Ordering};

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let a = AtomicU64::new(0);
    a.store((x * x).to_bits(), Ordering::SeqCst);
    f64::from_bits(a.load(Ordering::SeqCst))
}

fn main() {
    let _ = f(3.0);
}
