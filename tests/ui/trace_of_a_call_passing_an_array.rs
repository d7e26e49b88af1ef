// `graph` on a function passing an array of differentiated values to another `#[grad]`
// function: refused at the call.
use backprop::grad;

#[grad(wrt = v)]
fn norm2(v: [f64; 2]) -> f64 {
    v[0] * v[0] + v[1] * v[1]
}

#[grad(wrt = v, graph)]
fn f(v: [f64; 2]) -> f64 {
    norm2(v).sqrt()
}

fn main() {
    let _ = f([1.0, 2.0]);
}
