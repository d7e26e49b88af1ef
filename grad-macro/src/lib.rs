//! Implementation detail of the `backprop` crate: the `#[grad]` attribute. Depend on `grad`, not
//! on this crate; its API is `grad`'s.
//!
//! # The pipeline
//!
//! Each stage is a folder; data flows one way, from tokens to tokens:
//!
//! ```text
//!  #[grad(..)] fn f(..) { .. }
//!         │
//!   front/    args (the attribute) · check (the signature) · ctxt (every error, collected)
//!         │ Args, Sig
//!   lower/    syn → IR: statements, expressions, calls, conditions, control flow, arrays,
//!         │   loop sources and reductions, match; escape (where a differentiated value would
//!         │   leave what is modelled) · effects (reads pinned before calls that change data)
//!         │ Lowered { func: ir::Func, .. }
//!   expand/   the driver: pipeline (the one place passes are composed, with typed views
//!         │   Gradient and Tangents) · companions · pullbacks · jacobian · second_order ·
//!         │   trace (`_trace`, `_graph`) · per_element · cost · rule (#[backprop::rule])
//!         │   ┌────────────────────────────────────────────────────────────┐
//!         │   │ ad/     reverse (mod, branch, loops, header, state,        │
//!         │   │         traced) · forward · trace (mod, nodes, record,     │
//!         │   │         render)                           Func → Func      │
//!         │   │ opt/    simplify · fuse · factor · distribute  Func → Func │
//!         │   └────────────────────────────────────────────────────────────┘
//!         │ ir::Func
//!   emit/     plan (inlining, names) · print (expressions) · stmt (statements, loops,
//!         │   the runtime's storage and sweep adapters) · tokens (the bottom layer)
//!         ▼
//!  fn f(..) { .. }  fn f_grad(..)  fn f_value_and_grad(..)  ..
//! ```
//!
//! Under every stage: `ir/` (the IR's types; `visit`: `walk`, `walk_mut`, `any`; `util`;
//! `validate`, run after every pass in tests), `build/` (the only constructor of derivative
//! code: value numbering, `fold`, `algebra`) and `rules/` (one row per math function, with its
//! cost and, in tests, its value; `arith`: the one table of the built-in operations' partials,
//! read by reverse, forward, second order and the derivation shown in the docs).
//!
//! # How the shape is kept
//!
//! The layers, bottom up, are `ir`, `tokens` (the token helpers in `emit/tokens.rs`), `rules`,
//! `build`, `opt`, `ad`, `emit`, `front`, `lower`, `expand`: a stage names (`crate::stage`)
//! only the layers before it, so there is no cycle between stages. `tests/layout.rs` checks
//! this on every `cargo test` by reading each source file's `crate::` paths, and also that no
//! module is included by `#[path]` and that no file outside `tests/` is over 700 lines (at
//! most two over 600). Lowering sits above `opt` and `ad` because it asks the optimiser which
//! pullback calls are dead, and the expansion driver asks the AD side whether a body can be
//! reversed before any pass runs. Within a stage, the files are
//! children of the stage's `mod.rs` and split one type's `impl` by concern (the `Lowerer`, the
//! `Emitter`, the reverse sweep's `Rev`), as serde_derive's `de/` does; they share the stage's
//! items through `use super::*`.
//!
//! `tests/` holds the macro's own tests: the pipeline on token streams and its snapshots, the
//! differential tests against `grad-testgen`'s oracle (with the IR validated after each pass),
//! fuzzing, escapes, the interpreter, and the layout check.

mod ad;
mod build;
mod emit;
mod expand;
mod front;
mod ir;
mod lower;
mod opt;
mod rules;

/// Differentiates a scalar function at compile time. See the `backprop` crate for the manual.
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
    expand::rule::rule(args.into(), item.into()).into()
}

/// Derives `backprop::Differentiable` for a struct of parameters. See the `backprop` crate for
/// the manual.
#[proc_macro_derive(Differentiable, attributes(backprop))]
pub fn differentiable(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    expand::derive::differentiable(input.into()).into()
}

#[cfg(test)]
mod tests;
