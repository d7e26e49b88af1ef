//! Calls of other `#[grad]` functions: the call of the callee's pullback, the parts of what it
//! returns (the value, a partial or Jacobian block per argument) and what second order needs
//! to go through the call, and the arrays such calls return.

use super::*;
use crate::ir::{placeholder, ArrayInfo, ArrayInit, Inst, Kind, Name, Op, Operand};

use crate::ir::shift_placeholders;
use crate::rules::{self, Form};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::Expr;

impl Lowerer<'_> {
    /// A call to another `#[grad]` function (`callee(args)`, or `recv.callee(args)` for a
    /// method) with a differentiated argument. The callee's pullback gives its value and its
    /// partials; the result is an `Op::Pulled`, whose adjoint the reverse sweep multiplies by
    /// each partial. An argument the callee is not differentiated in gets `()` for a partial:
    /// `__private::partial` says so at that argument, at compile time.
    pub(super) fn pulled_call(
        &mut self,
        callee: (TokenStream, &str),
        recv: Option<&Expr>,
        exprs: &[&Expr],
        span: Span,
    ) -> Operand {
        match self.pulled_parts(callee, recv, exprs, span, false) {
            Ok((args, mut ops, value)) => {
                let n = args.len();
                ops.push(value);
                let mut all = args;
                all.extend(ops);
                self.b.op(Op::Pulled(n), all, span)
            }
            Err(o) => o,
        }
    }

    /// The call of a `#[grad]` function's pullback: the arguments as operands, the partial of
    /// each (an operand; `0.0` for data), and the call's value. `blocks`: the callee returns
    /// an array, and its pullback gives a Jacobian block per argument. `Err` when refused.
    fn pulled_parts(
        &mut self,
        (callee, called): (TokenStream, &str),
        recv: Option<&Expr>,
        exprs: &[&Expr],
        span: Span,
        blocks: bool,
    ) -> Result<(Vec<Operand>, Vec<Operand>, Operand), Operand> {
        let mut refs = Vec::new();
        let mut recv_arg = None;
        let recv = recv.map(|r| {
            let o = self.expr(r);
            let (t, r) = self.b.operand_tokens(o);
            recv_arg = Some(crate::ir::CallArg::of(&r, &t));
            refs.extend(r);
            quote!(#t.)
        });
        // An array of floats passed whole (`f(w)`, `f(&w)`): the callee's partial with respect
        // to it is an array, which the caller's sweep scales and adds into the array's adjoint.
        let mut by_ref = vec![false; exprs.len()];
        let args: Vec<Operand> = exprs
            .iter()
            .enumerate()
            .map(|(k, e)| {
                let (inner, r) = match e {
                    Expr::Reference(r) if r.mutability.is_none() => (&*r.expr, true),
                    other => (*other, false),
                };
                // `f([a, b])` with differentiated elements: a local array, passed whole.
                if let Expr::Array(a) = inner {
                    if !a.elems.is_empty() && self.first_active(inner).is_some() {
                        let tmp = format!("#arg{}", self.b.vars.len());
                        self.active_names.insert(tmp.clone());
                        if let Some(Operand::Var(v)) = self.local_array(&tmp, inner) {
                            if self.b.info(v).kind == Kind::Array {
                                self.b.info_mut(v).name = Name::Fixed("arg");
                                by_ref[k] = r;
                                return Operand::Var(v);
                            }
                        }
                    }
                }
                if let Expr::Path(p) = inner {
                    if let Some(Operand::Var(v)) = p
                        .path
                        .get_ident()
                        .and_then(|id| self.lookup(&id.to_string()))
                    {
                        if self.b.info(v).kind == Kind::Array && !self.aliases.contains_key(&v) {
                            by_ref[k] = r;
                            return Operand::Var(v);
                        }
                    }
                }
                self.expr(e)
            })
            .collect();
        let mut toks = Vec::new();
        let mut call_args = Vec::new();
        for (k, (o, e)) in args.iter().zip(exprs).enumerate() {
            if self.b.is_active(o) && !matches!(self.b.kind(o), Kind::Float | Kind::Array) {
                return Err(self.error(
                    e,
                    "a differentiated value of this kind cannot be passed to a function: pass floats or arrays of floats",
                ));
            }
            let (t, r) = self.b.operand_tokens(*o);
            let t = if by_ref[k] { quote!(&#t) } else { t };
            // Located where the user wrote the argument, for rustc's errors about the call.
            let t: TokenStream = shift_placeholders(t, refs.len())
                .into_iter()
                .map(|mut t| {
                    match &mut t {
                        proc_macro2::TokenTree::Ident(id) => id.set_span(span_of(e)),
                        // A literal (a value folded to a constant) too.
                        proc_macro2::TokenTree::Literal(l) => l.set_span(span_of(e)),
                        _ => {}
                    }
                    t
                })
                .collect();
            let arg = crate::ir::CallArg::of(&r, &t).shifted(refs.len());
            call_args.push((arg, by_ref[k]));
            toks.push(t);
            refs.extend(r);
        }
        // Not effectful: a `#[grad]` function computes a value, so the reverse sweep of a loop may
        // call it again rather than keep what it returned (see the manual).
        let call = self.opaque_from(quote!(#recv #callee(#(#toks),*)), refs, Kind::Opaque, false);
        let Operand::Var(cv) = call else {
            return Err(call);
        };
        self.b.info_mut(cv).span = span;
        // What second order needs to go through the call: the callee's `pullback_jvp`.
        let jvp = self
            .tangents_pass(&args)
            .then(|| super::syntax::jvp_path(&callee));
        self.b.info_mut(cv).call = Some(std::rc::Rc::new(crate::ir::PulledCall {
            jvp,
            blocks,
            recv: recv_arg,
            args: call_args,
            span,
            name: called.to_string(),
        }));
        self.pulled.push(cv);
        // Named (`sq_pullback`), so it is printed as a `let` of its own rather than inside the
        // expressions that read it.
        self.b.info_mut(cv).name = Name::Source(format!("{called}_pullback"));
        let ph = Ident::new(&placeholder(0), Span::call_site());
        let kind = if blocks { Kind::Opaque } else { Kind::Float };
        let value = self.opaque_from(quote!(#ph.0), vec![cv], kind, false);
        self.pulled_part(value, crate::ir::PulledPart::Value);
        let mut ops = Vec::new();
        // A pullback lists `self` first, when the call is a method call.
        let first = usize::from(recv.is_some());
        for (k, (o, e)) in args.iter().zip(exprs).enumerate() {
            ops.push(if self.b.is_active(o) {
                let slot = crate::ir::PulledPart::Partial(first + k);
                let k = proc_macro2::Literal::usize_unsuffixed(first + k);
                let at = span_of(e);
                let ph = Ident::new(&placeholder(0), at);
                if blocks || self.b.kind(o) == Kind::Array {
                    let partial = quote::quote_spanned! {at=>
                        __grad_krate::__private::partial_array(#ph.1.#k)
                    };
                    let p = self.opaque_from(partial, vec![cv], Kind::Opaque, false);
                    self.pulled_part(p, slot)
                } else {
                    let partial = quote::quote_spanned! {at=>
                        __grad_krate::__private::partial(#ph.1.#k)
                    };
                    let p = self.opaque_from(partial, vec![cv], Kind::Float, false);
                    self.pulled_part(p, slot)
                }
            } else {
                Operand::Lit(0.0)
            });
        }
        Ok((args, ops, value))
    }

    /// `let name = f(args);` where `f` is a `#[grad]` function returning an array (the body
    /// indexes `name`, or annotates it `[f64; M]`), given a differentiated argument: an array
    /// variable holding what `f`'s pullback returned, with its Jacobian blocks for the sweep.
    /// `None` (nothing lowered) when `init` is not such a call.
    pub(super) fn array_call(
        &mut self,
        name: &str,
        init: &Expr,
        ty: Option<&syn::Type>,
        shape: Option<ArrayInfo>,
    ) -> Option<Operand> {
        let init = match init {
            Expr::Paren(p) => &*p.expr,
            other => other,
        };
        let Expr::Call(c) = init else { return None };
        let Expr::Path(p) = &*c.func else { return None };
        if p.qself.is_some() {
            return None;
        }
        let segs = crate::lower::escape::segments(&p.path);
        let last = segs.last().cloned().unwrap_or_default();
        if rules::lookup(&last, Form::Helper).is_some()
            || (segs.len() == 2 && (segs[0] == "f64" || segs[0] == "f32"))
            || p.path
                .get_ident()
                .is_some_and(|f| self.lookup(&f.to_string()).is_some())
        {
            return None;
        }
        let annotated = ty
            .and_then(crate::front::check::array_of)
            .filter(|(i, f)| *f == self.b.float && !i.by_ref && i.lens.iter().all(Option::is_some))
            .map(|(i, _)| i)
            .or(shape);
        let dims = self.indexed_depth.get(name).copied().unwrap_or(0);
        if annotated.is_none() && dims == 0 {
            return None;
        }
        let info = match annotated.clone() {
            Some(info) => ArrayInfo {
                by_ref: false,
                ..info
            },
            None => ArrayInfo {
                lens: vec![None; dims],
                by_ref: false,
                len_from_value: true,
            },
        };
        if self.first_active(init).is_none() {
            // On data: the call as written, data known to be an array of floats (of a
            // function's path: not `Vec::new()`), which a copy may fill with differentiated
            // values (`let mut z2 = z1; z2 = f(w);`); an array of the macro's when written.
            if !self.element_stores.contains(name) && !self.assigned_anywhere.contains(name) {
                let typed = segs.iter().any(|s| s.starts_with(char::is_uppercase));
                self.data_call_array = (!typed).then_some(info);
                return None;
            }
            let value = match init {
                // `z = f(z, ..)` for `f(&mut z, ..)`: the new value, from the pullback.
                Expr::Call(c) if crate::front::out_param::is_out_call(c) => {
                    self.out_call_on_data(c)
                }
                _ => self.opaque(init, "this call"),
            }
            .as_var()?;
            let active = self.active_names.contains(name);
            let var = self.b.new_var(
                Kind::Array,
                Name::Source(name.to_string()),
                active,
                call_span(c),
            );
            self.b.arrays.insert(var, info);
            self.b.push(Inst::NewArray {
                var,
                init: ArrayInit::Copy(value),
            });
            return Some(Operand::Var(var));
        }
        let callee = self.pullback_path(&p.path, c.args.len(), true)?;
        let exprs: Vec<&Expr> = c.args.iter().collect();
        let (args, partials, value) = self
            .pulled_parts((callee, &last), None, &exprs, call_span(c), true)
            .ok()?;
        let var = self.b.new_var(
            Kind::Array,
            Name::Source(name.to_string()),
            true,
            call_span(c),
        );
        self.b.arrays.insert(var, info);
        self.b.push(Inst::NewArray {
            var,
            init: ArrayInit::Pulled {
                value,
                args,
                partials,
            },
        });
        Some(Operand::Var(var))
    }
}
