//! Random `#[grad]` programs and an independent oracle, for `backprop`'s own differential tests
//! (see `TESTING.md`). Not published.
//!
//! - [`ast`]: the generated language as data, and its printer (a [`Program`]'s `Debug` is its
//!   Rust source, so proptest's minimal failing case reads as code).
//! - [`gen`]: proptest strategies (shrinking comes with them).
//! - [`synthetic`]: bodies of a given size, for the macro's expansion benchmarks and size test.
//! - [`oracle`]: forward-mode dual numbers over the program tree, sharing no code with the
//!   macro.
//!
//! A construct added to the macro's language is added here in one place per module.

pub mod ast;
pub mod escape;
pub mod gen;
pub mod oracle;
pub mod synthetic;

pub use ast::{Multi, Program};
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

    /// Programs of array state copy arrays whole (`let mut z1 = wa;`), assign them whole (`z0
    /// = z1;`) and write them after and inside the loops that read them, and the oracle runs
    /// them.
    #[test]
    fn state_programs_hold_array_state_and_the_oracle_runs_them() {
        let mut runner = TestRunner::deterministic();
        let (mut copies, mut assigns, mut previous, mut points) = (0, 0, 0, 0);
        for i in 0..200 {
            let (p, pts) = gen::state_case(2).new_tree(&mut runner).unwrap().current();
            assert!(p.has_loops(), "{p:?}");
            let source = p.source("f");
            if std::env::var_os("GRAD_SHOW_STATE").is_some() && i < 6 {
                eprintln!("{source}");
            }
            let lines = || source.lines().map(str::trim);
            copies +=
                usize::from(lines().any(|l| {
                    l.starts_with("let mut z") && !l.contains("[0.0") && l.ends_with(';')
                }));
            // `z0 = z1;`, `z0 = [0.0; 3];`: a whole assignment, not a store (`z0[..] = ..`).
            assigns += usize::from(lines().any(|l| {
                l.starts_with('z') && l.split(' ').next().is_some_and(|t| !t.contains('['))
            }));
            // The element before: `z0[i0 - 1]`, `z0[(i0 + 2) % 3]`, ...
            let before = [
                " - 1]",
                " + 1) % 2]",
                " + 2) % 3]",
                " + 3) % 4]",
                " + 4) % 5]",
            ];
            previous += usize::from(before.iter().any(|b| source.contains(b)));
            for pt in &pts {
                if let Some(e) = value_and_gradient(&p, pt) {
                    assert_eq!(e.gradient.len(), p.n_grad());
                    points += 1;
                }
            }
        }
        assert!(
            copies > 100 && assigns > 80 && previous > 60 && points > 200,
            "{copies} with copies, {assigns} with whole assignments, {previous} reading a neighbour, {points} points"
        );
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

    /// Callers of arrays across calls take arrays to helpers (by value and by reference) and
    /// bind the results of helpers returning arrays, and the oracle runs them (every call's
    /// result an array of the helper's length).
    #[test]
    fn array_callers_pass_and_get_arrays() {
        let mut runner = TestRunner::deterministic();
        let (mut by_value, mut by_ref, mut results, mut points) = (0, 0, 0, 0);
        for _ in 0..100 {
            let (p, pts) = gen::array_call_case(2)
                .new_tree(&mut runner)
                .unwrap()
                .current();
            let source = p.source("c");
            for c in &p.callees {
                assert!(source.contains(&format!("{}(", c.path())), "{p:?}");
                assert!(c.outputs.is_empty() || c.outputs.len() == ast::WA_LEN);
            }
            let sites = p.call_sites();
            by_value += usize::from(sites.iter().any(|c| c.array_arg == Some(false)));
            by_ref += usize::from(sites.iter().any(|c| c.array_arg == Some(true)));
            results += usize::from(sites.iter().any(|c| c.returns_array));
            for pt in &pts {
                assert!(oracle::calls_run(&p, pt) >= p.callees.len(), "{p:?}");
                if let Some(e) = value_and_gradient(&p, pt) {
                    assert_eq!(e.gradient.len(), p.n_grad());
                    points += 1;
                }
            }
        }
        assert!(
            by_value > 30 && by_ref > 30 && results > 40 && points > 100,
            "{by_value} by value, {by_ref} by reference, {results} with results, {points} points"
        );
    }

    /// Functions returning several floats: both sides of the default mode's rule (`n_wrt <= m`
    /// and `>`), tuples and arrays, later results reading the local bound last (fan-out),
    /// printed with their return type; result `i` as printed is the result of the program the
    /// oracle differentiates for row `i` (`Multi::output`), and the oracle gives one row of
    /// `n_wrt` per result.
    #[test]
    fn several_results_give_a_row_each() {
        let mut runner = TestRunner::deterministic();
        let (mut forward, mut reverse, mut arrays, mut shared, mut rows) = (0, 0, 0, 0, 0);
        // The final expression of a function's source.
        let last = |s: &str| s.lines().rev().nth(1).unwrap().trim().to_string();
        for _ in 0..200 {
            let (p, pts) = gen::multi_case(2).new_tree(&mut runner).unwrap().current();
            let (n, m) = (p.body.n_wrt, p.outputs.len());
            assert!(!p.body.has_loops() && (2..=3).contains(&m), "{p:?}");
            if n <= m {
                forward += 1;
            } else {
                reverse += 1;
            }
            let source = p.source_with("f", "mode = reverse");
            let singles: Vec<String> = (0..m).map(|i| last(&p.output(i).source("f"))).collect();
            let (ty, results) = if p.array {
                arrays += 1;
                (format!("[f64; {m}]"), format!("[{}]", singles.join(", ")))
            } else {
                let ty = format!("({})", vec!["f64"; m].join(", "));
                (ty, format!("({})", singles.join(", ")))
            };
            assert!(source.contains(&format!(") -> {ty} {{")), "{p:?}");
            assert!(source.contains(", mode = reverse)]"), "{p:?}");
            assert_eq!(last(&source), results, "{p:?}");
            let reads_latest = |e: &ast::Expr| match e {
                ast::Expr::Bin(_, r, _) => {
                    matches!(&**r, ast::Expr::Bin(_, l, _) if **l == ast::Expr::Latest)
                }
                _ => false,
            };
            shared += usize::from(p.outputs.iter().skip(1).any(reads_latest));
            for pt in &pts {
                let Some(j) = oracle::jacobian(&p, pt) else {
                    continue;
                };
                assert_eq!(j.len(), m);
                assert!(j.iter().all(|row| row.gradient.len() == n));
                rows += m;
            }
        }
        assert!(
            forward > 50 && reverse > 30 && arrays > 50 && 200 - arrays > 50 && shared > 20,
            "{forward} forward, {reverse} reverse, {arrays} arrays, {shared} sharing the latest local"
        );
        assert!(rows > 400, "{rows} rows");
    }

    /// Compares the second-order oracle's Hessian of `p` at `pt` with central differences of
    /// the first-order oracle's exact gradient, where two step sizes agree (smooth there), and
    /// its mixed partials with each other; returns the entries compared and how many of those
    /// were not 0. Component `j` is a scalar `wrt` parameter or an element of `wa` (flattened,
    /// as the gradient).
    fn hessian_against_differences(p: &Program, pt: &Point) -> (usize, usize) {
        let (mut compared, mut nonzero) = (0, 0);
        let (Some(e), Some(s)) = (value_and_gradient(p, pt), oracle::hessian(p, pt)) else {
            return (0, 0);
        };
        let n = p.n_grad();
        assert_eq!((s.hessian.len(), e.gradient.len()), (n, n));
        assert!(s.hessian.iter().all(|r| r.len() == n));
        let fair = |x: f64| x.is_finite() && x.abs() < 1e6;
        if !e
            .gradient
            .iter()
            .chain(s.hessian.iter().flatten())
            .all(|&x| fair(x))
        {
            return (0, 0);
        }
        for j in 0..n {
            let at = |h: f64| -> Option<Vec<f64>> {
                let (mut up, mut down) = (pt.clone(), pt.clone());
                if j < p.n_wrt {
                    up.w[j] += h;
                    down.w[j] -= h;
                } else {
                    up.wa[j - p.n_wrt] += h;
                    down.wa[j - p.n_wrt] -= h;
                }
                let (u, d) = (value_and_gradient(p, &up)?, value_and_gradient(p, &down)?);
                Some(
                    u.gradient
                        .iter()
                        .zip(&d.gradient)
                        .map(|(u, d)| (u - d) / (2.0 * h))
                        .collect(),
                )
            };
            let (Some(coarse), Some(fine)) = (at(1e-4), at(1e-5)) else {
                continue;
            };
            for i in 0..n {
                let (c, f, h) = (coarse[i], fine[i], s.hessian[i][j]);
                if (c - f).abs() > 1e-6 * c.abs().max(1.0) {
                    continue;
                }
                assert!(
                    (f - h).abs() <= 1e-5 * f.abs().max(1.0),
                    "h[{i}][{j}] = {h:e}, differences {f:e}: {p:?} at {pt:?}"
                );
                let t = s.hessian[j][i];
                assert!(
                    (t - h).abs() <= 1e-9 * h.abs().max(1.0) + 1e-12 * s.scale[i][j],
                    "h[{i}][{j}] = {h:e}, h[{j}][{i}] = {t:e}: {p:?}"
                );
                compared += 1;
                nonzero += usize::from(h != 0.0);
            }
        }
        (compared, nonzero)
    }

    /// The second-order oracle (a dual of duals) against central differences of the
    /// first-order oracle's exact gradient, where two step sizes agree (smooth there), and
    /// its mixed partials agree to rounding.
    #[test]
    fn the_hessian_is_the_derivative_of_the_gradient() {
        let mut runner = TestRunner::deterministic();
        let (mut compared, mut nonzero) = (0, 0);
        for _ in 0..200 {
            let (p, pts) = gen::case(2).new_tree(&mut runner).unwrap().current();
            for pt in &pts {
                let (c, z) = hessian_against_differences(&p, pt);
                compared += c;
                nonzero += z;
            }
        }
        assert!(
            compared > 300 && nonzero > 100,
            "{compared} entries, {nonzero} nonzero"
        );
    }

    /// The same for programs of the loop language (the oracle's generic run with `N =
    /// Dual<Dual>`: loops, jumps, local arrays), over the flattened components, the elements
    /// of `wa` included.
    #[test]
    fn the_hessian_of_a_loop_program_is_the_derivative_of_its_gradient() {
        let mut runner = TestRunner::deterministic();
        let (mut compared, mut nonzero, mut array_entries) = (0, 0, 0);
        for _ in 0..150 {
            let (p, pts) = gen::loop_case(2).new_tree(&mut runner).unwrap().current();
            for pt in &pts {
                let (c, z) = hessian_against_differences(&p, pt);
                compared += c;
                nonzero += z;
                if p.wrt_array {
                    array_entries += c;
                }
            }
        }
        assert!(
            compared > 1500 && nonzero > 300 && array_entries > 1000,
            "{compared} entries, {nonzero} nonzero, {array_entries} in programs with `wa`"
        );
    }
}
