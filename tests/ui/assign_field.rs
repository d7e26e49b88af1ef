// An assignment to a field (`acc.total = ..`): only locals can be assigned.
use backprop::grad;

struct Acc {
    total: f64,
}

#[grad(wrt = w)]
fn f(w: f64, acc: &mut Acc) -> f64 {
    acc.total = w;
    w * 2.0
}

fn main() {
    let mut acc = Acc { total: 0.0 };
    let _ = f(1.0, &mut acc);
    let _ = acc.total;
}
