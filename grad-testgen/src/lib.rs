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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    /// The straight-line language stays loop-free (the IR interpreter cannot run loops), the
    /// loop language always has one, and the oracle runs both.
    #[test]
    fn languages_stay_apart_and_the_oracle_runs_them() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..200 {
            let (p, pts) = gen::case(2).new_tree(&mut runner).unwrap().current();
            assert!(!p.has_loops(), "{p:?}");
            for pt in &pts {
                let _ = value_and_gradient(&p, pt);
            }
            let (p, pts) = gen::loop_case(2).new_tree(&mut runner).unwrap().current();
            assert!(p.has_loops(), "{p:?}");
            assert!(p.source("f").contains("for ") || p.source("f").contains("while "));
            for pt in &pts {
                if let Some(e) = value_and_gradient(&p, pt) {
                    assert_eq!(e.gradient.len(), p.n_grad());
                }
            }
        }
    }

    /// A caller calls each of its helpers (the opening `let`s, which always run), and the
    /// oracle runs the calls.
    #[test]
    fn callers_call_every_helper() {
        let mut runner = TestRunner::deterministic();
        for _ in 0..100 {
            let (p, pts) = gen::call_case(2).new_tree(&mut runner).unwrap().current();
            let source = p.source("c");
            for c in &p.callees {
                assert!(source.contains(&format!("{}(", c.path())), "{p:?}");
            }
            assert!(p.call_sites().len() >= p.callees.len(), "{p:?}");
            for pt in &pts {
                assert!(oracle::calls_run(&p, pt) >= p.callees.len(), "{p:?}");
                if let Some(e) = value_and_gradient(&p, pt) {
                    assert_eq!(e.gradient.len(), p.n_grad());
                }
            }
        }
    }
}
