//! Second order through a call of another `#[grad]` function: the tangent of what its
//! pullback returned, from the callee's `pullback_jvp`.

use super::Fwd;
use crate::ir::{CallArg, Kind, Operand, Var};
use proc_macro2::Span;

impl Fwd {
    /// The tangents of what the pullback call `cv` returned, one per direction, from the
    /// callee's `pullback_jvp` (called once per direction, with the arguments and their
    /// tangents; `NoTangent` for an argument without). `None` when
    /// `cv` is not such a call, no argument has a tangent, or second order cannot go through
    /// it (refused before: see `expand::second_order::refused_calls`).
    pub(super) fn call_tangents(&mut self, cv: Var) -> Option<Vec<Var>> {
        if let Some(t) = self.calls.get(&cv) {
            return Some(t.clone());
        }
        let call = self.b.info(cv).call.clone()?;
        let jvp = call.jvp.clone()?;
        let refs = self.call_refs.get(&cv)?.clone();
        // Each argument: a reference of the call (as renamed in a copy of it), or tokens.
        let args: Vec<(Option<Operand>, proc_macro2::TokenStream, bool)> = call
            .args
            .iter()
            .map(|(a, by_ref)| match a {
                CallArg::Ref(i) => refs.get(*i).map_or_else(
                    || (None, quote::quote!(()), *by_ref),
                    |v| {
                        (
                            Some(Operand::Var(*v)),
                            proc_macro2::TokenStream::new(),
                            *by_ref,
                        )
                    },
                ),
                CallArg::Tokens(t) => (None, t.clone(), *by_ref),
            })
            .collect();
        if !args
            .iter()
            .any(|(o, _, _)| o.as_ref().is_some_and(|o| self.has_tangent(o)))
        {
            return None;
        }
        // At the call, where rustc reports a callee it cannot go through.
        let jvp: proc_macro2::TokenStream = jvp
            .into_iter()
            .map(|mut t| {
                t.set_span(t.span().located_at(call.span));
                t
            })
            .collect();
        let mut out = Vec::new();
        for j in 0..self.n {
            let mut refs = Vec::new();
            let mut toks = Vec::new();
            for (o, t, by_ref) in &args {
                let t = match o {
                    Some(o) => {
                        let (t, r) = self.b.operand_tokens(*o);
                        let t = crate::ir::shift_placeholders(t, refs.len());
                        refs.extend(r);
                        t
                    }
                    None => t.clone(),
                };
                toks.push(if *by_ref { quote::quote!(&#t) } else { t });
            }
            let mut dots = Vec::new();
            for (o, _, _) in &args {
                match o {
                    Some(o) if self.has_tangent(o) => {
                        let (t, r) = self.b.operand_tokens(self.tangents(o)[j]);
                        dots.push(crate::ir::shift_placeholders(t, refs.len()));
                        refs.extend(r);
                    }
                    _ => dots.push(quote::quote!(__grad_krate::__private::NoTangent)),
                }
            }
            let mut tuple = proc_macro2::Group::new(
                proc_macro2::Delimiter::Parenthesis,
                quote::quote!(#(#dots,)*),
            );
            tuple.set_span(call.span);
            let both = self
                .b
                .opaque(quote::quote!(#jvp(#(#toks,)* #tuple)), refs, Kind::Opaque);
            let both = both.as_var()?;
            let ph = proc_macro2::Ident::new(&crate::ir::placeholder(0), Span::call_site());
            let t = self
                .b
                .opaque(quote::quote!(#ph.1), vec![both], Kind::Opaque);
            out.push(t.as_var()?);
        }
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
        if !self.b.info(var).pulled_part || self.b.info(var).kind != Kind::Float {
            return false;
        }
        if let Some(tj) = self.call_tangents(cv) {
            let t = tj
                .into_iter()
                .map(|t| self.b.opaque(expr.tokens.clone(), vec![t], Kind::Float))
                .collect();
            self.tan.insert(var, t);
            return true;
        }
        // A call this pass has not met (a value a loop kept, not the call itself): its tangent
        // is unknown, so second order is refused, not silently zero.
        if self.b.info(cv).call.is_none() {
            self.error(
                var,
                "second derivatives cannot go through this call here: its result is kept by a loop for the reverse sweep, and its tangent with it is not; compute the call's value outside the loop, or write the Hessian of this part by hand",
            );
        }
        false
    }
}
