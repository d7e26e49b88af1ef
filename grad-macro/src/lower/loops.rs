//! Lowering of loops, jumps, `match`, arrays and iterator sums.
//!
//! - A loop becomes an [`Inst::Loop`] whose carried variables are the outer variables its body
//!   assigns; `break`, `continue` and `return` become flags in the environment (see `RET`,
//!   `BRK`, `CONT`), and the statements after one that may have run are guarded by them.
//! - `match` on data becomes a chain of `if ::core::matches!(..)`.
//! - A local array of floats, or a differentiated array parameter, is memory: indexing it is a
//!   [`Inst::Load`], assigning an element a [`Inst::Store`].
//! - `xs.iter().map(|x| ..).sum()`, `.product()` and `.fold(..)` become a loop with a hidden
//!   accumulator.

use super::{Arms, Lowerer, BRK, CONT, RET, RETVAL};
use crate::front::ctxt::Ctxt;
use crate::ir::{
    placeholder, ArrayInfo, ArrayInit, Block, Carry, Cond, Elem, Header, Inst, Kind, Loop, Name,
    Op, Opaque, Operand, StoreOp, Var, VarInfo,
};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Ident, Pat};

const SLICING: &str = "slicing an array of floats is not supported in a #[grad] function: index its elements (`for i in a..b { w[i] }`)";

/// Where the items of a `for` loop come from, as far as the macro needs to know: which are
/// elements of an array of floats, and how many iterations there are when that is a constant.
enum Src {
    /// Elements of `arr[prefix..]`, by reference or by value.
    Arr {
        arr: Var,
        prefix: Vec<Operand>,
        by_ref: bool,
    },
    Zip(Box<Src>, Box<Src>),
    Enumerate(Box<Src>),
    Rev(Box<Src>),
    Copied(Box<Src>),
    /// Anything else (ranges, data): the constant trip count, when known.
    Data(Option<TokenStream>),
    /// Refused (an error was reported).
    Refused,
}

impl Src {
    /// Whether some array this source iterates satisfies `f`.
    fn any_array(&self, f: &dyn Fn(Var) -> bool) -> bool {
        match self {
            Src::Arr { arr, .. } => f(*arr),
            Src::Zip(a, b) => a.any_array(f) || b.any_array(f),
            Src::Enumerate(a) | Src::Rev(a) | Src::Copied(a) => a.any_array(f),
            Src::Data(_) | Src::Refused => false,
        }
    }

    fn has_array(&self) -> bool {
        self.any_array(&|_| true)
    }

    fn has_active(&self, l: &Lowerer) -> bool {
        self.any_array(&|arr| l.b.info(arr).active)
    }
}

impl<'a> Lowerer<'a> {
    fn locate(&self, name: &str) -> Option<(usize, usize)> {
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
    fn refuse_label(&self, label: &Option<syn::Label>) -> bool {
        if let Some(l) = label {
            self.error(&l.name, "labelled loops are not supported: leave one loop at a time (set a flag, `break`, and test the flag after the inner loop)");
        }
        label.is_some()
    }

    pub(super) fn for_loop(&mut self, f: &syn::ExprForLoop) {
        if self.refuse_label(&f.label) {
            return;
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
    fn run_loop(
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
            let trip = trip_count(&src, self);
            lowered_header = Some(Header::For {
                pat: Opaque {
                    tokens,
                    refs,
                    effectful: false,
                    prec: crate::emit::tokens::PREC_ATOM,
                },
                iter,
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
                    format!("internal error: grad did not foresee that `{}` is differentiated in this loop; please report it", name.trim_start_matches('#')),
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

    /// The array of floats `e` names, with the indices applied to it (`w`, `w[k]`): the array,
    /// the positions a row being iterated stands for, and the indices written.
    fn array_place(&mut self, e: &Expr) -> Option<(Var, Vec<Operand>, Vec<Expr>)> {
        let mut idxs = Vec::new();
        let mut cur = e;
        loop {
            match cur {
                Expr::Index(ix) => {
                    idxs.push((*ix.index).clone());
                    cur = &ix.expr;
                }
                Expr::Paren(p) => cur = &p.expr,
                _ => break,
            }
        }
        let Expr::Path(p) = cur else { return None };
        let id = p.path.get_ident()?;
        let v = self.lookup(&id.to_string())?.as_var()?;
        idxs.reverse();
        if let Some((base, pre)) = self.aliases.get(&v) {
            return Some((*base, pre.clone(), idxs));
        }
        (self.b.info(v).kind == Kind::Array).then_some((v, Vec::new(), idxs))
    }

    fn index_operands(&mut self, idxs: &[Expr]) -> Vec<Operand> {
        idxs.iter()
            .map(|i| {
                if matches!(i, Expr::Range(_)) {
                    return self.error(i, SLICING);
                }
                let o = self.expr(i);
                if self.is_floatish(&o) {
                    return self.error(i, "an index must be an integer, not a float");
                }
                // An index held in a variable that calls change in place (`bump(&mut i)`):
                // read into a value of its own here, which the sweep then reads (see
                // `effects.rs`), not the variable it would find changed.
                match o {
                    Operand::Var(v) if self.b.info(v).mutable => {
                        let ph = Ident::new(&placeholder(0), Span::call_site());
                        self.opaque_from(quote!(#ph), vec![v], Kind::Opaque, false)
                    }
                    other => other,
                }
            })
            .collect()
    }

    pub(super) fn index_expr(&mut self, ix: &syn::ExprIndex) -> Operand {
        let whole = Expr::Index(ix.clone());
        let Some((arr, pre, idxs)) = self.array_place(&whole) else {
            return self.opaque(&whole, "indexing");
        };
        if let Some(r) = idxs.iter().find(|i| matches!(i, Expr::Range(_))) {
            return self.error(r, SLICING);
        }
        let dims = self.b.arrays.get(&arr).map_or(1, ArrayInfo::dims) - pre.len();
        if idxs.len() != dims {
            let name = place_root(&whole).unwrap_or_default();
            let example: String = ["[i]", "[j]", "[k]", "[l]"]
                .iter()
                .take(dims)
                .copied()
                .collect();
            let what = if dims == 1 {
                "1 dimension".to_string()
            } else {
                format!("{dims} dimensions")
            };
            return self.error(
                ix,
                format!("`{name}` has {what}: index it down to a number (`{name}{example}`)"),
            );
        }
        let mut idx = pre;
        idx.extend(self.index_operands(&idxs));
        let active = self.b.info(arr).active;
        let var = self.b.new_var(Kind::Float, Name::Temp, active, ix.span());
        self.b.push(Inst::Load { var, arr, idx });
        Operand::Var(var)
    }

    /// `a[i] = val` or `a[i] op= val` for an array of floats; `false` if `target` is not one.
    pub(super) fn store_element(
        &mut self,
        target: &syn::ExprIndex,
        val: Operand,
        op: Option<Op>,
    ) -> bool {
        let whole = Expr::Index(target.clone());
        let Some((arr, pre, idxs)) = self.array_place(&whole) else {
            return false;
        };
        if !pre.is_empty() {
            self.error(
                target,
                "assigning to an element of a row being iterated is not supported: index the array itself (`w[i][j] = ...`)",
            );
            return true;
        }
        let dims = self.b.arrays.get(&arr).map_or(1, ArrayInfo::dims);
        if idxs.len() != dims {
            self.error(
                target,
                "assign one element at a time: index the array down to a number",
            );
            return true;
        }
        if matches!(self.b.kind(&val), Kind::Bool | Kind::Array) {
            self.error(target, "only floats can be stored in an array of floats");
            return true;
        }
        if let Operand::Int(i) = val {
            self.error(
                target,
                format!("`{i}` is an integer: write `{i}.0` in float arithmetic"),
            );
            return true;
        }
        if self.b.is_active(&val) && !self.b.info(arr).active {
            self.error(target, "internal error: grad did not foresee that this array holds differentiated values; please report it");
            return true;
        }
        let idx = self.index_operands(&idxs);
        let span = target.span();
        let (val, sop) = match op {
            None => (val, StoreOp::Set),
            Some(Op::Add) => (val, StoreOp::Add),
            Some(Op::Sub) => (val, StoreOp::Sub),
            Some(other) => {
                let active = self.b.info(arr).active;
                let cur = self.b.new_var(Kind::Float, Name::Temp, active, span);
                self.b.push(Inst::Load {
                    var: cur,
                    arr,
                    idx: idx.clone(),
                });
                (
                    self.b.op(other, vec![Operand::Var(cur), val], span),
                    StoreOp::Set,
                )
            }
        };
        self.b.push(Inst::Store {
            arr,
            idx,
            val,
            op: sop,
            span,
        });
        true
    }

    /// `let name = [0.0; N];`, `[[0.0; M]; N]` or `[a, b, c]` with float elements: an array
    /// variable. `None` (nothing lowered) when `init` is not such an array.
    pub(super) fn local_array(&mut self, name: &str, init: &Expr) -> Option<Operand> {
        let (init, lens) = match init {
            Expr::Repeat(_) => {
                let mut lens = Vec::new();
                let mut cur = init;
                while let Expr::Repeat(r) = cur {
                    lens.push(r.len.to_token_stream());
                    cur = &r.expr;
                }
                if !float_like(cur) {
                    return None;
                }
                let elem = self.expr(cur);
                if !self.is_floatish(&elem) {
                    return None;
                }
                if self.b.is_active(&elem) {
                    self.error(
                        cur,
                        "an array filled with a differentiated value is not supported: fill it in a loop (`for i in 0..N { a[i] = w; }`)",
                    );
                }
                (
                    ArrayInit::Repeat {
                        elem,
                        lens: lens.clone(),
                    },
                    lens.into_iter().map(Some).collect(),
                )
            }
            Expr::Array(a) => {
                if a.elems.is_empty() || !a.elems.iter().all(float_like) {
                    return None;
                }
                let elems: Vec<Operand> = a.elems.iter().map(|e| self.expr(e)).collect();
                if !elems.iter().all(|e| self.is_floatish(e)) {
                    return None;
                }
                if !self.active_names.contains(name) && elems.iter().any(|e| self.b.is_active(e)) {
                    self.error(a, "internal error: grad did not foresee that this array holds differentiated values; please report it");
                }
                let n = proc_macro2::Literal::usize_unsuffixed(elems.len());
                (ArrayInit::List(elems), vec![Some(quote!(#n))])
            }
            // `{ ..; [a, b] }`: an array of differentiated values the block computes.
            Expr::Block(b) => {
                if let Some(syn::Stmt::Expr(tail @ (Expr::Array(_) | Expr::Repeat(_)), None)) =
                    b.block.stmts.last()
                {
                    let elems: Vec<&Expr> = match tail {
                        Expr::Array(a) => a.elems.iter().collect(),
                        Expr::Repeat(r) => vec![&*r.expr],
                        _ => Vec::new(),
                    };
                    // Of data only, it passes through as written.
                    let differentiated = self.active_names.contains(name);
                    if differentiated && !elems.is_empty() && elems.iter().all(|e| float_like(e)) {
                        self.error(
                            tail,
                            "an array of floats as the value of a block is not supported: declare the array with `let` (`let mut v = [0.0; N];` before the block) and assign its elements",
                        );
                        return Some(Operand::Lit(0.0));
                    }
                }
                return None;
            }
            _ => return None,
        };
        let active = self.active_names.contains(name);
        let var = self.b.new_var(
            Kind::Array,
            Name::Source(name.to_string()),
            active,
            Span::call_site(),
        );
        self.b.arrays.insert(
            var,
            ArrayInfo {
                lens,
                by_ref: false,
            },
        );
        self.b.push(Inst::NewArray { var, init });
        Some(Operand::Var(var))
    }

    /// `w.len()` of an array of floats, and the iterator sums (`.sum()`, `.product()`,
    /// `.fold(..)`) this module lowers to loops; `None` for any other method call.
    pub(super) fn array_method(&mut self, m: &syn::ExprMethodCall) -> Option<Operand> {
        let name = m.method.to_string();
        if (name == "len" || name == "is_empty") && m.args.is_empty() {
            if let Some((base, pre, idxs)) = self.array_place(&m.receiver) {
                // The variable written (a row being iterated is one too).
                let named = place_root(&m.receiver)
                    .and_then(|n| self.lookup(&n))
                    .and_then(|o| o.as_var())
                    .unwrap_or(base);
                let _ = pre;
                let idx = self.index_operands(&idxs);
                let mut refs = vec![named];
                let mut t = {
                    let ph = Ident::new(&placeholder(0), Span::call_site());
                    quote!(#ph)
                };
                for i in idx {
                    let (it, r) = self.b.operand_tokens(i);
                    let it = crate::ir::shift_placeholders(it, refs.len());
                    refs.extend(r);
                    t = quote!(#t[#it]);
                }
                let method = &m.method;
                return Some(self.opaque_from(quote!(#t.#method()), refs, Kind::Opaque, false));
            }
        }
        let reduce = matches!(
            (name.as_str(), m.args.len()),
            ("sum", 0) | ("product", 0) | ("fold", 2)
        );
        if !reduce {
            return None;
        }
        // Over data only, without a closure, the call is passed through as written.
        let mapped = matches!(&*m.receiver, Expr::MethodCall(r) if r.method == "map");
        let active = self.first_active(&m.receiver).is_some();
        let fold_closure = name == "fold" && matches!(m.args[1], Expr::Closure(_));
        if !fold_closure && !mapped && !active {
            return None;
        }
        if let Some(tf) = &m.turbofish {
            let float = crate::emit::tokens::float_type_tokens(self.b.float).to_string();
            if tf.args.len() != 1 || tf.args[0].to_token_stream().to_string() != float {
                self.error(
                    tf,
                    format!("a sum in a #[grad] function is `{float}`: `.{name}::<{float}>()`"),
                );
                return Some(Operand::Lit(0.0));
            }
        }
        Some(self.reduce(m, &name))
    }

    fn reduce(&mut self, m: &syn::ExprMethodCall, name: &str) -> Operand {
        // `iter.map(f).map(g)...`: the closures, first applied first.
        let mut closures: Vec<&syn::ExprClosure> = Vec::new();
        let mut iter: &Expr = &m.receiver;
        while let Expr::MethodCall(r) = iter {
            if r.method != "map" || r.args.len() != 1 {
                break;
            }
            match &r.args[0] {
                Expr::Closure(c) => closures.push(c),
                other => {
                    self.error(other, "`.map(..)` takes a closure here: `.map(|x| ...)`");
                    return Operand::Lit(0.0);
                }
            }
            iter = &r.receiver;
        }
        closures.reverse();
        for c in &closures {
            if c.inputs.len() != 1 {
                self.error(&c.inputs, "the closure of `.map(..)` takes one argument");
                return Operand::Lit(0.0);
            }
        }
        let (init, fold) = match name {
            // Exactly what `Sum` starts from (the sign of an empty sum's zero).
            "sum" => {
                let ty = crate::emit::tokens::float_type_tokens(self.b.float);
                let zero = self
                    .b
                    .add_extern(quote!(<#ty as ::core::iter::Sum>::sum(::core::iter::empty())));
                (zero, None)
            }
            "product" => (Operand::Lit(1.0), None),
            _ => {
                let Expr::Closure(c) = &m.args[1] else {
                    return self.error(
                        &m.args[1],
                        "`.fold(..)` takes a closure here: `.fold(init, |acc, x| acc.max(x))`",
                    );
                };
                let init = self.expr(&m.args[0]);
                if let Operand::Int(_) = init {
                    self.check_float_operands(&[(init, &m.args[0])]);
                }
                if c.inputs.len() != 2 {
                    self.error(
                        &c.inputs,
                        "the closure of `.fold(..)` takes two arguments: `|acc, x|`",
                    );
                    return Operand::Lit(0.0);
                }
                (init, Some(c))
            }
        };
        self.hidden += 1;
        let acc = format!("#acc{}", self.hidden);
        if idents(&Expr::MethodCall(m.clone()))
            .iter()
            .any(|n| self.active_names.contains(n))
        {
            self.active_names.insert(acc.clone());
        }
        self.bind(acc.clone(), init);
        let item_pat: Pat = match (closures.first(), fold) {
            (Some(c), _) => c.inputs[0].clone(),
            (None, Some(f)) => f.inputs[1].clone(),
            (None, None) => syn::parse_quote!(__grad_item),
        };
        let acc_name = acc.clone();
        let op = if name == "product" { Op::Mul } else { Op::Add };
        let span = m.method.span();
        let synth = closures.is_empty() && fold.is_none();
        let mut body = |l: &mut Self| {
            let cur = l.lookup(&acc_name).unwrap_or(Operand::Lit(0.0));
            // The mapped value: each closure's body, its argument bound to the value before.
            let mut value = None;
            for (k, c) in closures.iter().enumerate() {
                if k > 0 {
                    let prev = value.unwrap_or(Operand::Lit(0.0));
                    l.bind_value_pat(&c.inputs[0], prev);
                }
                l.closure_depth += 1;
                let floor = l.closure_floor.replace(l.env.len());
                value = Some(l.expr(&c.body));
                l.closure_floor = floor;
                l.closure_depth -= 1;
            }
            if let Some(f) = fold {
                l.bind_value_pat(&f.inputs[0], cur);
                if let Some(v) = value {
                    l.bind_value_pat(&f.inputs[1], v);
                }
                l.closure_depth += 1;
                let floor = l.closure_floor.replace(l.env.len());
                let v = l.expr(&f.body);
                l.closure_floor = floor;
                l.closure_depth -= 1;
                l.assign(&acc_name, v);
                return;
            }
            let value = match value {
                Some(v) => v,
                None => l.lookup("__grad_item").unwrap_or(Operand::Lit(0.0)),
            };
            if matches!(l.b.kind(&value), Kind::Bool | Kind::Array) && !l.diverged() {
                let what = if op == Op::Mul { "multiply" } else { "add up" };
                l.error(
                    &m.method,
                    format!("`.{}()` here must {what} floats", m.method),
                );
                return;
            }
            let new = l.b.op(op, vec![cur, value], span);
            l.assign(&acc_name, new);
        };
        let first_var = self.b.vars.len();
        self.run_loop(
            span,
            vec![acc.clone()],
            Some((&item_pat, iter)),
            false,
            &mut body,
        );
        if synth {
            // The synthesized item is the code's own: numbered like other temporaries.
            for v in first_var..self.b.vars.len() {
                let info = &mut self.b.vars[v];
                if info.name == Name::Source("__grad_item".into()) {
                    info.name = Name::Temp;
                }
            }
        }
        self.lookup(&acc).unwrap_or(Operand::Lit(0.0))
    }

    /// Binds a closure argument that receives a computed value: a name, or `_`.
    fn bind_value_pat(&mut self, pat: &Pat, v: Operand) {
        match strip_pat(pat) {
            Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                self.bind(pi.ident.to_string(), v);
            }
            Pat::Wild(_) => {}
            other => {
                self.error(
                    other,
                    "this closure argument receives a computed value: give it a plain name",
                );
            }
        }
    }

    /// What the macro knows of an iterable expression.
    fn src_of(&mut self, e: &Expr) -> Src {
        match e {
            Expr::Paren(p) => self.src_of(&p.expr),
            Expr::Group(g) => self.src_of(&g.expr),
            Expr::MethodCall(m) if m.turbofish.is_none() => {
                let name = m.method.to_string();
                match (name.as_str(), m.args.len()) {
                    ("iter", 0) => self.collection(&m.receiver, Some(true)),
                    ("into_iter", 0) => self.collection(&m.receiver, None),
                    ("zip", 1) => Src::Zip(
                        Box::new(self.src_of(&m.receiver)),
                        Box::new(self.src_of(&m.args[0])),
                    ),
                    ("enumerate", 0) => Src::Enumerate(Box::new(self.src_of(&m.receiver))),
                    ("rev", 0) => {
                        let inner = self.src_of(&m.receiver);
                        if inner.has_active(self) {
                            self.error(
                                &m.method,
                                "iterating a differentiated array in reverse is not supported: loop over its indices in reverse (`for i in (0..n).rev()`)",
                            );
                            return Src::Refused;
                        }
                        Src::Rev(Box::new(inner))
                    }
                    ("copied", 0) | ("cloned", 0) => {
                        Src::Copied(Box::new(self.src_of(&m.receiver)))
                    }
                    _ => {
                        let inner = self.src_of(&m.receiver);
                        if inner.has_array() {
                            self.error(
                                &m.method,
                                format!("`.{name}()` over an array of floats is not supported in a #[grad] loop: use `.iter()`, `.zip(..)`, `.enumerate()`, or index the array"),
                            );
                        }
                        Src::Data(None)
                    }
                }
            }
            Expr::Reference(r) if r.mutability.is_none() => self.collection(&r.expr, Some(true)),
            Expr::Path(_) | Expr::Index(_) => self.collection(e, None),
            Expr::Range(r) => {
                let lit = |e: &Option<Box<Expr>>| match e.as_deref() {
                    Some(Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(i),
                        ..
                    })) => i.base10_parse::<u64>().ok(),
                    _ => None,
                };
                let n = match (lit(&r.start), lit(&r.end), &r.limits) {
                    (Some(a), Some(b), syn::RangeLimits::HalfOpen(_)) => Some(b.saturating_sub(a)),
                    (Some(a), Some(b), syn::RangeLimits::Closed(_)) => {
                        Some((b + 1).saturating_sub(a))
                    }
                    _ => None,
                };
                Src::Data(n.map(|n| {
                    let l = proc_macro2::Literal::u64_unsuffixed(n);
                    quote!(#l)
                }))
            }
            _ => Src::Data(None),
        }
    }

    /// The items of iterating `e` (`&e`, `e.iter()` when `by_ref`, else `e` by value).
    fn collection(&mut self, e: &Expr, by_ref: Option<bool>) -> Src {
        // A row bound by an outer loop (`for row in w.iter()`) is a reference or not as that
        // loop bound it.
        let row_by_ref = match e {
            Expr::Path(p) => p
                .path
                .get_ident()
                .and_then(|id| self.lookup(&id.to_string()))
                .and_then(|o| o.as_var())
                .filter(|v| self.aliases.contains_key(v))
                .and_then(|v| self.b.arrays.get(&v))
                .map(|i| i.by_ref),
            _ => None,
        };
        if let Some((arr, pre, idxs)) = self.array_place(e) {
            if let Some(r) = idxs.iter().find(|i| matches!(i, Expr::Range(_))) {
                self.error(r, SLICING);
                return Src::Refused;
            }
            let info = self.b.arrays.get(&arr).cloned();
            let dims = info.as_ref().map_or(1, ArrayInfo::dims);
            if pre.len() + idxs.len() >= dims {
                return Src::Data(None);
            }
            let mut prefix = pre;
            prefix.extend(self.index_operands(&idxs));
            let by_ref = by_ref.unwrap_or_else(|| {
                // By value: a reference (a slice parameter, a row the outer loop bound by
                // reference) yields references, an array its elements.
                row_by_ref.unwrap_or_else(|| {
                    info.as_ref()
                        .is_some_and(|i| i.by_ref && prefix.is_empty() && idxs.is_empty())
                })
            });
            return Src::Arr {
                arr,
                prefix,
                by_ref,
            };
        }
        // Data: the trip count of a data array parameter of constant length.
        if let Expr::Path(p) = e {
            if let Some(v) = p
                .path
                .get_ident()
                .and_then(|id| self.lookup(&id.to_string()))
                .and_then(|o| o.as_var())
            {
                if let Some(len) = self.data_arrays.get(&v).and_then(|i| i.lens[0].clone()) {
                    return Src::Data(Some(len));
                }
            }
        }
        Src::Data(None)
    }

    /// Binds the variables of a loop pattern matched against `src`; returns the pattern to emit
    /// (with placeholders for the bound variables, in `refs`).
    fn bind_pat(
        &mut self,
        pat: &Pat,
        src: &Src,
        refs: &mut Vec<Var>,
        elems: &mut Vec<Elem>,
    ) -> TokenStream {
        let pat = strip_pat(pat);
        match (pat, src) {
            (Pat::Tuple(t), Src::Zip(a, b)) if t.elems.len() == 2 => {
                let x = self.bind_pat(&t.elems[0], a, refs, elems);
                let y = self.bind_pat(&t.elems[1], b, refs, elems);
                quote!((#x, #y))
            }
            (Pat::Tuple(t), Src::Enumerate(a)) if t.elems.len() == 2 => {
                let i = self.bind_pat(&t.elems[0], &Src::Data(None), refs, elems);
                let x = self.bind_pat(&t.elems[1], a, refs, elems);
                quote!((#i, #x))
            }
            (_, Src::Rev(a)) => match &**a {
                Src::Arr { arr, prefix, .. }
                    if prefix.len() + 1 < self.b.arrays.get(arr).map_or(1, ArrayInfo::dims) =>
                {
                    self.error(
                        pat,
                        "iterating the rows of an array of floats in reverse is not supported: loop over its indices in reverse (`for i in (0..n).rev()`)",
                    );
                    quote!(_)
                }
                // An array of data reversed: its elements are plain values.
                Src::Arr {
                    arr,
                    prefix,
                    by_ref,
                } => {
                    let data = Src::Arr {
                        arr: *arr,
                        prefix: prefix.clone(),
                        by_ref: *by_ref,
                    };
                    self.bind_pat(pat, &data, refs, elems)
                }
                other => self.bind_pat(pat, other, refs, elems),
            },
            (_, Src::Refused) => {
                // Already reported: bind the names so their uses say nothing more.
                for n in pat_names(pat) {
                    self.bind(n, Operand::Lit(0.0));
                }
                quote!(_)
            }
            (_, Src::Copied(a)) => match &**a {
                Src::Arr { arr, prefix, .. } => {
                    let by_value = Src::Arr {
                        arr: *arr,
                        prefix: prefix.clone(),
                        by_ref: false,
                    };
                    self.bind_pat(pat, &by_value, refs, elems)
                }
                other => self.bind_pat(pat, other, refs, elems),
            },
            (
                _,
                Src::Arr {
                    arr,
                    prefix,
                    by_ref,
                },
            ) => {
                let dims = self.b.arrays.get(arr).map_or(1, ArrayInfo::dims);
                if prefix.len() + 1 < dims {
                    return self.bind_row(pat, *arr, prefix, *by_ref, refs);
                }
                let (id, deref) = match pat {
                    Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                        (Some(&pi.ident), *by_ref)
                    }
                    Pat::Reference(r) if *by_ref => match strip_pat(&r.pat) {
                        Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                            (Some(&pi.ident), true)
                        }
                        other => {
                            self.error(other, "bind the element to a name: `for &x in ...`");
                            return quote!(_);
                        }
                    },
                    Pat::Wild(_) => return quote!(_),
                    other => {
                        self.error(other, "bind each element to a name: `for x in ...`");
                        return quote!(_);
                    }
                };
                let Some(id) = id else { return quote!(_) };
                let active = self.b.info(*arr).active;
                let v =
                    self.b
                        .new_var(Kind::Float, Name::Source(id.to_string()), active, id.span());
                self.bind(id.to_string(), Operand::Var(v));
                if active {
                    elems.push(Elem {
                        item: v,
                        arr: *arr,
                        prefix: prefix.clone(),
                        at: None,
                    });
                }
                refs.push(v);
                let ph = Ident::new(&placeholder(refs.len() - 1), Span::call_site());
                if deref {
                    quote!(&#ph)
                } else {
                    quote!(#ph)
                }
            }
            (_, src) if src.has_array() => {
                self.error(
                    pat,
                    "destructure the items of a loop over an array of floats: `for (a, b) in x.iter().zip(y)`, `for (i, x) in w.iter().enumerate()`",
                );
                quote!(_)
            }
            (p, _) => self.data_pat(p, refs),
        }
    }

    /// A row of an array of floats being iterated (`for row in w.iter()`): the name stands for
    /// `w[pos]`, so that `row[j]` reads (and its derivative goes to) `w[pos][j]`.
    fn bind_row(
        &mut self,
        pat: &Pat,
        arr: Var,
        prefix: &[Operand],
        by_ref: bool,
        refs: &mut Vec<Var>,
    ) -> TokenStream {
        let id = match strip_pat(pat) {
            Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => &pi.ident,
            Pat::Wild(_) => return quote!(_),
            other => {
                self.error(other, "bind each row to a name: `for row in w.iter()`");
                return quote!(_);
            }
        };
        let span = id.span();
        let pos = match self.pos_slot {
            Some(p) => p,
            None => {
                let p = self
                    .b
                    .new_var(Kind::Opaque, Name::Fixed("pos"), false, span);
                self.pos_slot = Some(p);
                p
            }
        };
        let info = self.b.arrays.get(&arr).cloned();
        let active = self.b.info(arr).active;
        let v = self
            .b
            .new_var(Kind::Array, Name::Source(id.to_string()), active, span);
        if let Some(info) = info {
            self.b.arrays.insert(
                v,
                ArrayInfo {
                    lens: info.lens[prefix.len() + 1..].to_vec(),
                    by_ref,
                },
            );
        }
        let mut at = prefix.to_vec();
        at.push(Operand::Var(pos));
        self.aliases.insert(v, (arr, at));
        self.bind(id.to_string(), Operand::Var(v));
        refs.push(v);
        let ph = Ident::new(&placeholder(refs.len() - 1), Span::call_site());
        quote!(#ph)
    }

    /// A pattern over data: each name bound to an opaque variable.
    fn data_pat(&mut self, pat: &Pat, refs: &mut Vec<Var>) -> TokenStream {
        match strip_pat(pat) {
            Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                let id = &pi.ident;
                let v =
                    self.b
                        .new_var(Kind::Opaque, Name::Source(id.to_string()), false, id.span());
                self.bind(id.to_string(), Operand::Var(v));
                refs.push(v);
                let ph = Ident::new(&placeholder(refs.len() - 1), Span::call_site());
                quote!(#ph)
            }
            Pat::Tuple(t) => {
                let parts: Vec<TokenStream> =
                    t.elems.iter().map(|p| self.data_pat(p, refs)).collect();
                quote!((#(#parts,)*))
            }
            Pat::Reference(r) if r.mutability.is_none() => {
                let inner = self.data_pat(&r.pat, refs);
                quote!(&#inner)
            }
            Pat::Wild(_) => quote!(_),
            other => {
                self.error(
                    other,
                    "use a name, `_`, `&name` or a tuple of them in a loop pattern",
                );
                quote!(_)
            }
        }
    }

    /// `match` on data: a chain of `if ::core::matches!(scrutinee, pattern)`.
    pub(super) fn match_expr(&mut self, m: &syn::ExprMatch) -> Option<Operand> {
        if let Some(id) = self.first_active(&m.expr) {
            // Reported once: the `match` then stands for a value, so nothing more is said.
            return Some(self.error(
                &m.expr,
                format!("a `match` in a #[grad] function chooses by data, and `{id}` depends on a `wrt` parameter: compare it with `if` / `else if` instead"),
            ));
        }
        if m.arms.is_empty() {
            return Some(self.error(m.match_token, "a `match` with no arms has no value"));
        }
        let (tokens, refs, effectful, prec) = self.substitute(&m.expr, false);
        let scrut = if effectful {
            // Evaluated once, like the original.
            let v = self.opaque_from(tokens, refs, Kind::Opaque, true);
            let ph = Ident::new(&placeholder(0), Span::call_site());
            Opaque {
                tokens: quote!(#ph),
                refs: v.as_var().into_iter().collect(),
                effectful: false,
                prec: crate::emit::tokens::PREC_ATOM,
            }
        } else {
            Opaque {
                tokens,
                refs,
                effectful,
                prec,
            }
        };
        self.arms(&m.arms, &scrut)
    }

    fn arms(&mut self, arms: &[syn::Arm], scrut: &Opaque) -> Option<Operand> {
        let arm = &arms[0];
        if arms.len() == 1 {
            return self.arm_body(arm, scrut);
        }
        let cond = self.arm_cond(arm, scrut);
        let rest = &arms[1..];
        self.two_way(
            cond,
            arm.fat_arrow_token.spans[0],
            Arms::MatchArm,
            &mut |l| l.arm_body(arm, scrut),
            &mut |l| l.arms(rest, scrut),
        )
    }

    fn arm_cond(&mut self, arm: &syn::Arm, scrut: &Opaque) -> Operand {
        let pat = &arm.pat;
        let names = pat_bindings(pat);
        let mut refs = scrut.refs.clone();
        let st = &scrut.tokens;
        let guard = match &arm.guard {
            Some((_, g)) => {
                // The pattern's names are its own inside the guard.
                self.env.push(super::Scope::default());
                for n in &names {
                    let id = Ident::new(n, Span::call_site());
                    let e = self.b.add_extern(quote!(#id));
                    self.bind(n.clone(), e);
                }
                let (gt, grefs, _, _) = self.substitute(g, true);
                self.env.pop();
                let gt = crate::ir::shift_placeholders(gt, refs.len());
                refs.extend(grefs);
                quote!(if #gt)
            }
            None => quote!(),
        };
        // Without a guard the pattern's names are not used: `_` in their place.
        let pat = if arm.guard.is_none() {
            let mut p = pat.clone();
            Unbind.visit_pat_mut(&mut p);
            p.to_token_stream()
        } else {
            pat.to_token_stream()
        };
        let tokens = quote!(::core::matches!(#st, #pat #guard));
        let cond = Cond::Opaque(Opaque {
            tokens,
            refs,
            effectful: false,
            prec: crate::emit::tokens::PREC_ATOM,
        });
        self.cond_operand(cond, arm.pat.span())
    }

    fn arm_body(&mut self, arm: &syn::Arm, scrut: &Opaque) -> Option<Operand> {
        self.env.push(super::Scope::default());
        let names = pat_bindings(&arm.pat);
        if !names.is_empty() {
            let pat = &arm.pat;
            let st = &scrut.tokens;
            let ids: Vec<Ident> = names
                .iter()
                .map(|n| Ident::new(n, Span::call_site()))
                .collect();
            let value = if ids.len() == 1 {
                let id = &ids[0];
                quote!(#id)
            } else {
                quote!((#(#ids),*))
            };
            let t = self.opaque_from(
                quote!(match #st { #pat => #value, _ => ::core::unreachable!() }),
                scrut.refs.clone(),
                Kind::Opaque,
                false,
            );
            if ids.len() == 1 {
                self.name_fresh(t, 0, &names[0]);
                self.bind(names[0].clone(), t);
            } else {
                for (k, n) in names.iter().enumerate() {
                    let idx = syn::Index::from(k);
                    let ph = Ident::new(&placeholder(0), Span::call_site());
                    let refs = t.as_var().into_iter().collect();
                    let f = self.opaque_from(quote!(#ph.#idx), refs, Kind::Opaque, false);
                    self.name_fresh(f, 0, n);
                    self.bind(n.clone(), f);
                }
            }
        }
        let v = self.tail(&arm.body);
        self.env.pop();
        v
    }
}

/// Replaces the names a pattern binds by `_`.
struct Unbind;

impl syn::visit_mut::VisitMut for Unbind {
    fn visit_pat_mut(&mut self, p: &mut Pat) {
        if let Pat::Ident(pi) = p {
            if !pi.ident.to_string().starts_with(|c: char| c.is_uppercase()) {
                *p = match pi.subpat.take() {
                    Some((_, sub)) => *sub,
                    None => Pat::Wild(syn::PatWild {
                        attrs: Vec::new(),
                        underscore_token: Default::default(),
                    }),
                };
                self.visit_pat_mut(p);
                return;
            }
        }
        syn::visit_mut::visit_pat_mut(self, p);
    }
    fn visit_field_pat_mut(&mut self, fp: &mut syn::FieldPat) {
        // `Leaky { slope }` becomes `Leaky { slope: _ }`.
        if fp.colon_token.is_none() {
            fp.colon_token = Some(Default::default());
        }
        syn::visit_mut::visit_field_pat_mut(self, fp);
    }
    fn visit_expr_mut(&mut self, _: &mut Expr) {}
}

/// A pattern without its type annotation and parentheses.
fn strip_pat(p: &Pat) -> &Pat {
    match p {
        Pat::Type(t) => strip_pat(&t.pat),
        Pat::Paren(p) => strip_pat(&p.pat),
        other => other,
    }
}

/// The names a `match` pattern binds (lowercase identifiers; capitalised ones are constants and
/// unit variants).
fn pat_bindings(p: &Pat) -> Vec<String> {
    struct V(Vec<String>);
    impl<'ast> Visit<'ast> for V {
        fn visit_pat_ident(&mut self, pi: &'ast syn::PatIdent) {
            let s = pi.ident.to_string();
            if !s.starts_with(|c: char| c.is_uppercase()) && !self.0.contains(&s) {
                self.0.push(s);
            }
            syn::visit::visit_pat_ident(self, pi);
        }
        fn visit_expr(&mut self, _: &'ast Expr) {}
    }
    let mut v = V(Vec::new());
    v.visit_pat(p);
    v.0
}

/// Could this be an element of an array of floats (as opposed to integers, strings, ...)?
fn float_like(e: &Expr) -> bool {
    match e {
        Expr::Lit(l) => matches!(&l.lit, syn::Lit::Float(_)),
        Expr::Unary(u) => float_like(&u.expr),
        Expr::Paren(p) => float_like(&p.expr),
        Expr::Array(_) | Expr::Repeat(_) => false,
        _ => true,
    }
}

/// The constant trip count of a loop over `src`, when known (an upper bound suffices).
fn trip_count(src: &Src, l: &Lowerer) -> Option<TokenStream> {
    match src {
        Src::Arr { arr, prefix, .. } => {
            l.b.arrays
                .get(arr)
                .and_then(|i| i.lens.get(prefix.len()).cloned().flatten())
        }
        Src::Zip(a, b) => trip_count(a, l).or_else(|| trip_count(b, l)),
        Src::Enumerate(a) | Src::Rev(a) | Src::Copied(a) => trip_count(a, l),
        Src::Data(n) => n.clone(),
        Src::Refused => None,
    }
}

/// The names a block assigns (`x = ..`, `x += ..`), nested blocks and loops included; `#ret`
/// and `#retval` when it may `return`.
pub fn assigned_names(stmts: &[syn::Stmt]) -> Vec<String> {
    let mut v = Assigned(Vec::new());
    for s in stmts {
        v.visit_stmt(s);
    }
    v.0
}

fn assigned_in_expr(e: &Expr) -> Vec<String> {
    let mut v = Assigned(Vec::new());
    v.visit_expr(e);
    v.0
}

struct Assigned(Vec<String>);

impl<'ast> Visit<'ast> for Assigned {
    fn visit_expr(&mut self, e: &'ast Expr) {
        match e {
            Expr::Assign(a) => {
                if let Some(n) = root_name(&a.left) {
                    self.0.push(n);
                }
            }
            Expr::Binary(b) if super::compound(&b.op).is_some() => {
                if let Some(n) = root_name(&b.left) {
                    self.0.push(n);
                }
            }
            Expr::Return(_) => {
                self.0.push(RET.into());
                self.0.push(RETVAL.into());
            }
            Expr::Closure(_) => return,
            _ => {}
        }
        syn::visit::visit_expr(self, e);
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

fn root_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        Expr::Paren(p) => root_name(&p.expr),
        _ => None,
    }
}

/// Whether a loop body may leave the loop early (`break` of this loop, or `return`).
fn leaves(stmts: &[syn::Stmt]) -> bool {
    struct V {
        depth: usize,
        found: bool,
    }
    impl<'ast> Visit<'ast> for V {
        fn visit_expr(&mut self, e: &'ast Expr) {
            match e {
                Expr::Return(_) => self.found = true,
                Expr::Break(_) if self.depth == 0 => self.found = true,
                Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => {
                    self.depth += 1;
                    syn::visit::visit_expr(self, e);
                    self.depth -= 1;
                    return;
                }
                Expr::Closure(_) => return,
                _ => {}
            }
            syn::visit::visit_expr(self, e);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut v = V {
        depth: 0,
        found: false,
    };
    for s in stmts {
        v.visit_stmt(s);
    }
    v.found
}

/// The names that may hold a value depending on `seeds` (the `wrt` parameters) anywhere in the
/// body: a name is in if something assigned to it (a `let`, an assignment, a loop pattern, a
/// closure argument, an element store) mentions a name that is in. An over-approximation,
/// which is all the loops need: a variable wrongly thought differentiated only costs a zero
/// derivative.
pub fn active_names(block: &syn::Block, seeds: &[String]) -> HashSet<String> {
    struct Edges(Vec<(Vec<String>, HashSet<String>)>);
    impl<'ast> Visit<'ast> for Edges {
        fn visit_local(&mut self, l: &'ast syn::Local) {
            if let Some(init) = &l.init {
                self.0.push((pat_names(&l.pat), idents(&init.expr)));
            }
            syn::visit::visit_local(self, l);
        }
        fn visit_expr(&mut self, e: &'ast Expr) {
            match e {
                Expr::Assign(a) => {
                    if let Some(n) = place_root(&a.left) {
                        self.0.push((vec![n], idents(&a.right)));
                    }
                }
                Expr::Binary(b) if super::compound(&b.op).is_some() => {
                    if let Some(n) = place_root(&b.left) {
                        self.0.push((vec![n], idents(&b.right)));
                    }
                }
                Expr::ForLoop(f) => {
                    // `for (i, x) in xs.iter().enumerate()`: `i` is a position, never a float.
                    let mut targets = pat_names(&f.pat);
                    if let (Expr::MethodCall(m), Pat::Tuple(t)) = (&*f.expr, strip_pat(&f.pat)) {
                        if m.method == "enumerate" && t.elems.len() == 2 {
                            let index = pat_names(&t.elems[0]);
                            targets.retain(|n| !index.contains(n));
                        }
                    }
                    self.0.push((targets, idents(&f.expr)));
                }
                Expr::Return(r) => {
                    if let Some(x) = &r.expr {
                        self.0.push((vec![RETVAL.into()], idents(x)));
                    }
                }
                // Only a closure argument is assigned to; looking for one first keeps a chain of
                // method calls linear (each call would otherwise gather its whole receiver).
                Expr::MethodCall(m) if m.args.iter().any(|a| matches!(a, Expr::Closure(_))) => {
                    let mut src = idents(&m.receiver);
                    for a in &m.args {
                        if !matches!(a, Expr::Closure(_)) {
                            src.extend(idents(a));
                        }
                    }
                    for a in &m.args {
                        if let Expr::Closure(c) = a {
                            let names = c.inputs.iter().flat_map(pat_names).collect();
                            self.0.push((names, src.clone()));
                        }
                    }
                }
                _ => {}
            }
            syn::visit::visit_expr(self, e);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut edges = Edges(Vec::new());
    edges.visit_block(block);
    let mut active: HashSet<String> = seeds.iter().cloned().collect();
    loop {
        let mut changed = false;
        for (targets, src) in &edges.0 {
            if src.iter().any(|s| active.contains(s)) {
                for t in targets {
                    changed |= active.insert(t.clone());
                }
            }
        }
        if !changed {
            return active;
        }
    }
}

fn place_root(e: &Expr) -> Option<String> {
    match e {
        Expr::Index(ix) => place_root(&ix.expr),
        Expr::Field(f) => place_root(&f.base),
        Expr::Paren(p) => place_root(&p.expr),
        Expr::Unary(u) => place_root(&u.expr),
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    }
}

fn pat_names(p: &Pat) -> Vec<String> {
    struct V(Vec<String>);
    impl<'ast> Visit<'ast> for V {
        fn visit_pat_ident(&mut self, pi: &'ast syn::PatIdent) {
            self.0.push(pi.ident.to_string());
            syn::visit::visit_pat_ident(self, pi);
        }
    }
    let mut v = V(Vec::new());
    v.visit_pat(p);
    v.0
}

fn idents(e: &Expr) -> HashSet<String> {
    struct V(HashSet<String>);
    impl<'ast> Visit<'ast> for V {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if let Some(id) = p.path.get_ident() {
                self.0.insert(id.to_string());
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut v = V(HashSet::default());
    v.visit_expr(e);
    v.0
}

/// Where the user wrote the variable that placeholder `k` of `tokens` stands for.
fn placeholder_span(tokens: &TokenStream, k: usize) -> Option<Span> {
    let name = placeholder(k);
    for t in tokens.clone() {
        match t {
            proc_macro2::TokenTree::Ident(i) if i == name => return Some(i.span()),
            proc_macro2::TokenTree::Group(g) => {
                if let Some(s) = placeholder_span(&g.stream(), k) {
                    return Some(s);
                }
            }
            _ => {}
        }
    }
    None
}

/// Refuses a store to an array that a loop before it reads: the reverse sweep recomputes the
/// loop's iterations after the whole function has run, so the loop would read what the array
/// holds at the end, not what it held then.
pub fn check_reads_after_writes(cx: &Ctxt, body: &Block, vars: &[VarInfo]) {
    #[derive(Default)]
    struct Walk {
        n: usize,
        /// Where each array is declared (parameters: before everything).
        decl: HashMap<Var, usize>,
        /// Loops around the current point: where each starts.
        loops: Vec<usize>,
        /// For each array read in a loop that does not declare it: from where on a store is
        /// refused, and the read's span.
        from: HashMap<Var, (usize, Span)>,
        stores: Vec<(Var, usize, Span)>,
    }
    impl Walk {
        fn block(&mut self, b: &Block, vars: &[VarInfo]) {
            for inst in &b.insts {
                self.n += 1;
                let here = self.n;
                match inst {
                    Inst::NewArray { var, .. } => {
                        self.decl.insert(*var, here);
                    }
                    Inst::Load { var, arr, .. } => self.read(*arr, vars[var.0 as usize].span),
                    Inst::Store { arr, span, .. } => self.stores.push((*arr, here, *span)),
                    Inst::If { then, els, .. } => {
                        self.block(then, vars);
                        self.block(els, vars);
                    }
                    Inst::Loop(l) => {
                        self.loops.push(here);
                        // Iterating an array reads it in every iteration.
                        if let Header::For { iter, .. } = &l.header {
                            for (k, v) in iter.refs.iter().enumerate() {
                                if vars[v.0 as usize].kind == Kind::Array {
                                    let at = placeholder_span(&iter.tokens, k)
                                        .unwrap_or(vars[v.0 as usize].span);
                                    self.read(*v, at);
                                }
                            }
                        }
                        self.block(&l.body, vars);
                        self.loops.pop();
                    }
                    other => {
                        // Code over data that is handed an array (`my_norm(&z)`) reads it.
                        other.for_each_operand(&mut |o| {
                            if let Operand::Var(v) = o {
                                if vars[v.0 as usize].kind == Kind::Array {
                                    self.read(*v, vars[v.0 as usize].span);
                                }
                            }
                        });
                    }
                }
            }
        }

        /// A read of `arr` here: inside a loop that does not declare it, later writes are
        /// refused.
        fn read(&mut self, arr: Var, span: Span) {
            let decl = self.decl.get(&arr).copied().unwrap_or(0);
            if let Some(&outer) = self.loops.iter().find(|&&s| s > decl) {
                let e = self.from.entry(arr).or_insert((outer, span));
                if outer < e.0 {
                    *e = (outer, span);
                }
            }
        }
    }
    let mut w = Walk::default();
    w.block(body, vars);
    let mut told = HashSet::default();
    for (arr, at, span) in &w.stores {
        if let Some((from, read)) = w.from.get(arr) {
            if at >= from {
                let name = match &vars[arr.0 as usize].name {
                    Name::Source(s) => s.clone(),
                    _ => "this array".into(),
                };
                cx.syn_error(syn::Error::new(
                    *span,
                    format!("`{name}` is written here after a loop has read it (or in the loop that reads it): the reverse sweep recomputes that loop's iterations once the function has run, and would read the new value. Write the new values to another array, or keep a value in a local before changing the element (`let v = {name}[i]; {name}[i] = v * 2.0;` outside a loop)"),
                ));
                if told.insert(*arr) {
                    cx.syn_error(syn::Error::new(
                        *read,
                        format!("the loop reads `{name}` here"),
                    ));
                }
            }
        }
    }
}

/// The iterable with the float literals of its array literals suffixed with the function's float
/// type (`[1.0f64, 2.0f64]`): the loop's element is then a float of that type, as the original's
/// use of it (`f64::sin(v)`) makes it, and not an ambiguous `{float}` in the companions, where
/// its uses are written as methods (`v.sin()`).
fn typed_float_literals(iter: &Expr, float: crate::ir::Float) -> Expr {
    struct Suffix(&'static str);
    impl syn::visit_mut::VisitMut for Suffix {
        fn visit_expr_array_mut(&mut self, a: &mut syn::ExprArray) {
            for e in a.elems.iter_mut() {
                if let Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Float(f),
                    ..
                }) = e
                {
                    if f.suffix().is_empty() {
                        let text = format!("{}{}", f.base10_digits(), self.0);
                        *f = syn::LitFloat::new(&text, f.span());
                    }
                }
            }
            syn::visit_mut::visit_expr_array_mut(self, a);
        }
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    }
    let mut e = iter.clone();
    let suffix = match float {
        crate::ir::Float::F32 => "f32",
        crate::ir::Float::F64 => "f64",
    };
    syn::visit_mut::VisitMut::visit_expr_mut(&mut Suffix(suffix), &mut e);
    e
}
