// A `wrt` parameter taken as `&f64` is read as its value: other uses of the reference are
// refused at the token, with what to write instead (a closure reads `*x` as the function
// does); a `&mut` alias used otherwise than through `*a` is refused at the `&mut`.
use backprop::grad;

// The reference bound to another name.
#[grad(wrt = x)]
fn bound(x: &f64) -> f64 {
    let r = x;
    *r * 2.0
}

// Its name bound again.
#[grad(wrt = x)]
fn rebound(x: &f64) -> f64 {
    let y = *x * 2.0;
    let x = y + 1.0;
    x
}

// A `&mut` alias passed on as a value.
#[grad(wrt = s)]
fn alias_bound(s: f64) -> f64 {
    let mut t = s * 2.0;
    let a = &mut t;
    let b = a;
    *b += 1.0;
    t
}

fn main() {}
