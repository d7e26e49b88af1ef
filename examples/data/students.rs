//! The notes' logistic-regression data: hours each of 20 students studied, and whether they
//! passed (shared by the `logistic_regression`, `newton` and `precision` examples).

/// Hours each student studied.
pub const HOURS: [f64; 20] = [
    0.50, 0.75, 1.00, 1.25, 1.50, 1.75, 1.75, 2.00, 2.25, 2.50, 2.75, 3.00, 3.25, 3.50, 4.00, 4.25,
    4.50, 4.75, 5.00, 5.50,
];

/// Whether they passed (1) or not (0).
pub const PASSED: [f64; 20] = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0,
    1.0,
];
