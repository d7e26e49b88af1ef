//! Lowers a function body from `syn` to the IR, reporting every unsupported construct with its
//! span.
//!
//! Variables are renamed into SSA form as they are assigned (`let mut s = 0.0; s += w;` defines
//! two variables), and an `if` yields the variables its branches change, so later passes never
//! see mutation. Code over data only (integer arithmetic, struct fields, user functions called
//! on data) is kept as the user wrote it, as opaque tokens with no derivative; code that mixes
//! data and differentiated values must be built from the operations in `rules.rs`. Conditions
//! are kept as written too, whatever values they read: a condition has no derivative.

use crate::build::Builder;
use crate::front::check::{float_of, Sig};
use crate::front::ctxt::Ctxt;
use crate::ir::{
    placeholder, Block, Cond, Float, Func, Inst, Kind, Name, Op, Opaque, Operand, Var,
};
use rustc_hash::FxHashSet as HashSet;

pub mod effects;
pub mod escape;
mod loops;
use crate::ir::shift_placeholders;
use crate::lower::escape::Held;
use crate::rules::{self, Form, RULES};
use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{BinOp, Expr, Ident, Lit, Local, Pat, Stmt, UnOp};

#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Binding {
    pub(crate) val: Operand,
}

type Env = Vec<Scope>;

/// The names bound in one block, in order, with an index of each name's latest binding: a
/// lookup costs the nesting depth, not the length of the body.
#[derive(Clone, Default)]
pub(crate) struct Scope {
    vars: Vec<(String, Binding)>,
    latest: rustc_hash::FxHashMap<String, usize>,
}

impl Scope {
    fn push(&mut self, (name, b): (String, Binding)) {
        self.latest.insert(name.clone(), self.vars.len());
        self.vars.push((name, b));
    }

    /// Where `name` was bound last in this scope.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.latest.get(name).copied()
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, (String, Binding)> {
        self.vars.iter()
    }
}

impl std::ops::Index<usize> for Scope {
    type Output = (String, Binding);
    fn index(&self, k: usize) -> &Self::Output {
        &self.vars[k]
    }
}

impl std::ops::IndexMut<usize> for Scope {
    fn index_mut(&mut self, k: usize) -> &mut Self::Output {
        &mut self.vars[k]
    }
}

pub struct Lowered {
    pub func: Func,
    /// Statements that make rustc check a helper called by a bare name is really ours.
    pub assertions: Vec<TokenStream>,
    /// Functions of modules called with a differentiated argument (see
    /// `expand::pullbacks_in_scope`): the name the companions import each as (`__grad_f`), the
    /// path as written, and the number of arguments.
    pub callees: Vec<(Ident, syn::Path, usize)>,
    /// Items declared inside the body (`const K: f64 = ..;`), copied into the companions.
    pub items: Vec<syn::Item>,
    /// For each parameter, whether the companions declare it `mut` as the original does: an
    /// array written in place, or data changed in place (`rng.next()`); a float the body
    /// reassigns needs no `mut` (each assignment is a new variable).
    pub keep_mut: Vec<bool>,
}

pub fn lower(cx: &Ctxt, sig: &Sig, block: &syn::Block, krate: &TokenStream) -> Option<Lowered> {
    let mut l = Lowerer {
        b: Builder::new(sig.float),
        cx,
        env: vec![Scope::default()],
        krate,
        assertions: Vec::new(),
        items: Vec::new(),
        int_params: Vec::new(),
        assigned_anywhere: HashSet::default(),
        active_names: HashSet::default(),
        loop_depth: 0,
        closure_depth: 0,
        hidden: 0,
        data_arrays: rustc_hash::FxHashMap::default(),
        aliases: rustc_hash::FxHashMap::default(),
        pos_slot: None,
        callees: Vec::new(),
        pulled: Vec::new(),
        plain: HashSet::default(),
        self_changes: sig.self_changes,
        non_float_params: Vec::new(),
        closure_floor: None,
    };
    let assigned: HashSet<String> = loops::assigned_names(&block.stmts).into_iter().collect();
    let seeds: Vec<String> = sig
        .params
        .iter()
        .filter(|p| p.wrt)
        .filter_map(|p| p.ident.as_ref().map(|i| i.to_string()))
        .collect();
    l.active_names = loops::active_names(block, &seeds);
    l.assigned_anywhere = assigned.clone();
    let mut params = Vec::new();
    let mut keep_mut = Vec::new();
    for p in &sig.params {
        let array = p.array.as_ref().filter(|_| p.wrt);
        let declared_mut = p.mutable;
        let changed_in_place = p
            .ident
            .as_ref()
            .is_some_and(|id| !assigned.contains(&id.to_string()));
        keep_mut.push(declared_mut && (array.is_some() || (p.float.is_none() && changed_in_place)));
        let kind = if array.is_some() {
            Kind::Array
        } else if p.float == Some(sig.float) {
            Kind::Float
        } else {
            Kind::Opaque
        };
        let (name, span) = match &p.ident {
            Some(id) => (id.to_string(), id.span()),
            None => ("_".to_string(), Span::call_site()),
        };
        let v = l.b.new_var(kind, Name::Source(name.clone()), p.wrt, span);
        // Data declared `mut` and changed in place (`bump(&mut n)`, `data.swap(0, 1)`): a
        // variable whose value calls change, read where it is read (see `effects.rs`).
        let in_place = declared_mut && changed_in_place && kind == Kind::Opaque;
        if in_place {
            l.b.info_mut(v).mutable = true;
        }
        if let Some((info, _)) = array {
            l.b.arrays.insert(v, info.clone());
        } else if let Some((info, _)) = p.array.as_ref().filter(|_| !in_place) {
            l.data_arrays.insert(v, info.clone());
        }
        if is_int_or_bool(&p.ty) {
            l.int_params.push((v, crate::front::check::type_str(&p.ty)));
        }
        if !in_place && (is_int_or_bool(&p.ty) || p.float.is_some() || p.array.is_some()) {
            l.plain.insert(v);
        }
        let float_ref = matches!(&p.ty, syn::Type::Reference(r) if float_of(&r.elem).is_some());
        if kind == Kind::Opaque && p.float.is_none() && !float_ref && !is_int_or_bool(&p.ty) {
            l.non_float_params
                .push((v, crate::front::check::type_str(&p.ty)));
        }
        params.push(v);
        if p.ident.is_some() {
            l.bind(name, Operand::Var(v));
        }
    }
    l.bind(RET.into(), Operand::Bool(false));
    l.bind(RETVAL.into(), Operand::Lit(0.0));
    if let Some(m) = sig.outputs {
        return lower_several(l, cx, block, (m, sig.forward_only), params, keep_mut);
    }
    let tail = l.stmts(&block.stmts);
    let ret = l.returned(tail);
    if ret.is_none() {
        let at = block
            .stmts
            .last()
            .map_or_else(|| block.brace_token.span.join(), |s| s.span());
        cx.syn_error(syn::Error::new(
            at,
            "the function must end with an expression giving its value",
        ));
    }
    if cx.has_errors() {
        return None;
    }
    let ret = ret?;
    let insts = l.b.take_root();
    let body = Block {
        insts,
        yields: vec![ret],
    };
    l.finish(sig.forward_only, params, body, keep_mut)
}

/// The body of a function returning `m` floats: its statements, then a tuple or array
/// literal of `m` values, each a yield.
fn lower_several(
    mut l: Lowerer,
    cx: &Ctxt,
    block: &syn::Block,
    (m, forward_only): (usize, bool),
    params: Vec<Var>,
    keep_mut: Vec<bool>,
) -> Option<Lowered> {
    struct Returns(Option<Span>);
    impl<'ast> Visit<'ast> for Returns {
        fn visit_expr_return(&mut self, r: &'ast syn::ExprReturn) {
            self.0.get_or_insert(r.return_token.span);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut returns = Returns(None);
    returns.visit_block(block);
    if let Some(at) = returns.0 {
        cx.syn_error(syn::Error::new(
            at,
            "`return` in a function returning several values is not supported: end the body with the tuple or array of its values",
        ));
        return None;
    }
    let (last, rest) = match block.stmts.split_last() {
        Some((Stmt::Expr(e, None), rest)) => (e, rest),
        _ => {
            cx.syn_error(syn::Error::new(
                block.brace_token.span.join(),
                "a function returning several values must end with their tuple or array (`(a, b)`, `[a, b]`)",
            ));
            return None;
        }
    };
    let elems: Vec<&Expr> = match last {
        Expr::Tuple(t) => t.elems.iter().collect(),
        Expr::Array(a) => a.elems.iter().collect(),
        Expr::Paren(p) => vec![&*p.expr],
        _ => Vec::new(),
    };
    if elems.len() != m {
        cx.error_spanned(
            last,
            format!("end the body with the {m} values as a tuple or array literal (`(a, b)`, `[a, b]`): each is differentiated on its own"),
        );
        return None;
    }
    l.stmts(rest);
    let yields: Vec<Operand> = elems.iter().map(|e| l.expr(e)).collect();
    if cx.has_errors() {
        return None;
    }
    let body = Block {
        insts: l.b.take_root(),
        yields,
    };
    l.finish(forward_only, params, body, keep_mut)
}

impl Lowerer<'_> {
    /// What lowering gives: the function, and what the companions need besides; `None`
    /// after an error. A reverse sweep (unless `forward_only`) refuses an array written after
    /// a loop has read it.
    fn finish(
        mut self,
        forward_only: bool,
        params: Vec<Var>,
        mut body: Block,
        keep_mut: Vec<bool>,
    ) -> Option<Lowered> {
        crate::ir::fold_identities(&mut body);
        self.keep_dead_pulled(&mut body);
        self.type_float_operands(&body);
        crate::lower::effects::pin_state_reads(
            self.cx,
            &mut body,
            &self.b.vars,
            (&self.plain, &self.pulled, self.self_changes),
        );
        if !forward_only {
            loops::check_reads_after_writes(self.cx, &body, &self.b.vars);
        }
        if self.cx.has_errors() {
            return None;
        }
        Some(Lowered {
            func: Func {
                float: self.b.float,
                vars: self.b.vars,
                externs: self.b.externs,
                params,
                body,
                arrays: self.b.arrays,
            },
            assertions: self.assertions,
            callees: self.callees,
            items: self.items,
            keep_mut,
        })
    }
}

impl Lowerer<'_> {
    /// Data of a type the macro does not know, used in float arithmetic (`q + x`): the
    /// arithmetic is differentiated as that of floats, which is only right if it is. A local
    /// (`let q = ..;`) is checked in the companions (`let _: &f64 = &q;`, `VarInfo::
    /// float_checked`), so rustc refuses one of another type (an operator overloaded by a type
    /// of the user's own) at its `let`; a parameter of another type is refused here.
    fn type_float_operands(&mut self, body: &Block) {
        fn operands(b: &Block, out: &mut Vec<(Var, Var)>) {
            for inst in &b.insts {
                // The arithmetic operators (not a call's arguments, a rule's integer exponent).
                if let Inst::Op { var, op, args } = inst {
                    if matches!(
                        op,
                        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Rem | Op::Neg
                    ) {
                        out.extend(args.iter().filter_map(|a| a.as_var()).map(|a| (a, *var)));
                    }
                }
                for nb in inst.blocks() {
                    operands(nb, out);
                }
            }
        }
        let mut used = Vec::new();
        operands(body, &mut used);
        let mut defined = HashSet::default();
        opaque_vars(body, &mut defined);
        let mut locals = HashSet::default();
        for (v, op) in used {
            let info = self.b.info(v);
            if info.kind != Kind::Opaque {
                continue;
            }
            if let Some((_, ty)) = self.non_float_params.iter().find(|(p, _)| *p == v) {
                let name = match &info.name {
                    Name::Source(n) => n.clone(),
                    _ => String::new(),
                };
                let at = self.b.info(op).span;
                self.cx.syn_error(syn::Error::new(
                    at,
                    format!("`{name}` is a `{ty}`, not a float: grad differentiates the arithmetic of floats, not the operators of other types; compute the float first (`{name}.value()`, a field) and use that"),
                ));
            } else if matches!(info.name, Name::Source(_)) && defined.contains(&v) {
                locals.insert(v);
            }
        }
        for v in locals {
            self.b.info_mut(v).float_checked = true;
        }
    }

    /// Keeps every call of another `#[grad]` function, even one whose value nothing uses
    /// (`let v = f(x); v = 2.0;`): the companions then still call its pullback, so rustc still
    /// checks that the callee is a `#[grad]` function (or has a rule), and a function with
    /// effects is refused at the call rather than dropped unseen. (A call whose value is thrown
    /// away where it is written is refused by `discarded_call`.)
    fn keep_dead_pulled(&self, body: &mut Block) {
        if self.pulled.is_empty() {
            return;
        }
        fn mark(b: &mut Block, dead: &HashSet<Var>) {
            for inst in &mut b.insts {
                match inst {
                    Inst::Opaque { var, expr, .. } if dead.contains(var) => expr.effectful = true,
                    Inst::If { then, els, .. } => {
                        mark(then, dead);
                        mark(els, dead);
                    }
                    Inst::Loop(l) => mark(&mut l.body, dead),
                    _ => {}
                }
            }
        }
        let mut live = body.clone();
        crate::opt::simplify::dce_block(&mut live);
        let mut kept = HashSet::default();
        opaque_vars(&live, &mut kept);
        let dead: HashSet<Var> = self
            .pulled
            .iter()
            .copied()
            .filter(|v| !kept.contains(v))
            .collect();
        if !dead.is_empty() {
            mark(body, &dead);
        }
    }
}

/// The variables the opaque code of `b` defines, nested blocks included.
fn opaque_vars(b: &Block, out: &mut HashSet<Var>) {
    for inst in &b.insts {
        if let Inst::Opaque { var, .. } = inst {
            out.insert(*var);
        }
        for nb in inst.blocks() {
            opaque_vars(nb, out);
        }
    }
}

struct Lowerer<'a> {
    b: Builder,
    cx: &'a Ctxt,
    env: Env,
    krate: &'a TokenStream,
    assertions: Vec<TokenStream>,
    items: Vec<syn::Item>,
    /// Parameters declared with an integer type, by variable: mixing one into float arithmetic
    /// is a type error worth saying plainly.
    int_params: Vec<(Var, String)>,
    /// Names that may hold a differentiated value somewhere in the body (see
    /// `loops::active_names`): decides, before a loop body is lowered, which of the values it
    /// carries need derivatives.
    active_names: HashSet<String>,
    loop_depth: usize,
    closure_depth: usize,
    /// Counter for the names of hidden accumulators.
    hidden: usize,
    /// Every name the body assigns somewhere.
    assigned_anywhere: HashSet<String>,
    /// Data parameters that are arrays of floats: their lengths give loops a constant trip count.
    data_arrays: rustc_hash::FxHashMap<Var, crate::ir::ArrayInfo>,
    /// Rows of an array being iterated (`for row in w.iter()`): the array and the position the
    /// row stands for.
    aliases: rustc_hash::FxHashMap<Var, (Var, Vec<Operand>)>,
    /// The position variable of the loop whose pattern is being bound, if a row needs one.
    pos_slot: Option<Var>,
    /// Functions of modules called with a differentiated argument (`Lowered::callees`).
    callees: Vec<(Ident, syn::Path, usize)>,
    /// Every call of another `#[grad]` function (`pulled_call`): the variable holding what its
    /// pullback returns. One whose value is never used is kept all the same (`finish`).
    pulled: Vec<Var>,
    /// Parameters whose value no call can change (floats, integers, `bool`s, float arrays).
    plain: HashSet<Var>,
    /// A method whose receiver can change (`Sig::self_changes`).
    self_changes: bool,
    /// Data parameters whose type is not a float (nor a reference to one): `+` on one of them
    /// would be an operator of its type, not float arithmetic.
    non_float_params: Vec<(Var, String)>,
    /// The scopes a closure of `.map(..)`/`.fold(..)` may assign in: those from this depth on.
    closure_floor: Option<usize>,
}

/// Control flow is lowered to flags, held in the environment under names no identifier can
/// have: whether the function has returned and with what value, and whether the innermost loop
/// is left (`break`) or the rest of its iteration skipped (`continue`).
const RET: &str = "#ret";
const RETVAL: &str = "#retval";
const BRK: &str = "#brk";
const CONT: &str = "#cont";

impl<'a> Lowerer<'a> {
    fn bind(&mut self, name: String, val: Operand) {
        if let Some(scope) = self.env.last_mut() {
            scope.push((name, Binding { val }));
        }
    }

    fn lookup(&self, name: &str) -> Option<Operand> {
        self.env
            .iter()
            .rev()
            .find_map(|s| s.find(name).map(|k| s[k].1.val))
    }

    fn assign(&mut self, name: &str, val: Operand) -> bool {
        for scope in self.env.iter_mut().rev() {
            if let Some(k) = scope.find(name) {
                scope[k].1.val = val;
                return true;
            }
        }
        false
    }

    /// Gives a value just computed for `let name = ..` or `name = ..` the user's name.
    fn name_fresh(&mut self, val: Operand, first_new: usize, name: &str) {
        if let Operand::Var(v) = val {
            if v.0 as usize >= first_new
                && self.b.info(v).name == Name::Temp
                && !name.starts_with('#')
            {
                self.b.info_mut(v).name = Name::Source(name.to_string());
            }
        }
    }

    fn error<T: ToTokens>(&self, at: T, msg: impl std::fmt::Display) -> Operand {
        self.cx.error_spanned(at, msg);
        Operand::Lit(0.0)
    }

    fn is_floatish(&self, o: &Operand) -> bool {
        self.b.kind(o) == Kind::Float
    }

    fn stmts(&mut self, stmts: &[Stmt]) -> Option<Operand> {
        let mut value = None;
        for (i, stmt) in stmts.iter().enumerate() {
            let last = i + 1 == stmts.len();
            value = None;
            match stmt {
                Stmt::Local(local) => self.local(local),
                Stmt::Item(item) => self.items.push(item.clone()),
                Stmt::Macro(m) => {
                    self.error(&m.mac, "macros are not supported in a #[grad] function: the macro cannot see what they expand to");
                }
                Stmt::Expr(e, semi) => {
                    if last && semi.is_none() {
                        value = self.tail(e);
                    } else {
                        self.stmt_expr(e);
                    }
                }
            }
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
    fn tail(&mut self, e: &Expr) -> Option<Operand> {
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

    fn stmt_expr(&mut self, e: &Expr) {
        match e {
            Expr::Assign(a) => {
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
                    self.error(&b.left, format!("`{name}` holds the integer `{i}`, so floats cannot be added into it: start it as a float (`let mut {name} = {i}.0;`)"));
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

    fn block(&mut self, block: &syn::Block) -> Option<Operand> {
        self.env.push(Scope::default());
        let v = self.stmts(&block.stmts);
        self.env.pop();
        v
    }

    fn local(&mut self, local: &Local) {
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
        if let Some(name) = &name {
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
        if let Some(name) = name {
            self.name_fresh(val, first_new, &name);
            self.bind(name, val);
        }
    }

    /// A call whose value is thrown away (`f(&mut out, x);`, `let _ = f(x);`) with a
    /// differentiated argument: refused, since the value could then only matter through the
    /// call's effects, which grad cannot follow. `true` if refused.
    fn discarded_call(&mut self, e: &Expr) -> bool {
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
            format!("the value of this call of `{name}` is thrown away, yet it is passed `{id}`, which depends on a `wrt` parameter: grad follows a differentiated value through a call only by what the call returns, not through its effects (a `&mut` argument, a field, a cell, a container); make `{name}` return the value and use it (`let y = {name}(..);`), as a #[grad] function or one with #[grad::rule]"),
        );
        true
    }

    /// `let (a, b) = (e1, e2);` (nested too): each name bound to its element, every element
    /// computed before any name is bound, as Rust does (`let (a, b) = (b, a + b);`). `false`
    /// (nothing lowered) unless the value is a tuple literal of the pattern's shape.
    fn let_tuple(&mut self, pat: &syn::PatTuple, init: &Expr) -> bool {
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

    /// `let mut count = 0; bump(&mut count);`: an integer or `bool` declared `mut` and never
    /// assigned is changed in place: a variable of its own (a constant it would be for the
    /// macro, and a write through `&mut` would be lost), and so is data computed for it.
    fn in_place_data(&mut self, val: Operand, pi: &syn::PatIdent, first_new: usize) -> Operand {
        let in_place =
            pi.mutability.is_some() && !self.assigned_anywhere.contains(&pi.ident.to_string());
        if !in_place {
            return val;
        }
        match val {
            Operand::Int(_) | Operand::Bool(_) => {
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
    fn store(&mut self, target: &Expr, val: Operand, op: Option<Op>) {
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
            self.error(
                target,
                format!("assigning {how} is not supported in a #[grad] function: only local variables and parameters can be assigned"),
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
                    format!("this closure assigns `{name}`, which is declared outside it: grad does not carry a closure's changes out of it; write the loop as a `for` loop"),
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

    fn expr(&mut self, e: &Expr) -> Operand {
        match e {
            Expr::Lit(l) => self.lit(&l.lit),
            Expr::Path(p) => {
                if p.qself.is_none() {
                    if let Some(id) = p.path.get_ident() {
                        if let Some(v) = self.lookup(&id.to_string()) {
                            if self.b.kind(&v) == Kind::Array {
                                return self.error(
                                    p,
                                    format!("`{id}` is an array of floats: index it (`{id}[i]`) or iterate over it (`{id}.iter()`); it cannot be copied, moved or passed on as a whole in a #[grad] function"),
                                );
                            }
                            return v;
                        }
                    }
                }
                self.b.add_extern(p.to_token_stream())
            }
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Group(g) => self.expr(&g.expr),
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
            Expr::Call(c) => self.call(c),
            Expr::Cast(c) => self.cast(c),
            Expr::If(i) => match self.if_expr(i) {
                Some(v) => v,
                None => self.error(
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
                    return self.error(at, msg);
                }
                self.opaque(other, "this expression")
            }
        }
    }

    fn lit(&mut self, lit: &Lit) -> Operand {
        match lit {
            Lit::Float(f)
                if f.suffix().is_empty() || float_suffix(f.suffix()) == Some(self.b.float) =>
            {
                let v = match self.b.float {
                    Float::F32 => f.base10_parse::<f32>().map(f64::from),
                    Float::F64 => f.base10_parse::<f64>(),
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

    fn arith(&mut self, op: Op, l: Operand, r: Operand, span: Span) -> Operand {
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

    fn opaque_from(
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
    fn opaque(&mut self, e: &Expr, what: &str) -> Operand {
        if let Some((at, msg)) = self.escape_in(e, false) {
            return self.error(at, msg);
        }
        if let Some(id) = self.first_active(e) {
            return self.error(
                e,
                format!("{what} cannot be differentiated: it uses `{id}`, which depends on a `wrt` parameter; differentiated values may only go through arithmetic, `if`, and the supported functions"),
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
    fn held(&self, name: &str) -> Held {
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
    fn escapes<R>(&self, ask: impl FnOnce(&crate::lower::escape::Escapes) -> R) -> R {
        let held = |n: &str| self.held(n);
        ask(&crate::lower::escape::Escapes {
            held: &held,
            known_pure_call: &known_pure,
        })
    }

    /// The first escape of a differentiated value in `e`, passed through as written.
    fn escape_in(&self, e: &Expr, in_condition: bool) -> Option<crate::lower::escape::Escape> {
        self.escapes(|x| x.in_passed_through(e, in_condition))
    }

    /// The differentiated local whose value `e` carries (not a comparison or a cast to an
    /// integer of it).
    fn carries(&self, e: &Expr) -> Option<String> {
        self.escapes(|x| x.carried(e))
    }

    /// The first identifier in `e` naming a differentiated (active) value.
    fn first_active(&self, e: &Expr) -> Option<Ident> {
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
    fn substitute(&mut self, e: &Expr, in_condition: bool) -> (TokenStream, Vec<Var>, bool, u8) {
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
                        let pb = self.l.pullback_path(&path, c.args.len())?;
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
                    self.l.error(at, msg);
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

    fn cast(&mut self, c: &syn::ExprCast) -> Operand {
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

    fn method(&mut self, m: &syn::ExprMethodCall) -> Operand {
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
            return self.error(
                &m.method,
                format!(
                    "`{name}` is not a method grad can differentiate (it is used with `{id}`, which depends on a `wrt` parameter); supported f32/f64 methods: {}. A method of your own is differentiated through when it is called on data (`self.{name}(..)`) and has #[grad] itself",
                    rules::names(Form::Method)
                ),
            );
        }
        self.opaque(&Expr::MethodCall(m.clone()), "this method call")
    }

    /// In float code, an integer literal (`2 * x`, `x.powf(2)`) or an integer parameter
    /// (`x * n`, `n: usize`) is a type error: say so plainly, at the operand, rather than leave
    /// rustc to report it once per generated function.
    fn check_float_operands(&mut self, operands: &[(Operand, &Expr)]) {
        for (o, e) in operands {
            match o {
                Operand::Int(i) => {
                    self.error(
                        e,
                        format!("`{i}` is an integer: write `{i}.0` in float arithmetic"),
                    );
                }
                Operand::Var(v) => {
                    if let Some((_, ty)) = self.int_params.iter().find(|(p, _)| p == v) {
                        let name = e.to_token_stream();
                        let float = crate::emit::tokens::float_type_tokens(self.b.float);
                        self.error(
                            e,
                            format!("`{name}` is `{ty}`: convert it for float arithmetic (`{name} as {float}`)"),
                        );
                    }
                }
                _ => {}
            }
        }
    }

    /// [`check_float_operands`](Self::check_float_operands) for the float arguments of a rule
    /// (not `powi`'s exponent), when the call is float code at all.
    fn check_rule_operands(&mut self, i: usize, args: &[Operand], exprs: &[&Expr]) {
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
    fn rebuilt_method(&mut self, name: &Ident, args: Vec<Operand>) -> Operand {
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
    fn rule_call(
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
            return self.error(
                at,
                format!(
                    "`{}` takes {n} argument{}",
                    rule.name,
                    if n == 1 { "" } else { "s" }
                ),
            );
        }
        if let Some(k) = rule.int_arg {
            if self.b.is_active(&args[k]) {
                return self.error(
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

    fn call(&mut self, c: &syn::ExprCall) -> Operand {
        if let Expr::Path(p) = &*c.func {
            if p.qself.is_none() {
                let segs = crate::lower::escape::segments(&p.path);
                let last = segs.last().cloned().unwrap_or_default();
                // `f64::exp(x)`: the path form of a method.
                if segs.len() == 2 && (segs[0] == "f64" || segs[0] == "f32") {
                    if let Some(i) = rules::lookup(&last, Form::Method) {
                        let exprs: Vec<&Expr> = c.args.iter().collect();
                        let args: Vec<Operand> = exprs.iter().map(|a| self.expr(a)).collect();
                        self.check_rule_operands(i, &args, &exprs);
                        return self.rule_call(i, args, &p.path, call_span(c), false);
                    }
                }
                // A helper needs its rule only for a differentiated argument; on data, whatever
                // function the name resolves to is called as written.
                // A helper named by its path (`grad::sigmoid`) is ours whatever it is given; a
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
                        format!("`{name}` is a local value (a closure or a function pointer), which grad cannot differentiate through (it is passed `{id}`, which depends on a `wrt` parameter): call a function annotated with `#[grad]` instead, or write the computation inline"),
                    );
                }
                let Some(callee) = self.pullback_path(&p.path, c.args.len()) else {
                    return self.error(
                        &p.path,
                        format!("`{name}` is called with type arguments: a #[grad] function cannot be generic, so its pullback cannot be named this way"),
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

    /// The pullback of the function at `path`: `T::f_pullback` for an associated function
    /// (`Self::f`, `Model::f`); `__grad_f::pullback` for a function of a module (`f`,
    /// `m::f`), with `f` imported as `__grad_f` by `expand::pullbacks_in_scope`.
    /// `None` when the call gives type arguments.
    fn pullback_path(&mut self, path: &syn::Path, arity: usize) -> Option<TokenStream> {
        let n = path.segments.len();
        let last = path.segments.last()?;
        if !last.arguments.is_empty() {
            return None;
        }
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
            .iter()
            .find(|(_, q, _)| q.to_token_stream().to_string() == written)
        {
            Some((id, _, _)) => id.to_string(),
            None => {
                // `__grad_f`, or `__grad_f_2` for a second `f` (`a::f`, `b::f`).
                let same = self
                    .callees
                    .iter()
                    .filter(|(_, q, _)| q.segments.last().map(|s| &s.ident) == Some(&last.ident))
                    .count();
                let id = if same == 0 {
                    format!("__grad_{}", last.ident)
                } else {
                    format!("__grad_{}_{}", last.ident, same + 1)
                };
                self.callees
                    .push((Ident::new(&id, Span::call_site()), path.clone(), arity));
                id
            }
        };
        let id = Ident::new(&name, span);
        let pb = Ident::new("pullback", span);
        Some(quote!(#id::#pb))
    }

    /// A call to another `#[grad]` function (`callee(args)`, or `recv.callee(args)` for a
    /// method) with a differentiated argument. The callee's pullback gives its value and its
    /// partials; the result is an `Op::Pulled`, whose adjoint the reverse sweep multiplies by
    /// each partial. An argument the callee is not differentiated in gets `()` for a partial:
    /// `__private::partial` says so at that argument, at compile time.
    fn pulled_call(
        &mut self,
        (callee, called): (TokenStream, &str),
        recv: Option<&Expr>,
        exprs: &[&Expr],
        span: Span,
    ) -> Operand {
        let mut refs = Vec::new();
        let recv = recv.map(|r| {
            let o = self.expr(r);
            let (t, r) = self.b.operand_tokens(o);
            refs.extend(r);
            quote!(#t.)
        });
        let args: Vec<Operand> = exprs.iter().map(|e| self.expr(e)).collect();
        let mut toks = Vec::new();
        for (o, e) in args.iter().zip(exprs) {
            if self.b.is_active(o) && self.b.kind(o) != Kind::Float {
                return self.error(
                    e,
                    "a differentiated array cannot be passed to a function yet: pass its elements (`f(w[0], w[1])`), or write the callee's body inline",
                );
            }
            let (t, r) = self.b.operand_tokens(*o);
            // Located where the user wrote the argument, for rustc's errors about the call.
            let t: TokenStream = shift_placeholders(t, refs.len())
                .into_iter()
                .map(|mut t| {
                    if let proc_macro2::TokenTree::Ident(id) = &mut t {
                        id.set_span(span_of(e));
                    }
                    t
                })
                .collect();
            toks.push(t);
            refs.extend(r);
        }
        // Not effectful: a #[grad] function computes a value, so the reverse sweep of a loop may
        // call it again rather than keep what it returned (see the manual).
        let call = self.opaque_from(quote!(#recv #callee(#(#toks),*)), refs, Kind::Opaque, false);
        let Operand::Var(cv) = call else {
            return call;
        };
        self.b.info_mut(cv).span = span;
        self.pulled.push(cv);
        // Named (`sq_pullback`), so it is printed as a `let` of its own rather than inside the
        // expressions that read it.
        self.b.info_mut(cv).name = Name::Source(format!("{called}_pullback"));
        let ph = Ident::new(&placeholder(0), Span::call_site());
        let value = self.opaque_from(quote!(#ph.0), vec![cv], Kind::Float, false);
        let n = args.len();
        let mut ops = args.clone();
        // A pullback lists `self` first, when the call is a method call.
        let first = usize::from(recv.is_some());
        for (k, (o, e)) in args.iter().zip(exprs).enumerate() {
            ops.push(if self.b.is_active(o) {
                let k = proc_macro2::Literal::usize_unsuffixed(first + k);
                let at = span_of(e);
                let ph = Ident::new(&placeholder(0), at);
                let partial = quote::quote_spanned! {at=>
                    __grad_krate::__private::partial(#ph.1.#k)
                };
                self.opaque_from(partial, vec![cv], Kind::Float, false)
            } else {
                Operand::Lit(0.0)
            });
        }
        ops.push(value);
        self.b.op(Op::Pulled(n), ops, span)
    }

    /// `sigmoid`, `grad::sigmoid`, `::grad::sigmoid` or `<crate option>::sigmoid`.
    fn is_helper_path(&self, path: &syn::Path) -> bool {
        let mut prefix = path.clone();
        prefix.segments.pop();
        let prefix = prefix.to_token_stream().to_string().replace(' ', "");
        let krate = self.krate.to_string().replace(' ', "");
        let prefix = prefix.trim_end_matches("::");
        prefix.is_empty() || prefix == "grad" || prefix == "::grad" || prefix == krate
    }

    /// Makes rustc check that `path` is the runtime helper `name` and not a user function of the
    /// same name, which would otherwise be differentiated with the wrong rule.
    fn assert_helper(&mut self, path: &syn::Path, name: &str) {
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

    fn cond_value(&mut self, e: &Expr) -> Operand {
        let c = self.cond(e);
        self.cond_operand(c, span_of(e))
    }

    fn cond(&mut self, e: &Expr) -> Cond {
        match e {
            Expr::Paren(p) => self.cond(&p.expr),
            Expr::Group(g) => self.cond(&g.expr),
            Expr::Unary(u) if matches!(u.op, UnOp::Not(_)) => {
                Cond::Not(Box::new(self.cond(&u.expr)))
            }
            Expr::Binary(b) if matches!(b.op, BinOp::And(_)) => {
                Cond::And(Box::new(self.cond(&b.left)), Box::new(self.cond(&b.right)))
            }
            Expr::Binary(b) if matches!(b.op, BinOp::Or(_)) => {
                Cond::Or(Box::new(self.cond(&b.left)), Box::new(self.cond(&b.right)))
            }
            Expr::Lit(syn::ExprLit {
                lit: Lit::Bool(b), ..
            }) => Cond::Val(Operand::Bool(b.value)),
            Expr::Let(l) => {
                self.error(
                    l.let_token,
                    "`if let` is not supported: compare values with `==`, `<`, ... instead",
                );
                Cond::Val(Operand::Bool(false))
            }
            Expr::Path(p) if p.qself.is_none() => {
                match p
                    .path
                    .get_ident()
                    .and_then(|id| self.lookup(&id.to_string()))
                {
                    // A `bool` that calls change in place (`flip(&mut flag)`) is read where the
                    // condition is, as code (see `effects.rs`), not taken as a value.
                    Some(Operand::Var(v)) if self.b.info(v).mutable => self.opaque_cond(e),
                    Some(v @ Operand::Var(_)) | Some(v @ Operand::Bool(_)) => Cond::Val(v),
                    _ => self.opaque_cond(e),
                }
            }
            // A condition has no derivative, so anything may be asked of any value here
            // (`x.ln() > 0.0`, `in_range(w)`); it is kept inline, as written, so `&&` and `||`
            // still short-circuit it.
            _ => self.opaque_cond(e),
        }
    }

    fn opaque_cond(&mut self, e: &Expr) -> Cond {
        let (tokens, refs, effectful, prec) = self.substitute(e, true);
        Cond::Opaque(Opaque {
            tokens,
            refs,
            effectful,
            prec,
        })
    }

    fn if_expr(&mut self, i: &syn::ExprIf) -> Option<Operand> {
        let cond = self.cond_value(&i.cond);
        let mode = if i.else_branch.is_some() {
            Arms::Both(i)
        } else {
            Arms::ThenOnly
        };
        self.two_way(
            cond,
            i.if_token.span,
            mode,
            &mut |l| l.block(&i.then_branch),
            &mut |l| match &i.else_branch {
                None => None,
                Some((_, e)) => match &**e {
                    Expr::Block(b) if b.label.is_none() => l.block(&b.block),
                    Expr::If(nested) => l.if_expr(nested),
                    other => Some(l.expr(other)),
                },
            },
        )
    }

    /// Lowers `if cond { then } else { els }`, each branch in its own scope: the variables either
    /// branch changes become outputs of the `if` (phi nodes), and so does its value.
    fn two_way(
        &mut self,
        cond: Operand,
        span: Span,
        mode: Arms,
        then: &mut dyn FnMut(&mut Self) -> Option<Operand>,
        els: &mut dyn FnMut(&mut Self) -> Option<Operand>,
    ) -> Option<Operand> {
        let before = self.env.clone();

        self.b.enter();
        self.env.push(Scope::default());
        let mut tv = then(self);
        self.env.pop();
        let then_diverges = self.diverged();
        let then_block = self.b.exit(Vec::new());
        let then_env = std::mem::replace(&mut self.env, before.clone());

        self.b.enter();
        self.env.push(Scope::default());
        let mut ev = els(self);
        self.env.pop();
        let else_diverges = self.diverged();
        let else_block = self.b.exit(Vec::new());
        let else_env = std::mem::replace(&mut self.env, before.clone());

        // A branch that leaves (`return`, `break`, `continue`) has no value to give: the other
        // branch's value is the `if`'s, and a placeholder stands in for it.
        match (tv, ev) {
            (Some(t), None) if else_diverges || matches!(mode, Arms::Guard) => {
                ev = Some(self.placeholder_for(self.b.kind(&t)));
            }
            (None, Some(e)) if then_diverges => {
                tv = Some(self.placeholder_for(self.b.kind(&e)));
            }
            (Some(_), None) | (None, Some(_)) => {
                match mode {
                    Arms::Both(i) => {
                        self.error(
                            i,
                            "both branches of this `if` must give a value, or neither",
                        );
                        return None;
                    }
                    Arms::MatchArm => {
                        self.error(
                            quote::quote_spanned!(span=> match),
                            "every arm of this `match` must give a value, or none",
                        );
                        return None;
                    }
                    _ => {}
                }
                tv = None;
                ev = None;
            }
            _ => {}
        }

        let mut outs = Vec::new();
        let (mut then_yields, mut else_yields) = (Vec::new(), Vec::new());
        let mut changed = Vec::new();
        for (s, scope) in before.iter().enumerate() {
            for (k, (name, b)) in scope.iter().enumerate() {
                let t = then_env[s][k].1.val;
                let e = else_env[s][k].1.val;
                if t != b.val || e != b.val {
                    changed.push((s, k, name.clone(), t, e));
                }
            }
        }
        let mut value = None;
        if let (Some(t), Some(e)) = (tv, ev) {
            changed.push((usize::MAX, 0, String::new(), t, e));
        }
        for (s, k, name, t, e) in changed {
            let kind = [t, e]
                .iter()
                .map(|o| self.b.kind(o))
                .find(|k| *k != Kind::Opaque)
                .unwrap_or(Kind::Opaque);
            let active = self.b.is_active(&t) || self.b.is_active(&e);
            let nm = if s == usize::MAX || name.starts_with('#') {
                Name::Temp
            } else {
                Name::Source(name)
            };
            let out = self.b.new_var(kind, nm, active, span);
            outs.push(out);
            then_yields.push(t);
            else_yields.push(e);
            if s == usize::MAX {
                value = Some(Operand::Var(out));
            } else {
                self.env[s][k].1.val = Operand::Var(out);
            }
        }
        let then = Block {
            insts: then_block.insts,
            yields: then_yields,
        };
        let els = Block {
            insts: else_block.insts,
            yields: else_yields,
        };
        self.b.push(Inst::If {
            cond,
            then,
            els,
            outs,
        });
        value
    }

    /// A value of `kind` for a branch that never gives one.
    fn placeholder_for(&mut self, kind: Kind) -> Operand {
        match kind {
            Kind::Float | Kind::Array => Operand::Lit(0.0),
            Kind::Bool => Operand::Bool(false),
            Kind::Opaque => self
                .b
                .add_extern(quote!(::core::default::Default::default())),
        }
    }
}

/// Which branches of a two-way choice give a value.
#[derive(Clone, Copy)]
enum Arms<'e> {
    /// A user's `if` with an `else`: both must, unless one leaves.
    Both(&'e syn::ExprIf),
    /// An `if` without `else`: its value (if any) is not used.
    ThenOnly,
    /// The rest of a block after a possible `return`, `break` or `continue`: only `then` runs
    /// code; `else` stands in with a placeholder.
    Guard,
    /// An arm of a `match` against the arms after it: all give a value, or none.
    MatchArm,
}

/// Loops, jumps and `match` are lowered where they are statements or values of their own; inside
/// an expression that is passed through (a condition, an argument of a function on data) they
/// would escape the transformation.
const NESTED: &str = "not supported inside a condition or an expression over data: compute it in a statement before (`let v = ...;`)";

/// Why a construct is refused wherever it appears, if it is, and the tokens to point at (the
/// keyword, not the whole construct).
fn refused(e: &Expr) -> Option<(TokenStream, &'static str)> {
    let kw = |t: &dyn ToTokens| t.to_token_stream();
    Some(match e {
        Expr::Closure(c) => (kw(c), "a closure is supported only as the argument of `.map(..)` followed by `.sum()` or `.product()`, or of `.fold(..)`: write a `for` loop, or make it a function taking data only"),
        Expr::Unsafe(u) => (kw(&u.unsafe_token), "`unsafe` is not supported in a #[grad] function: it differentiates safe scalar code only"),
        Expr::Macro(m) => (kw(m), "macros are not supported in a #[grad] function: the macro cannot see what they expand to"),
        Expr::ForLoop(f) => (kw(&f.for_token), NESTED),
        Expr::While(w) => (kw(&w.while_token), NESTED),
        Expr::Loop(l) => (kw(&l.loop_token), NESTED),
        Expr::Break(b) => (kw(&b.break_token), NESTED),
        Expr::Continue(c) => (kw(&c.continue_token), NESTED),
        Expr::Return(r) => (kw(&r.return_token), NESTED),
        Expr::Match(m) => (kw(&m.match_token), NESTED),
        Expr::Try(t) => (kw(&t.question_token), "the `?` operator is not supported: a #[grad] function computes a plain float"),
        Expr::Async(a) => (kw(&a.async_token), "async code is not supported in a #[grad] function"),
        Expr::Await(a) => (kw(&a.await_token), "async code is not supported in a #[grad] function"),
        Expr::TryBlock(t) => (kw(&t.try_token), "`try` blocks are not supported in a #[grad] function"),
        Expr::Yield(y) => (kw(&y.yield_token), "`yield` is not supported in a #[grad] function"),
        Expr::Let(l) => (kw(&l.let_token), "`if let` and `let` expressions are not supported: compare values with `==`, `<`, ... instead"),
        Expr::Block(b) if b.label.is_some() => (kw(&b.label), "labelled blocks are not supported: use a plain block `{ ... }`"),
        _ => return None,
    })
}

/// A call of the standard library known to have no side effects (a conversion, a length, a
/// comparison): computed again where needed rather than kept. Any other call may have side
/// effects (a random draw, a counter), so it runs exactly as often as in the original.
fn known_pure(e: &Expr) -> bool {
    const METHODS: &[&str] = &[
        "len",
        "is_empty",
        "abs",
        "signum",
        "min",
        "max",
        "clamp",
        "pow",
        "powi",
        "powf",
        "sqrt",
        "exp",
        "ln",
        "floor",
        "ceil",
        "round",
        "trunc",
        "is_nan",
        "is_finite",
        "get",
        "first",
        "last",
        "contains",
        "clone",
        "iter",
        "into",
        "try_into",
        "to_f64",
        "count_ones",
        "rem_euclid",
        "div_euclid",
        "wrapping_add",
        "wrapping_sub",
        "saturating_sub",
        "checked_sub",
        "unwrap_or",
        "is_some",
        "is_none",
        "as_slice",
    ];
    const FUNCTIONS: &[&str] = &["from", "try_from", "min", "max"];
    // The functions of the rule table (float methods, the helpers) are pure too.
    let rule = |name: &str| RULES.iter().any(|r| r.name == name);
    match e {
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            METHODS.contains(&name.as_str())
                || crate::lower::escape::FLOAT_PREDICATES.contains(&name.as_str())
                || crate::lower::escape::BIT_CASTS.contains(&name.as_str())
                || rule(&name)
        }
        // A function is known by its path, never by its name alone: a function of the user's
        // own may be called `log` or `max` and have effects.
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) if p.qself.is_none() && p.path.segments.len() >= 2 => {
                let segs = crate::lower::escape::segments(&p.path);
                let (first, last) = (segs[0].as_str(), segs[segs.len() - 1].as_str());
                match first {
                    "grad" => rule(last),
                    "f64" | "f32" => rule(last) || FUNCTIONS.contains(&last),
                    _ => FUNCTIONS.contains(&last),
                }
            }
            _ => false,
        },
        _ => false,
    }
}

/// The block's last statement is a `return`, `break` or `continue`.
fn ends_with_jump(b: &syn::Block) -> bool {
    matches!(
        b.stmts.last(),
        Some(Stmt::Expr(
            Expr::Return(_) | Expr::Break(_) | Expr::Continue(_),
            _
        ))
    )
}

fn arith_op(op: &BinOp) -> Option<Op> {
    Some(match op {
        BinOp::Add(_) => Op::Add,
        BinOp::Sub(_) => Op::Sub,
        BinOp::Mul(_) => Op::Mul,
        BinOp::Div(_) => Op::Div,
        BinOp::Rem(_) => Op::Rem,
        _ => return None,
    })
}

fn compound(op: &BinOp) -> Option<Op> {
    Some(match op {
        BinOp::AddAssign(_) => Op::Add,
        BinOp::SubAssign(_) => Op::Sub,
        BinOp::MulAssign(_) => Op::Mul,
        BinOp::DivAssign(_) => Op::Div,
        BinOp::RemAssign(_) => Op::Rem,
        _ => return None,
    })
}

fn is_cmp(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_) | BinOp::Eq(_) | BinOp::Ne(_)
    )
}

fn is_logic(op: &BinOp) -> bool {
    is_cmp(op) || matches!(op, BinOp::And(_) | BinOp::Or(_))
}

/// An integer or `bool` type: storing a differentiated value in one (`w as i32`, `w > 0.0`) is
/// a step function, whose derivative is 0 wherever it exists.
fn is_int_or_bool(ty: &syn::Type) -> bool {
    const NAMES: &[&str] = &[
        "bool", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128",
        "usize",
    ];
    match ty {
        syn::Type::Path(p) => p
            .path
            .get_ident()
            .is_some_and(|id| NAMES.iter().any(|n| id == n)),
        _ => false,
    }
}

fn float_suffix(s: &str) -> Option<Float> {
    match s {
        "f32" => Some(Float::F32),
        "f64" => Some(Float::F64),
        _ => None,
    }
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut ng = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                ng.set_span(span);
                tt = proc_macro2::TokenTree::Group(ng);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// The span of an expression: from its first token to its last where the compiler can join
/// spans, its first token otherwise, which is what `syn::spanned::Spanned` gives, without
/// printing the whole expression to tokens (which made nested expressions quadratic).
pub(crate) fn span_of(e: &Expr) -> Span {
    let (first, last) = (first_span(e), last_span(e));
    first.join(last).unwrap_or(first)
}

fn method_span(m: &syn::ExprMethodCall) -> Span {
    let first = first_span(&m.receiver);
    first.join(m.paren_token.span.close()).unwrap_or(first)
}

fn call_span(c: &syn::ExprCall) -> Span {
    let first = first_span(&c.func);
    first.join(c.paren_token.span.close()).unwrap_or(first)
}

fn first_span(mut e: &Expr) -> Span {
    loop {
        e = match e {
            Expr::MethodCall(m) => &m.receiver,
            Expr::Binary(b) => &b.left,
            Expr::Call(c) => &c.func,
            Expr::Index(i) => &i.expr,
            Expr::Field(f) => &f.base,
            Expr::Cast(c) => &c.expr,
            Expr::Try(t) => &t.expr,
            Expr::Await(a) => &a.base,
            Expr::Range(syn::ExprRange { start: Some(s), .. }) => s,
            Expr::Paren(p) if p.attrs.is_empty() => return p.paren_token.span.open(),
            Expr::Unary(u) if u.attrs.is_empty() => return u.op.span(),
            Expr::Lit(l) if l.attrs.is_empty() => return l.lit.span(),
            Expr::Path(p) if p.attrs.is_empty() && p.qself.is_none() => {
                return match (&p.path.leading_colon, p.path.segments.first()) {
                    (Some(c), _) => c.spans[0],
                    (None, Some(seg)) => seg.ident.span(),
                    (None, None) => e.span(),
                }
            }
            other => return other.span(),
        };
    }
}

fn last_span(mut e: &Expr) -> Span {
    loop {
        e = match e {
            Expr::Binary(b) => &b.right,
            Expr::Unary(u) => &u.expr,
            Expr::MethodCall(m) => return m.paren_token.span.close(),
            Expr::Call(c) => return c.paren_token.span.close(),
            Expr::Paren(p) => return p.paren_token.span.close(),
            Expr::Index(i) => return i.bracket_token.span.close(),
            Expr::Field(f) => return f.member.span(),
            Expr::Lit(l) => return l.lit.span(),
            Expr::Path(p) if p.qself.is_none() => {
                return match p.path.segments.last() {
                    Some(seg) if seg.arguments.is_none() => seg.ident.span(),
                    _ => e.span(),
                }
            }
            other => return other.span(),
        };
    }
}
