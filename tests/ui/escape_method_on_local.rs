// A differentiated value given to a method of a local whose result is thrown away (it could
// only matter through `&mut self`): refused at the method.
use backprop::grad;

struct Acc {
    s: f64,
}

impl Acc {
    fn add(&mut self, v: f64) {
        self.s += v;
    }
}

#[grad(wrt = x)]
fn g(x: f64) -> f64 {
    let mut a = Acc { s: 0.0 };
    a.add(x * x);
    a.s
}

fn main() {
    let _ = g(3.0);
}
