// A loop variable lent with `&mut`: the macro tracks it as a value (rustc used to report E0596
// at the attribute).
use backprop::grad;

fn bump(n: &mut i32) {
    *n += 1;
}

#[grad(wrt = x)]
fn f(x: f64) -> f64 {
    let mut s = 0.0;
    for mut k in 0..3 {
        bump(&mut k);
        s += x * k as f64;
    }
    s
}

fn main() {
    let _ = f(0.5);
}
