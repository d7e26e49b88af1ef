// A value read from data a call changes, needed by the reverse sweep inside a branch of a loop
// (the body of a `while`): it cannot be kept per iteration there, so it is refused (the
// gradient used to read the last count: 12 against 6).
use backprop::grad;

fn next(n: &mut i32) -> i32 {
    *n += 1;
    *n
}

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let mut c = 0;
    let mut s = 0.0;
    while next(&mut c) <= 3 {
        s += x * x * c as f64;
    }
    s
}

fn main() {
    let _ = f(0.5);
}
