//! The escape batch, at compile time: random programs of the escape language
//! (`grad_testgen::escape`) through the whole macro ([`expand::grad`]), each against its
//! verdict. A value that depends on a `wrt` parameter and escapes must be refused by the
//! macro's own error, naming the escape; one whose refusal is rustc's (a predicate without
//! `#[grad]` in a condition) must reach rustc through the callee's pullback; everything else
//! must expand without error. The gradients of the accepted programs are checked compiled, in
//! `grad-difftest` (the seventh batch).
//!
//! `GRAD_FUZZ_CASES=10000 cargo test -p grad-macro --release --lib tests::escape -- --nocapture`
//! runs the long batch.

use crate::expand;
use grad_testgen::escape::{escape_case, Escape, Kind, Verdict};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use quote::ToTokens;

/// What the macro made of a program: `Err(messages)` if it reported errors.
fn expand_source(src: &str) -> Result<String, String> {
    let mut f: syn::ItemFn = syn::parse_str(src).map_err(|e| format!("unparsable: {e}"))?;
    let attr = f.attrs.remove(0);
    let args = match &attr.meta {
        syn::Meta::List(l) => l.tokens.clone(),
        _ => proc_macro2::TokenStream::new(),
    };
    let out = expand::grad(args, f.to_token_stream()).to_string();
    if out.contains("compile_error") {
        Err(out)
    } else {
        Ok(out)
    }
}

/// Checks one program against its verdict; a description of the failure if it does not hold.
fn judge(e: &Escape) -> Result<(), String> {
    let src = e.source("f");
    let got = expand_source(&src);
    match (e.verdict(), got) {
        (Verdict::Macro(fragment), Err(msg)) => {
            if msg.contains(fragment) {
                Ok(())
            } else {
                Err(format!("refused, but not for `{fragment}`: {msg}"))
            }
        }
        (Verdict::Macro(fragment), Ok(_)) => {
            Err(format!("accepted; the macro must refuse it (`{fragment}`)"))
        }
        (Verdict::Rustc(check), Ok(out)) => {
            // The check rustc refuses it with: the stand-in pullback of a function without
            // `#[grad]`, or the float type check of a local.
            if out.contains(check) {
                Ok(())
            } else {
                Err(format!(
                    "the expansion has no `{check}` for rustc to refuse"
                ))
            }
        }
        (Verdict::Rustc(_), Err(msg)) | (Verdict::Accepted, Err(msg)) => {
            Err(format!("refused, but it must compile: {msg}"))
        }
        (Verdict::Accepted, Ok(_)) => Ok(()),
    }
}

#[test]
fn escapes_are_refused_and_the_rest_compiles() {
    let cases = grad_testgen::cases(300);
    // The programs of `grad-difftest`'s seventh batch at the same seed (its default 3, stream
    // 6, cases with their points): that batch compiles the accepted ones of these.
    let seed: u64 = std::env::var("GRAD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    seed_bytes[8] = 6;
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let strategy = escape_case(3);
    // Per kind: [refused by the macro, refused through rustc, accepted].
    let mut counts = vec![[0usize; 3]; Kind::ALL.len()];
    let mut failures = Vec::new();
    for _ in 0..cases {
        let (e, _) = strategy
            .new_tree(&mut runner)
            .expect("the escape strategy generates")
            .current();
        let k = Kind::ALL.iter().position(|k| *k == e.kind).unwrap_or(0);
        counts[k][match e.verdict() {
            Verdict::Macro(_) => 0,
            Verdict::Rustc(_) => 1,
            Verdict::Accepted => 2,
        }] += 1;
        if let Err(why) = judge(&e) {
            failures.push(format!("{why}\n{e:?}"));
        }
    }
    let summary: Vec<String> = Kind::ALL
        .iter()
        .zip(&counts)
        .map(|(k, [m, r, a])| format!("{k:?} {m}/{r}/{a}"))
        .collect();
    println!(
        "escape batch, seed {seed}: {cases} programs (refused by the macro / through rustc / accepted, by kind: {}); {} failures",
        summary.join(", "),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {cases} escape programs against their verdict; the first:\n{}",
        failures.len(),
        failures[..failures.len().min(3)].join("\n---\n")
    );
}
