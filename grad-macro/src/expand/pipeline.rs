//! The one place the passes are composed. Every pass is `Func → Func` (lowering makes the
//! first `Func`, emission reads the last); the companions ask for what they need here, and
//! read the results through typed views ([`Gradient`], [`Tangents`]) rather than by position.
//!
//! In the macro's own tests every pass's output is validated (`ir::validate`): a pass that
//! breaks the IR fails there, named, not as a rustc error in the generated code. (Not in
//! `cargo test --release`, so that the expansion benchmark, compiled the same way, times the
//! macro alone; the differential tests validate in every profile.)
//!
//! ```text
//! lowered ─ reverse ─ dce ─┬──────────────────────── optimise (fuse, factor, dce) ─ emit
//!                          └─ forward (hessian, hvp) ─ select ─ dce ─ emit
//! lowered ─ forward (jvp, mode = forward, Jacobian) ─ select ─ dce ─ emit
//! ```

use super::combine;
use crate::ad::forward::Seeds;
use crate::ad::reverse;
use crate::ir::{Func, Operand, Var};
use crate::opt::{distribute, factor, fuse, simplify};

/// Validates `func` after `pass` when the macro's own tests run (in the debug profile: not in
/// the expansion benchmark, which compiles these modules as a test in release, and never in a
/// user's build); nothing otherwise.
#[cfg_attr(not(all(test, debug_assertions)), allow(unused_variables))]
pub(super) fn check(func: &Func, pass: &str) {
    #[cfg(all(test, debug_assertions))]
    if let Err(e) = crate::ir::validate(func) {
        panic!("the IR is invalid after {pass}: {e}");
    }
}

fn checked(func: Func, pass: &str) -> Func {
    check(&func, pass);
    func
}

/// What a reverse sweep returns: yields `[value, ∂/∂wrt₀, …, ∂/∂wrtₙ₋₁]`.
pub(super) struct Gradient {
    pub(super) func: Func,
}

impl Gradient {
    /// The same sweep without what only the value needs (its value yield is a literal 0).
    pub(super) fn without_value(&self) -> Func {
        without_value(&self.func)
    }
}

/// `func` (yielding `[value, ∂/∂wrt₀, …]`) without what only the value needs. Applied to the
/// optimised program, so that `_grad` runs the very arithmetic of `_value_and_grad` (the same
/// loops fused, the same sums in the same order: the same bits).
pub(super) fn without_value(func: &Func) -> Func {
    let mut g = func.clone();
    g.body.yields[0] = Operand::Lit(0.0);
    dce(g)
}

/// What forward mode returns: the function's `n_yields` yields, then the `n_dirs` tangents of
/// each yield in turn.
pub(super) struct Tangents {
    func: Func,
    n_yields: usize,
    n_dirs: usize,
}

impl Tangents {
    /// Yield `k` of the function itself.
    pub(super) fn primal(&self, k: usize) -> Operand {
        self.func.body.yields[k]
    }

    /// The tangent of yield `k` in direction `j`.
    pub(super) fn tangent(&self, k: usize, j: usize) -> Operand {
        debug_assert!(k < self.n_yields && j < self.n_dirs);
        self.func.body.yields[self.n_yields + k * self.n_dirs + j]
    }

    /// The pass yielding `picks` (made of [`primal`](Self::primal) and
    /// [`tangent`](Self::tangent)), without what they do not need.
    pub(super) fn select(mut self, picks: Vec<Operand>) -> Func {
        self.func.body.yields = picks;
        dce(self.func)
    }

    /// The value and gradient of a one-value function, forward: `[value, tangent 0, …]`.
    pub(super) fn gradient(self) -> Gradient {
        let n_wrt = self.n_dirs;
        let picks = std::iter::once(self.primal(0))
            .chain((0..n_wrt).map(|j| self.tangent(0, j)))
            .collect();
        Gradient {
            func: self.select(picks),
        }
    }

    /// Everything: the values, then the tangents of each value direction by direction.
    pub(super) fn all(self) -> Func {
        dce(self.func)
    }
}

/// The derivation of a function of floats, for `trace`, `graph` and `_grad`'s
/// documentation: its nodes, local partials and adjoints (`ad::trace`).
pub(super) fn derivation(
    primal: &Func,
    wrt: &[Var],
    name: &str,
) -> Result<crate::ad::trace::Derivation, crate::ad::trace::NotShown> {
    crate::ad::trace::derive(primal, wrt, name)
}

/// The reverse sweep of `primal` with respect to `wrt`, dead code removed.
pub(super) fn reverse(primal: &Func, wrt: &[Var]) -> syn::Result<Gradient> {
    let (func, errors) = reverse::reverse_checked(primal, wrt, true);
    combine(errors)?;
    Ok(Gradient {
        func: dce(checked(func, "the reverse sweep")),
    })
}

/// Forward mode over `func` with `seeds`' directions.
pub(super) fn forward(func: &Func, seeds: &Seeds) -> syn::Result<Tangents> {
    let (out, errors) = crate::ad::forward::forward(func, seeds);
    combine(errors)?;
    Ok(Tangents {
        func: checked(out, "forward mode"),
        n_yields: func.body.yields.len(),
        n_dirs: seeds.n,
    })
}

/// Dead code out.
pub(super) fn dce(func: Func) -> Func {
    checked(simplify::dce(func), "dead-code elimination")
}

/// An accumulating loop fused with its sweep, shared factors out of sums (after dead code is
/// out), a loop adding into an array at several offsets split by offset.
pub(super) fn optimise(program: Func) -> Func {
    let mut fused = checked(fuse::fuse(program), "loop fusion");
    if factor::factor(&mut fused) {
        fused = dce(checked(fused, "factoring"));
    }
    if distribute::distribute(&mut fused) {
        fused = dce(checked(fused, "loop distribution"));
    }
    fused
}
