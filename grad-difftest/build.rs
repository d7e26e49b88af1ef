//! Writes `$OUT_DIR/generated.rs`: fixed-seed batches of random programs (`grad-testgen`),
//! each with `#[grad]`, and a `check_all` that compares the compiled companions with the
//! oracle's gradients (embedded as exact literals) and the compiled original's value.
//!
//! Five batches: programs of the straight-line language (`f0`, `f1`, ..; the one the IR path
//! checks too), of the loop language (`g0`, `g1`, ..: loops, jumps, `match`, arrays, iterator
//! sums), callers of generated helpers (`c0`, `c1`, ..: calls between `#[grad]` functions),
//! straight-line programs compiled with `mode = forward` and with `hessian` (`s0_fwd`,
//! `s0`, `s0_both`, ..: see [`Second`]), and functions returning several floats, whose
//! `_jacobian` is compiled in the default mode, with `mode = forward` and with `mode =
//! reverse` (`j0`, `j0_fwd`, `j0_rev`, ..: see [`Jacobians`]), each from its own random
//! stream, so adding one batch does not change the others. A caller's helpers (`c0_h0`, ..)
//! are written next to it, in the nested module `m`, or, `pub`, in `$OUT_DIR/calls.rs`, which
//! this crate's library includes (`src/lib.rs`): the test calls those across crates.
//! `GRAD_COMPILED_CASES` sets the size of all five (default 40, 40, 40, 20 and 20),
//! `GRAD_COMPILED_LOOP_CASES`, `GRAD_COMPILED_CALL_CASES`, `GRAD_COMPILED_SECOND_CASES` and
//! `GRAD_COMPILED_JACOBIAN_CASES` that of the second, the third, the fourth and the fifth
//! alone, `GRAD_FUZZ_SEED` the seed.

use grad_testgen::ast::{CallSite, Place};
use grad_testgen::{gen, oracle, Multi, Point, Program};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::fmt::Write;

fn env(name: &str) -> Option<u64> {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

fn runner(seed: u64, stream: u8) -> TestRunner {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    seed_bytes[8] = stream;
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    )
}

/// The features of the loop language a program's source shows, for the run's summary.
const FEATURES: &[(&str, &str)] = &[
    ("for over a range", " in 0.."),
    ("inclusive range", "..="),
    (".rev()", ".rev()"),
    ("range from data", "unsigned_abs()"),
    ("for over an array", ".iter()"),
    (".enumerate()", ".enumerate()"),
    (".zip(..)", ".zip("),
    ("while", "while "),
    ("break", "break;"),
    ("continue", "continue;"),
    ("return", "return "),
    ("match", "match "),
    ("local array", "[0.0; "),
    ("wrt array", "wa: [f64"),
    ("iterator sum", ".sum::<f64>()"),
    ("iterator product", ".product::<f64>()"),
];

#[derive(Default)]
struct Batch {
    fns: String,
    checks: String,
    programs: usize,
    features: Vec<usize>,
    /// Points checked, and gradient components the oracle says are not 0 there.
    points: usize,
    nonzero: usize,
    /// Helpers in the nested module, and in the library (another crate).
    module: String,
    lib: String,
    /// The calls in the source, and how many the oracle ran at the points checked.
    sites: Vec<CallSite>,
    calls_run: usize,
}

impl Batch {
    /// A caller: its helpers, named after it, go where they live, then the caller itself.
    fn add_caller(&mut self, name: &str, mut p: Program, points: &[Point]) {
        p.name_callees(name);
        for c in &p.callees {
            let out = match c.place {
                Place::Here | Place::Super => &mut self.fns,
                Place::Module => &mut self.module,
                Place::Crate => &mut self.lib,
            };
            out.push_str(&c.source());
        }
        self.sites.extend(p.call_sites());
        self.add(name, &p, points);
    }

    /// The summary of the calls.
    fn calls(&self) -> String {
        let count = |f: &dyn Fn(&CallSite) -> bool| self.sites.iter().filter(|c| f(c)).count();
        format!(
            "{} call sites: {} in the same module, {} by `m::` path, {} by `super::` path, {} in another crate; {} to building blocks, {} to `wrt` helpers; {} inside loops ({} there in a branch of an `if`), {} with a call as argument, {} between helpers, {} recursive; {} calls run at the points checked",
            self.sites.len(),
            count(&|c| c.place == Place::Here && !c.recursive),
            count(&|c| c.place == Place::Module && !c.recursive),
            count(&|c| c.place == Place::Super),
            count(&|c| c.place == Place::Crate && !c.recursive),
            count(&|c| c.building_block),
            count(&|c| !c.building_block),
            count(&|c| c.in_loop),
            count(&|c| c.in_loop && c.in_branch),
            count(&|c| c.nested),
            count(&|c| c.in_helper && !c.recursive),
            count(&|c| c.recursive),
            self.calls_run,
        )
    }

    fn add(&mut self, name: &str, p: &Program, points: &[Point]) {
        let source = p.source(name);
        self.programs += 1;
        self.features.resize(FEATURES.len(), 0);
        for (i, (_, needle)) in FEATURES.iter().enumerate() {
            if source.contains(needle) {
                self.features[i] += 1;
            }
        }
        self.fns.push_str(&source);
        // A failure shows the caller's helpers too, each under the path it is called by.
        let mut shown = String::new();
        for c in &p.callees {
            let _ = write!(shown, "// {}\n{}", c.path(), c.source());
        }
        let source = shown + &source;
        for pt in points {
            let Some(oracle::Expected {
                value,
                gradient: grad,
                scale,
            }) = oracle::value_and_gradient(p, pt)
            else {
                continue;
            };
            // An infinite derivative on the way (even if it cancels) is where reverse mode may
            // meet `0 · ∞`: not a fair comparison, as for an infinite value.
            if !grad.iter().all(|g| g.is_finite() && g.abs() < 1e8)
                || !scale.iter().all(|s| s.is_finite())
            {
                continue;
            }
            self.points += 1;
            self.nonzero += grad.iter().filter(|g| **g != 0.0).count();
            if !p.callees.is_empty() {
                self.calls_run += oracle::calls_run(p, pt);
            }
            let args = p.args(pt);
            // Hidden from the optimiser: LLVM may constant-fold `powi` differently from the
            // runtime (its precision is unspecified), which would make the original and the
            // companion differ in a way no code of ours decides.
            let names: Vec<String> = (0..args.len()).map(|j| format!("a{j}")).collect();
            let (args, names) = (args.join(", "), names.join(", "));
            let expected: Vec<String> = grad.iter().map(|g| format!("{g:?}")).collect();
            let scales: Vec<String> = scale.iter().map(|g| format!("{g:?}")).collect();
            let _ = writeln!(
                self.checks,
                "    let ({names}) = std::hint::black_box(({args}));\n    n += check(Case {{ source: {source:?}, args: \"{args}\", value: {value:?}, gradient: &[{}], scale: &[{}], caller: {} }}, || {name}({names}), || {name}_value_and_grad({names}), || {name}_grad({names}));",
                expected.join(", "),
                scales.join(", "),
                !p.callees.is_empty()
            );
        }
    }
}

/// The fourth batch: straight-line programs (scalar `wrt` parameters only), each compiled twice,
/// `s{i}_fwd` with `mode = forward` and `s{i}` with `hessian`, and every third a third time,
/// `s{i}_both` with both; checked against the oracle's gradient, gradient · [`TANGENT`], and
/// its Hessian (a dual of duals, `oracle::hessian`).
#[derive(Default)]
struct Second {
    fns: String,
    checks: String,
    programs: usize,
    /// Points checked, Hessian entries compared (each function with `hessian`), and of those
    /// the ones the oracle says are not 0.
    points: usize,
    entries: usize,
    nonzero: usize,
}

/// The tangent of `_jvp` and the vector of `_hvp` (their first `n_wrt` components).
const TANGENT: [f64; 3] = [0.75, -1.25, 0.5];
const VECTOR: [f64; 3] = [-0.5, 1.0, 0.375];

impl Second {
    fn add(&mut self, i: u64, p: &Program, points: &[Point]) {
        let name = format!("s{i}");
        let both = i % 3 == 0;
        let mut fns = vec![
            (format!("{name}_fwd"), "mode = forward"),
            (name.clone(), "hessian"),
        ];
        if both {
            fns.push((format!("{name}_both"), "mode = forward, hessian"));
        }
        let mut shown = String::new();
        for (f, options) in &fns {
            let source = p.source_with(f, options);
            self.fns.push_str(&source);
            shown.push_str(&source);
        }
        self.programs += 1;
        let n = p.n_wrt;
        let list = |v: &[f64]| {
            let v: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
            v.join(", ")
        };
        for pt in points {
            let Some(oracle::Expected {
                value,
                gradient,
                scale,
            }) = oracle::value_and_gradient(p, pt)
            else {
                continue;
            };
            let Some(oracle::Second {
                hessian,
                scale: h_scale,
            }) = oracle::hessian(p, pt)
            else {
                continue;
            };
            // As for the gradient (see `Batch::add`): an infinite or huge derivative on the way is
            // not a fair comparison.
            let fair = |v: &[f64], s: &[f64]| {
                v.iter().all(|g| g.is_finite() && g.abs() < 1e8) && s.iter().all(|s| s.is_finite())
            };
            if !fair(&gradient, &scale) || !hessian.iter().zip(&h_scale).all(|(h, s)| fair(h, s)) {
                continue;
            }
            self.points += 1;
            let with_hessian = fns.len() - 1;
            self.entries += with_hessian * n * n;
            self.nonzero += with_hessian * hessian.iter().flatten().filter(|h| **h != 0.0).count();
            let args = p.args(pt);
            let names: Vec<String> = (0..args.len()).map(|j| format!("a{j}")).collect();
            let (args, names) = (args.join(", "), names.join(", "));
            let (t, v) = (&TANGENT[..n], &VECTOR[..n]);
            let tn: Vec<String> = (0..n).map(|j| format!("t{j}")).collect();
            let vn: Vec<String> = (0..n).map(|j| format!("v{j}")).collect();
            let (tn, vn) = (tn.join(", "), vn.join(", "));
            let flat: Vec<f64> = hessian.concat();
            let flat_scale: Vec<f64> = h_scale.concat();
            let _ = writeln!(
                self.checks,
                "    let ({names}, ({tn},), ({vn},)) = std::hint::black_box(({args}, ({},), ({},)));\n    let case = SecondCase {{ source: {shown:?}, args: \"{args}\", value: {value:?}, gradient: &[{}], scale: &[{}], tangent: &[{}], vector: &[{}], hessian: &[{}], hessian_scale: &[{}] }};",
                list(t),
                list(v),
                list(&gradient),
                list(&scale),
                list(t),
                list(v),
                list(&flat),
                list(&flat_scale),
            );
            let a = format!("({names})");
            let at = format!("({names}, {tn})");
            let av = format!("({names}, {vn})");
            let f = &fns[0].0;
            let _ = writeln!(
                self.checks,
                "    n += check_forward(&case, || {name}{a}, || {f}_value_and_grad{a}, || {f}_grad{a}, || {f}_jvp{at});\n    n += check_hessian(&case, || {name}_hessian{a}, || {name}_hvp{av});"
            );
            if both {
                let f = format!("{name}_both");
                let _ = writeln!(
                    self.checks,
                    "    n += check_forward(&case, || {name}{a}, || {f}_value_and_grad{a}, || {f}_grad{a}, || {f}_jvp{at});\n    n += check_hessian(&case, || {f}_hessian{a}, || {f}_hvp{av});"
                );
            }
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} straight-line programs in forward mode and with `hessian` ({} points, {} Hessian entries compared, {} of them nonzero)",
            self.programs, self.points, self.entries, self.nonzero
        )
    }
}

/// The fifth batch: functions returning several floats (`gen::multi_program`: straight-line
/// statements, scalar `wrt` parameters, 2–3 results as a tuple or an array), each compiled
/// three times, `j{i}` (the default mode: forward when there are no more `wrt` parameters than
/// results, reverse otherwise), `j{i}_fwd` (`mode = forward`) and `j{i}_rev` (`mode =
/// reverse`); every `_jacobian` is checked entry by entry against the oracle (row `i` the
/// gradient of the program ending with result `i`, `oracle::jacobian`), and each original's
/// results against the oracle's values.
#[derive(Default)]
struct Jacobians {
    fns: String,
    checks: String,
    programs: usize,
    /// Programs returning an array (the others return a tuple).
    arrays: usize,
    /// Programs the default mode compiles forward (`n_wrt <= m`) and in reverse. The body is
    /// straight-line, which forward mode always takes (`j{i}_fwd`, `mode = forward`, would not
    /// compile otherwise), so the macro falls back to reverse mode for none of them.
    forward: usize,
    reverse: usize,
    /// Points checked, Jacobian entries compared (over the three compilations), and of those
    /// the ones the oracle says are not 0.
    points: usize,
    entries: usize,
    nonzero: usize,
}

/// The three compilations of a program of the fifth batch: name suffix and options.
const JACOBIAN_MODES: [(&str, &str); 3] = [
    ("", ""),
    ("_fwd", "mode = forward"),
    ("_rev", "mode = reverse"),
];

impl Jacobians {
    fn add(&mut self, i: u64, p: &Multi, points: &[Point]) {
        let name = format!("j{i}");
        let (n, m) = (p.body.n_wrt, p.outputs.len());
        let mut shown = String::new();
        for (suffix, options) in JACOBIAN_MODES {
            let source = p.source_with(&format!("{name}{suffix}"), options);
            self.fns.push_str(&source);
            shown.push_str(&source);
        }
        self.programs += 1;
        self.arrays += usize::from(p.array);
        let default = if n <= m {
            self.forward += 1;
            "default mode (forward)"
        } else {
            self.reverse += 1;
            "default mode (reverse)"
        };
        let list = |v: &[f64]| {
            let v: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
            v.join(", ")
        };
        for pt in points {
            let Some(rows) = oracle::jacobian(p, pt) else {
                continue;
            };
            // As for the gradient (see `Batch::add`): an infinite or huge derivative on the way is
            // not a fair comparison.
            let fair = |r: &oracle::Expected| {
                r.gradient.iter().all(|g| g.is_finite() && g.abs() < 1e8)
                    && r.scale.iter().all(|s| s.is_finite())
            };
            if !rows.iter().all(fair) {
                continue;
            }
            self.points += 1;
            let jacobian: Vec<f64> = rows.iter().flat_map(|r| r.gradient.clone()).collect();
            let scale: Vec<f64> = rows.iter().flat_map(|r| r.scale.clone()).collect();
            let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
            self.entries += JACOBIAN_MODES.len() * n * m;
            self.nonzero += JACOBIAN_MODES.len() * jacobian.iter().filter(|g| **g != 0.0).count();
            let args = p.body.args(pt);
            let names: Vec<String> = (0..args.len()).map(|j| format!("a{j}")).collect();
            let (args, names) = (args.join(", "), names.join(", "));
            let _ = writeln!(
                self.checks,
                "    let ({names}) = std::hint::black_box(({args}));\n    let case = JacobianCase {{ source: {shown:?}, args: \"{args}\", values: &[{}], jacobian: &[{}], scale: &[{}] }};",
                list(&values),
                list(&jacobian),
                list(&scale),
            );
            for (suffix, options) in JACOBIAN_MODES {
                let f = format!("{name}{suffix}");
                let mode = if options.is_empty() { default } else { options };
                let _ = writeln!(
                    self.checks,
                    "    n += check_jacobian(&case, \"{f}: {mode}\", || {f}({names}), || {f}_jacobian({names}));"
                );
            }
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} functions returning several floats ({} tuples, {} arrays), each with `_jacobian` in the default mode ({} forward, {} reverse), `mode = forward` and `mode = reverse` ({} points, {} Jacobian entries compared, {} of them nonzero)",
            self.programs,
            self.programs - self.arrays,
            self.arrays,
            self.forward,
            self.reverse,
            self.points,
            self.entries,
            self.nonzero
        )
    }
}

fn main() {
    let seed = env("GRAD_FUZZ_SEED").unwrap_or(3);
    let cases = env("GRAD_COMPILED_CASES");
    let loop_cases = env("GRAD_COMPILED_LOOP_CASES").or(cases).unwrap_or(40);
    let call_cases = env("GRAD_COMPILED_CALL_CASES").or(cases).unwrap_or(40);
    let second_cases = env("GRAD_COMPILED_SECOND_CASES").or(cases).unwrap_or(20);
    let jacobian_cases = env("GRAD_COMPILED_JACOBIAN_CASES").or(cases).unwrap_or(20);
    let cases = cases.unwrap_or(40);

    let mut plain = Batch::default();
    let mut runner = runner(seed, 0);
    for i in 0..cases {
        let tree = match gen::case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i}: {e}"),
        };
        let (p, points) = tree.current();
        plain.add(&program_name("f", i), &p, &points);
    }
    let mut loops = Batch::default();
    let mut runner = self::runner(seed, 1);
    for i in 0..loop_cases {
        let tree = match gen::loop_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating loop program {i}: {e}"),
        };
        let (p, points) = tree.current();
        loops.add(&format!("g{i}"), &p, &points);
    }

    let mut calls = Batch::default();
    let mut runner = self::runner(seed, 2);
    for i in 0..call_cases {
        let tree = match gen::call_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating caller {i}: {e}"),
        };
        let (p, points) = tree.current();
        calls.add_caller(&format!("c{i}"), p, &points);
    }

    let mut second = Second::default();
    let mut runner = self::runner(seed, 3);
    for i in 0..second_cases {
        let tree = match gen::case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of the second-order batch: {e}"),
        };
        let (p, points) = tree.current();
        second.add(i, &p, &points);
    }

    let mut jacobians = Jacobians::default();
    let mut runner = self::runner(seed, 4);
    for i in 0..jacobian_cases {
        let tree = match gen::multi_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of the Jacobian batch: {e}"),
        };
        let (p, points) = tree.current();
        jacobians.add(i, &p, &points);
    }

    let mut summary = format!(
        "seed {seed}: {} straight-line programs ({} points, {} nonzero gradient components), {} loop programs ({} points, {} nonzero components; ",
        plain.programs, plain.points, plain.nonzero, loops.programs, loops.points, loops.nonzero
    );
    let feats: Vec<String> = FEATURES
        .iter()
        .zip(&loops.features)
        .map(|((name, _), n)| format!("{name} {n}"))
        .collect();
    let _ = write!(
        summary,
        "{}), {} callers ({} points, {} nonzero components; {})",
        feats.join(", "),
        calls.programs,
        calls.points,
        calls.nonzero,
        calls.calls()
    );
    let _ = write!(summary, ", {}", second.summary());
    let _ = write!(summary, ", {}", jacobians.summary());

    let k = grad_testgen::ast::USER_CONST;
    let out = format!(
        "use grad::grad;\n\nconst K: f64 = {k:?};\n\n/// What the batch holds.\npub const SUMMARY: &str = {summary:?};\n\n{}{}{}{}{}\npub mod {} {{\n    use grad::grad;\n    use super::K;\n\n{}}}\n\n/// Checks every generated point; returns how many.\npub fn check_all() -> usize {{\n    let mut n = 0;\n{}{}{}{}{}    n\n}}\n",
        plain.fns,
        loops.fns,
        calls.fns,
        second.fns,
        jacobians.fns,
        grad_testgen::ast::CALL_MODULE,
        calls.module,
        plain.checks,
        loops.checks,
        calls.checks,
        second.checks,
        jacobians.checks,
    );
    write("generated.rs", &out);
    let lib = format!("use grad::grad;\n\nconst K: f64 = {k:?};\n\n{}", calls.lib);
    write("calls.rs", &lib);
}

/// BUG (reported, see TESTING.md): since every `#[grad]` function gets a pullback struct of
/// its own name, one named like a primitive type (`#[grad(wrt = w)] fn f64(w: f64) -> f64`)
/// shadows that type in its module, and nothing there compiles ("cannot multiply `f64` by
/// `f64`"). The 65th straight-line program was `f64`. While this is `true`, such a name is written
/// `f_64`.
const WORK_AROUND_PRIMITIVE_NAMES: bool = true;

/// `{prefix}{i}`, the name of a generated program.
fn program_name(prefix: &str, i: u64) -> String {
    let name = format!("{prefix}{i}");
    let primitive = ["f32", "f64"].contains(&name.as_str());
    if WORK_AROUND_PRIMITIVE_NAMES && primitive {
        format!("{prefix}_{i}")
    } else {
        name
    }
}

fn write(name: &str, text: &str) {
    let path =
        std::path::Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join(name);
    if let Err(e) = std::fs::write(&path, text) {
        panic!("writing {}: {e}", path.display());
    }
}
