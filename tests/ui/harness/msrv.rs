//! The `rust-version` the published crates claim holds for what they build with: every crate
//! in their normal dependency graph, at the versions `Cargo.lock` holds, declares a
//! `rust-version` no newer (or none). Their own code is checked against it by clippy's
//! `incompatible_msrv` lint in CI. (The test suite's dev-dependencies and trybuild snapshots
//! are the CI toolchain's, not part of the claim.)

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn version(v: &str) -> Vec<u64> {
    v.split('.').filter_map(|p| p.parse().ok()).collect()
}

#[test]
fn published_crates_build_with_the_rust_version_they_claim() {
    // Not `--offline`: the graph spans every platform, and a build here never downloads the
    // crates only other platforms use (cargo fetches them if they are not in its cache).
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata is JSON");
    let packages: BTreeMap<&str, &Value> = m["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("id"), p))
        .collect();
    let nodes: BTreeMap<&str, &Value> = m["resolve"]["nodes"]
        .as_array()
        .expect("resolve")
        .iter()
        .map(|n| (n["id"].as_str().expect("id"), n))
        .collect();
    let published = ["backprop", "grad-macro", "grad-runtime"];
    let mut stack: Vec<&str> = packages
        .iter()
        .filter(|(_, p)| published.contains(&p["name"].as_str().unwrap_or("")))
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(stack.len(), 3);
    let claim = version(
        packages[stack[0]]["rust_version"]
            .as_str()
            .expect("a rust-version"),
    );
    let mut seen = BTreeSet::new();
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        let p = packages[id];
        if let Some(rv) = p["rust_version"].as_str() {
            assert!(
                version(rv) <= claim,
                "{} {} needs Rust {rv}, newer than the {claim:?} claimed",
                p["name"],
                p["version"]
            );
        }
        for dep in nodes[id]["deps"].as_array().expect("deps") {
            let normal = dep["dep_kinds"]
                .as_array()
                .expect("dep_kinds")
                .iter()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if normal {
                stack.push(dep["pkg"].as_str().expect("pkg"));
            }
        }
    }
    assert!(seen.len() >= 6, "only {} crates in the graph", seen.len());
}
