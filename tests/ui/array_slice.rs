use backprop::grad;

#[grad(wrt = w)]
fn f(w: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for x in w[1..].iter() {
        s += x * x;
    }
    s + w[..2][0]
}

fn main() {}
