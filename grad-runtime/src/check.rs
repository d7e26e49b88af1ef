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
    let mut point = x.to_vec();
    (0..x.len())
        .map(|i| {
            let h = f64::EPSILON.cbrt() * x[i].abs().max(1.0);
            point[i] = x[i] + h;
            let up = f(&point);
            point[i] = x[i] - h;
            let down = f(&point);
            point[i] = x[i];
            (up - down) / (2.0 * h)
        })
        .collect()
}

/// How close an analytic gradient must be to the finite-difference estimate.
///
/// A component passes when `|analytic − numeric| ≤ absolute + relative · max(|analytic|, |numeric|)`.
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
    let numeric = numeric_gradient(f, x);
    let mut mismatches = Vec::new();
    if numeric.len() != analytic.len() {
        mismatches.push(Mismatch {
            index: usize::MAX,
            analytic: analytic.len() as f64,
            numeric: numeric.len() as f64,
        });
    } else {
        for (index, (&a, &n)) in analytic.iter().zip(&numeric).enumerate() {
            let bound = tol.absolute + tol.relative * a.abs().max(n.abs());
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
    fn nan_and_length_mismatch_fail() {
        let f = |v: &[f64]| v[0];
        assert!(check_gradient(f, &[1.0], &[f64::NAN], Tolerance::default()).is_err());
        assert!(check_gradient(f, &[1.0], &[1.0, 0.0], Tolerance::default()).is_err());
    }
}
