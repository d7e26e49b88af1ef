//! Calls: rule functions and methods, calls of other `#[grad]` functions through their pullbacks, and the checks on their operands.

use super::*;
use crate::ir::{Kind, Op, Operand};

use crate::ir::shift_placeholders;
use crate::rules::{self, Form, RULES};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Expr, Ident};

impl Lowerer<'_> {
    pub(super) fn method(&mut self, m: &syn::ExprMethodCall) -> Operand {
        let name = m.method.to_string();
        if let Some(v) = self.array_method(m) {
            return v;
        }
        if m.turbofish.is_none() {
            if let Some(i) = rules::lookup(&name, Form::Method) {
                let exprs: Vec<&Expr> = std::iter::once(&*m.receiver).chain(&m.args).collect();
                let args: Vec<Operand> = exprs.iter().map(|a| self.expr(a)).collect();
                self.check_rule_operands(i, &args, &exprs);
                return self.rule_call(i, args, &m.method, method_span(m), true);
            }
            if crate::lower::escape::FLOAT_PREDICATES.contains(&name.as_str()) {
                let mut args = vec![self.expr(&m.receiver)];
                args.extend(m.args.iter().map(|a| self.expr(a)));
                return self.rebuilt_method(&m.method, args);
            }
        }
        let active = self.first_active(&Expr::MethodCall(m.clone()));
        if active.is_some() {
            // A differentiated value stored, turned into bits, or given to a method that may
            // change a tracked local in place.
            if let Some((at, msg)) = self.escape_in(&Expr::MethodCall(m.clone()), false) {
                return self.error(at, msg);
            }
        }
        // A method of another `#[grad]` function's type, on data (`self.layer(x)`).
        if m.turbofish.is_none() && active.is_some() && self.first_active(&m.receiver).is_none() {
            let callee = quote::format_ident!("{}_pullback", m.method, span = m.method.span());
            let exprs: Vec<&Expr> = m.args.iter().collect();
            let called = m.method.to_string();
            return self.pulled_call(
                (quote!(#callee), &called),
                Some(&m.receiver),
                &exprs,
                method_span(m),
            );
        }
        if let Some(id) = active {
            if name == "to_f64" {
                return self.error(&m.method, super::generic::to_f64_message(&id.to_string()));
            }
            // `.max_by(..)`, `.min_by(..)` (and `.max()`, `.min()` of an iterator) give an
            // `Option` of an element: say what to write at the comparator's method, not at
            // what reads the `Option`.
            if let Some(at) = comparator_of(m) {
                return self.error(
                    at,
                    format!("the largest or smallest of differentiated values is taken with `.fold(..)` (`.fold(f64::NEG_INFINITY, |m, v| m.max(v))`, `.fold(f64::INFINITY, |m, v| m.min(v))`) or a loop, not `.{at}(..)` (an `Option`, whose ties and NaNs a fold would not keep: write the one you mean)"),
                );
            }
            return self.error(
                &m.method,
                format!(
                    "`{name}` is not a method #[grad] can differentiate (it is used with `{id}`, which depends on a `wrt` parameter); supported f32/f64 methods: {}. A method of your own is differentiated through when it is called on data (`self.{name}(..)`) and has #[grad] itself",
                    rules::names(Form::Method)
                ),
            );
        }
        self.opaque(&Expr::MethodCall(m.clone()), "this method call")
    }

    /// In float code, an integer literal (`2 * x`, `x.powf(2)`) or an integer parameter
    /// (`x * n`, `n: usize`) is a type error: say so plainly, at the operand, rather than leave
    /// rustc to report it once per generated function.
    pub(super) fn check_float_operands(&mut self, operands: &[(Operand, &Expr)]) {
        for (o, e) in operands {
            match o {
                Operand::Extern(_) => self.literal_of_generic(e),
                Operand::Int(i) => {
                    self.type_error(
                        e,
                        format!("`{i}` is an integer: write `{i}.0` in float arithmetic"),
                    );
                }
                Operand::Var(v) => {
                    let what = if self.range_counters.contains(v) {
                        "counts a range, so it is an integer".to_string()
                    } else if let Some((_, ty)) = self.int_params.iter().find(|(p, _)| p == v) {
                        format!("is `{ty}`")
                    } else {
                        continue;
                    };
                    let name = e.to_token_stream();
                    let convert = self.conversion(&name.to_string());
                    let msg =
                        format!("`{name}` {what}: convert it for float arithmetic ({convert})");
                    self.type_error(e, msg);
                }
                _ => {}
            }
        }
    }

    /// [`check_float_operands`](Self::check_float_operands) for the float arguments of a rule
    /// (not `powi`'s exponent), when the call is float code at all.
    pub(super) fn check_rule_operands(&mut self, i: usize, args: &[Operand], exprs: &[&Expr]) {
        if !args.iter().any(|a| self.is_floatish(a)) {
            return;
        }
        let floats: Vec<(Operand, &Expr)> = args
            .iter()
            .zip(exprs)
            .enumerate()
            .filter(|(k, _)| RULES[i].int_arg != Some(*k))
            .map(|(_, (a, e))| (*a, *e))
            .collect();
        self.check_float_operands(&floats);
    }

    /// `args[0].name(args[1..])` over data, passed through.
    pub(super) fn rebuilt_method(&mut self, name: &Ident, args: Vec<Operand>) -> Operand {
        let mut refs = Vec::new();
        let mut parts = Vec::new();
        for a in args {
            let (t, r) = self.b.operand_tokens(a);
            parts.push(shift_placeholders(t, refs.len()));
            refs.extend(r);
        }
        let recv = &parts[0];
        let rest = &parts[1..];
        self.opaque_from(quote!(#recv.#name(#(#rest),*)), refs, Kind::Opaque, false)
    }

    /// A call of rule `i` with lowered arguments (receiver first).
    pub(super) fn rule_call(
        &mut self,
        i: usize,
        args: Vec<Operand>,
        at: &dyn ToTokens,
        span: Span,
        method_syntax: bool,
    ) -> Operand {
        let rule = &RULES[i];
        if args.len() != rule.arity() {
            let n = rule.arity() - usize::from(method_syntax);
            return self.type_error(
                at,
                format!(
                    "`{}` takes {n} argument{}",
                    rule.name,
                    if n == 1 { "" } else { "s" }
                ),
            );
        }
        if let Some(k) = rule.int_arg {
            if let Operand::Lit(x) = args[k] {
                return self.type_error(
                    at,
                    format!("the exponent of `{}` is an integer (`i32`), not the float `{x:?}`: write an integer, or use `powf` for a float exponent", rule.name),
                );
            }
            if self.b.is_active(&args[k]) {
                return self.type_error(
                    at,
                    format!("the exponent of `{}` must be an integer, not a differentiated value: use `powf`", rule.name),
                );
            }
        }
        if !args.iter().any(|a| self.is_floatish(a)) && rule.form == Form::Method {
            // `n.max(3)` on integers: not float code at all.
            let (first, rest) = (args[0], args[1..].to_vec());
            let name = Ident::new(rule.name, span);
            let mut all = vec![first];
            all.extend(rest);
            return self.rebuilt_method(&name, all);
        }
        self.b.op(Op::Call(i), args, span)
    }

    pub(super) fn call(&mut self, c: &syn::ExprCall) -> Operand {
        if crate::front::out_param::is_out_call(c)
            && self.first_active(&Expr::Call(c.clone())).is_none()
        {
            return self.out_call_on_data(c);
        }
        if let Expr::Path(p) = &*c.func {
            if let Some(v) = p.path.get_ident().and_then(|id| self.closure_of(id)) {
                return self.inline_closure(v, c);
            }
            if p.path
                .get_ident()
                .is_some_and(|f| self.refused_locals.contains(&f.to_string()))
            {
                // A closure refused where it was bound: not refused again.
                return Operand::Lit(0.0);
            }
            if p.qself.is_none() {
                let segs = crate::lower::escape::segments(&p.path);
                let last = segs.last().cloned().unwrap_or_default();
                // `f64::exp(x)`: the path form of a method.
                if segs.len() >= 2 && float_type(&segs[segs.len() - 2]) {
                    if let Some(i) = rules::lookup(&last, Form::Method) {
                        let exprs: Vec<&Expr> = c.args.iter().collect();
                        let args: Vec<Operand> = exprs.iter().map(|a| self.expr(a)).collect();
                        self.check_rule_operands(i, &args, &exprs);
                        return self.rule_call(i, args, &p.path, call_span(c), false);
                    }
                }
                // A helper needs its rule only for a differentiated argument; on data, whatever
                // function the name resolves to is called as written.
                // A helper named by its path (`backprop::sigmoid`) is ours whatever it is given; a
                // bare name on data may be the user's own function.
                let differentiated = self.first_active(&Expr::Call(c.clone())).is_some()
                    || p.path.segments.len() > 1;
                if let Some(i) = rules::lookup(&last, Form::Helper).filter(|_| differentiated) {
                    if self.is_helper_path(&p.path) {
                        let args = c.args.iter().map(|a| self.expr(a)).collect();
                        self.assert_helper(&p.path, &last);
                        return self.rule_call(i, args, &p.path, call_span(c), false);
                    }
                }
            }
            if let Some(id) = self.first_active(&Expr::Call(c.clone())) {
                if p.qself.is_none() {
                    if let Some(msg) = crate::lower::escape::holding_call(&p.path, &id.to_string())
                    {
                        return self.error(&c.func, msg);
                    }
                }
                let name = p.path.to_token_stream().to_string().replace(' ', "");
                if p.qself.is_some() {
                    let name = p
                        .path
                        .segments
                        .last()
                        .map(|s| s.ident.to_string())
                        .unwrap_or_default();
                    return self.error(
                        &c.func,
                        format!(
                            "a call through a qualified path (`<T>::{name}`) cannot be differentiated (it is passed `{id}`, which depends on a `wrt` parameter): write `x.{name}()` or `f64::{name}(x)` for the f32/f64 methods {}, and call a #[grad] function by its path (`T::{name}(..)`)",
                            rules::names(Form::Method)
                        ),
                    );
                }
                if p.path
                    .get_ident()
                    .is_some_and(|f| self.lookup(&f.to_string()).is_some())
                {
                    return self.error(
                        &c.func,
                        format!("`{name}` is a local value (a closure or a function pointer), which #[grad] cannot differentiate through (it is passed `{id}`, which depends on a `wrt` parameter): call a function annotated with `#[grad]` instead, or write the computation inline"),
                    );
                }
                let Some(callee) = self.pullback_path(&p.path, c.args.len(), false) else {
                    return self.error(
                        &p.path,
                        format!("`{name}` is not a path a pullback can be found by: call a #[grad] function by its name or path (`f(x)`, `module::f(x)`, `Self::f(x)`)"),
                    );
                };
                let exprs: Vec<&Expr> = c.args.iter().collect();
                let called = p.path.segments.last().map(|s| &s.ident);
                let called = called.map(|id| id.to_string()).unwrap_or_default();
                return self.pulled_call((callee, &called), None, &exprs, call_span(c));
            }
        }
        self.opaque(&Expr::Call(c.clone()), "this call")
    }

    /// A caller's `s = f(s, ..)` for `f(&mut s, ..)` ([`crate::front::out_param`]) on data:
    /// the function as written, given a copy to write (`{ let mut t = s; f(&mut t, ..); t }`),
    /// passed through (any function: nothing is differentiated).
    pub(super) fn out_call_on_data(&mut self, c: &syn::ExprCall) -> Operand {
        let k = crate::front::out_param::out_arg(c).unwrap_or(0);
        let t = proc_macro2::Ident::new("__grad_out", proc_macro2::Span::mixed_site());
        let place = c.args.iter().nth(k).cloned();
        let mut call = c.clone();
        call.attrs.clear();
        if let Some(a) = call.args.iter_mut().nth(k) {
            *a = syn::parse_quote!(&mut #t);
        }
        let block: Expr = syn::parse_quote_spanned!(call_span(c)=> {
            let mut #t = #place;
            #call;
            #t
        });
        self.opaque(&block, "this call")
    }

    /// The pullback of the function at `path`: `T::f_pullback` for an associated function
    /// (`Self::f`, `Model::f`); `__grad_f::pullback` for a function of a module (`f`,
    /// `m::f`), with `f` imported as `__grad_f` by `expand::pullbacks_in_scope`.
    /// `None` when the call gives type arguments.
    /// `array`: the call returns an array.
    pub(super) fn pullback_path(
        &mut self,
        path: &syn::Path,
        arity: usize,
        array: bool,
    ) -> Option<TokenStream> {
        // `f::<T>(x)`: the pullback infers `T` from the arguments, as the call does.
        let mut path = path.clone();
        path.segments.last_mut()?.arguments = syn::PathArguments::None;
        let (path, n) = (&path, path.segments.len());
        let last = path.segments.last()?;
        let span = last.ident.span();
        let ty = n >= 2 && {
            let prev = path.segments[n - 2].ident.to_string();
            prev == "Self" || prev.starts_with(|c: char| c.is_ascii_uppercase())
        };
        let mut p = path.clone();
        if ty {
            if let Some(seg) = p.segments.last_mut() {
                seg.ident = quote::format_ident!("{}_pullback", last.ident, span = span);
            }
            return Some(p.to_token_stream());
        }
        let written = path.to_token_stream().to_string();
        let name = match self
            .callees
            .iter_mut()
            .find(|(_, q, _, _)| q.to_token_stream().to_string() == written)
        {
            Some((id, _, _, returns_array)) => {
                *returns_array |= array;
                id.to_string()
            }
            None => {
                // `__grad_f`, or `__grad_f_2` for a second `f` (`a::f`, `b::f`).
                let same = self
                    .callees
                    .iter()
                    .filter(|(_, q, _, _)| q.segments.last().map(|s| &s.ident) == Some(&last.ident))
                    .count();
                let id = if same == 0 {
                    format!("__grad_{}", last.ident)
                } else {
                    format!("__grad_{}_{}", last.ident, same + 1)
                };
                self.callees.push((
                    Ident::new(&id, Span::call_site()),
                    path.clone(),
                    arity,
                    array,
                ));
                id
            }
        };
        let id = Ident::new(&name, span);
        let pb = Ident::new("pullback", span);
        Some(quote!(#id::#pb))
    }

    /// `sigmoid`, `backprop::sigmoid`, `::backprop::sigmoid` or `<crate option>::sigmoid`.
    pub(super) fn is_helper_path(&self, path: &syn::Path) -> bool {
        let mut prefix = path.clone();
        prefix.segments.pop();
        let prefix = prefix.to_token_stream().to_string().replace(' ', "");
        let krate = self.krate.to_string().replace(' ', "");
        let prefix = prefix.trim_end_matches("::");
        prefix.is_empty() || prefix == "backprop" || prefix == "::backprop" || prefix == krate
    }

    /// Makes rustc check that `path` is the runtime helper `name` and not a user function of the
    /// same name, which would otherwise be differentiated with the wrong rule.
    pub(super) fn assert_helper(&mut self, path: &syn::Path, name: &str) {
        let ty = crate::emit::tokens::float_type_tokens(self.b.float);
        let krate = self.krate;
        let span = path.span();
        let helper = Ident::new(name, span);
        // Spanned at the call, so a mismatch is reported there.
        let check = respan(
            quote! {
                #krate::__private::called_function_must_be_the_grad_helper(#path, #krate::#helper::<#ty>);
            },
            span,
        );
        if !self
            .assertions
            .iter()
            .any(|a| a.to_string() == check.to_string())
        {
            self.assertions.push(check);
        }
    }
}

/// The `max_by`, `min_by`, `max_by_key`, `min_by_key`, `max` or `min` of an iterator the method
/// call `m` is called on (`xs.iter().map(..).max_by(..).unwrap()`), if any.
fn comparator_of(m: &syn::ExprMethodCall) -> Option<&syn::Ident> {
    let mut e = &*m.receiver;
    while let Expr::MethodCall(inner) = e {
        let n = inner.method.to_string();
        let iterator = matches!(
            n.as_str(),
            "max_by" | "min_by" | "max_by_key" | "min_by_key"
        ) || (matches!(n.as_str(), "max" | "min") && inner.args.is_empty());
        if iterator {
            return Some(&inner.method);
        }
        e = &inner.receiver;
    }
    None
}
