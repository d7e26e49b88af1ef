// A `loop`.
use grad::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut y = w;
    loop {
        if y < 1.0 {
            break;
        }
        y /= 2.0;
    }
    y
}

fn main() {
    let _ = f(10.0);
}
