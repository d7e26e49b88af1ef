use backprop::grad;

#[grad(wrt = w)]
fn f(w: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for x in w.iter().rev() {
        s = s * 0.5 + x;
    }
    s
}

fn main() {}
