use backprop::grad;

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    let mut z = [0.0; 3];
    for i in 0..3 {
        z[i] = w * i as f64;
    }
    for i in 1..3 {
        z[i] += z[i - 1];
    }
    z[2]
}

fn main() {}
