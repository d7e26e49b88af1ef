//! Compile-fail cases: every error the macro reports, with a snapshot of the message and span.
#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
