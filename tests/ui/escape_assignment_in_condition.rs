// An assignment inside a condition (rustc used to report E0384 on generated code).
use backprop::grad;

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let mut c = 0;
    let mut s = 0.0;
    while {
        c += 1;
        c
    } <= 3
    {
        s += x * x;
    }
    s
}

fn main() {
    let _ = f(0.5);
}
