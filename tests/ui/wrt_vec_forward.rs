use backprop::grad;

// A `Vec`'s length is known only at run time; forward mode needs it at compile time.
#[grad(wrt = w, mode = forward)]
fn f(w: &Vec<f64>) -> f64 {
    w.iter().map(|v| v * v).sum()
}

fn main() {
    let _ = f(&vec![1.0]);
}
