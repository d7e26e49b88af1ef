//! The crate exists for its build script, which writes batches of generated `#[grad]`
//! programs and their oracle gradients, and for `tests/compiled.rs`, which compiles them with
//! the real macro and checks the companions. See `TESTING.md`.

/// Helpers of the generated callers that live in another crate than their callers: the
/// callers are in `tests/compiled.rs`, a crate of its own, and call these by path
/// (`grad_difftest::calls::c3_h1(..)`). Written by the build script.
#[doc(hidden)]
#[allow(unused, clippy::all, clippy::pedantic)]
pub mod calls {
    include!(concat!(env!("OUT_DIR"), "/calls.rs"));
}
