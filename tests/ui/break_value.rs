// `break` with a value out of a `loop`.
use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut s = w;
    loop {
        s = s * 0.5;
        if s < 1.0 {
            break s;
        }
    };
    s
}

fn main() {
    let _ = f(4.0);
}
