//! Statements: `let`, assignments and compound assignments, expression statements, blocks.

use super::*;
use crate::front::check::float_of;
use crate::ir::{Inst, Kind, Name, Op, Opaque, Operand};

use crate::rules::{self, Form};
use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, Local, Pat, Stmt};

impl Lowerer<'_> {
    pub(super) fn stmts(&mut self, stmts: &[Stmt]) -> Option<Operand> {
        let mut value = None;
        for (i, stmt) in stmts.iter().enumerate() {
            let last = i + 1 == stmts.len();
            value = None;
            // Only a block's value goes into an array being assigned by an `if` or a block
            // (`array_target`); its other statements are lowered as usual.
            let target = if last {
                self.array_target
            } else {
                self.array_target.take()
            };
            match stmt {
                Stmt::Local(local) => self.local(local),
                Stmt::Item(item) => self.items.push(item.clone()),
                Stmt::Macro(m) => {
                    self.error(&m.mac, macro_refused(&m.mac));
                }
                Stmt::Expr(e, semi) => {
                    if last && semi.is_none() {
                        value = self.tail(e);
                    } else {
                        self.stmt_expr(e);
                    }
                }
            }
            self.array_target = target;
            // After a `return`, `break` or `continue` that may have run, the rest of the block
            // runs only if none did.
            if !last && !self.jump_flags().is_empty() {
                let rest = &stmts[i + 1..];
                return self.guard_then(&mut |l| l.stmts(rest));
            }
        }
        value
    }

    /// A block's final expression: `None` if it has no value (an assignment, an `if` without
    /// value).
    pub(super) fn tail(&mut self, e: &Expr) -> Option<Operand> {
        // The value of an arm or block that an array is assigned from (`let z = if c { u }
        // else { v };`): written into the array.
        if let Some(target) = self.array_target {
            if !matches!(e, Expr::If(_) | Expr::Block(_)) {
                self.array_into(target, e);
                return None;
            }
        }
        match e {
            Expr::Assign(_) => {
                self.stmt_expr(e);
                None
            }
            Expr::Binary(b) if compound(&b.op).is_some() => {
                self.stmt_expr(e);
                None
            }
            Expr::If(i) => self.if_expr(i),
            Expr::Block(b) if b.label.is_none() => self.block(&b.block),
            Expr::Return(_)
            | Expr::Break(_)
            | Expr::Continue(_)
            | Expr::ForLoop(_)
            | Expr::While(_)
            | Expr::Loop(_) => {
                self.stmt_expr(e);
                None
            }
            Expr::Match(m) => self.match_expr(m),
            _ => Some(self.expr(e)),
        }
    }

    pub(super) fn stmt_expr(&mut self, e: &Expr) {
        match e {
            Expr::Assign(a) => {
                // `u = un;`: an array written whole.
                if let Expr::Path(p) = &*a.left {
                    if let Some(id) = p.path.get_ident() {
                        let name = id.to_string();
                        if let Some(Operand::Var(arr)) = self.lookup(&name) {
                            if self.b.info(arr).kind == Kind::Array {
                                self.assign_array(arr, &name, &a.right, &a.left);
                                return;
                            }
                        }
                    }
                }
                let val = self.expr(&a.right);
                self.store(&a.left, val, None);
            }
            Expr::Binary(b) if compound(&b.op).is_some() => {
                let rhs = self.expr(&b.right);
                let target = match &*b.left {
                    Expr::Path(p) => p
                        .path
                        .get_ident()
                        .and_then(|id| self.lookup(&id.to_string())),
                    _ => None,
                };
                if target.is_some_and(|t| self.is_floatish(&t)) {
                    self.check_float_operands(&[(rhs, &*b.right)]);
                } else if let Some(Operand::Int(i)) = target.filter(|_| self.is_floatish(&rhs)) {
                    // Floats accumulated in an integer (`let mut s = 0; s += x;`).
                    let name = b.left.to_token_stream();
                    self.type_error(&b.left, format!("`{name}` holds the integer `{i}`, so floats cannot be added into it: start it as a float (`let mut {name} = {i}.0;`)"));
                    return;
                }
                self.store(&b.left, rhs, compound(&b.op));
            }
            Expr::If(i) => {
                self.if_expr(i);
            }
            Expr::Block(b) if b.label.is_none() => {
                self.block(&b.block);
            }
            Expr::Return(r) => self.return_expr(r),
            Expr::Break(b) => self.break_expr(b),
            Expr::Continue(c) => self.continue_expr(c),
            Expr::ForLoop(f) => self.for_loop(f),
            Expr::While(w) => self.while_loop(w),
            Expr::Loop(l) => self.loop_expr(l),
            Expr::Match(m) => {
                self.match_expr(m);
            }
            _ => {
                if self.discarded_call(e) {
                    return;
                }
                let v = self.expr(e);
                // A statement over data is kept for its effects; a float expression statement
                // computes nothing anyone reads.
                let _ = v;
            }
        }
    }

    pub(super) fn block(&mut self, block: &syn::Block) -> Option<Operand> {
        self.env.push(Scope::default());
        let v = self.stmts(&block.stmts);
        self.env.pop();
        v
    }

    pub(super) fn local(&mut self, local: &Local) {
        if let Some((else_token, _)) = local.init.as_ref().and_then(|i| i.diverge.as_ref()) {
            self.error(
                else_token,
                "`let ... else` is not supported: use `let name = ...;` with `if` / `else`",
            );
            return;
        }
        let (pat, ty) = match &local.pat {
            Pat::Type(pt) => (&*pt.pat, Some(&*pt.ty)),
            p => (p, None),
        };
        if let (Pat::Tuple(pt), Some(init), None) = (pat, &local.init, ty) {
            if self.let_tuple(pt, &init.expr) {
                return;
            }
        }
        let name = match pat {
            Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                if let Some(init) = &local.init {
                    if let Expr::Closure(c) = &*init.expr {
                        if ty.is_none() {
                            self.local_closure(&pi.ident, c);
                            return;
                        }
                        self.refused_locals.insert(pi.ident.to_string());
                    }
                    // `let g = sq;` of a closure: refused where `sq` is read, and not again
                    // where `g` is called.
                    if let Expr::Path(p) = &*init.expr {
                        if p.path
                            .get_ident()
                            .and_then(|id| self.closure_of(id))
                            .is_some()
                        {
                            self.refused_locals.insert(pi.ident.to_string());
                        }
                    }
                }
                Some(pi.ident.to_string())
            }
            Pat::Wild(_) => None,
            Pat::Tuple(_) => {
                self.error(
                    pat,
                    "a tuple pattern is supported only with a tuple of values (`let (a, b) = (x, 2.0 * x);`): bind each value with a `let` of its own",
                );
                return;
            }
            other => {
                self.error(
                    other,
                    "only `let name = ...;` and `let _ = ...;` are supported here",
                );
                return;
            }
        };
        let Some(init) = &local.init else {
            self.error(
                local,
                "declare the variable with its value (`let x = ...;`): a later first assignment is not supported",
            );
            // Bound anyway, so its later uses do not cascade into more errors.
            if let Some(name) = name {
                self.bind(name, Operand::Lit(0.0));
            }
            return;
        };
        if name.is_none() && self.discarded_call(&init.expr) {
            return;
        }
        self.data_call_array = None;
        if let Some(name) = &name {
            if let Some(arr) = self.array_call(name, &init.expr, ty, None) {
                self.bind(name.clone(), arr);
                return;
            }
            if let Some(arr) = self.array_valued(name, &init.expr) {
                self.bind(name.clone(), arr);
                return;
            }
            if let Some(arr) = self.local_array(name, &init.expr) {
                self.bind(name.clone(), arr);
                return;
            }
        }
        let first_new = self.b.vars.len();
        let val = match ty {
            None => self.expr(&init.expr),
            Some(ty) if float_of(ty) == Some(self.b.float) => {
                let val = self.expr(&init.expr);
                // `let t: f64 = v.iter().sum();`: code over data keeps the annotation that
                // drives its inference, and is known to be a float from here on.
                if let Operand::Var(v) = val {
                    if v.0 as usize >= first_new {
                        self.b.annotate_opaque(v, ty.to_token_stream(), Kind::Float);
                    }
                }
                val
            }
            Some(ty) => {
                // Data (`let n: usize = ..`) or the other float type: kept as written, with its
                // annotation (`let a: f32 = 0.1;` must round to f32 as the original does).
                if let Some(id) = self.first_active(&init.expr) {
                    if !is_int_or_bool(ty) {
                        self.error(
                            ty,
                            format!(
                                "`{id}` depends on a `wrt` parameter, so its derivative would be lost in a `{}`: keep differentiated values `{}`",
                                crate::front::check::type_str(ty),
                                crate::emit::tokens::float_type_tokens(self.b.float)
                            ),
                        );
                        return;
                    }
                }
                // An integer or a `bool` computed from a differentiated value is data, as in a
                // condition (`x as i64`, `x > 0.0`); passing the value to a call is not.
                let (tokens, refs, effectful, prec) = self.substitute(&init.expr, true);
                let var = self.b.new_var(Kind::Opaque, Name::Temp, false, ty.span());
                // Data annotated as an array of floats (`let z: [f64; 3] = f(x);`): a copy of
                // it may hold differentiated values (`let mut w = z; w[0] = x;`).
                if let Some((info, f)) = crate::front::check::array_of(ty) {
                    if f == self.b.float && info.lens.iter().all(Option::is_some) {
                        self.data_arrays.insert(var, info);
                    }
                }
                self.b.push(Inst::Opaque {
                    var,
                    expr: Opaque {
                        tokens,
                        refs,
                        effectful,
                        prec,
                    },
                    ty: Some(ty.to_token_stream()),
                });
                Operand::Var(var)
            }
        };
        let val = match pat {
            Pat::Ident(pi) => self.in_place_data(val, pi, first_new),
            _ => val,
        };
        // A `#[grad]` function's array on data (`array_call`): known to be one.
        if let (Some(info), Operand::Var(v)) = (self.data_call_array.take(), val) {
            if v.0 as usize >= first_new {
                self.data_arrays.entry(v).or_insert(info);
            }
        }
        if let Some(name) = name {
            self.name_fresh(val, first_new, &name);
            self.bind(name, val);
        }
    }

    /// A call whose value is thrown away (`f(&mut out, x);`, `let _ = f(x);`) with a
    /// differentiated argument: refused, since the value could then only matter through the
    /// call's effects, which `#[grad]` cannot follow. `true` if refused.
    pub(super) fn discarded_call(&mut self, e: &Expr) -> bool {
        // A local closure's call is its body, whose value is dropped.
        if let Expr::Call(c) = e {
            if let Expr::Path(p) = &*c.func {
                if let Some(v) = p.path.get_ident().and_then(|id| self.closure_of(id)) {
                    self.inline_closure(v, c);
                    return true;
                }
            }
        }
        let (name, at): (String, TokenStream) = match e {
            Expr::Paren(p) => return self.discarded_call(&p.expr),
            Expr::Call(c) => match &*c.func {
                Expr::Path(p) => match p.path.segments.last() {
                    Some(s) if rules::lookup(&s.ident.to_string(), Form::Helper).is_none() => {
                        (s.ident.to_string(), p.to_token_stream())
                    }
                    _ => return false,
                },
                _ => return false,
            },
            Expr::MethodCall(m) if rules::lookup(&m.method.to_string(), Form::Method).is_none() => {
                (m.method.to_string(), m.method.to_token_stream())
            }
            _ => return false,
        };
        // Specific escapes (a storing method, `&mut` of a tracked local) say more.
        if let Some((at, msg)) = self.escape_in(e, false) {
            self.error(at, msg);
            return true;
        }
        let Some(id) = self.first_active(e) else {
            return false;
        };
        if let Expr::MethodCall(m) = e {
            if self.first_active(&m.receiver).is_some() {
                let recv = m.receiver.to_token_stream().to_string();
                self.error(at, crate::lower::escape::changed_in_place(&recv, &name));
                return true;
            }
        }
        self.error(
            at,
            format!("the value of this call of `{name}` is thrown away, yet it is passed `{id}`, which depends on a `wrt` parameter: #[grad] follows a differentiated value through a call only by what the call returns, not through its effects (a `&mut` argument, a field, a cell, a container); make `{name}` return the value and use it (`let y = {name}(..);`), as a #[grad] function or one with #[backprop::rule]"),
        );
        true
    }

    /// `let (a, b) = (e1, e2);` (nested too): each name bound to its element, every element
    /// computed before any name is bound, as Rust does (`let (a, b) = (b, a + b);`). `false`
    /// (nothing lowered) unless the value is a tuple literal of the pattern's shape.
    pub(super) fn let_tuple(&mut self, pat: &syn::PatTuple, init: &Expr) -> bool {
        fn shape_fits(p: &Pat, e: &Expr) -> bool {
            match (p, e) {
                (Pat::Paren(p), e) => shape_fits(&p.pat, e),
                (p, Expr::Paren(e)) => shape_fits(p, &e.expr),
                (Pat::Tuple(pt), Expr::Tuple(et)) => {
                    pt.elems.len() == et.elems.len()
                        && pt
                            .elems
                            .iter()
                            .zip(&et.elems)
                            .all(|(p, e)| shape_fits(p, e))
                }
                (Pat::Ident(pi), _) => pi.by_ref.is_none() && pi.subpat.is_none(),
                (Pat::Wild(_), _) => true,
                _ => false,
            }
        }
        fn leaves<'p>(p: &'p Pat, e: &'p Expr, out: &mut Vec<(&'p Pat, &'p Expr)>) {
            match (p, e) {
                (Pat::Paren(p), e) => leaves(&p.pat, e, out),
                (p, Expr::Paren(e)) => leaves(p, &e.expr, out),
                (Pat::Tuple(pt), Expr::Tuple(et)) => {
                    for (p, e) in pt.elems.iter().zip(&et.elems) {
                        leaves(p, e, out);
                    }
                }
                _ => out.push((p, e)),
            }
        }
        let whole = Pat::Tuple(pat.clone());
        if !shape_fits(&whole, init) {
            return false;
        }
        let mut pairs = Vec::new();
        leaves(&whole, init, &mut pairs);
        let mut bound = Vec::new();
        for (p, e) in &pairs {
            if let Expr::Array(_) | Expr::Repeat(_) = e {
                self.error(
                    e,
                    "an array inside a tuple is not supported: bind it with a `let` of its own",
                );
                return true;
            }
            let first_new = self.b.vars.len();
            let val = self.expr(e);
            bound.push((*p, val, first_new));
        }
        for (p, val, first_new) in bound {
            if let Pat::Ident(pi) = p {
                let name = pi.ident.to_string();
                let val = self.in_place_data(val, pi, first_new);
                self.name_fresh(val, first_new, &name);
                self.bind(name, val);
            }
        }
        true
    }

    /// `let mut xs = xs;` of a slice of data that the body never writes by element: the
    /// reference, copied as data (re-sliced later, `xs = &xs[1..]`), not an array of the
    /// macro's.
    pub(super) fn data_slice_copy(&self, name: &str, init: &syn::Expr) -> bool {
        if self.element_stores.contains(name) {
            return false;
        }
        let syn::Expr::Path(p) = init else {
            return false;
        };
        let v = p
            .path
            .get_ident()
            .and_then(|id| self.lookup(&id.to_string()))
            .and_then(|o| o.as_var());
        v.is_some_and(|v| {
            !self.b.info(v).active
                && self
                    .data_arrays
                    .get(&v)
                    .is_some_and(|i| i.by_ref && i.lens.iter().any(Option::is_none))
        })
    }

    /// `let mut count = 0; bump(&mut count);`: an integer (`0`, `0usize`, `N`) or `bool`
    /// declared `mut` and never assigned is changed in place: a variable of its own (a constant it would be for the
    /// macro, and a write through `&mut` would be lost), and so is data computed for it.
    pub(super) fn in_place_data(
        &mut self,
        val: Operand,
        pi: &syn::PatIdent,
        first_new: usize,
    ) -> Operand {
        let in_place =
            pi.mutability.is_some() && !self.assigned_anywhere.contains(&pi.ident.to_string());
        if !in_place {
            return val;
        }
        match val {
            // (A literal with a suffix, `0usize`, or a constant's path is an `Extern`: a
            // constant the same way, its writes lost, found by a new-user trial.)
            Operand::Int(_) | Operand::Bool(_) | Operand::Extern(_) => {
                let (t, _) = self.b.operand_tokens(val);
                let v = self.opaque_from(t, Vec::new(), Kind::Opaque, false);
                if let Operand::Var(var) = v {
                    self.b.info_mut(var).mutable = true;
                }
                v
            }
            Operand::Var(v) if v.0 as usize >= first_new && self.b.info(v).kind == Kind::Opaque => {
                self.b.info_mut(v).mutable = true;
                val
            }
            other => other,
        }
    }

    /// `target = val`, or `target op= val` when `op` is given.
    pub(super) fn store(&mut self, target: &Expr, val: Operand, op: Option<Op>) {
        if let Expr::Index(ix) = target {
            if self.store_element(ix, val, op) {
                return;
            }
        }
        let name = match target {
            Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.to_string()),
            _ => None,
        };
        let Some(name) = name.filter(|n| self.lookup(n).is_some()) else {
            let how = match target {
                Expr::Unary(_) => "through a reference",
                Expr::Field(_) => "to a field",
                Expr::Index(_) => {
                    self.error(
                        target,
                        "assigning to an element of an array of data (integers, ...) is not supported in a #[grad] function: only the elements of an array of floats declared in the body (`let mut z = [0.0; 3];`) can be assigned; build the data before the call",
                    );
                    return;
                }
                _ => "to this",
            };
            // `*get(&mut v, 1) += w`: a reference a function returned.
            let returned = matches!(target, Expr::Unary(u)
                if matches!(&*u.expr, Expr::Call(_) | Expr::MethodCall(_)));
            let instead = if returned {
                "; a `&mut` a function returned may point anywhere, so the macro cannot tell what changes: write the element itself (`v[i] += ..`), or make the helper a #[grad] function that writes its one `&mut` parameter and returns nothing (`fn add_at(v: &mut [f64; 3], i: usize, x: f64)`, called as `add_at(&mut v, i, x);`)"
            } else if how == "through a reference" {
                "; a float or an array of floats written through `&mut` is the function's output (one `&mut` parameter, the function returning nothing); data behind a `&mut` is changed by a function it is passed to (`bump(n)`)"
            } else {
                ""
            };
            self.error(
                target,
                format!("assigning {how} is not supported in a #[grad] function: only local variables and parameters can be assigned{instead}"),
            );
            return;
        };
        if self
            .lookup(&name)
            .is_some_and(|v| self.b.kind(&v) == Kind::Array)
        {
            self.error(
                target,
                format!("`{name}` is an array of floats: assign its elements (`{name}[i] = ...`), not the whole array"),
            );
            return;
        }
        if let Some(floor) = self.closure_floor {
            let bound_at = self.env.iter().rposition(|s| s.find(&name).is_some());
            if bound_at.is_some_and(|k| k < floor) {
                self.error(
                    target,
                    format!("this closure assigns `{name}`, which is declared outside it: #[grad] does not carry a closure's changes out of it; have the closure return the new value (`{name} = f({name}, ..)`), or write a `for` loop"),
                );
                return;
            }
        }
        let first_new = self.b.vars.len();
        let new = match (op, self.lookup(&name)) {
            (Some(op), Some(cur)) => self.arith(op, cur, val, target.span()),
            _ => val,
        };
        self.name_fresh(new, first_new, &name);
        self.assign(&name, new);
    }
}
