//! Compile-fail cases: every error the macro reports, with a snapshot of the message and span.
//! `TRYBUILD=overwrite cargo test -p backprop-ui` rewrites the snapshots (review the diff).
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("*.rs");
}
