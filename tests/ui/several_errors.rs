// Several errors in one function (a closure taking a pattern and a macro) are all reported.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let inc = |(t,): (f64,)| t + 1.0;
    let v = vec![w];
    inc((2.0,)) * v[0] * w
}

fn main() {
    let _ = f(1.0);
}
