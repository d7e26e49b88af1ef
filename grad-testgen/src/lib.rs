//! Random `#[grad]` programs and an independent oracle, for `grad`'s own differential tests
//! (see `TESTING.md`). Not published.
//!
//! - [`ast`]: the generated language as data, and its printer (a [`Program`]'s `Debug` is its
//!   Rust source, so proptest's minimal failing case reads as code).
//! - [`gen`]: proptest strategies (shrinking comes with them).
//! - [`oracle`]: forward-mode dual numbers over the program tree, sharing no code with the
//!   macro.
//!
//! A construct added to the macro's language is added here in one place per module.

pub mod ast;
pub mod gen;
pub mod oracle;

pub use ast::Program;
pub use oracle::{value_and_gradient, Expected, Point};

/// `n` cases by default, or `GRAD_FUZZ_CASES` when set (the long batch).
pub fn cases(default: u32) -> u32 {
    std::env::var("GRAD_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Whether two gradient components agree: relative 1e-8 of the larger magnitude, plus the
/// rounding that cancellation of terms as large as `scale` (the oracle's) may leave; a tiny
/// component computed from small terms must still be right, sign included.
pub fn close(a: f64, b: f64, scale: f64) -> bool {
    (a - b).abs() <= 1e-8 * a.abs().max(b.abs()) + 1e-12 * scale.max(1.0)
}
