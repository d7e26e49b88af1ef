//! Lowering of loops and jumps: a loop becomes an [`Inst::Loop`] whose carried variables are
//! the outer variables its body assigns; `break`, `continue` and `return` become flags in the
//! environment (see `RET`, `BRK`, `CONT`), and the statements after one that may have run are
//! guarded by them. What a loop iterates and the iterator reductions are in `iter.rs`, arrays
//! in `array.rs`, `match` in `matches.rs`.

use super::*;
use crate::ir::{
    placeholder, Block, Carry, Cond, Header, Inst, Kind, Loop, Name, Opaque, Operand, Var,
};
use proc_macro2::Span;
use quote::quote;
use rustc_hash::FxHashSet as HashSet;
use syn::visit::Visit;
use syn::{Expr, Ident, Pat};

pub(super) const SLICING: &str = "slicing an array of floats is not supported in a #[grad] function: index its elements (`for i in a..b { w[i] }`)";

impl<'a> Lowerer<'a> {
    pub(super) fn locate(&self, name: &str) -> Option<(usize, usize)> {
        for (s, scope) in self.env.iter().enumerate().rev() {
            if let Some(k) = scope.find(name) {
                return Some((s, k));
            }
        }
        None
    }

    /// The jump flags that may be set here (not known to be false).
    pub(super) fn jump_flags(&self) -> Vec<Operand> {
        [BRK, CONT, RET]
            .iter()
            .filter_map(|n| self.lookup(n))
            .filter(|v| *v != Operand::Bool(false))
            .collect()
    }

    /// A jump certainly happened: the rest of this block is dead.
    pub(super) fn diverged(&self) -> bool {
        [BRK, CONT, RET]
            .iter()
            .any(|n| self.lookup(n) == Some(Operand::Bool(true)))
    }

    /// Runs `f` only if no jump flag is set: directly when none can be, else in a guarded `if`.
    pub(super) fn guard_then(
        &mut self,
        f: &mut dyn FnMut(&mut Self) -> Option<Operand>,
    ) -> Option<Operand> {
        let flags = self.jump_flags();
        if flags.is_empty() {
            return f(self);
        }
        if self.diverged() {
            return None;
        }
        let mut any = Cond::Val(flags[0]);
        for fl in &flags[1..] {
            any = Cond::Or(Box::new(any), Box::new(Cond::Val(*fl)));
        }
        let cond = self.cond_operand(Cond::Not(Box::new(any)), Span::call_site());
        let mut then = |l: &mut Self| {
            // Inside, no jump has happened.
            for flag in [BRK, CONT, RET] {
                if l.lookup(flag).is_some_and(|v| v != Operand::Bool(false)) {
                    l.assign(flag, Operand::Bool(false));
                }
            }
            f(l)
        };
        self.two_way(cond, Span::call_site(), Arms::Guard, &mut then, &mut |_| {
            None
        })
    }

    /// A condition as an operand: a variable holding it, unless it is one already.
    pub(super) fn cond_operand(&mut self, c: Cond, span: Span) -> Operand {
        match c {
            Cond::Val(o) => o,
            c => {
                let var = self.b.new_var(Kind::Bool, Name::Temp, false, span);
                self.b.push(Inst::Cond { var, cond: c });
                Operand::Var(var)
            }
        }
    }

    /// The function's value: its final expression, or what a `return` gave.
    pub(super) fn returned(&mut self, tail: Option<Operand>) -> Option<Operand> {
        let ret = self.lookup(RET)?;
        let rv = self.lookup(RETVAL)?;
        match (ret, tail) {
            (Operand::Bool(false), t) => t,
            (Operand::Bool(true), _) | (_, None) => Some(rv),
            (ret, Some(t)) => {
                let active = self.b.is_active(&rv) || self.b.is_active(&t);
                let out = self
                    .b
                    .new_var(Kind::Float, Name::Temp, active, Span::call_site());
                self.b.push(Inst::If {
                    cond: ret,
                    then: Block {
                        insts: Vec::new(),
                        yields: vec![rv],
                    },
                    els: Block {
                        insts: Vec::new(),
                        yields: vec![t],
                    },
                    outs: vec![out],
                });
                Some(Operand::Var(out))
            }
        }
    }

    pub(super) fn return_expr(&mut self, r: &syn::ExprReturn) {
        if self.closure_depth > 0 {
            self.error(
                r.return_token,
                "`return` inside a closure is not supported: give the closure's value as its final expression",
            );
            return;
        }
        let Some(e) = &r.expr else {
            self.error(
                r.return_token,
                "`return` needs the function's value: `return x;`",
            );
            return;
        };
        let v = self.expr(e);
        if self.is_floatish(&v) {
            self.check_float_operands(&[(v, e)]);
        }
        self.assign(RETVAL, v);
        self.assign(RET, Operand::Bool(true));
    }

    pub(super) fn break_expr(&mut self, b: &syn::ExprBreak) {
        if let Some(l) = &b.label {
            self.error(l, "labelled `break` is not supported: leave one loop at a time (set a flag and `break` again)");
        } else if let Some(e) = &b.expr {
            self.error(e, "`break` with a value is not supported: assign the value to a variable declared before the loop, then `break`");
        } else if self.loop_depth == 0 || self.closure_depth > 0 {
            self.error(b.break_token, "`break` outside of a loop");
        } else {
            self.assign(BRK, Operand::Bool(true));
        }
    }

    pub(super) fn continue_expr(&mut self, c: &syn::ExprContinue) {
        if let Some(l) = &c.label {
            self.error(l, "labelled `continue` is not supported");
        } else if self.loop_depth == 0 || self.closure_depth > 0 {
            self.error(c.continue_token, "`continue` outside of a loop");
        } else {
            self.assign(CONT, Operand::Bool(true));
        }
    }

    /// Reports a loop's label, if it has one.
    pub(super) fn refuse_label(&self, label: &Option<syn::Label>) -> bool {
        if let Some(l) = label {
            self.error(&l.name, "labelled loops are not supported: leave one loop at a time (set a flag, `break`, and test the flag after the inner loop)");
        }
        label.is_some()
    }

    pub(super) fn for_loop(&mut self, f: &syn::ExprForLoop) {
        if self.refuse_label(&f.label) {
            return;
        }
        if let Some(seg) = self.checkpointed(f) {
            return self.for_loop(&seg);
        }
        let assigned = assigned_names(&f.body.stmts);
        let exits = leaves(&f.body.stmts);
        self.run_loop(
            f.for_token.span,
            assigned,
            Some((&f.pat, &f.expr)),
            exits,
            &mut |l| {
                l.stmts(&f.body.stmts);
            },
        );
    }

    /// With `checkpoint`, an outermost `for pat in a..b { body }` whose body does not `break`
    /// is run as `for seg in segments(a..b) { for pat in seg { body } }`: about √T segments
    /// of about √T iterations. The reverse sweep then keeps what the outer loop carries once
    /// per segment, and recomputes each segment's iterations (the inner loop's forward pass)
    /// before sweeping them: memory about 2√T entries rather than T, for one more forward
    /// pass. `None` when the loop is not one of these.
    fn checkpointed(&mut self, f: &syn::ExprForLoop) -> Option<syn::ExprForLoop> {
        if !self.checkpoint || self.loop_depth > 0 || self.closure_depth > 0 {
            return None;
        }
        let range = match &*f.expr {
            Expr::Range(r) => r,
            Expr::Paren(p) => match &*p.expr {
                Expr::Range(r) => r,
                _ => return None,
            },
            _ => return None,
        };
        if !matches!(range.limits, syn::RangeLimits::HalfOpen(_))
            || range.start.is_none()
            || range.end.is_none()
            || breaks(&f.body.stmts)
        {
            return None;
        }
        let seg = Ident::new("__grad_segment", Span::mixed_site());
        let (pat, body, expr) = (&f.pat, &f.body, &f.expr);
        syn::parse2(quote! {
            for #seg in __grad_krate::__private::segments(#expr) {
                for #pat in #seg #body
            }
        })
        .ok()
    }

    pub(super) fn while_loop(&mut self, w: &syn::ExprWhile) {
        if self.refuse_label(&w.label) {
            return;
        }
        if let Expr::Let(l) = &*w.cond {
            self.error(
                l.let_token,
                "`while let` is not supported: write `while` with a condition, or a `for` loop",
            );
            return;
        }
        let mut assigned = assigned_names(&w.body.stmts);
        assigned.extend(assigned_in_expr(&w.cond));
        self.run_loop(w.while_token.span, assigned, None, true, &mut |l| {
            let c = l.cond_value(&w.cond);
            let stop = l.cond_operand(Cond::Not(Box::new(Cond::Val(c))), Span::call_site());
            l.assign(BRK, stop);
            l.guard_then(&mut |l| {
                l.stmts(&w.body.stmts);
                None
            });
        });
    }

    pub(super) fn loop_expr(&mut self, lp: &syn::ExprLoop) {
        if self.refuse_label(&lp.label) {
            return;
        }
        let assigned = assigned_names(&lp.body.stmts);
        self.run_loop(lp.loop_token.span, assigned, None, true, &mut |l| {
            l.stmts(&lp.body.stmts);
        });
    }

    /// Lowers a loop: `header` is the `for` pattern and iterable (`None` for `loop`/`while`),
    /// `assigned` the names the body may assign, `exits` whether it may leave early.
    pub(super) fn run_loop(
        &mut self,
        span: Span,
        assigned: Vec<String>,
        header: Option<(&Pat, &Expr)>,
        exits: bool,
        body: &mut dyn FnMut(&mut Self),
    ) {
        // The iterable is evaluated before the loop (and again by the reverse sweep).
        let mut iter_parts = None;
        if let Some((_, iter)) = header {
            // Parentheses the source needed (`(0..n).map(..)`) are not the loop's: `for i in
            // (0..n)` would be linted as unnecessary at the user's tokens. The emitter adds
            // the ones its own uses of the iterable need.
            let mut iter = iter;
            while let Expr::Paren(p) = iter {
                iter = &p.expr;
            }
            let typed = typed_float_literals(iter, self.b.float);
            let src = self.src_of(&typed);
            let (tokens, refs, effectful, prec) = self.substitute(&typed, true);
            // A differentiated value inside the iterable itself (`for w in [a, b]`): the
            // iterable is passed through as data, so its derivative would be lost.
            let literal = {
                struct Lits<'e>(Vec<&'e Expr>);
                impl<'e> Visit<'e> for Lits<'e> {
                    fn visit_expr(&mut self, e: &'e Expr) {
                        if matches!(e, Expr::Array(_) | Expr::Repeat(_) | Expr::Tuple(_)) {
                            self.0.push(e);
                        }
                        syn::visit::visit_expr(self, e);
                    }
                }
                let mut lits = Lits(Vec::new());
                lits.visit_expr(iter);
                lits.0.into_iter().find_map(|e| self.first_active(e))
            };
            if let Some(id) = literal {
                self.error(
                    iter,
                    format!("the iterable of a loop is computed from `{id}`, which depends on a `wrt` parameter: bind the values to a local array first (`let v = [a, b];`) and iterate over `v.iter()`, or write the loop over indices"),
                );
                return;
            }
            iter_parts = Some((
                src,
                Opaque {
                    tokens,
                    refs,
                    effectful,
                    prec,
                },
            ));
        }

        // Carried variables: the outer variables the body assigns.
        let mut carried: Vec<(String, (usize, usize), Operand, Var)> = Vec::new();
        let mut seen = HashSet::default();
        for name in assigned {
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(pos) = self.locate(&name) else {
                continue;
            };
            let init = self.env[pos.0][pos.1].1.val;
            let init_kind = self.b.kind(&init);
            if init_kind == Kind::Array {
                continue;
            }
            let may_be_active = self.active_names.contains(&name) || name == RETVAL;
            let kind = if init_kind == Kind::Opaque
                && may_be_active
                && name != RET
                && !matches!(init, Operand::Int(_))
            {
                // `let mut best = xs[0];` then `best = best.max(w)`: a float from here on (an
                // integer literal starts an integer: `let mut last = 0; .. last = k;`).
                Kind::Float
            } else {
                init_kind
            };
            let active = self.b.is_active(&init) || (kind == Kind::Float && may_be_active);
            let nm = if name.starts_with('#') {
                Name::Temp
            } else {
                Name::Source(name.clone())
            };
            let phi = self.b.new_var(kind, nm, active, span);
            carried.push((name, pos, init, phi));
        }
        let counter = if exits || header.is_none() {
            let zero = self.b.add_extern(quote!(0usize));
            let phi = self.b.new_var(Kind::Opaque, Name::Temp, false, span);
            Some((zero, phi))
        } else {
            None
        };

        self.b.enter();
        self.env.push(super::Scope::default());
        self.loop_depth += 1;
        for (name, pos, _, phi) in &carried {
            // At the start of an iteration the function has not returned.
            let v = if name == RET {
                Operand::Bool(false)
            } else {
                Operand::Var(*phi)
            };
            self.env[pos.0][pos.1].1.val = v;
        }
        self.bind(BRK.into(), Operand::Bool(false));
        self.bind(CONT.into(), Operand::Bool(false));
        let mut lowered_header = None;
        if let (Some((pat, _)), Some((src, iter))) = (header, iter_parts) {
            self.pos_slot = None;
            let mut refs = Vec::new();
            let mut elems = Vec::new();
            let tokens = self.bind_pat(pat, &src, &mut refs, &mut elems);
            if let (Pat::Ident(_), [v], Some((_, iter))) = (strip_pat(pat), &refs[..], header) {
                if counts_integers(iter) {
                    self.range_counters.push(*v);
                }
            }
            let trip = trip_count(&src, self);
            lowered_header = Some(Header::For {
                pat: Opaque {
                    tokens,
                    refs,
                    effectful: false,
                    prec: crate::emit::tokens::PREC_ATOM,
                },
                iter,
                walk: crate::ir::Walk::AsWritten,
                elems,
                trip,
                pos: self.pos_slot.take(),
            });
        }
        let mut counter_next = None;
        if let Some((_, phi)) = counter {
            let ph = Ident::new(&placeholder(0), Span::call_site());
            counter_next = Some(self.opaque_from(quote!(#ph + 1), vec![phi], Kind::Opaque, false));
        }
        body(self);
        let mut leave: Vec<Operand> = [BRK, RET]
            .iter()
            .filter_map(|n| self.lookup(n))
            .filter(|v| *v != Operand::Bool(false))
            .collect();
        leave.dedup();
        let exit = match leave.len() {
            0 => None,
            1 => Some(leave[0]),
            _ => Some(self.cond_operand(
                Cond::Or(Box::new(Cond::Val(leave[0])), Box::new(Cond::Val(leave[1]))),
                span,
            )),
        };
        let mut yields: Vec<Operand> = carried
            .iter()
            .map(|(_, pos, _, _)| self.env[pos.0][pos.1].1.val)
            .collect();
        if let Some(n) = counter_next {
            yields.push(n);
        }
        if let Some(e) = exit {
            yields.push(e);
        }
        let mut block = self.b.exit(Vec::new());
        block.yields = yields;
        self.env.pop();
        self.loop_depth -= 1;

        let mut carries = Vec::new();
        for (k, (name, pos, init, phi)) in carried.iter().enumerate() {
            let y = block.yields[k];
            let info = self.b.info(*phi).clone();
            if self.b.is_active(&y) && !info.active {
                self.error(
                    quote::quote_spanned!(span=> for),
                    format!("internal error: #[grad] did not foresee that `{}` is differentiated in this loop; please report it", name.trim_start_matches('#')),
                );
            }
            let kind = if info.kind == Kind::Opaque {
                self.b.kind(&y)
            } else {
                info.kind
            };
            let out = self.b.new_var(kind, info.name.clone(), info.active, span);
            self.env[pos.0][pos.1].1.val = Operand::Var(out);
            carries.push(Carry {
                phi: *phi,
                init: *init,
                out,
            });
        }
        let mut count = None;
        if let Some((zero, phi)) = counter {
            let out = self.b.new_var(Kind::Opaque, Name::Temp, false, span);
            carries.push(Carry {
                phi,
                init: zero,
                out,
            });
            count = Some(out);
        }
        let header = lowered_header.unwrap_or(Header::Loop);
        let before: Vec<((usize, usize), Var, Operand)> = carried
            .iter()
            .zip(&carries)
            .map(|((_, pos, init, _), c)| (*pos, c.out, *init))
            .collect();
        let lp = Loop {
            header,
            carried: carries,
            body: block,
            exit: exit.is_some(),
            count,
            save: None,
            restore: None,
        };
        // A variable the body assigns without changing it (`v = v;`, or a shadowing `let` that
        // is assigned instead) is not carried: after the loop it is what it was before.
        let lits = {
            let mut refs = HashSet::default();
            crate::ir::opaque_refs(&lp.body, &mut refs);
            lp.carried.iter().all(|c| !refs.contains(&c.phi))
        };
        let lp = crate::ir::drop_unchanged(lp, lits);
        for (pos, out, init) in before {
            if !lp.carried.iter().any(|c| c.out == out) {
                self.env[pos.0][pos.1].1.val = init;
            }
        }
        self.b.push(Inst::Loop(Box::new(lp)));
    }
}

/// Whether `iter` walks an integer range (`0..n`, `(1..=k).rev()`, `(0..n).step_by(2)`): its
/// items are integers. A range of `char`s or bytes written as literals is not counted.
pub(super) fn counts_integers(mut iter: &Expr) -> bool {
    loop {
        match iter {
            Expr::Paren(p) => iter = &p.expr,
            Expr::MethodCall(m)
                if ["rev", "step_by", "skip", "take"].contains(&m.method.to_string().as_str()) =>
            {
                iter = &m.receiver
            }
            Expr::Range(r) => {
                let literal_char = |e: &Option<Box<Expr>>| matches!(e.as_deref(), Some(Expr::Lit(l)) if matches!(l.lit, syn::Lit::Char(_) | syn::Lit::Byte(_)));
                return !literal_char(&r.start) && !literal_char(&r.end);
            }
            _ => return false,
        }
    }
}
