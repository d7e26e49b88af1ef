//! Expressions: arithmetic, literals, casts, and code over data passed through as written (with its placeholders).

use super::*;
use crate::front::check::float_of;
use crate::ir::{placeholder, Float, Inst, Kind, Name, Op, Opaque, Operand, Var};

use crate::ir::shift_placeholders;
use crate::lower::escape::Held;
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Ident, Lit, UnOp};

impl Lowerer<'_> {
    pub(super) fn expr(&mut self, e: &Expr) -> Operand {
        match e {
            Expr::Lit(l) => self.lit(&l.lit),
            Expr::Path(p) => {
                if p.qself.is_none() {
                    if let Some(id) = p.path.get_ident() {
                        if let Some(v) = self.lookup(&id.to_string()) {
                            if self.closure_of(id).is_some() {
                                return self.error(
                                    p,
                                    format!("`{id}` is a local closure: #[grad] inlines it where it is called (`{id}(x)`), and cannot pass it on, store it or return it; call it, or make it a `#[grad]` function"),
                                );
                            }
                            if self.b.kind(&v) == Kind::Array {
                                return self.error(
                                    p,
                                    format!("`{id}` is an array of floats: index it (`{id}[i]`), iterate over it (`{id}.iter()`), copy it whole with `let` or `=` (`let v = {id};`), or pass it to a #[grad] function (`f({id})`, `f(&{id})`); it cannot be used as a whole here"),
                                );
                            }
                            return v;
                        }
                    }
                }
                if let Some(c) = self.generic_const(p) {
                    return c;
                }
                self.b.add_extern(p.to_token_stream())
            }
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
            // `&x` of a differentiated float: while the reference lives, `x` cannot change, so
            // the reference is its value (`*r` reads it back). Not of what a call returned or a
            // field held (an array, perhaps, whose type the macro does not see).
            Expr::Reference(r)
                if r.mutability.is_none()
                    && matches!(&*r.expr, Expr::Path(p) if p.path.get_ident().is_some_and(|id| {
                        self.lookup(&id.to_string()).and_then(|v| v.as_var()).is_some_and(|v| {
                            // Arithmetic's result, an `if`'s or a loop's value, an element, or
                            // a parameter declared a float: a float for sure (a struct's field
                            // may be of a type the macro does not see).
                            let info = self.b.info(v);
                            info.kind == Kind::Float
                                && info.active
                                && !self.field_params.contains(&v)
                                && !self
                                    .b
                                    .definition(v)
                                    .is_some_and(|(op, _)| matches!(op, Op::Pulled(_)))
                        })
                    })) =>
            {
                self.expr(&r.expr)
            }
            Expr::Unary(u) => match u.op {
                UnOp::Neg(_) => {
                    let x = self.expr(&u.expr);
                    if self.is_floatish(&x) {
                        self.b.op(Op::Neg, vec![x], span_of(e))
                    } else {
                        let (t, refs) = self.b.operand_tokens(x);
                        self.opaque_from(quote!(-#t), refs, Kind::Opaque, false)
                    }
                }
                UnOp::Not(_) => self.cond_value(e),
                UnOp::Deref(_) => {
                    // `*w` for a loop's element of a differentiated array: the generated loop
                    // binds the element itself.
                    let x = self.expr(&u.expr);
                    if self.is_floatish(&x) {
                        x
                    } else {
                        let (t, refs) = self.b.operand_tokens(x);
                        self.opaque_from(quote!(*#t), refs, Kind::Opaque, false)
                    }
                }
                _ => self.opaque(e, "this expression"),
            },
            Expr::Binary(b) => match arith_op(&b.op) {
                Some(op) => {
                    let l = self.expr(&b.left);
                    let r = self.expr(&b.right);
                    if self.is_floatish(&l) || self.is_floatish(&r) {
                        self.check_float_operands(&[(l, &*b.left), (r, &*b.right)]);
                    }
                    self.arith(op, l, r, span_of(e))
                }
                None if is_logic(&b.op) => self.cond_value(e),
                None if compound(&b.op).is_some() => {
                    self.error(e, "an assignment has no value: write it as a statement")
                }
                None => self.opaque(e, &format!("the operator `{}`", b.op.to_token_stream())),
            },
            Expr::MethodCall(m) => self.method(m),
            Expr::Call(c) => match self.generic_literal(c) {
                Some(o) => o,
                None => self.call(c),
            },
            Expr::Cast(c) => self.cast(c),
            Expr::If(i) => match self.if_expr(i) {
                Some(v) => v,
                None => self.type_error(
                    i,
                    "this `if` has no value: give both branches a final expression",
                ),
            },
            Expr::Block(b) if b.label.is_none() => match self.block(&b.block) {
                Some(v) => v,
                // A block that ends by leaving (`return`, `break`) needs no value.
                None if ends_with_jump(&b.block) => Operand::Lit(0.0),
                None => self.error(b, "this block has no value: end it with an expression"),
            },
            Expr::Assign(a) => self.error(a, "an assignment has no value: write it as a statement"),
            Expr::Index(ix) => self.index_expr(ix),
            Expr::Match(m) => match self.match_expr(m) {
                Some(v) => v,
                None => self.error(
                    m.match_token,
                    "this `match` has no value: give every arm a final expression",
                ),
            },
            Expr::Return(_) | Expr::Break(_) | Expr::Continue(_) => {
                // Leaves: whatever stands here is never used.
                self.stmt_expr(e);
                Operand::Lit(0.0)
            }
            Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => {
                let kw = match e {
                    Expr::ForLoop(f) => f.for_token.to_token_stream(),
                    Expr::While(w) => w.while_token.to_token_stream(),
                    Expr::Loop(l) => l.loop_token.to_token_stream(),
                    _ => TokenStream::new(),
                };
                self.error(
                    kw,
                    "a loop has no value here: write it as a statement, and give the value after it",
                )
            }
            other => {
                if let Some((at, msg)) = refused(other) {
                    if matches!(other, Expr::Try(_)) {
                        return self.type_error(at, msg);
                    }
                    return self.error(at, msg);
                }
                self.opaque(other, "this expression")
            }
        }
    }

    pub(super) fn lit(&mut self, lit: &Lit) -> Operand {
        match lit {
            // In a function generic over its float type, a literal is an `f64` (data): its
            // constants are written `T::from_f64(c)` (`lower::generic`).
            Lit::Float(_) if self.b.float == Float::Generic => {
                self.b.add_extern(lit.to_token_stream())
            }
            Lit::Float(f)
                if f.suffix().is_empty() || float_suffix(f.suffix()) == Some(self.b.float) =>
            {
                let v = match self.b.float {
                    Float::F32 => f.base10_parse::<f32>().map(f64::from),
                    Float::F64 | Float::Generic => f.base10_parse::<f64>(),
                };
                match v {
                    Ok(v) => Operand::Lit(v),
                    Err(_) => self.b.add_extern(lit.to_token_stream()),
                }
            }
            Lit::Int(i) if i.suffix().is_empty() => match i.base10_parse::<i64>() {
                Ok(v) => Operand::Int(v),
                Err(_) => self.b.add_extern(lit.to_token_stream()),
            },
            Lit::Bool(b) => Operand::Bool(b.value),
            other => self.b.add_extern(other.to_token_stream()),
        }
    }

    pub(super) fn arith(&mut self, op: Op, l: Operand, r: Operand, span: Span) -> Operand {
        if self.is_floatish(&l) || self.is_floatish(&r) {
            return self.b.op(op, vec![l, r], span);
        }
        // Integer (or other data) arithmetic: passed through as written.
        let (lt, mut refs) = self.b.operand_tokens(l);
        let (rt, rrefs) = self.b.operand_tokens(r);
        let rt = shift_placeholders(rt, refs.len());
        refs.extend(rrefs);
        let sym = match op {
            Op::Add => quote!(+),
            Op::Sub => quote!(-),
            Op::Mul => quote!(*),
            Op::Rem => quote!(%),
            _ => quote!(/),
        };
        self.opaque_from(quote!(#lt #sym #rt), refs, Kind::Opaque, false)
    }

    /// `o`, marked as a part of what a pullback call returned (see `VarInfo::pulled_part`).
    pub(super) fn pulled_part(&mut self, o: Operand, part: crate::ir::PulledPart) -> Operand {
        if let Operand::Var(v) = o {
            self.b.info_mut(v).pulled_part = Some(part);
            // At the call, for what second order says of it.
            if let Some(cv) = self.pulled.last() {
                self.b.info_mut(v).span = self.b.info(*cv).span;
            }
        }
        o
    }

    pub(super) fn opaque_from(
        &mut self,
        tokens: TokenStream,
        refs: Vec<Var>,
        kind: Kind,
        effectful: bool,
    ) -> Operand {
        // How tightly the tokens bind, so that they are parenthesised where they are used.
        let prec = syn::parse2::<syn::Expr>(tokens.clone())
            .map(|e| crate::emit::tokens::expr_prec(&e))
            .unwrap_or(crate::emit::tokens::PREC_LOWEST);
        let active = kind == Kind::Float && refs.iter().any(|v| self.b.info(*v).active);
        let var = self.b.new_var(kind, Name::Temp, active, Span::call_site());
        self.b.push(Inst::Opaque {
            var,
            expr: Opaque {
                tokens,
                refs,
                effectful,
                prec,
            },
            ty: None,
        });
        Operand::Var(var)
    }

    /// Passes an expression over data through as written. `what` names it in the error given
    /// when it involves a differentiated value after all.
    pub(super) fn opaque(&mut self, e: &Expr, what: &str) -> Operand {
        if let Some((at, msg)) = self.escape_in(e, false) {
            return self.error(at, msg);
        }
        if let Some(id) = self.first_active(e) {
            // `&r`, `r` a float to the macro: an array returned by a call, whose type the
            // macro cannot see.
            let by_ref = matches!(e, Expr::Reference(r) if matches!(&*r.expr, Expr::Path(p) if p.path.is_ident(&id)));
            let hint = if by_ref {
                format!(" (`&{id}` passes it as an array is passed: if `{id}` holds the array a `#[grad]` function returned, write its type where it is bound, `let {id}: [f64; N] = ...;`, and the macro takes it for an array)")
            } else {
                String::new()
            };
            return self.error(
                e,
                format!("{what} cannot be differentiated: it uses `{id}`, which depends on a `wrt` parameter; differentiated values may only go through arithmetic, `if`, and the supported functions{hint}"),
            );
        }
        let (expr, refs, effectful, _) = self.substitute(e, false);
        if refs.is_empty() && !effectful && matches!(e, Expr::Path(_) | Expr::Lit(_)) {
            return self.b.add_extern(expr);
        }
        let v = self.opaque_from(expr, refs, Kind::Opaque, effectful);
        if let Operand::Var(var) = v {
            self.b.info_mut(var).span = span_of(e);
        }
        v
    }

    /// What a local name holds, for the escape analysis.
    pub(super) fn held(&self, name: &str) -> Held {
        let Some(o) = self.lookup(name) else {
            return Held::Unknown;
        };
        if self.b.is_active(&o) {
            return Held::Differentiated;
        }
        match (o, self.b.kind(&o)) {
            (Operand::Var(_), Kind::Float | Kind::Array) => Held::Tracked,
            // Only data declared `mut` and changed in place is kept `mut` in the companions:
            // other data (assigned values, loop variables) cannot be lent with `&mut`.
            (Operand::Var(v), _) if !self.b.info(v).mutable => Held::Value,
            (Operand::Var(_), _) | (Operand::Extern(_), _) => Held::Data,
            // A constant: a write through `&mut` would be lost.
            _ => Held::Tracked,
        }
    }

    /// Asks the escape analysis (`escape.rs`), which sees this scope's names.
    pub(super) fn escapes<R>(&self, ask: impl FnOnce(&crate::lower::escape::Escapes) -> R) -> R {
        let held = |n: &str| self.held(n);
        ask(&crate::lower::escape::Escapes {
            held: &held,
            known_pure_call: &known_pure,
        })
    }

    /// The first escape of a differentiated value in `e`, passed through as written.
    pub(super) fn escape_in(
        &self,
        e: &Expr,
        in_condition: bool,
    ) -> Option<crate::lower::escape::Escape> {
        self.escapes(|x| x.in_passed_through(e, in_condition))
    }

    /// The differentiated local whose value `e` carries (not a comparison or a cast to an
    /// integer of it).
    pub(super) fn carries(&self, e: &Expr) -> Option<String> {
        self.escapes(|x| x.carried(e))
    }

    /// The first identifier in `e` naming a differentiated (active) value.
    pub(super) fn first_active(&self, e: &Expr) -> Option<Ident> {
        struct Find<'l, 'a> {
            l: &'l Lowerer<'a>,
            found: Option<Ident>,
        }
        impl<'ast> Visit<'ast> for Find<'_, '_> {
            fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
                if let (None, Some(id), None) = (&p.qself, p.path.get_ident(), &self.found) {
                    if self
                        .l
                        .lookup(&id.to_string())
                        .is_some_and(|o| self.l.b.is_active(&o))
                    {
                        self.found = Some(id.clone());
                    }
                }
            }
            fn visit_item(&mut self, _: &'ast syn::Item) {}
        }
        let mut f = Find {
            l: self,
            found: None,
        };
        f.visit_expr(e);
        f.found
    }

    /// `e` with every reference to a local replaced by a placeholder (or the literal it is
    /// bound to); refused constructs inside it are reported.
    pub(super) fn substitute(
        &mut self,
        e: &Expr,
        in_condition: bool,
    ) -> (TokenStream, Vec<Var>, bool, u8) {
        struct Subst<'l, 'a> {
            l: &'l mut Lowerer<'a>,
            refs: Vec<Var>,
            effectful: bool,
            /// Whether a differentiated value may appear (in a condition), and whether one that
            /// may not was reported already.
            cond: bool,
            reported: bool,
        }
        impl Subst<'_, '_> {
            /// A call in a condition that is passed a differentiated value (`f(x) > 0.0`), with
            /// a closure beside it that would call the callee's pullback and is never called
            /// (`{ let _ = || __grad_f::pullback(x); f(x) }`): rustc checks that the callee is
            /// a `#[grad]` function, which keeps nothing of what it is given, so a function
            /// with effects cannot be handed the value unseen.
            fn through_pullback(&mut self, e: &mut Expr) -> Option<Expr> {
                match e {
                    Expr::Call(c) => {
                        let Expr::Path(p) = &*c.func else {
                            return None;
                        };
                        if p.qself.is_some() || !c.args.iter().any(|a| self.l.carries(a).is_some())
                        {
                            return None;
                        }
                        let path = p.path.clone();
                        let pb = self.l.pullback_path(&path, c.args.len(), false)?;
                        for a in c.args.iter_mut() {
                            self.visit_expr_mut(a);
                        }
                        let (func, args) = (&c.func, &c.args);
                        Some(Expr::Verbatim(quote!({
                            let _ = || #pb(#args);
                            #func(#args)
                        })))
                    }
                    Expr::MethodCall(m) => {
                        if m.turbofish.is_some()
                            || crate::lower::escape::read_only(&m.method.to_string())
                            || self.l.carries(&m.receiver).is_some()
                            || !m.args.iter().any(|a| self.l.carries(a).is_some())
                        {
                            return None;
                        }
                        let callee =
                            quote::format_ident!("{}_pullback", m.method, span = m.method.span());
                        self.visit_expr_mut(&mut m.receiver);
                        for a in m.args.iter_mut() {
                            self.visit_expr_mut(a);
                        }
                        let (recv, method, args) = (&m.receiver, &m.method, &m.args);
                        Some(Expr::Verbatim(quote!({
                            let _ = || #recv.#callee(#args);
                            #recv.#method(#args)
                        })))
                    }
                    _ => None,
                }
            }
        }
        impl VisitMut for Subst<'_, '_> {
            fn visit_expr_mut(&mut self, e: &mut Expr) {
                // A local closure called in code kept as written (a condition, an index, a
                // loop's bounds, an argument of a function on data): its calls are inlined
                // where the macro computes values, and it does not exist here.
                if let Expr::Call(c) = e {
                    if let Expr::Path(p) = &*c.func {
                        let closure = p.qself.is_none()
                            && p.path
                                .get_ident()
                                .and_then(|id| self.l.closure_of(id))
                                .is_some();
                        if closure {
                            if !self.reported {
                                self.reported = true;
                                let name = p.path.to_token_stream();
                                self.l.error(
                                    &*c,
                                    format!("the local closure `{name}` is called here where #[grad] keeps the code as written (a condition, an index, a loop's bounds, an argument of a function on data), and its calls are inlined instead: bind the call's value first, `let v = {name}(..);`, and use `v` here"),
                                );
                            }
                            return;
                        }
                    }
                }
                // `*w` of a loop's element of a differentiated array: the generated loop binds
                // the element itself (a float variable is never a reference there).
                if let Expr::Unary(u) = e {
                    if let (UnOp::Deref(_), Expr::Path(p)) = (&u.op, &*u.expr) {
                        let float = p
                            .path
                            .get_ident()
                            .and_then(|id| self.l.lookup(&id.to_string()))
                            .is_some_and(|o| self.l.b.kind(&o) == Kind::Float);
                        if float {
                            let inner = (*u.expr).clone();
                            *e = inner;
                        }
                    }
                }
                if let Expr::Path(p) = e {
                    if let (None, Some(id)) = (&p.qself, p.path.get_ident()) {
                        if let Some(o) = self.l.lookup(&id.to_string()) {
                            // The floor of the escape analysis: whatever else let a
                            // differentiated value reach code passed through as data.
                            if !self.cond && !self.reported && self.l.b.is_active(&o) {
                                self.reported = true;
                                self.l.error(
                                    &*p,
                                    format!("`{id}` depends on a `wrt` parameter, but here it reaches code grad passes through as written, without differentiating it: differentiated values may only go through arithmetic, `if`, loops, local arrays, the supported functions and #[grad] functions"),
                                );
                            }
                            let tokens = match o {
                                Operand::Var(v) => {
                                    self.refs.push(v);
                                    let ph =
                                        Ident::new(&placeholder(self.refs.len() - 1), id.span());
                                    quote!(#ph)
                                }
                                other => self.l.b.operand_tokens(other).0,
                            };
                            *e = Expr::Verbatim(tokens);
                        }
                    }
                    return;
                }
                if let Some((at, msg)) = refused(e) {
                    if matches!(e, Expr::Try(_)) {
                        self.l.type_error(at, msg);
                    } else {
                        self.l.error(at, msg);
                    }
                    return;
                }
                let assigned = match &*e {
                    Expr::Assign(a) => Some(a.left.to_token_stream()),
                    Expr::Binary(b) if compound(&b.op).is_some() => Some(b.left.to_token_stream()),
                    _ => None,
                };
                if let Some(left) = assigned {
                    self.l.error(
                        left,
                        "an assignment inside an expression (a condition, an argument, a block in one) is not supported: assign before it, as a statement of its own",
                    );
                    return;
                }
                if matches!(e, Expr::Call(_) | Expr::MethodCall(_)) && !known_pure(e) {
                    self.effectful = true;
                    if self.cond {
                        if let Some(pulled) = self.through_pullback(e) {
                            *e = pulled;
                            return;
                        }
                    }
                }
                syn::visit_mut::visit_expr_mut(self, e);
            }
            fn visit_field_value_mut(&mut self, fv: &mut syn::FieldValue) {
                // `S { x }` names the local `x`: spell it out so it can be substituted.
                if fv.colon_token.is_none() {
                    fv.colon_token = Some(Default::default());
                }
                syn::visit_mut::visit_field_value_mut(self, fv);
            }
            fn visit_item_mut(&mut self, _: &mut syn::Item) {}
        }
        let mut reported = false;
        if let Some((at, msg)) = self.escape_in(e, in_condition) {
            self.error(at, msg);
            reported = true;
        }
        let mut e = e.clone();
        let mut s = Subst {
            l: self,
            refs: Vec::new(),
            effectful: false,
            cond: in_condition,
            reported,
        };
        s.visit_expr_mut(&mut e);
        let (refs, effectful) = (s.refs, s.effectful);
        let prec = crate::emit::tokens::expr_prec(&e);
        (quote!(#e), refs, effectful, prec)
    }

    pub(super) fn cast(&mut self, c: &syn::ExprCast) -> Operand {
        let target = float_of(&c.ty);
        let inner = self.expr(&c.expr);
        let float = self.is_floatish(&inner);
        if float && target == Some(self.b.float) {
            return inner;
        }
        if float && target.is_some() && self.b.is_active(&inner) {
            return self.error(
                c,
                format!(
                    "a differentiated value cannot change float type inside a #[grad] function: keep it `{}`",
                    crate::emit::tokens::float_type_tokens(self.b.float)
                ),
            );
        }
        let ty = &c.ty;
        let (t, refs) = self.b.operand_tokens(inner);
        let kind = if target == Some(self.b.float) {
            Kind::Float
        } else {
            Kind::Opaque
        };
        // An integer cast of a differentiated value is a step function: its derivative is 0.
        let v = self.opaque_from(quote!(#t as #ty), refs, kind, false);
        if let Operand::Var(var) = v {
            self.b.info_mut(var).span = c.span();
        }
        v
    }
}
