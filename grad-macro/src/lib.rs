//! Implementation detail of the `grad` crate: the `#[grad]` attribute. Depend on `grad`, not
//! on this crate; its API is `grad`'s.
//!
//! The attribute is a pipeline of modules, one stage each:
//! `args` (attribute) → `check` (signature) → `lower` (body to IR, `ir.rs`; `escape` finds
//! where a differentiated value would leave what the macro models, `effects` pins the reads of
//! data that calls change, so the sweep never reads them stale) → `reverse`
//! (reverse sweep, rules from `rules.rs`, code built by `builder.rs`; loops lowered in
//! `lower_loops.rs`) → `simplify` (dead code) → `fuse` (an accumulating loop and its sweep in
//! one pass) → `factor` (a sum's shared factors applied once, after its loop) → `emit` (IR to
//! Rust), driven by `expand`, which also writes each function's pullback for its callers.
//! `rule` is `#[grad::rule]`: a pullback from partials the user gives. Errors are collected in
//! `ctxt`.

mod args;
mod builder;
mod check;
mod ctxt;
mod effects;
mod emit;
mod escape;
mod expand;
mod factor;
mod forward;
mod fuse;
mod ir;
mod lower;
mod per_element;
mod reverse;
mod rule;
mod rules;
mod simplify;
#[cfg(test)]
mod synthetic;
mod trace;

/// Differentiates a scalar function at compile time. See the `grad` crate for the manual.
#[proc_macro_attribute]
pub fn grad(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand::grad(args.into(), item.into()).into()
}

/// Gives a function a derivative rule instead of differentiating its body. See the `grad`
/// crate for the manual.
#[proc_macro_attribute]
pub fn rule(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    rule::rule(args.into(), item.into()).into()
}

#[cfg(test)]
mod diff_tests;
#[cfg(test)]
mod escape_tests;
#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod interp;
#[cfg(test)]
mod tests;
