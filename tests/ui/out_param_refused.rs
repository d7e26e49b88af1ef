// What a `#[grad]` function writing a `&mut` parameter of floats cannot do: each refused at
// the token, with what to write instead.
use backprop::grad;

// Two outputs.
#[grad]
fn two(a: &mut f64, b: &mut f64, x: f64) {
    *a += x;
    *b += x;
}

// A slice (its length is known at run time only).
#[grad]
fn slice(v: &mut [f64], k: f64) {
    v[0] *= k;
}

// An output and a value.
#[grad]
fn both(acc: &mut f64, x: f64) -> f64 {
    *acc += x;
    x * x
}

// The reference itself used as a value.
#[grad]
fn bare(acc: &mut f64, x: f64) {
    let r = acc;
    *r += x;
}

// Captured by a closure.
#[grad]
fn captured(acc: &mut f64, x: f64) {
    let mut add = |v: f64| *acc += v;
    add(x);
}

// Its name bound again.
#[grad]
fn rebound(acc: &mut f64, x: f64) {
    *acc += x;
    let acc = 2.0 * x;
    let _ = acc;
}

// Not a name.
#[grad]
fn unnamed(_: &mut f64, x: f64) {
    let _ = x;
}

const N: usize = 3;

// A length that is not a number.
#[grad]
fn named_length(v: &mut [f64; N], k: f64) {
    v[0] *= k;
}

fn main() {}
