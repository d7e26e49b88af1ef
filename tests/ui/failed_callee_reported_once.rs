// A helper the macro refuses (here an unknown `mode`, and a value passed to a cell) is
// reported once, at its own error: the `#[grad]` functions calling it compile against quiet
// stand-ins of its pullbacks, with no errors of their own.
use backprop::grad;

#[grad(wrt = s, k, mode = sideways)]
fn rhs(s: [f64; 2], k: [f64; 4]) -> [f64; 2] {
    [k[0] * s[0] - k[1] * s[0] * s[1], k[2] * s[0] * s[1] - k[3] * s[1]]
}

#[grad]
fn scaled(x: f64, v: &[f64]) -> f64 {
    let r = std::cell::Cell::new(x * v[0]);
    r.get()
}

#[grad(wrt = k, s0, hessian)]
fn euler(k: [f64; 4], s0: [f64; 2]) -> f64 {
    let mut s = s0;
    for _ in 0..4 {
        let d = rhs(s, k);
        s = [s[0] + 0.1 * d[0], s[1] + 0.1 * d[1]];
    }
    s[0] + s[1] * scaled(s[0], &k)
}

fn main() {
    let _ = euler_grad([1.0; 4], [1.0; 2]);
}
