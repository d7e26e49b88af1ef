use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut z = [0.0; 3];
    for i in 0..3 {
        z[i] = w * i as f64;
    }
    let mut s = 0.0;
    for zi in z.iter() {
        s += zi;
    }
    z[0] = 1.0;
    s + z[0]
}

fn main() {}
