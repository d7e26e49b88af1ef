//! Reverse mode: from the primal program, a program that also returns the gradient.
//!
//! The sweep walks the primal instructions backwards. Each active variable collects the
//! contributions of its uses (the multivariate chain rule: at fan-out they add up); when its
//! definition is reached its adjoint is their sum, named `d_<var>`, and the local partials of
//! its operation (from `rules.rs`, or the four arithmetic operations below) pass it on to the
//! operands. A variable nothing depends on has no adjoint at all (the symbolic zero), so no
//! code is generated for it.
//!
//! An `if` is reversed into an `if` on the same condition: only the taken branch contributes,
//! and nothing computed in the untaken one is read. The values a reversed branch needs from its
//! primal branch are exported as extra outputs of the primal `if` (the untaken branch yields a
//! placeholder that the reverse `if` never reads), so the primal is not recomputed.

pub mod legality;

use crate::build::Builder;
use crate::ir::{
    placeholder, rename, ArrayInit, Block, Carry, Elem, Func, Header, Inst, Kind, Loop, Name, Op,
    Opaque, Operand, Restore, Save, StoreOp, Var,
};
use crate::rules::RULES;
use proc_macro2::{Ident, Span};
use quote::quote;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::{BTreeMap, BTreeSet};

/// Returns a function yielding `[value, d value / d wrt[0], ...]`.
#[cfg(test)]
pub fn reverse(primal: &Func, wrt: &[Var], simplify: bool) -> Func {
    reverse_checked(primal, wrt, simplify).0
}

/// [`reverse_checked`], and the adjoint of each active operation's result and of each `wrt`
/// parameter, as the sweep computed them (for a trace table; straight-line code, where each is
/// in scope at the end).
pub fn reverse_traced(primal: &Func, wrt: &[Var]) -> (Func, Vec<(Var, Operand)>, Vec<syn::Error>) {
    let record = std::cell::RefCell::new(Vec::new());
    let (f, errors) = sweep(primal, wrt, true, Some(&record));
    (f, record.into_inner(), errors)
}

/// [`reverse`], and the errors found on the way (a value the sweep needs that it cannot have).
pub fn reverse_checked(primal: &Func, wrt: &[Var], simplify: bool) -> (Func, Vec<syn::Error>) {
    sweep(primal, wrt, simplify, None)
}

type Record<'r> = Option<&'r std::cell::RefCell<Vec<(Var, Operand)>>>;

fn sweep(primal: &Func, wrt: &[Var], simplify: bool, record: Record) -> (Func, Vec<syn::Error>) {
    let mut b = Builder::new(primal.float);
    b.vars = primal.vars.clone();
    b.externs = primal.externs.clone();
    b.arrays = primal.arrays.clone();
    b.simplify = simplify;
    b.derivative = true;
    let mut body = primal.body.clone();
    b.seed_cse(&body.insts);
    let mut rev = Rev {
        b,
        contribs: BTreeMap::new(),
        adj_arrays: HashMap::default(),
        errors: Vec::new(),
        record: record.map(|_| Vec::new()),
    };
    let ret = body.yields[0];
    let one = rev.b.lit(1.0);
    rev.contribute(ret, one);
    // Arrays declared at the top: the parameters and the body's own.
    let mut top: Vec<Var> = primal
        .params
        .iter()
        .copied()
        .filter(|p| primal.info(*p).kind == Kind::Array)
        .collect();
    top.extend(declared(&body.insts));
    rev.block(&mut body.insts);
    let mut yields = vec![ret];
    for v in wrt {
        let g = if rev.b.info(*v).kind == Kind::Array {
            Operand::Var(rev.adj_array(*v))
        } else {
            rev.take_adjoint(*v).unwrap_or(Operand::Lit(0.0))
        };
        if let Some(r) = &mut rev.record {
            r.push((*v, g));
        }
        yields.push(g);
    }
    if let (Some(r), Some(out)) = (rev.record.take(), record) {
        *out.borrow_mut() = r;
    }
    rev.declare_adjoints(&top);
    body.insts.extend(rev.b.take_root());
    body.yields = yields;
    crate::ir::fold_identities(&mut body);
    let func = Func {
        float: primal.float,
        vars: rev.b.vars,
        externs: rev.b.externs,
        params: primal.params.clone(),
        body,
        arrays: rev.b.arrays,
    };
    (func, rev.errors)
}

/// The arrays `insts` declares (top level).
fn declared(insts: &[Inst]) -> Vec<Var> {
    insts
        .iter()
        .filter_map(|i| match i {
            Inst::NewArray { var, .. } => Some(*var),
            _ => None,
        })
        .collect()
}

/// Whether `block` writes an array that carries derivatives (so its reverse has work to do
/// even when no value it yields does).
fn writes_active(block: &Block, vars: &[crate::ir::VarInfo]) -> bool {
    block.insts.iter().any(|i| match i {
        Inst::Store { arr, .. } => vars[arr.0 as usize].active,
        other => other.blocks().iter().any(|b| writes_active(b, vars)),
    })
}

struct Rev {
    b: Builder,
    /// The contributions each variable's adjoint has received so far (ordered, so output is
    /// deterministic).
    contribs: BTreeMap<Var, Vec<Operand>>,
    /// The adjoint of each array that has one: an array of the same shape, declared (zeros)
    /// where the array is, and written as the sweep goes.
    adj_arrays: HashMap<Var, Var>,
    /// What cannot be differentiated after all (found by the sweep, not by lowering).
    errors: Vec<syn::Error>,
    /// For a trace: each operation's adjoint, as taken.
    record: Option<Vec<(Var, Operand)>>,
}

impl Rev {
    fn contribute(&mut self, target: Operand, c: Operand) {
        if let Operand::Var(v) = target {
            if self.b.info(v).active && !c.is_lit(0.0) {
                self.contribs.entry(v).or_default().push(c);
            }
        }
    }

    /// The adjoint of `v`: the sum of its contributions, or `None` (zero) if it has none.
    fn take_adjoint(&mut self, v: Var) -> Option<Operand> {
        let cs = self.contribs.remove(&v)?;
        let sum = self.sum(&cs);
        if sum.is_lit(0.0) {
            return None;
        }
        if let Operand::Var(s) = sum {
            if self.b.info(s).name == Name::Anon {
                self.b.info_mut(s).name = Name::Adjoint(v);
            }
        }
        Some(sum)
    }

    fn sum(&mut self, cs: &[Operand]) -> Operand {
        let mut sum = cs[0];
        for c in &cs[1..] {
            sum = self.b.add(sum, *c);
        }
        sum
    }

    /// The adjoint array of `arr`, made on first use.
    fn adj_array(&mut self, arr: Var) -> Var {
        if let Some(d) = self.adj_arrays.get(&arr) {
            return *d;
        }
        let span = self.b.info(arr).span;
        let d = self.b.new_var(Kind::Array, Name::Adjoint(arr), true, span);
        if let Some(info) = self.b.arrays.get(&arr).cloned() {
            self.b.arrays.insert(d, info);
        }
        self.adj_arrays.insert(arr, d);
        d
    }

    /// Declares, at the start of the current block, the adjoints of the arrays `arrays` (those
    /// declared in the primal block this one reverses) that have one.
    fn declare_adjoints(&mut self, arrays: &[Var]) {
        let decls: Vec<Inst> = arrays
            .iter()
            .filter_map(|a| {
                self.adj_arrays.get(a).map(|d| Inst::NewArray {
                    var: *d,
                    init: ArrayInit::Zero { like: *a },
                })
            })
            .collect();
        self.b.prepend(decls);
    }

    fn load_adjoint(&mut self, arr: Var, idx: &[Operand]) -> Operand {
        let d_arr = self.adj_array(arr);
        let var = self
            .b
            .new_var(Kind::Float, Name::Anon, true, Span::call_site());
        self.b.push(Inst::Load {
            var,
            arr: d_arr,
            idx: idx.to_vec(),
        });
        Operand::Var(var)
    }

    fn block(&mut self, insts: &mut [Inst]) {
        for idx in (0..insts.len()).rev() {
            match &insts[idx] {
                Inst::Op { var, op, args } => {
                    let (var, op, args) = (*var, *op, args.clone());
                    if !self.b.info(var).active {
                        continue;
                    }
                    let d = self.take_adjoint(var);
                    if let Some(r) = &mut self.record {
                        r.push((var, d.unwrap_or(Operand::Lit(0.0))));
                    }
                    if let Some(d) = d {
                        self.op(op, &args, Operand::Var(var), d);
                    }
                }
                Inst::If { .. } => self.reverse_if(&mut insts[idx]),
                Inst::Opaque { var, .. } | Inst::Cond { var, .. } => {
                    // No derivative flows through data.
                    self.contribs.remove(var);
                }
                Inst::Load { var, arr, idx: ix } => {
                    let (var, arr, ix) = (*var, *arr, ix.clone());
                    if !self.b.info(arr).active {
                        self.contribs.remove(&var);
                        continue;
                    }
                    if let Some(d) = self.take_adjoint(var) {
                        let d_arr = self.adj_array(arr);
                        self.b.push(Inst::Store {
                            arr: d_arr,
                            idx: ix,
                            val: d,
                            op: StoreOp::Add,
                            span: Span::call_site(),
                        });
                    }
                }
                Inst::Store {
                    arr,
                    idx: ix,
                    val,
                    op,
                    ..
                } => {
                    let (arr, ix, val, op) = (*arr, ix.clone(), *val, *op);
                    if !self.b.info(arr).active {
                        continue;
                    }
                    let val_active = self.b.is_active(&val);
                    if val_active || op == StoreOp::Set {
                        let t = self.load_adjoint(arr, &ix);
                        if op == StoreOp::Set {
                            // Overwritten: what the old value would have received is gone.
                            let d_arr = self.adj_array(arr);
                            self.b.push(Inst::Store {
                                arr: d_arr,
                                idx: ix,
                                val: Operand::Lit(0.0),
                                op: StoreOp::Set,
                                span: Span::call_site(),
                            });
                        }
                        if val_active {
                            let c = if op == StoreOp::Sub { self.b.neg(t) } else { t };
                            self.contribute(val, c);
                        }
                    }
                }
                Inst::NewArray { var, init } => {
                    let (var, init) = (*var, init.clone());
                    if !self.adj_arrays.contains_key(&var) {
                        continue;
                    }
                    if let ArrayInit::List(elems) = init {
                        for (k, e) in elems.iter().enumerate() {
                            if self.b.is_active(e) {
                                let t = self.load_adjoint(var, &[Operand::Int(k as i64)]);
                                self.contribute(*e, t);
                            }
                        }
                    }
                }
                Inst::Loop(_) => {
                    if let Inst::Loop(lp) = &mut insts[idx] {
                        self.reverse_loop(lp);
                    }
                }
            }
        }
    }

    /// Passes the adjoint `d` of `y = op(args)` on to the active arguments.
    fn op(&mut self, op: Op, args: &[Operand], y: Operand, d: Operand) {
        let active = |s: &Self, i: usize| s.b.is_active(&args[i]);
        match op {
            Op::Neg => {
                let c = self.b.neg(d);
                self.contribute(args[0], c);
            }
            Op::Add => {
                self.contribute(args[0], d);
                self.contribute(args[1], d);
            }
            Op::Sub => {
                self.contribute(args[0], d);
                if active(self, 1) {
                    let c = self.b.neg(d);
                    self.contribute(args[1], c);
                }
            }
            Op::Mul => {
                if active(self, 0) {
                    let c = self.b.mul(d, args[1]);
                    self.contribute(args[0], c);
                }
                if active(self, 1) {
                    let c = self.b.mul(d, args[0]);
                    self.contribute(args[1], c);
                }
            }
            Op::Div => {
                if active(self, 0) {
                    let c = self.b.div(d, args[1]);
                    self.contribute(args[0], c);
                }
                if active(self, 1) {
                    // ∂(a/b)/∂b = −(a/b)/b: reuses the quotient; −(1/b)² for a reciprocal,
                    // with no second division.
                    let m = self.b.mul(d, y);
                    let q = if args[0].is_lit(1.0) {
                        self.b.mul(m, y)
                    } else {
                        self.b.div(m, args[1])
                    };
                    let c = self.b.neg(q);
                    self.contribute(args[1], c);
                }
            }
            Op::Rem => {
                // a % b = a − b·trunc(a / b), and trunc is a step function.
                self.contribute(args[0], d);
                if active(self, 1) {
                    let q = self.b.div(args[0], args[1]);
                    let t = self.b.call("trunc", vec![q]);
                    let m = self.b.mul(d, t);
                    let c = self.b.neg(m);
                    self.contribute(args[1], c);
                }
            }
            Op::Call(i) => {
                for (k, partial) in RULES[i].partials.iter().enumerate() {
                    if active(self, k) {
                        let p = partial(&mut self.b, args, y);
                        let c = self.b.mul(d, p);
                        self.contribute(args[k], c);
                    }
                }
            }
            Op::Pulled(n) => {
                for k in 0..n {
                    if active(self, k) {
                        let c = self.b.mul(d, args[n + k]);
                        self.contribute(args[k], c);
                    }
                }
            }
            Op::Select(cmp) => {
                let z = self.b.lit(0.0);
                for (k, (t, e)) in [(2, (d, z)), (3, (z, d))] {
                    if active(self, k) {
                        let c = self.b.select(args[0], cmp, args[1], t, e);
                        self.contribute(args[k], c);
                    }
                }
            }
        }
    }

    fn reverse_if(&mut self, inst: &mut Inst) {
        let Inst::If {
            cond,
            then,
            els,
            outs,
        } = inst
        else {
            return;
        };
        let d_outs: Vec<Option<Operand>> = outs
            .iter()
            .map(|o| {
                if self.b.info(*o).active {
                    self.take_adjoint(*o)
                } else {
                    None
                }
            })
            .collect();
        if d_outs.iter().all(Option::is_none)
            && !writes_active(then, &self.b.vars)
            && !writes_active(els, &self.b.vars)
        {
            return;
        }
        let saved = std::mem::take(&mut self.contribs);
        let (mut rev_then, esc_then) = self.branch(then, &d_outs);
        let (mut rev_els, esc_els) = self.branch(els, &d_outs);
        self.contribs = saved;

        // Contributions to variables outside the `if` leave it as outputs of the reverse `if`.
        let keys: BTreeSet<Var> = esc_then.keys().chain(esc_els.keys()).copied().collect();
        let mut rev_outs = Vec::new();
        for k in keys {
            let z = Operand::Lit(0.0);
            rev_then.yields.push(esc_then.get(&k).copied().unwrap_or(z));
            rev_els.yields.push(esc_els.get(&k).copied().unwrap_or(z));
            let span = self.b.info(k).span;
            let out = self.b.new_var(Kind::Float, Name::Adjoint(k), true, span);
            rev_outs.push((k, out));
        }
        // Export what each reversed branch reads from its primal branch.
        for is_then in [true, false] {
            let (primal, rev) = if is_then {
                (&*then, &mut rev_then)
            } else {
                (&*els, &mut rev_els)
            };
            let exports = self.exports(primal, rev);
            for (v, export, placeholder) in exports {
                outs.push(export);
                let (t, e) = if is_then {
                    (Operand::Var(v), placeholder)
                } else {
                    (placeholder, Operand::Var(v))
                };
                then.yields.push(t);
                els.yields.push(e);
            }
        }

        self.b.push(Inst::If {
            cond: *cond,
            then: rev_then,
            els: rev_els,
            outs: rev_outs.iter().map(|(_, o)| *o).collect(),
        });
        for (k, out) in rev_outs {
            self.contribute(Operand::Var(k), Operand::Var(out));
        }
    }

    /// The variables of `primal` (its top level) that `rev` reads, each with the variable that
    /// carries it out of the primal `if` and the placeholder the other branch yields; `rev` is
    /// renamed to read the carriers.
    fn exports(&mut self, primal: &Block, rev: &mut Block) -> Vec<(Var, Var, Operand)> {
        let local: BTreeSet<Var> = primal.insts.iter().flat_map(Inst::defs).collect();
        let mut needed = BTreeSet::new();
        crate::ir::block_reads(rev, &mut needed);
        // Data computed without side effects is computed again in the reversed branch rather
        // than carried out (it may be a reference, with no placeholder value to give).
        let mut remat: BTreeSet<Var> = BTreeSet::new();
        let mut work: Vec<Var> = needed.intersection(&local).copied().collect();
        while let Some(v) = work.pop() {
            let def = primal.insts.iter().find(|i| i.defs().contains(&v));
            if let Some(Inst::Opaque { expr, .. }) = def {
                if !expr.effectful && self.b.info(v).kind == Kind::Opaque && remat.insert(v) {
                    for r in &expr.refs {
                        if local.contains(r) && !remat.contains(r) {
                            needed.insert(*r);
                            work.push(*r);
                        }
                    }
                }
            }
        }
        let prelude: Vec<Inst> = primal
            .insts
            .iter()
            .filter(|i| matches!(i, Inst::Opaque { var, .. } if remat.contains(var)))
            .cloned()
            .collect();
        let mut map = HashMap::default();
        let mut exports = Vec::new();
        for v in needed.intersection(&local) {
            if remat.contains(v) {
                continue;
            }
            let info = self.b.info(*v).clone();
            let export = self
                .b
                .new_var(info.kind, Name::Export(*v), false, info.span);
            let placeholder = match info.kind {
                Kind::Float => Operand::Lit(0.0),
                Kind::Bool => Operand::Bool(false),
                Kind::Array => {
                    // An array a reversed loop reads: zeros of its shape stand in.
                    match self.b.arrays.get(v).cloned() {
                        Some(a) => {
                            let z = self.b.zeros_of(&a);
                            self.b.arrays.insert(export, a);
                            z
                        }
                        None => self
                            .b
                            .add_extern(crate::emit::tokens::float_lit_typed(0.0, self.b.float)),
                    }
                }
                Kind::Opaque => self
                    .b
                    .add_extern(quote::quote!(::core::default::Default::default())),
            };
            map.insert(*v, export);
            exports.push((*v, export, placeholder));
        }
        let mut insts = prelude;
        insts.append(&mut rev.insts);
        rev.insts = insts;
        rename(rev, &map);
        exports
    }

    /// Reverses one branch given the adjoints of the `if`'s outputs; returns the reversed code
    /// and the summed contributions to variables defined outside the branch.
    fn branch(
        &mut self,
        block: &mut Block,
        d_outs: &[Option<Operand>],
    ) -> (Block, BTreeMap<Var, Operand>) {
        self.contribs = BTreeMap::new();
        self.b.enter();
        self.b.seed_cse(&block.insts);
        let yields = block.yields.clone();
        for (y, d) in yields.iter().zip(d_outs) {
            if let Some(d) = d {
                self.contribute(*y, *d);
            }
        }
        self.block(&mut block.insts);
        let arrays = declared(&block.insts);
        self.declare_adjoints(&arrays);
        let left = std::mem::take(&mut self.contribs);
        let mut escapes = BTreeMap::new();
        for (v, cs) in left {
            let s = self.sum(&cs);
            if !s.is_lit(0.0) {
                escapes.insert(v, s);
            }
        }
        (self.b.exit(Vec::new()), escapes)
    }
}

impl Rev {
    /// Reverses a loop: a second loop, over the same iterations last first, that recomputes
    /// each iteration from a copy of the body and runs that copy's reverse. What the copy needs
    /// of the carried values (the state entering the iteration) is kept by the forward loop,
    /// and only that; a loop that only accumulates keeps nothing.
    fn reverse_loop(&mut self, lp: &mut Loop) {
        let d_outs: Vec<Option<Operand>> = lp
            .carried
            .iter()
            .map(|c| {
                if self.b.info(c.out).active {
                    self.take_adjoint(c.out)
                } else {
                    None
                }
            })
            .collect();
        if d_outs.iter().all(Option::is_none) && !writes_active(&lp.body, &self.b.vars) {
            return;
        }
        let span = lp
            .carried
            .first()
            .map_or_else(Span::call_site, |c| self.b.info(c.phi).span);

        // A fresh copy of the loop, to recompute the iterations.
        let mut map: HashMap<Var, Var> = HashMap::default();
        let mut copy = Inst::Loop(Box::new(lp.clone()));
        {
            let b = &mut self.b;
            copy.map_defs(&mut |v| {
                let nv = *map.entry(*v).or_insert_with(|| {
                    let info = b.info(*v).clone();
                    let nv = b.new_var(info.kind, info.name, info.active, info.span);
                    if let Some(a) = b.arrays.get(v).cloned() {
                        b.arrays.insert(nv, a);
                    }
                    nv
                });
                *v = nv;
            });
        }
        crate::ir::rename_inst(&mut copy, &map);
        let Inst::Loop(copy) = copy else { return };
        let Loop {
            header: r_header,
            carried: r_carried,
            body: mut r_body,
            ..
        } = *copy;

        let saved = std::mem::take(&mut self.contribs);
        self.b.enter();
        self.b.seed_cse(&r_body.insts);
        // The adjoints carried from one reversed iteration to the one before.
        let mut d_carried = Vec::new();
        for (k, c) in lp.carried.iter().enumerate() {
            if !self.b.info(c.phi).active {
                continue;
            }
            let rphi = self
                .b
                .new_var(Kind::Float, Name::Adjoint(c.phi), true, span);
            d_carried.push((k, rphi));
            self.contribute(r_body.yields[k], Operand::Var(rphi));
        }
        self.block(&mut r_body.insts);
        let next: Vec<Operand> = d_carried
            .iter()
            .map(|(k, _)| {
                self.take_adjoint(r_carried[*k].phi)
                    .unwrap_or(Operand::Lit(0.0))
            })
            .collect();
        // Elements of differentiated arrays the loop iterates: `d_w[pos] += d_x`. The sweep
        // binds their positions even when it does not need them, so that a forward pass over
        // the sweep (second derivatives) finds them with the elements.
        let mut pos = match &r_header {
            Header::For { pos, .. } => *pos,
            Header::Loop => None,
        };
        if let Header::For { elems, .. } = &r_header {
            if !elems.is_empty() {
                let p = *pos.get_or_insert_with(|| {
                    self.b
                        .new_var(Kind::Opaque, Name::Fixed("pos"), false, span)
                });
                for e in elems.clone() {
                    let Some(d) = self.take_adjoint(e.item) else {
                        continue;
                    };
                    let d_arr = self.adj_array(e.arr);
                    let mut idx = e.prefix.clone();
                    idx.push(Operand::Var(p));
                    self.b.push(Inst::Store {
                        arr: d_arr,
                        idx,
                        val: d,
                        op: StoreOp::Add,
                        span: Span::call_site(),
                    });
                }
            }
        }
        let arrays = declared(&r_body.insts);
        self.declare_adjoints(&arrays);
        // What flows to variables defined before the loop accumulates over the iterations.
        let left = std::mem::take(&mut self.contribs);
        let mut escapes = Vec::new();
        for (v, cs) in left {
            let s = self.sum(&cs);
            if s.is_lit(0.0) {
                continue;
            }
            let acc = self.b.new_var(Kind::Float, Name::Adjoint(v), true, span);
            let new = self.b.add(Operand::Var(acc), s);
            escapes.push((v, acc, new));
        }
        let adj = self.b.exit(Vec::new());
        self.contribs = saved;

        // The recomputation must not write the forward pass's arrays again.
        let mut inner = HashSet::default();
        arrays_in(&r_body, &mut inner);
        drop_outer_stores(&mut r_body, &inner);
        // Calls on data (which may have side effects: a random draw, a counter) run once, in the
        // forward loop; the recomputation reads back what they gave.
        let r_yields = r_body.yields.clone();
        let effects: Vec<Var> = r_body
            .insts
            .iter()
            .filter(|i| i.effectful())
            .flat_map(Inst::defs)
            .collect();
        let mut insts = r_body.insts;
        insts.extend(adj.insts);
        let mut yields = next;
        yields.extend(escapes.iter().map(|e| e.2));
        let mut rbody = Block { insts, yields };
        crate::ir::fold_identities(&mut rbody);
        rbody.insts.retain(|i| !i.effectful());
        let nested = strip_effects(&mut rbody);
        crate::opt::simplify::dce_block(&mut rbody);

        // The carried values the recomputation reads: kept by the forward loop.
        let mut read = BTreeSet::new();
        crate::ir::block_reads(&rbody, &mut read);
        for v in nested {
            if read.contains(&v) {
                self.errors.push(syn::Error::new(
                    self.b.info(v).span,
                    "the reverse sweep of this loop needs this value, computed inside a branch or an inner loop of it (the body of a `while` is in one) by a call, or from data a call may change: only a value at the top level of a `for` or `loop` body, before any `break` or `continue`, can be kept from the forward loop; compute it there (`let v = ...;`)",
                ));
            }
        }
        let inverse: HashMap<Var, Var> = map.iter().map(|(o, c)| (*c, *o)).collect();
        let mut vals: Vec<Var> = Vec::new();
        let mut vars: Vec<Var> = Vec::new();
        for (k, c) in r_carried.iter().enumerate() {
            if read.contains(&c.phi) {
                vals.push(lp.carried[k].phi);
                vars.push(c.phi);
            }
        }
        for v in effects {
            if let (true, Some(orig)) = (read.contains(&v), inverse.get(&v)) {
                vals.push(*orig);
                vars.push(v);
            }
        }
        let restore = if vals.is_empty() {
            None
        } else {
            let buf = self
                .b
                .new_var(Kind::Opaque, Name::Fixed("saved"), false, span);
            let (cap, reuse) = capacity(&lp.header);
            lp.save = Some(Save {
                buf,
                cap,
                reuse,
                vals,
            });
            Some(Restore { buf, vars })
        };

        // The value a carried variable leaves an iteration with is the one the next iteration
        // was saved with (the last iteration's is the loop's result): read it from there
        // rather than compute it again (a recurrence's `tanh`).
        let mut reuse: Vec<(Var, Operand, Var)> = Vec::new();
        if let Some(r) = &restore {
            let mut subst = HashMap::default();
            for (k, c) in r_carried.iter().enumerate() {
                let Operand::Var(y) = r_yields[k] else {
                    continue;
                };
                if !r.vars.contains(&c.phi) || y == c.phi {
                    continue;
                }
                let info = self.b.info(c.phi).clone();
                let next = self.b.new_var(info.kind, info.name.clone(), false, span);
                subst.insert(y, Operand::Var(next));
                reuse.push((next, Operand::Var(lp.carried[k].out), c.phi));
            }
            if !subst.is_empty() {
                crate::ir::substitute(&mut rbody, &subst);
                crate::opt::simplify::dce_block(&mut rbody);
            }
        }

        let (exit, count) = (lp.exit, lp.count);
        let header = |forward: bool| sweep_header(&r_header, pos, exit, count, forward);
        let reversed = header(false);

        let mut carried = Vec::new();
        let mut flows = Vec::new();
        for (k, rphi) in &d_carried {
            let c = lp.carried[*k];
            let out = self
                .b
                .new_var(Kind::Float, Name::Adjoint(c.phi), true, span);
            let init = d_outs[*k].unwrap_or(Operand::Lit(0.0));
            carried.push(Carry {
                phi: *rphi,
                init,
                out,
            });
            flows.push((c.init, out, init));
        }
        for (v, acc, _) in &escapes {
            let out = self.b.new_var(Kind::Float, Name::Adjoint(*v), true, span);
            carried.push(Carry {
                phi: *acc,
                init: Operand::Lit(0.0),
                out,
            });
            flows.push((Operand::Var(*v), out, Operand::Lit(0.0)));
        }
        for (next, init, from) in &reuse {
            let info = self.b.info(*next).clone();
            let out = self.b.new_var(info.kind, info.name, false, span);
            carried.push(Carry {
                phi: *next,
                init: *init,
                out,
            });
            rbody.yields.push(Operand::Var(*from));
        }
        let mut lp = crate::ir::drop_unchanged(
            Loop {
                header: reversed,
                carried,
                body: rbody,
                exit: false,
                count: None,
                save: None,
                restore,
            },
            true,
        );
        // Substituted initial values (`1.0` for an unchanged adjoint) simplify further.
        lp.body = self.resimplify(std::mem::take(&mut lp.body), &mut HashMap::default());
        crate::ir::fold_identities(&mut lp.body);
        crate::opt::simplify::dce_block(&mut lp.body);
        // Iterations whose reverse only adds into sums can be visited in any order: forwards,
        // which any iterator can do (a reversed one must be double-ended).
        let accumulators: HashSet<Var> = escapes.iter().map(|e| e.1).collect();
        if lp.restore.is_none()
            && lp.carried.iter().all(|c| accumulators.contains(&c.phi))
            && order_free(&lp.body)
        {
            lp.header = header(true);
        }
        // An adjoint the loop leaves unchanged is its initial value.
        let kept: HashSet<Var> = lp.carried.iter().map(|c| c.out).collect();
        self.b.push(Inst::Loop(Box::new(lp)));
        for (target, out, init) in flows {
            let d = if kept.contains(&out) {
                Operand::Var(out)
            } else {
                init
            };
            self.contribute(target, d);
        }
    }
}

impl Rev {
    /// Builds the derivative operations of `block` again through the builder, so that operands
    /// substituted since (literals) are folded and identities applied.
    fn resimplify(&mut self, block: Block, map: &mut HashMap<Var, Operand>) -> Block {
        let subst = |map: &HashMap<Var, Operand>, o: &mut Operand| {
            if let Operand::Var(v) = o {
                if let Some(n) = map.get(v) {
                    *o = *n;
                }
            }
        };
        self.b.enter();
        for mut inst in block.insts {
            inst.map_operands(&mut |o| subst(map, o));
            match inst {
                Inst::Op { var, op, args }
                    if matches!(self.b.info(var).name, Name::Anon | Name::Adjoint(_)) =>
                {
                    let span = self.b.info(var).span;
                    let r = self.b.op(op, args, span);
                    if r != Operand::Var(var) {
                        if let Operand::Var(n) = r {
                            let old = self.b.info(var).name.clone();
                            if self.b.info(n).name == Name::Anon {
                                self.b.info_mut(n).name = old;
                            }
                        }
                        map.insert(var, r);
                    }
                }
                Inst::If {
                    cond,
                    then,
                    els,
                    outs,
                } => {
                    let then = self.resimplify(then, map);
                    let els = self.resimplify(els, map);
                    self.b.push(Inst::If {
                        cond,
                        then,
                        els,
                        outs,
                    });
                }
                Inst::Loop(mut l) => {
                    l.body = self.resimplify(std::mem::take(&mut l.body), map);
                    self.b.push(Inst::Loop(l));
                }
                other => self.b.push(other),
            }
        }
        let mut yields = block.yields;
        yields.iter_mut().for_each(|o| subst(map, o));
        self.b.exit(yields)
    }
}

/// The header of a loop's reverse sweep: the iterations of `h` last first (`forward`: in
/// their order), with their positions bound to `pos` when given.
fn sweep_header(
    h: &Header,
    pos: Option<Var>,
    exit: bool,
    count: Option<Var>,
    forward: bool,
) -> Header {
    let op = |tokens, refs| Opaque {
        tokens,
        refs,
        effectful: false,
        prec: crate::emit::tokens::PREC_ATOM,
    };
    match h {
        Header::For {
            pat,
            iter,
            trip,
            elems,
            ..
        } => {
            let (mut pat_tokens, mut pat_refs) = (pat.tokens.clone(), pat.refs.clone());
            if let Some(p) = pos {
                let shifted = crate::ir::shift_placeholders(pat_tokens, 1);
                let ph = Ident::new(&placeholder(0), Span::call_site());
                pat_tokens = quote!((#ph, #shifted));
                pat_refs.insert(0, p);
            }
            let it = iter.tokens.clone();
            let mut refs = iter.refs.clone();
            let n = count.filter(|_| exit).map(|n| {
                let ph = Ident::new(&placeholder(refs.len()), Span::call_site());
                refs.push(n);
                ph
            });
            let tokens = match (forward, pos.is_some(), n) {
                (true, false, None) => it,
                (true, true, None) => quote!(__grad_krate::__private::enumerate(#it)),
                (true, false, Some(n)) => quote!(__grad_krate::__private::take(#it, #n)),
                (true, true, Some(n)) => quote!(__grad_krate::__private::take(
                    __grad_krate::__private::enumerate(#it),
                    #n
                )),
                (false, false, None) => quote!(__grad_krate::__private::rev(#it)),
                (false, true, None) => quote!(__grad_krate::__private::enumerate_rev(#it)),
                (false, false, Some(n)) => quote!(__grad_krate::__private::rev_prefix(#it, #n)),
                (false, true, Some(n)) => {
                    quote!(__grad_krate::__private::enumerate_rev_prefix(#it, #n))
                }
            };
            Header::For {
                pat: op(pat_tokens, pat_refs),
                iter: op(tokens, refs),
                // The positions are bound by the pattern (`pos`), so the elements are known.
                elems: match pos {
                    Some(p) => elems
                        .iter()
                        .map(|e| Elem {
                            at: Some(p),
                            ..e.clone()
                        })
                        .collect(),
                    None => Vec::new(),
                },
                // The sweep runs the iterations that ran: at most as many.
                trip: trip.clone(),
                pos: None,
            }
        }
        Header::Loop => {
            let ph = Ident::new(&placeholder(0), Span::call_site());
            Header::For {
                pat: op(quote!(_), Vec::new()),
                iter: op(quote!(0..#ph), count.into_iter().collect()),
                elems: Vec::new(),
                trip: None,
                pos: None,
            }
        }
    }
}

/// Whether the reversed iterations in `body` may run in any order: they write arrays
/// declared outside only by adding (no overwrite), and do not read what they add to.
fn order_free(body: &Block) -> bool {
    fn walk(
        b: &Block,
        inner: &mut HashSet<Var>,
        loaded: &mut HashSet<Var>,
        added: &mut HashSet<Var>,
    ) -> bool {
        for i in &b.insts {
            match i {
                Inst::NewArray { var, .. } => {
                    inner.insert(*var);
                }
                Inst::Load { arr, .. } => {
                    loaded.insert(*arr);
                }
                Inst::Store { arr, op, .. } => {
                    if *op == StoreOp::Set && !inner.contains(arr) {
                        return false;
                    }
                    added.insert(*arr);
                }
                _ => {}
            }
            for nb in i.blocks() {
                if !walk(nb, inner, loaded, added) {
                    return false;
                }
            }
        }
        true
    }
    let (mut inner, mut loaded, mut added) =
        (HashSet::default(), HashSet::default(), HashSet::default());
    walk(body, &mut inner, &mut loaded, &mut added)
        && !added
            .iter()
            .any(|a| loaded.contains(a) && !inner.contains(a))
}

/// The largest trip count whose carried values are kept on the stack.
const STACK_TRIPS: u64 = 1024;

/// Storage for a loop's carried values: on the stack for a small constant trip count, else one
/// allocation of the trip count (known before the loop runs) or a growing one (`while`). For
/// storage on the heap, also the statement that empties `buf` for another run of the loop.
fn capacity(h: &Header) -> (Opaque, Option<Opaque>) {
    let opaque = |tokens, refs| Opaque {
        tokens,
        refs,
        effectful: false,
        prec: crate::emit::tokens::PREC_ATOM,
    };
    match h {
        Header::For { trip: Some(n), .. } => {
            match syn::parse2::<syn::LitInt>(n.clone()).map(|l| l.base10_parse::<u64>()) {
                Ok(Ok(k)) if k <= STACK_TRIPS => (
                    opaque(
                        quote!(__grad_krate::__private::SavedN::<_, #n>::new()),
                        Vec::new(),
                    ),
                    None,
                ),
                _ => (
                    opaque(
                        quote!(__grad_krate::__private::Saved::with_capacity(#n)),
                        Vec::new(),
                    ),
                    Some(opaque(quote!(.restart_with_capacity(#n)), Vec::new())),
                ),
            }
        }
        Header::For { iter, .. } => {
            let it = &iter.tokens;
            (
                opaque(
                    quote!(__grad_krate::__private::Saved::for_iter(#it)),
                    iter.refs.clone(),
                ),
                Some(opaque(quote!(.restart(#it)), iter.refs.clone())),
            )
        }
        Header::Loop => (
            opaque(
                quote!(__grad_krate::__private::Saved::default()),
                Vec::new(),
            ),
            Some(opaque(quote!(.restart_with_capacity(0)), Vec::new())),
        ),
    }
}

/// Removes the calls on data nested in `b`'s branches and inner loops (they ran in the forward
/// pass); returns what they defined, to check that nothing reads it.
fn strip_effects(b: &mut Block) -> Vec<Var> {
    fn walk(b: &mut Block, out: &mut Vec<Var>) {
        for i in &mut b.insts {
            match i {
                Inst::If { then, els, .. } => {
                    for nb in [then, els] {
                        out.extend(
                            nb.insts
                                .iter()
                                .filter(|i| i.effectful())
                                .flat_map(Inst::defs),
                        );
                        nb.insts.retain(|i| !i.effectful());
                        walk(nb, out);
                    }
                }
                Inst::Loop(l) => {
                    out.extend(
                        l.body
                            .insts
                            .iter()
                            .filter(|i| i.effectful())
                            .flat_map(Inst::defs),
                    );
                    l.body.insts.retain(|i| !i.effectful());
                    walk(&mut l.body, out);
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(b, &mut out);
    out
}

/// Every array declared in `b`, nested blocks included.
fn arrays_in(b: &Block, out: &mut HashSet<Var>) {
    for i in &b.insts {
        if let Inst::NewArray { var, .. } = i {
            out.insert(*var);
        }
        for nb in i.blocks() {
            arrays_in(nb, out);
        }
    }
}

fn drop_outer_stores(b: &mut Block, inner: &HashSet<Var>) {
    b.insts
        .retain(|i| !matches!(i, Inst::Store { arr, .. } if !inner.contains(arr)));
    for i in &mut b.insts {
        match i {
            Inst::If { then, els, .. } => {
                drop_outer_stores(then, inner);
                drop_outer_stores(els, inner);
            }
            Inst::Loop(l) => drop_outer_stores(&mut l.body, inner),
            _ => {}
        }
    }
}
