// A call with type arguments, on a differentiated value.
use backprop::grad;

fn id<T>(x: T) -> T {
    x
}

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    id::<f64>(w)
}

fn main() {
    let _ = f(1.0);
}
