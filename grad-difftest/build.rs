//! Writes `$OUT_DIR/generated.rs`: a fixed-seed batch of random programs (`grad-testgen`),
//! each with `#[grad]`, and a `check_all` that compares the compiled companions with the
//! oracle's gradients (embedded as exact literals) and the compiled original's value.
//! `GRAD_COMPILED_CASES` sets the batch size (default 40), `GRAD_FUZZ_SEED` the seed.

use grad_testgen::{gen, oracle};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::fmt::Write;

fn main() {
    println!("cargo:rerun-if-env-changed=GRAD_COMPILED_CASES");
    println!("cargo:rerun-if-env-changed=GRAD_FUZZ_SEED");
    let cases: usize = std::env::var("GRAD_COMPILED_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let seed: u64 = std::env::var("GRAD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );

    let mut fns = String::new();
    let mut checks = String::new();
    for i in 0..cases {
        let tree = match gen::case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i}: {e}"),
        };
        let (p, points) = tree.current();
        let name = format!("f{i}");
        let source = p.source(&name);
        fns.push_str(&source);
        for pt in &points {
            let Some(oracle::Expected {
                value,
                gradient: grad,
                scale,
            }) = oracle::value_and_gradient(&p, pt)
            else {
                continue;
            };
            if !grad.iter().all(|g| g.is_finite() && g.abs() < 1e8) {
                continue;
            }
            let mut args: Vec<String> =
                pt.w.iter().chain(&pt.x).map(|v| format!("{v:?}")).collect();
            args.push(pt.k.to_string());
            args.push(pt.flag.to_string());
            // Hidden from the optimiser: LLVM may constant-fold `powi` differently from the
            // runtime (its precision is unspecified), which would make the original and the
            // companion differ in a way no code of ours decides.
            let names: Vec<String> = (0..args.len()).map(|j| format!("a{j}")).collect();
            let (args, names) = (args.join(", "), names.join(", "));
            let expected: Vec<String> = grad.iter().map(|g| format!("{g:?}")).collect();
            let scales: Vec<String> = scale.iter().map(|g| format!("{g:?}")).collect();
            let _ = writeln!(
                checks,
                "    let ({names}) = std::hint::black_box(({args}));\n    n += check(Case {{ source: {source:?}, args: \"{args}\", value: {value:?}, gradient: &[{}], scale: &[{}] }}, {name}({names}), {name}_value_and_grad({names}));",
                expected.join(", "),
                scales.join(", ")
            );
        }
    }

    let out = format!(
        "use grad::grad;\n\nconst K: f64 = {:?};\n\n{fns}\n/// Checks every generated point; returns how many.\npub fn check_all() -> usize {{\n    let mut n = 0;\n{checks}    n\n}}\n",
        grad_testgen::ast::USER_CONST
    );
    let path = std::path::Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into()))
        .join("generated.rs");
    if let Err(e) = std::fs::write(&path, out) {
        panic!("writing {}: {e}", path.display());
    }
}
