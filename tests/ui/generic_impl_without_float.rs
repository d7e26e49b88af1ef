// A method of `impl<T: Real>`: the macro cannot see that `T` is the float type unless told.
use backprop::{grad, Real};

struct Model<T>(T);

impl<T: Real> Model<T> {
    #[grad(wrt = x)]
    fn loss(&self, x: T) -> T {
        self.0 * x * x
    }
}

fn main() {
    let _ = Model(2.0_f64).loss(1.0);
}
