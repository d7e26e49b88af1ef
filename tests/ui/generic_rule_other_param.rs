// A rule generic over something else than its float type.
use backprop::Real;

#[backprop::rule(x = T::ONE)]
fn id<T: Real, K: Copy>(x: T, _k: K) -> T {
    x
}

fn main() {
    let _ = id(1.0_f64, 2);
}
