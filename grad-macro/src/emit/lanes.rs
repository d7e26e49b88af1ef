//! Gradient sums in lanes: a loop's adjoint accumulations (`d_w += r * x`) written so that
//! the optimiser can overlap them.
//!
//! An accumulation one term at a time is a chain: each addition waits for the one before, and
//! the optimiser may not reorder floating-point additions to break it. The derivative code is
//! ours to associate (the manual says a gradient may differ from a term-by-term sum in the
//! last bits), so an innermost `for` loop whose adjoints only accumulate takes its items
//! [`LANES`] at a time: item `j` adds into lane `j % LANES` of each sum, and the lanes are added
//! once after the loop, in a fixed order, `(l0 + l1) + (l2 + l3)`. Everything else the loop
//! does runs in the order written, and the same inputs give the same bits on every run and
//! machine. `#[grad(ordered_sums)]` keeps every sum in the order of its terms.

use super::*;
use crate::ir::{Header, Inst, Kind, Loop};
use proc_macro2::Span;

/// How many partial sums each accumulation keeps: four independent chains are enough to keep
/// the floating-point adders busy, and each lane's code is a copy of the loop's body.
pub(super) const LANES: usize = 4;

/// The largest loop body (instructions, those of its `if`s included) copied into lanes.
const MAX_BODY: usize = 48;

/// An adjoint the loop only accumulates into: `phi op= term`, the loop's carried value `k`.
pub(super) struct Lane {
    pub phi: Var,
    pub sub: bool,
    pub term: Operand,
}

impl Emitter<'_> {
    /// The accumulations of `l` to write in lanes; empty when the loop is kept as it is: sums
    /// in order asked for, a `loop`, a loop of fewer than `2 · LANES` iterations written as a
    /// number, a loop with a loop inside, a long body, an adjoint carried otherwise than added
    /// to, or none that is only added to.
    pub(super) fn lanes_of(&self, l: &Loop) -> Vec<Lane> {
        let Header::For { trip, .. } = &l.header else {
            return Vec::new();
        };
        // A short loop of a known length (`for k in 0..3`) gains nothing: its few additions
        // would become more.
        let short = trip
            .as_ref()
            .and_then(|t| t.to_string().parse::<usize>().ok())
            .is_some_and(|n| n < 2 * LANES);
        if !self.lanes || l.exit || short {
            return Vec::new();
        }
        let mut size = 0;
        let mut nested = false;
        crate::ir::walk_blocks(&l.body, &mut |b| {
            size += b.insts.len();
            nested |= b.insts.iter().any(|i| matches!(i, Inst::Loop(_)));
        });
        if nested || size > MAX_BODY {
            return Vec::new();
        }
        let uses = |v: Var| self.uses.get(&v).copied().unwrap_or(0);
        let lanes: Vec<Lane> = l
            .carried
            .iter()
            .zip(&l.body.yields)
            .filter_map(|(c, y)| {
                let info = self.func.info(c.phi);
                if info.kind != Kind::Float || !matches!(info.name, Name::Adjoint(_)) {
                    return None;
                }
                let t = y.as_var()?;
                // `t = phi + term` (or `term + phi`, `phi - term`), read only as the next value,
                // at the top of the body, and printed as `phi += term`.
                let Some(Inlined::Op(op, args)) = self.inline.get(&t) else {
                    return None;
                };
                let defined_here = l
                    .body
                    .insts
                    .iter()
                    .any(|i| matches!(i, Inst::Op { var, .. } if *var == t));
                if !defined_here || uses(c.phi) != 1 || uses(t) != 1 {
                    return None;
                }
                let me = Operand::Var(c.phi);
                let (sub, term) = match op {
                    Op::Add if args[0] == me => (false, args[1]),
                    Op::Add if args[1] == me => (false, args[0]),
                    Op::Sub if args[0] == me => (true, args[1]),
                    _ => return None,
                };
                Some(Lane {
                    phi: c.phi,
                    sub,
                    term,
                })
            })
            .collect();
        // An adjoint carried otherwise (`d_h = d_h · w · ..`, a recurrence's sweep) is a chain
        // the lanes would not shorten: the loop is kept as it is. (A primal value carried,
        // the loss `_value_and_grad` adds up, does not stop them, so that `_grad` and
        // `_value_and_grad` give the same bits.)
        let chained = l.carried.iter().any(|c| {
            matches!(self.func.info(c.phi).name, Name::Adjoint(_))
                && !lanes.iter().any(|a| a.phi == c.phi)
        });
        if chained {
            return Vec::new();
        }
        lanes
    }

    /// The loop `for item in iter { body }` with `lanes`' sums in lanes: `body(l)` is the
    /// body with lane `l`'s accumulations; `before` declares the sums.
    pub(super) fn loop_in_lanes(
        &self,
        lanes: &[Lane],
        item: &TokenStream,
        iter: &TokenStream,
        body: impl Fn(&[Toks]) -> Vec<Toks>,
    ) -> TokenStream {
        let zero = self.operand(&Operand::Lit(0.0)).tokens();
        let names: Vec<Ident> = lanes
            .iter()
            .map(|a| {
                Ident::new(
                    &format!("__grad_lanes_{}", self.ident(a.phi)),
                    Span::mixed_site(),
                )
            })
            .collect();
        let items = Ident::new("__grad_items", Span::mixed_site());
        let copies: Vec<TokenStream> = (0..LANES)
            .map(|l| {
                let l = proc_macro2::Literal::usize_unsuffixed(l);
                let adds: Vec<Toks> = lanes
                    .iter()
                    .zip(&names)
                    .map(|(a, name)| {
                        // (A difference's lanes add its terms; the sum is subtracted.)
                        let term = self.operand(&a.term).tokens();
                        quote!(#name[#l] += #term;).into()
                    })
                    .collect();
                let stmts = body(&adds);
                quote! {
                    let ::core::option::Option::Some(#item) = ::core::iter::Iterator::next(&mut #items) else {
                        break;
                    };
                    #(#stmts)*
                }
            })
            .collect();
        // The lanes summed pairwise, in a fixed order.
        let combined: Vec<TokenStream> = lanes
            .iter()
            .zip(&names)
            .map(|(a, name)| {
                let phi = self.ident(a.phi);
                let sum = pairwise(name, 0, LANES, true);
                if a.sub {
                    quote!(#phi -= #sum;)
                } else {
                    quote!(#phi += #sum;)
                }
            })
            .collect();
        let n = proc_macro2::Literal::usize_unsuffixed(LANES);
        let float = float_type_tokens(self.func.float);
        quote! {
            {
                #(let mut #names: [#float; #n] = [#zero; #n];)*
                // (As `for` is desugared: the iterable's temporaries live as long as the loop.)
                match ::core::iter::IntoIterator::into_iter(#iter) {
                    mut #items => loop {
                        #(#copies)*
                    },
                }
                #(#combined)*
            }
        }
    }
}

/// `(a[lo] + ..) + (.. + a[hi - 1])`, halved down to single lanes (`outer`: not in
/// parentheses itself).
fn pairwise(name: &Ident, lo: usize, hi: usize, outer: bool) -> TokenStream {
    if hi - lo == 1 {
        let lo = proc_macro2::Literal::usize_unsuffixed(lo);
        return quote!(#name[#lo]);
    }
    let mid = (lo + hi) / 2;
    let (a, b) = (
        pairwise(name, lo, mid, false),
        pairwise(name, mid, hi, false),
    );
    if outer {
        quote!(#a + #b)
    } else {
        quote!((#a + #b))
    }
}
