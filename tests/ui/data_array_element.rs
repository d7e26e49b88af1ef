use backprop::grad;

#[grad(wrt = w)]
fn f(w: [f64; 3]) -> f64 {
    let mut order = [0usize, 1, 2];
    order[0] = 2;
    w[order[0]]
}

fn main() {}
