// A differentiated value stored in a `Cell` and read back.
use backprop::grad;
use std::cell::Cell;

#[grad(wrt = x)]
fn c(x: f64) -> f64 {
    let cell = Cell::new(0.0);
    cell.set(x * x);
    cell.get()
}

fn main() {
    let _ = c(3.0);
}
