// A method the macro has no derivative for, called on a differentiated value.
use backprop::grad;

trait Foo {
    fn foo(self) -> f64;
}

impl Foo for f64 {
    fn foo(self) -> f64 {
        self + 1.0
    }
}

#[grad(wrt = w)]
fn f(w: f64) -> f64 {
    w.foo() * 2.0
}

fn main() {
    let _ = f(1.0);
}
