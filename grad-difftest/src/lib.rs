//! Nothing here: the crate exists for its build script, which writes a batch of generated
//! `#[grad]` programs and their oracle gradients, and for `tests/compiled.rs`, which compiles
//! them with the real macro and checks the companions. See `TESTING.md`.
