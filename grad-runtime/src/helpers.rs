//! Activation functions whose derivatives `#[grad]` knows (see the rule table in `grad-macro`).
//! Each is written in its numerically stable form: no overflow for any finite input.

use crate::Real;

/// The logistic function `1 / (1 + e^-x)`, computed without overflow for any `x`.
///
/// Derivative used by `#[grad]`: `s · (1 − s)` with `s = sigmoid(x)`, finite everywhere.
///
/// ```
/// assert_eq!(grad_runtime::sigmoid(0.0_f64), 0.5);
/// assert_eq!(grad_runtime::sigmoid(800.0_f64), 1.0);
/// assert_eq!(grad_runtime::sigmoid(-800.0_f64), 0.0);
/// ```
#[inline]
pub fn sigmoid<T: Real>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

/// The rectifier `max(x, 0)`; NaN stays NaN.
///
/// Derivative used by `#[grad]`: `1` for `x > 0`, `0` for `x ≤ 0` (so `0` at the kink).
#[inline]
pub fn relu<T: Real>(x: T) -> T {
    if x > T::ZERO {
        x
    } else if x <= T::ZERO {
        T::ZERO
    } else {
        x
    }
}

/// Leaky rectifier: `x` for `x > 0`, `slope · x` otherwise.
///
/// Derivatives used by `#[grad]`: `∂/∂x` is `1` for `x > 0` and `slope` for `x ≤ 0` (so
/// `slope` at the kink, the left derivative, as for [`relu`]); `∂/∂slope` is `0` for `x > 0`
/// and `x` otherwise.
#[inline]
pub fn leaky_relu<T: Real>(x: T, slope: T) -> T {
    if x > T::ZERO {
        x
    } else {
        slope * x
    }
}

/// `ln(1 + e^x)`, in the stable form `max(x, 0) + ln(1 + e^-|x|)`.
///
/// Derivative used by `#[grad]`: `sigmoid(x)`.
///
/// ```
/// assert_eq!(grad_runtime::softplus(1000.0_f64), 1000.0);
/// assert!((grad_runtime::softplus(0.0_f64) - std::f64::consts::LN_2).abs() < 1e-15);
/// ```
#[inline]
pub fn softplus<T: Real>(x: T) -> T {
    let pos = if x > T::ZERO { x } else { T::ZERO };
    pos + (-x.abs()).exp().ln_1p()
}

/// `ln(sigmoid(x))`, in the stable form `min(x, 0) − ln(1 + e^-|x|)`.
///
/// Derivative used by `#[grad]`: `sigmoid(−x)`.
///
/// ```
/// assert_eq!(grad_runtime::log_sigmoid(-1000.0_f64), -1000.0);
/// ```
#[inline]
pub fn log_sigmoid<T: Real>(x: T) -> T {
    let neg = if x < T::ZERO { x } else { T::ZERO };
    neg - (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn sigmoid_matches_definition_and_saturates() {
        for &x in &[-30.0, -2.5, -1.0, 0.0, 0.3, 1.0, 4.0, 30.0] {
            let direct = 1.0 / (1.0 + f64::exp(-x));
            assert_relative_eq!(sigmoid(x), direct, max_relative = 1e-15);
        }
        assert_eq!(sigmoid(-800.0_f64), 0.0);
        assert_eq!(sigmoid(800.0_f64), 1.0);
        assert_relative_eq!(sigmoid(1.0_f32), 0.731_058_6, max_relative = 1e-6);
    }

    #[test]
    fn relu_family() {
        assert_eq!(relu(2.0), 2.0);
        assert_eq!(relu(-2.0), 0.0);
        assert_eq!(relu(0.0), 0.0);
        assert!(relu(f64::NAN).is_nan());
        assert_eq!(leaky_relu(2.0, 0.1), 2.0);
        assert_relative_eq!(leaky_relu(-2.0, 0.1), -0.2);
    }

    #[test]
    fn softplus_and_log_sigmoid_are_stable() {
        for &x in &[-50.0, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0] {
            let direct = f64::ln(1.0 + f64::exp(x));
            assert_relative_eq!(softplus(x), direct, max_relative = 1e-14);
            assert_relative_eq!(log_sigmoid(x), f64::ln(sigmoid(x)), max_relative = 1e-14);
        }
        assert_eq!(softplus(1000.0_f64), 1000.0);
        assert_eq!(softplus(-1000.0_f64), 0.0);
        assert_eq!(log_sigmoid(1000.0_f64), 0.0);
    }
}
