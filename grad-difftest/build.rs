//! Writes `$OUT_DIR/generated.rs`: fixed-seed batches of random programs (`grad-testgen`),
//! each with `#[grad]`, and a `check_all` that compares the compiled companions with the
//! oracle's gradients (embedded as exact literals) and the compiled original's value.
//!
//! Two batches: programs of the straight-line language (`f0`, `f1`, ..; the one the IR path
//! checks too) and of the loop language (`g0`, `g1`, ..: loops, jumps, `match`, arrays,
//! iterator sums), each from its own random stream, so adding one batch does not change the
//! other. `GRAD_COMPILED_CASES` sets the size of both (default 40), `GRAD_COMPILED_LOOP_CASES`
//! that of the second alone, `GRAD_FUZZ_SEED` the seed.

use grad_testgen::{gen, oracle, Point, Program};
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
}

impl Batch {
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
                "    let ({names}) = std::hint::black_box(({args}));\n    n += check(Case {{ source: {source:?}, args: \"{args}\", value: {value:?}, gradient: &[{}], scale: &[{}] }}, || {name}({names}), || {name}_value_and_grad({names}), || {name}_grad({names}));",
                expected.join(", "),
                scales.join(", ")
            );
        }
    }
}

fn main() {
    let seed = env("GRAD_FUZZ_SEED").unwrap_or(3);
    let cases = env("GRAD_COMPILED_CASES");
    let loop_cases = env("GRAD_COMPILED_LOOP_CASES").or(cases).unwrap_or(40);
    let cases = cases.unwrap_or(40);

    let mut plain = Batch::default();
    let mut runner = runner(seed, 0);
    for i in 0..cases {
        let tree = match gen::case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i}: {e}"),
        };
        let (p, points) = tree.current();
        plain.add(&format!("f{i}"), &p, &points);
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

    let mut summary = format!(
        "seed {seed}: {} straight-line programs ({} points, {} nonzero gradient components), {} loop programs ({} points, {} nonzero components; ",
        plain.programs, plain.points, plain.nonzero, loops.programs, loops.points, loops.nonzero
    );
    let feats: Vec<String> = FEATURES
        .iter()
        .zip(&loops.features)
        .map(|((name, _), n)| format!("{name} {n}"))
        .collect();
    let _ = write!(summary, "{})", feats.join(", "));

    let out = format!(
        "use grad::grad;\n\nconst K: f64 = {:?};\n\n/// What the batch holds.\npub const SUMMARY: &str = {summary:?};\n\n{}{}\n/// Checks every generated point; returns how many.\npub fn check_all() -> usize {{\n    let mut n = 0;\n{}{}    n\n}}\n",
        grad_testgen::ast::USER_CONST,
        plain.fns,
        loops.fns,
        plain.checks,
        loops.checks,
    );
    let path = std::path::Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
        .join("generated.rs");
    if let Err(e) = std::fs::write(&path, out) {
        panic!("writing {}: {e}", path.display());
    }
}
