//! Finite-difference gradient checking, for tests of `#[grad]` functions (and of anything else
//! that claims to compute a gradient).
//!
//! ```
//! use grad_runtime::check::{check_gradient, Tolerance};
//!
//! let f = |v: &[f64]| v[0] * v[0] * v[1];
//! let exact = [2.0 * 3.0 * 5.0, 3.0 * 3.0]; // at (3, 5)
//! check_gradient(f, &[3.0, 5.0], &exact, Tolerance::default()).unwrap();
//! ```

use std::fmt;

/// Central-difference estimate of `∂f/∂x_i` at `x`, for every `i`.
///
/// The step for component `i` is `ε^(1/3) · max(1, |x_i|)` (`ε` the `f64` machine epsilon),
/// which balances truncation and rounding error for smooth `f`; the estimate is then accurate
/// to about `1e-10` relative, far less than the exact gradient `#[grad]` computes.
pub fn numeric_gradient<F: Fn(&[f64]) -> f64>(f: F, x: &[f64]) -> Vec<f64> {
    central(f, x).into_iter().map(|(g, _)| g).collect()
}

/// Each component's central difference and the rounding error it may carry: evaluating `f`
/// near a value of size `|f|` loses about `ε·|f|`, divided by the step.
fn central<F: Fn(&[f64]) -> f64>(f: F, x: &[f64]) -> Vec<(f64, f64)> {
    let mut point = x.to_vec();
    (0..x.len())
        .map(|i| {
            let h = f64::EPSILON.cbrt() * x[i].abs().max(1.0);
            point[i] = x[i] + h;
            let up = f(&point);
            point[i] = x[i] - h;
            let down = f(&point);
            point[i] = x[i];
            let noise = 16.0 * f64::EPSILON * up.abs().max(down.abs()) / h;
            ((up - down) / (2.0 * h), noise)
        })
        .collect()
}

/// How close an analytic gradient must be to the finite-difference estimate.
///
/// A component passes when `|analytic − numeric| ≤ absolute + relative · max(|analytic|,
/// |numeric|) + noise`, where `noise = 16 ε |f| / h` bounds the rounding error of the finite
/// difference itself (it matters where `|f|` is large and the gradient small, for example near
/// the minimum of a function whose minimum value is far from 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Allowed absolute difference.
    pub absolute: f64,
    /// Allowed difference relative to the larger magnitude.
    pub relative: f64,
}

impl Default for Tolerance {
    /// `absolute = 1e-7`, `relative = 1e-6`: comfortably above central-difference error for
    /// well-scaled smooth functions, far below any real mistake in a derivative.
    fn default() -> Self {
        Tolerance {
            absolute: 1e-7,
            relative: 1e-6,
        }
    }
}

/// One component that failed [`check_gradient`].
#[derive(Clone, Debug, PartialEq)]
pub struct Mismatch {
    /// The component's index.
    pub index: usize,
    /// The gradient under test.
    pub analytic: f64,
    /// The central-difference estimate.
    pub numeric: f64,
}

/// The error [`check_gradient`] returns: every component that disagreed.
#[derive(Clone, Debug, PartialEq)]
pub struct GradCheckError {
    /// The point the gradient was checked at.
    pub point: Vec<f64>,
    /// The components that disagreed, in index order.
    pub mismatches: Vec<Mismatch>,
}

impl fmt::Display for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gradient check failed at {:?}:", self.point)?;
        for m in &self.mismatches {
            write!(
                f,
                " [component {}: analytic {:e}, finite differences {:e}]",
                m.index, m.analytic, m.numeric
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for GradCheckError {}

/// Compares `analytic` (the gradient of `f` at `x` under test) with central finite differences.
///
/// # Errors
/// Returns every component that differs by more than `tol` (a NaN anywhere counts as a
/// difference), or a single mismatch at index `usize::MAX` when the lengths differ.
pub fn check_gradient<F: Fn(&[f64]) -> f64>(
    f: F,
    x: &[f64],
    analytic: &[f64],
    tol: Tolerance,
) -> Result<(), GradCheckError> {
    let numeric = central(f, x);
    let mut mismatches = Vec::new();
    if numeric.len() != analytic.len() {
        mismatches.push(Mismatch {
            index: usize::MAX,
            analytic: analytic.len() as f64,
            numeric: numeric.len() as f64,
        });
    } else {
        for (index, (&a, &(n, noise))) in analytic.iter().zip(&numeric).enumerate() {
            let bound = tol.absolute + tol.relative * a.abs().max(n.abs()) + noise;
            // A NaN on either side makes the comparison `None`: a mismatch.
            let close = matches!(
                (a - n).abs().partial_cmp(&bound),
                Some(std::cmp::Ordering::Less | std::cmp::Ordering::Equal)
            );
            if !close {
                mismatches.push(Mismatch {
                    index,
                    analytic: a,
                    numeric: n,
                });
            }
        }
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(GradCheckError {
            point: x.to_vec(),
            mismatches,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_a_right_gradient_and_rejects_a_wrong_one() {
        let f = |v: &[f64]| (v[0] * v[1]).sin() + v[1].exp();
        let x = [0.7_f64, -0.4];
        let right = [
            x[1] * (x[0] * x[1]).cos(),
            x[0] * (x[0] * x[1]).cos() + x[1].exp(),
        ];
        check_gradient(f, &x, &right, Tolerance::default()).unwrap();
        let wrong = [right[0], right[1] * 1.001];
        let err = check_gradient(f, &x, &wrong, Tolerance::default()).unwrap_err();
        assert_eq!(err.mismatches.len(), 1);
        assert_eq!(err.mismatches[0].index, 1);
        assert!(err.to_string().contains("component 1"));
    }

    #[test]
    fn a_large_value_with_a_tiny_gradient_is_not_rejected_for_rounding_noise() {
        // f = 840 + (x − 1)²: at x = 1 the gradient is 0 but every evaluation rounds at 1e-13.
        let f = |v: &[f64]| 840.0 + (v[0] - 1.0).powi(2) + (v[0] * 1e3).sin() * 1e-13;
        check_gradient(f, &[1.0], &[1e-10 * (1e3_f64).cos()], Tolerance::default()).unwrap();
        assert!(check_gradient(f, &[1.0], &[1e-3], Tolerance::default()).is_err());
    }

    #[test]
    fn nan_and_length_mismatch_fail() {
        let f = |v: &[f64]| v[0];
        assert!(check_gradient(f, &[1.0], &[f64::NAN], Tolerance::default()).is_err());
        assert!(check_gradient(f, &[1.0], &[1.0, 0.0], Tolerance::default()).is_err());
    }
}
