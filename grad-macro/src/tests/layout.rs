//! The crate's shape, checked: stages as folders that depend on each other one way, no file
//! included by path, and files small enough to hold one concern each (ARCHITECTURE review,
//! issue 16). A failure names the file and the line.

use std::path::{Path, PathBuf};

/// The stages from the bottom up: a stage may name (`crate::stage`) only stages before it.
/// Within a stage, files are the stage's `mod.rs` and its children. `emit/tokens.rs`, the token
/// helpers every stage that writes Rust uses, is a layer of its own at the bottom (`tokens`):
/// it names only the IR, and naming `crate::emit::tokens` is naming that layer, not `emit`.
const ORDER: &[&str] = &[
    "ir", "tokens", "rules", "build", "opt", "ad", "emit", "front", "lower", "expand",
];

/// The layer a file belongs to (its folder, but `tokens` for `emit/tokens.rs`).
fn layer_of(path: &Path) -> Option<&str> {
    if path == Path::new("emit/tokens.rs") {
        return Some("tokens");
    }
    path.iter().next().and_then(|s| s.to_str())
}

fn sources() -> Vec<(PathBuf, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("src is readable").flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).expect("a source file is readable");
                out.push((p.strip_prefix(&src).expect("under src").to_path_buf(), text));
            }
        }
    }
    out.sort();
    out
}

/// The code of a line, without its `//` comment (string literals are not split: no path
/// this test looks for appears in one before a `//`).
fn code(line: &str) -> &str {
    line.split("//").next().unwrap_or("")
}

/// The lines of a file outside its `#[cfg(test)] mod tests { .. }` (always the file's end).
fn non_test_lines(text: &str) -> Vec<&str> {
    let lines: Vec<&str> = text.lines().collect();
    let end = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].starts_with("mod tests"))
        .unwrap_or(lines.len());
    lines[..end].to_vec()
}

#[test]
fn stages_depend_on_each_other_one_way() {
    let mut wrong = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (path, text) in sources() {
        let Some(stage) = layer_of(&path) else {
            continue;
        };
        let Some(at) = ORDER.iter().position(|s| *s == stage) else {
            continue;
        };
        seen.insert(stage.to_string());
        for (n, line) in text.lines().enumerate() {
            let line = code(line);
            for (k, _) in line.match_indices("crate::") {
                let rest = &line[k + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let name = if rest.starts_with("emit::tokens") {
                    "tokens".to_string()
                } else {
                    name
                };
                let names = if name.is_empty() && rest.starts_with('{') {
                    // `use crate::{a, b::c}`
                    rest[1..]
                        .split('}')
                        .next()
                        .unwrap_or("")
                        .split(',')
                        .map(|s| s.trim().split("::").next().unwrap_or("").to_string())
                        .collect()
                } else {
                    vec![name]
                };
                for name in names {
                    if let Some(to) = ORDER.iter().position(|s| *s == name) {
                        if to > at {
                            wrong.push(format!(
                                "{}:{}: {stage} names {name}",
                                path.display(),
                                n + 1
                            ));
                        }
                    }
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "a stage names a later one:\n{}",
        wrong.join("\n")
    );
    // Every stage folder is in the order, and every stage in the order is a folder.
    let folders: std::collections::BTreeSet<String> = sources()
        .iter()
        .filter(|(p, _)| p.components().count() > 1)
        .filter_map(|(p, _)| layer_of(p).map(String::from))
        .filter(|s| s != "tests")
        .collect();
    let order: std::collections::BTreeSet<String> = ORDER.iter().map(|s| s.to_string()).collect();
    assert_eq!(folders, order, "stage folders and ORDER differ");
    assert_eq!(seen, order);
}

#[test]
fn no_file_is_included_by_path() {
    for (path, text) in sources() {
        for (n, line) in text.lines().enumerate() {
            assert!(
                !code(line).trim_start().starts_with("#[path"),
                "{}:{}: a module included by path",
                path.display(),
                n + 1
            );
        }
    }
}

#[test]
fn files_hold_one_concern_each() {
    let mut over_600 = Vec::new();
    for (path, text) in sources() {
        if path.starts_with("tests") {
            continue;
        }
        let n = non_test_lines(&text).len();
        assert!(n <= 700, "{}: {n} lines (at most 700)", path.display());
        if n > 600 {
            over_600.push(format!("{} ({n})", path.display()));
        }
    }
    assert!(
        over_600.len() <= 2,
        "more than two files over 600 lines: {over_600:?}"
    );
}
