// A call of a helper returning an array inside a branch of a `while` loop, in a function with
// `hessian`: the loop keeps the call's result for its reverse sweep, and not its tangent; the
// refusal is at the call and says what to write instead.
use backprop::grad;

#[grad(hessian)]
fn rhs(s: [f64; 2], k: [f64; 2]) -> [f64; 2] {
    [k[0] * s[0] * s[1], k[1] * s[1]]
}

#[grad(wrt = s0, k, hessian)]
fn f(s0: [f64; 2], k: [f64; 2]) -> f64 {
    let mut s = s0;
    let mut t = 0.0;
    while t < 0.3 {
        let mut d = s;
        if s[1] > s[0] {
            d = rhs(s, k);
        }
        s = [s[0] + 0.1 * d[0], s[1] + 0.1 * d[1]];
        t += 0.1;
    }
    s[0] * s[1]
}

fn main() {
    let _ = f([0.5, 0.7], [1.0, 0.3]);
}
