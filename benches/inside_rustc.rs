//! What the attribute costs inside rustc, where every token the macro reads and writes crosses
//! the proc-macro bridge. `cargo bench --bench inside_rustc`; see BENCHMARKS.md.
//!
//! The bench writes a crate with the 1,000-statement synthetic function of the `expansion`
//! bench (`grad_testgen::synthetic`) under `target/inside-rustc/`, once with `#[grad]` and once
//! without, and checks it repeatedly with `-Ztime-passes`, reading rustc's own
//! `macro_expand_crate` time. That flag is unstable: the bench sets `RUSTC_BOOTSTRAP=1` for
//! these builds only, so a stable toolchain does. It measures the macro compiled two ways: as
//! Cargo builds it by default (unoptimised, like every proc macro in a debug build) and with
//! `[profile.dev.build-override] opt-level = 3`, which the crate documentation recommends for
//! long functions. Each way builds the macro once, which takes a minute.
//!
//! `GRAD_INSIDE_RUSTC_RUNS` sets how many checks each figure is the median of (default 11).

use grad_testgen::synthetic;

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    // `cargo bench` passes `--bench`; a filter, or `--test` (as `cargo test --benches` does),
    // means this is not a timing run.
    if std::env::args().skip(1).any(|a| !a.starts_with("--bench")) {
        return;
    }
    let runs: usize = std::env::var("GRAD_INSIDE_RUSTC_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(11);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ is inside the workspace")
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("inside-rustc");
    let (args, item) = synthetic::statements(1000);
    let with = write_crate(&target.join("with"), &root, Some(&args), &item);
    let without = write_crate(&target.join("without"), &root, None, &item);

    println!("macro_expand_crate, 1,000 statements, median of {runs} (min-max), in ms:");
    println!("{:>26} {:>18} {:>18}", "", "with #[grad]", "without");
    for (label, opt) in [("macro unoptimised", "0"), ("macro at opt-level 3", "3")] {
        let w = time_expansion(&with, &target, opt, runs);
        let wo = time_expansion(&without, &target, opt, runs);
        println!("{label:>26} {:>18} {:>18}", show(&w), show(&wo));
    }
}

/// A crate checking `item`, with the attribute when `args` is given.
fn write_crate(
    dir: &Path,
    root: &Path,
    args: Option<&proc_macro2::TokenStream>,
    item: &proc_macro2::TokenStream,
) -> PathBuf {
    std::fs::create_dir_all(dir.join("src")).expect("cannot create the bench crate");
    let manifest = format!(
        "[package]\nname = \"grad-inside-rustc\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[dependencies]\nbackprop = {{ path = {:?} }}\n\n[workspace]\n",
        root.display().to_string()
    );
    let attr = args.map(|a| quote::quote!(#[backprop::grad(#a)]));
    let file: syn::File = syn::parse2(quote::quote! {
        #![allow(dead_code)]
        #attr
        #item
    })
    .expect("the synthetic function parses");
    std::fs::write(dir.join("Cargo.toml"), manifest).expect("cannot write the bench crate");
    std::fs::write(dir.join("src/lib.rs"), prettyplease::unparse(&file))
        .expect("cannot write the bench crate");
    // The workspace's lock file, so that the bench builds the versions the tests use.
    let _ = std::fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"));
    dir.to_path_buf()
}

/// `macro_expand_crate` in ms, sorted, over `runs` checks of the crate.
fn time_expansion(dir: &Path, target: &Path, opt: &str, runs: usize) -> Vec<f64> {
    let lib = dir.join("src/lib.rs");
    let source = std::fs::read(&lib).expect("the bench crate was written");
    let mut times: Vec<f64> = (0..=runs)
        .map(|_| {
            // Rewriting the file makes Cargo check the crate again.
            std::fs::write(&lib, &source).expect("cannot touch the bench crate");
            let out = Command::new(env!("CARGO"))
                .args(["rustc", "-q", "--profile=check", "--", "-Ztime-passes"])
                .current_dir(dir)
                .env("RUSTC_BOOTSTRAP", "1")
                .env("CARGO_TARGET_DIR", target.join("target"))
                .env("CARGO_PROFILE_DEV_BUILD_OVERRIDE_OPT_LEVEL", opt)
                .output()
                .expect("cannot run cargo");
            let text = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success(),
                "the bench crate failed to build:\n{text}"
            );
            text.lines()
                .find(|l| l.ends_with("macro_expand_crate"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|s| s.trim_end_matches(';').parse::<f64>().ok())
                .map(|s| s * 1000.0)
                .expect("rustc printed no macro_expand_crate time")
        })
        .collect();
    // The first check also builds the dependencies: not counted.
    times.remove(0);
    times.sort_by(f64::total_cmp);
    times
}

fn show(t: &[f64]) -> String {
    format!("{:.0} ({:.0}-{:.0})", t[t.len() / 2], t[0], t[t.len() - 1])
}
