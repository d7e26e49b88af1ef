// A local array lent out with `&mut`: its writes would be lost.
use backprop::grad;

fn fill(a: &mut [f64; 3], v: f64) {
    for e in a.iter_mut() {
        *e = v;
    }
}

#[grad(wrt = x)]
fn h(x: f64) -> f64 {
    let mut a = [0.0; 3];
    fill(&mut a, 2.0 * x);
    a[0] + a[1]
}

fn main() {
    let _ = h(3.0);
}
