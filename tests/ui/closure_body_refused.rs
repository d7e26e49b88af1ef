// What a local closure cannot hold or where it cannot be called, each refused at its token:
// a `for` loop, an iterator's sum, a `&mut` in its body, an array parameter, and a call where
// the code is kept as written (a condition).
use backprop::grad;

#[grad]
fn update(acc: &mut f64, x: f64) {
    *acc += x * x;
}

#[grad(wrt = w)]
fn with_loop(w: f64, xs: &[f64]) -> f64 {
    let dot = |v: f64| {
        let mut s = 0.0;
        for x in xs {
            s += v * x;
        }
        s
    };
    dot(w)
}

#[grad(wrt = w)]
fn with_sum(w: f64, xs: &[f64]) -> f64 {
    let dot = |v: f64| xs.iter().map(|x| v * x).sum::<f64>();
    dot(w)
}

#[grad(wrt = w)]
fn with_out_param(w: f64) -> f64 {
    let f = |v: f64| {
        let mut t = v;
        update(&mut t, w);
        t
    };
    f(2.0)
}

#[grad(wrt = w)]
fn with_array(w: f64) -> f64 {
    let a = [w, 2.0 * w, 3.0];
    let g = |v: [f64; 3]| v[0] * v[1] + v[2];
    g(a)
}

#[grad(wrt = w)]
fn in_a_condition(w: f64) -> f64 {
    let sq = |v: f64| v * v;
    if sq(w) > 0.5 {
        w
    } else {
        0.0
    }
}

fn main() {
    let xs = [1.0, 2.0];
    let _ = (with_loop(1.0, &xs), with_sum(1.0, &xs), with_out_param(1.0));
    let _ = (with_array(1.0), in_a_condition(1.0));
}
