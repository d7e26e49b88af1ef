//! Second order through a call of another `#[grad]` function: the tangent of what its
//! pullback returned, from the callee's `pullback_jvp` (one call per direction) or, for a
//! Hessian, its `pullback_hessian` (one call for every direction: the callee's pullback and its
//! Hessian in one pass, each direction's tangent then a product with the Hessian); and the
//! tangents of the runtime products the sweep makes of what it returned (a Jacobian block
//! times an adjoint: `vjp`, `dot`), by the product rule.

use super::Fwd;
use crate::ir::{CallArg, Kind, Operand, PulledPart, Var};
use proc_macro2::{Span, TokenStream};
use quote::quote;

/// Per value an arm of a branch yields, the tangents of the pullback call it carries out
/// (`Fwd::carried_calls`).
pub(super) type Carried = Vec<Option<Option<Vec<Var>>>>;

/// The tangents of what a pullback call returned.
#[derive(Clone)]
pub(super) enum CallTangents {
    /// Per direction, the second half of the callee's `pullback_jvp` (`(value', partials')`).
    PerDirection(Vec<Var>),
    /// None: no argument of the call has a tangent.
    Zero,
    /// The callee's `pullback_hessian` (`((value, partials), h)`, `h[k][i]` over the
    /// partials' slots), with each argument that has tangents: its slot, and its tangents.
    Hessian {
        both: Var,
        args: Vec<(usize, Vec<Operand>)>,
    },
}

impl Fwd {
    /// The tangents of what the pullback call `cv` returned, from the callee's `pullback_jvp`
    /// (called once per direction, with the arguments and their tangents; `NoTangent` for an
    /// argument without) or its `pullback_hessian` (`through_hessians`). `None` when `cv` is
    /// not such a call or second order cannot go through it (refused before: see
    /// `expand::through::refused_calls`); `Zero` when no argument has a tangent.
    pub(super) fn call_tangents(&mut self, cv: Var) -> Option<CallTangents> {
        if let Some(t) = self.calls.get(&cv) {
            return Some(t.clone());
        }
        let call = self.b.info(cv).call.clone()?;
        let jvp = call.jvp.clone()?;
        let refs = self.call_refs.get(&cv)?.clone();
        // Each argument: a reference of the call (as renamed in a copy of it), or tokens.
        let args: Vec<(Option<Operand>, TokenStream, bool)> = call
            .args
            .iter()
            .map(|(a, by_ref)| match a {
                CallArg::Ref(i) => refs.get(*i).map_or_else(
                    || (None, quote!(()), *by_ref),
                    |v| (Some(Operand::Var(*v)), TokenStream::new(), *by_ref),
                ),
                CallArg::Tokens(t) => (None, t.clone(), *by_ref),
            })
            .collect();
        // No argument with a tangent: none (known, not missing).
        if !args
            .iter()
            .any(|(o, _, _)| o.as_ref().is_some_and(|o| self.has_tangent(o)))
        {
            self.calls.insert(cv, CallTangents::Zero);
            return Some(CallTangents::Zero);
        }
        // At the call, where rustc reports a callee it cannot go through.
        let at = |t: TokenStream| -> TokenStream {
            t.into_iter()
                .map(|mut t| {
                    t.set_span(t.span().located_at(call.span));
                    t
                })
                .collect()
        };
        // A method's receiver: `recv.f_pullback_jvp(..)`.
        let recv = call.recv.as_ref().map(|r| match r {
            CallArg::Ref(i) => refs.get(*i).map(|v| Operand::Var(*v)),
            CallArg::Tokens(t) => Some(self.b.add_extern(t.clone())),
        });
        // The receiver and the arguments as tokens, and their references.
        let written = |f: &mut Fwd| -> Option<(TokenStream, Vec<TokenStream>, Vec<Var>)> {
            let mut refs = Vec::new();
            let head = match recv {
                Some(Some(o)) => {
                    let (t, r) = f.b.operand_tokens(o);
                    refs.extend(r);
                    quote!(#t.)
                }
                Some(None) => return None,
                None => TokenStream::new(),
            };
            let mut toks = Vec::new();
            for (o, t, by_ref) in &args {
                let t = match o {
                    Some(o) => {
                        let (t, r) = f.b.operand_tokens(*o);
                        let t = crate::ir::shift_placeholders(t, refs.len());
                        refs.extend(r);
                        t
                    }
                    None => t.clone(),
                };
                toks.push(if *by_ref { quote!(&#t) } else { t });
            }
            Some((head, toks, refs))
        };
        let ph = proc_macro2::Ident::new(&crate::ir::placeholder(0), Span::call_site());
        // Which slot of the partials each argument fills (a method's `self` is slot 0).
        let first = usize::from(call.recv.is_some());
        // An array passed differentiated: its partial is an array, whose tangent the Hessian
        // over the float slots does not give; `pullback_jvp` direction by direction.
        let arrays = args.iter().any(|(o, _, _)| {
            o.as_ref()
                .is_some_and(|o| self.b.is_active(o) && self.b.kind(o) == Kind::Array)
        });
        let out = if self.through_hessians && self.n >= 2 && !arrays && !call.blocks {
            let (head, toks, refs) = written(self)?;
            let hessian = at(renamed_last(&jvp, "_jvp", "_hessian"));
            let both = self
                .b
                .opaque(quote!(#head #hessian(#(#toks,)*)), refs, Kind::Opaque)
                .as_var()?;
            let with: Vec<(usize, Vec<Operand>)> = args
                .iter()
                .enumerate()
                .filter_map(|(i, (o, _, _))| {
                    let o = o.as_ref().filter(|o| self.has_tangent(o))?;
                    Some((first + i, self.tangents(o)))
                })
                .collect();
            CallTangents::Hessian { both, args: with }
        } else {
            // A `_hessian` calls a function returning an array through its `pullback_hessian`,
            // the same as its `pullback_jvp` but quiet where that one is refused: the `_hvp`
            // beside it says why, once.
            let jvp = if self.through_hessians && call.blocks {
                at(renamed_last(&jvp, "_jvp", "_hessian"))
            } else {
                at(jvp)
            };
            let mut per = Vec::new();
            for j in 0..self.n {
                let (head, toks, mut refs) = written(self)?;
                // A method's receiver has no tangent (`self` is data).
                let mut dots: Vec<TokenStream> = call
                    .recv
                    .iter()
                    .map(|_| quote!(__grad_krate::__private::NoTangent))
                    .collect();
                for (o, _, _) in &args {
                    match o {
                        Some(o) if self.has_tangent(o) => {
                            let (t, r) = self.b.operand_tokens(self.tangents(o)[j]);
                            dots.push(crate::ir::shift_placeholders(t, refs.len()));
                            refs.extend(r);
                        }
                        _ => dots.push(quote!(__grad_krate::__private::NoTangent)),
                    }
                }
                let mut tuple = proc_macro2::Group::new(
                    proc_macro2::Delimiter::Parenthesis,
                    quote!(#(#dots,)*),
                );
                tuple.set_span(call.span);
                let both = self
                    .b
                    .opaque(quote!(#head #jvp(#(#toks,)* #tuple)), refs, Kind::Opaque)
                    .as_var()?;
                let t = self.b.opaque(quote!(#ph.1), vec![both], Kind::Opaque);
                per.push(t.as_var()?);
            }
            CallTangents::PerDirection(per)
        };
        self.calls.insert(cv, out.clone());
        Some(out)
    }

    /// An opaque instruction defining `var` as `expr`: a pullback call is noted (its
    /// references), and a part of what one returned gets the same part of the call's tangent.
    /// `true` when `var` has its tangent.
    pub(super) fn pulled_part(&mut self, var: Var, expr: &crate::ir::Opaque) -> bool {
        if self.b.info(var).call.is_some() {
            self.call_refs.insert(var, expr.refs.clone());
        }
        let [cv] = expr.refs[..] else { return false };
        let Some(part) = self.b.info(var).pulled_part else {
            return false;
        };
        // A float, or an array (the partial with respect to an array argument).
        let kind = self.b.info(var).kind;
        if !matches!(kind, Kind::Float | Kind::Opaque) {
            return false;
        }
        match self.call_tangents(cv) {
            Some(CallTangents::PerDirection(tj)) => {
                let t = tj
                    .into_iter()
                    .map(|t| self.b.opaque(expr.tokens.clone(), vec![t], kind))
                    .collect();
                self.tan.insert(var, t);
                return true;
            }
            Some(CallTangents::Zero) => return false,
            Some(CallTangents::Hessian { both, args }) => {
                // value' = Σᵢ gᵢ·ẋᵢ, partialₖ' = Σᵢ hₖᵢ·ẋᵢ, over the arguments with tangents.
                let ph = proc_macro2::Ident::new(&crate::ir::placeholder(0), Span::call_site());
                let coefs: Vec<Operand> = args
                    .iter()
                    .map(|(i, _)| {
                        let i = proc_macro2::Literal::usize_unsuffixed(*i);
                        let c = match part {
                            PulledPart::Value => {
                                quote!(__grad_krate::__private::partial(#ph.0.1.#i))
                            }
                            PulledPart::Partial(k) => {
                                let k = proc_macro2::Literal::usize_unsuffixed(k);
                                quote!(#ph.1[#k][#i])
                            }
                        };
                        self.b.opaque(c, vec![both], Kind::Float)
                    })
                    .collect();
                let t = (0..self.n)
                    .map(|j| {
                        let mut acc = self.zero();
                        for (c, (_, tans)) in coefs.iter().zip(&args) {
                            let term = self.b.mul(*c, tans[j]);
                            acc = self.b.add(acc, term);
                        }
                        acc
                    })
                    .collect();
                self.tan.insert(var, t);
                return true;
            }
            None => {}
        }
        // A call this pass has not met (a value a loop kept, not the call itself): its tangent
        // is unknown, so second order is refused, not silently zero.
        if self.b.info(cv).call.is_none() {
            self.error(
                var,
                "second derivatives cannot go through this call here: its result is kept by a loop for the reverse sweep (a call inside a branch in a `while` loop, or in a loop it cannot compute again), and its tangent with it is not; compute the call's value outside the branch or the loop, make the loop a `for` loop, or write the Hessian of this part by hand",
            );
        }
        false
    }
}

/// `path` with its last identifier's suffix `from` made `to` (`f::pullback_jvp` →
/// `f::pullback_hessian`).
fn renamed_last(path: &TokenStream, from: &str, to: &str) -> TokenStream {
    let mut toks: Vec<proc_macro2::TokenTree> = path.clone().into_iter().collect();
    if let Some(proc_macro2::TokenTree::Ident(id)) = toks
        .iter_mut()
        .rev()
        .find(|t| matches!(t, proc_macro2::TokenTree::Ident(_)))
    {
        let s = id.to_string();
        let base = s.strip_suffix(from).unwrap_or(&s);
        *id = proc_macro2::Ident::new(&format!("{base}{to}"), id.span());
    }
    toks.into_iter().collect()
}

impl Fwd {
    /// The tangent of a runtime product of two references (`vjp(j, d)`, `dot(p, d)`,
    /// `jvp(j, t)`: `ad::runtime_call`), by the product rule: `op(j̇, d) + op(j, ḋ)`, direction
    /// by direction. A callee's Jacobian block `j` has its tangent from the callee's
    /// `pullback_jvp` (`pulled_part`); the adjoint `d` from the sweep.
    pub(super) fn bilinear(&mut self, var: Var, expr: &crate::ir::Opaque) {
        let [a, c] = expr.refs[..] else { return };
        let kind = self.b.info(var).kind;
        let (ta, tc) = (self.tan.get(&a).cloned(), self.tan.get(&c).cloned());
        if ta.is_none() && tc.is_none() {
            return;
        }
        let mut out = Vec::new();
        for j in 0..self.n {
            let mut terms = Vec::new();
            for (t, first) in [(&ta, true), (&tc, false)] {
                let Some(t) = t else { continue };
                match t[j] {
                    Operand::Var(tv) => {
                        let refs = if first { vec![tv, c] } else { vec![a, tv] };
                        terms.push(self.b.opaque(expr.tokens.clone(), refs, kind));
                    }
                    o if o.is_lit(0.0) => {}
                    _ => {
                        self.error(
                            var,
                            "internal error: a tangent of a product of arrays is not an array; please report this function",
                        );
                        return;
                    }
                }
            }
            let t = match (terms.first(), terms.get(1)) {
                (None, _) => match kind {
                    Kind::Float => self.zero(),
                    // Zeros shaped like the product.
                    _ => {
                        let z = crate::emit::tokens::float_lit(0.0, self.b.float, true);
                        let ph =
                            proc_macro2::Ident::new(&crate::ir::placeholder(0), Span::call_site());
                        self.b.opaque(
                            quote!(__grad_krate::__private::zeros_like(&#ph, #z)),
                            vec![var],
                            kind,
                        )
                    }
                },
                (Some(x), None) => *x,
                (Some(x), Some(y)) => match kind {
                    Kind::Float => self.b.add(*x, *y),
                    _ => crate::ad::runtime_call(&mut self.b, "added", *x, *y, kind),
                },
            };
            out.push(t);
        }
        self.tan.insert(var, out);
    }

    /// `jvp(j, t)`: a callee's Jacobian block `j` times an argument's tangent `t` (an array
    /// value: that argument's part of the tangent of the array the callee returned).
    pub(super) fn jvp(&mut self, j: Operand, t: Operand) -> Operand {
        crate::ad::runtime_call(&mut self.b, "jvp", j, t, Kind::Opaque)
    }

    /// `dot(p, t)`: an array value `p` (a callee's gradient) dotted with the tangent array `t`.
    pub(super) fn dot(&mut self, p: Operand, t: Operand) -> Operand {
        if t.is_lit(0.0) {
            return self.zero();
        }
        crate::ad::runtime_call(&mut self.b, "dot", p, t, Kind::Float)
    }

    /// For each value an arm of a branch yields: when it is a pullback call (carried out for
    /// the reversed arm, which reads what it returned), its tangents made in the arm
    /// (`Some(None)`: none, no argument has one); `None` otherwise, or where the call's
    /// tangents come from `pullback_hessian` or are unknown (not carried: a part read after
    /// the branch is then refused, `pulled_part`).
    pub(super) fn carried_calls(&mut self, yields: &[Operand]) -> Carried {
        yields
            .iter()
            .map(|y| {
                let v = y.as_var().filter(|v| self.b.info(*v).call.is_some())?;
                match self.call_tangents(v) {
                    Some(CallTangents::PerDirection(ts)) => Some(Some(ts)),
                    Some(CallTangents::Zero) => Some(None),
                    // Not carried (from `pullback_hessian`, or unknown): a part read after
                    // the branch is refused.
                    _ => None,
                }
            })
            .collect()
    }

    /// The outputs of a branch that carry pullback calls out (`carried`, per arm): their
    /// tangents leave the branch with them, as more outputs (the other arm gives defaults),
    /// and are the tangents of the call for what reads the output after the branch.
    pub(super) fn carry_calls(
        &mut self,
        outs: &[Var],
        arms: &mut [&mut crate::ir::Block],
        carried: &[Carried],
        new_outs: &mut Vec<Var>,
    ) {
        for (i, o) in outs.iter().enumerate() {
            let per_arm: Vec<Option<&Option<Vec<Var>>>> = carried
                .iter()
                .map(|c| c.get(i).and_then(Option::as_ref))
                .collect();
            if per_arm.iter().all(Option::is_none) {
                continue;
            }
            if per_arm.iter().flatten().all(|c| c.is_none()) {
                self.calls.insert(*o, CallTangents::Zero);
                continue;
            }
            let span = self.b.info(*o).span;
            let vars: Vec<Var> = (0..self.n)
                .map(|_| {
                    self.b
                        .new_var(Kind::Opaque, crate::ir::Name::Anon, false, span)
                })
                .collect();
            for (blk, c) in arms.iter_mut().zip(&per_arm) {
                match c {
                    Some(Some(ts)) => blk.yields.extend(ts.iter().map(|t| Operand::Var(*t))),
                    _ => {
                        let d = self
                            .b
                            .add_extern(quote!(::core::default::Default::default()));
                        blk.yields.extend(std::iter::repeat_n(d, self.n));
                    }
                }
            }
            new_outs.extend(&vars);
            self.calls.insert(*o, CallTangents::PerDirection(vars));
        }
    }
}
