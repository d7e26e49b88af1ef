// An array of floats as the value of a block.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: [f64; 2]) -> f64 {
    let v = {
        let a = w[0] * 2.0;
        [a, w[1]]
    };
    v[0] * v[1]
}

fn main() {
    let _ = f([1.0, 2.0]);
}
