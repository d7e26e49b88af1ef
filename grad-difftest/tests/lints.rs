//! Generated code adds no warning, across the whole generated language: the batches' programs
//! (straight-line, loops, second order, Jacobians, escapes) are built twice by `cargo clippy`
//! (rustc's lints and clippy's defaults), as written and without `#[grad]`, and every warning
//! of the first build must be one of the second's, at the same line and column with the same
//! message. A warning the macro's code causes at a user's line (`unused_parens` around a
//! range it copied into a loop) is one the plain build does not have.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The warnings of `cargo clippy` on a crate whose library is `source`, as `line:col: message`.
fn warnings(dir: &Path, root: &Path, target: &Path, source: &str) -> BTreeSet<String> {
    std::fs::create_dir_all(dir.join("src")).expect("cannot create the lint crate");
    let manifest = format!(
        "[package]\nname = \"lint-{}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\nbackprop = {{ path = {:?} }}\n\n[workspace]\n",
        dir.file_name().and_then(|n| n.to_str()).unwrap_or("crate"),
        root
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("cannot write the manifest");
    // The batches' own lint levels: generated data may be unused, constants are long.
    let lib = format!("#![allow(dead_code)]\n{source}");
    std::fs::write(dir.join("src/lib.rs"), lib).expect("cannot write the library");
    let out = Command::new(env!("CARGO"))
        .args(["clippy", "--quiet", "--message-format=short", "--offline"])
        // Deny-by-default lints (clippy's `eq_op` on `a < a`) are warnings here, counted alike.
        .args(["--", "--cap-lints", "warn"])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(dir)
        .output()
        .expect("cargo clippy runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the lint crate does not build:\n{stderr}"
    );
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("src/lib.rs:"))
        .filter(|l| l.contains(": warning: "))
        .map(String::from)
        .collect()
}

#[test]
fn the_macro_adds_no_warning() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("grad-difftest is in the workspace")
        .to_path_buf();
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("lint-check");
    let target = base.join("target");
    let read = |name: &str| {
        std::fs::read_to_string(Path::new(env!("OUT_DIR")).join(name))
            .expect("the build script wrote the lint files")
    };
    let with = warnings(&base.join("with"), &root, &target, &read("lint_with.rs"));
    let without = warnings(
        &base.join("without"),
        &root,
        &target,
        &read("lint_without.rs"),
    );
    let added: Vec<&String> = with.difference(&without).collect();
    assert!(
        added.is_empty(),
        "{} warnings that the programs without #[grad] do not have (of {} with, {} without):\n{}",
        added.len(),
        with.len(),
        without.len(),
        added
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The comparison compares something: the random programs have warnings of their own.
    assert!(!without.is_empty());
}
