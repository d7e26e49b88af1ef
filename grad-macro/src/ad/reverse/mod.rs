//! Reverse mode: from the primal program, a program that also returns the gradient.
//!
//! The sweep walks the primal instructions backwards. Each active variable collects the
//! contributions of its uses (the multivariate chain rule: at fan-out they add up); when its
//! definition is reached its adjoint is their sum, named `d_<var>`, and its operation's entry
//! in `rules::arith` (the arithmetic's partials, and every math function's row) passes it on
//! to the operands. A variable nothing depends on has no adjoint at all (the symbolic zero), so no
//! code is generated for it.
//!
//! An `if` is reversed into an `if` on the same condition: only the taken branch contributes,
//! and nothing computed in the untaken one is read. The values a reversed branch needs from its
//! primal branch are exported as extra outputs of the primal `if` (the untaken branch yields a
//! placeholder that the reverse `if` never reads), so the primal is not recomputed.

mod branch;
mod header;
mod loops;
mod state;
mod traced;

use header::*;
pub use traced::Tracing;

use crate::build::Builder;
use crate::ir::{ArrayInit, Block, Func, Inst, Kind, Name, Op, Operand, StoreOp, Var};
use proc_macro2::Span;
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

/// Returns a function yielding `[value, d value / d wrt[0], ...]`.
#[cfg(test)]
pub fn reverse(primal: &Func, wrt: &[Var], simplify: bool) -> Func {
    reverse_checked(primal, wrt, simplify).0
}

/// [`reverse_checked`] for a `_trace` companion: the sweep records each node's adjoint
/// (`traced`).
pub fn reverse_traced(primal: &Func, wrt: &[Var], trace: Tracing) -> (Func, Vec<syn::Error>) {
    sweep(primal, wrt, true, Some(trace))
}

/// The reverse sweep of `primal` with respect to `wrt`, and the errors found on the way (a value
/// the sweep needs that it cannot have).
pub fn reverse_checked(primal: &Func, wrt: &[Var], simplify: bool) -> (Func, Vec<syn::Error>) {
    sweep(primal, wrt, simplify, None)
}

fn sweep(
    primal: &Func,
    wrt: &[Var],
    simplify: bool,
    trace: Option<Tracing>,
) -> (Func, Vec<syn::Error>) {
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
        aliases: HashMap::default(),
        written: Default::default(),
        errors: Vec::new(),
        trace,
        body_scope: true,
        settled: Default::default(),
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
    state::snapshot_reads(&mut rev, &mut body);
    for inst in &body.insts {
        state::array_writes(inst, &mut rev.written);
    }
    top.extend(declared(&body.insts));
    rev.block(&mut body.insts);
    let mut yields = vec![ret];
    for v in wrt {
        let g = if rev.b.info(*v).kind == Kind::Array {
            Operand::Var(rev.adj_array(*v))
        } else {
            rev.take_adjoint(*v).unwrap_or(Operand::Lit(0.0))
        };
        yields.push(g);
    }
    rev.declare_adjoints(&top);
    body.insts.extend(rev.b.take_root());
    body.yields = yields;
    crate::ir::fold_identities(&mut body);
    state::propagate_copies(&mut body, &primal.params, &rev.b.arrays);
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
    crate::ir::any(
        block,
        &mut |i| matches!(i, Inst::Store { arr, .. } | Inst::Assign { arr, .. } if vars[arr.0 as usize].active),
    )
}

struct Rev {
    b: Builder,
    /// The contributions each variable's adjoint has received so far (ordered, so output is
    /// deterministic).
    contribs: BTreeMap<Var, Vec<Operand>>,
    /// The adjoint of each array that has one: an array of the same shape, declared (zeros)
    /// where the array is, and written as the sweep goes.
    adj_arrays: HashMap<Var, Var>,
    /// Every array the function writes (element stores, whole writes), the copies of loop
    /// bodies the sweep makes included: code over data that reads one is not computed again in
    /// a reversed branch, where the array may hold a later value (`branch.rs`).
    written: rustc_hash::FxHashSet<Var>,
    /// Copies the sweep reads in place of an array (its state kept for a loop's sweep): they
    /// share the array's adjoint.
    aliases: HashMap<Var, Var>,
    /// What cannot be differentiated after all (found by the sweep, not by lowering).
    errors: Vec<syn::Error>,
    /// For a trace: the nodes whose adjoints it records.
    trace: Option<Tracing>,
    /// Whether the block being reversed is a function's or a loop's body (not a branch's): the
    /// arrays it declares are in scope where its loops' sweeps run.
    body_scope: bool,
    /// For the loop being reversed: the arrays its block declares before it that nothing after
    /// it in that block writes, so that its sweep finds them as the loop left them.
    settled: rustc_hash::FxHashSet<Var>,
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
        let mut arr = arr;
        while let Some(a) = self.aliases.get(&arr) {
            arr = *a;
        }
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
                    init: crate::ir::zeros_like(&self.b.arrays, *a),
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
                    self.record_adjoint(var, d);
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
                Inst::Assign { arr, src, op, .. } => {
                    let (arr, src, op) = (*arr, *src, *op);
                    if !self.b.info(arr).active {
                        continue;
                    }
                    let d_arr = self.adj_array(arr);
                    // `arr = src` (`+=`, `-=`): `src` receives what `arr` did, element by
                    // element; an overwritten array's earlier value receives nothing.
                    if let Operand::Var(s) = src {
                        if self.b.is_active(&src) {
                            let d_src = self.adj_array(s);
                            self.b.push(Inst::Assign {
                                arr: d_src,
                                src: Operand::Var(d_arr),
                                op: if op == StoreOp::Sub {
                                    StoreOp::Sub
                                } else {
                                    StoreOp::Add
                                },
                                span: Span::call_site(),
                                scale: None,
                            });
                        }
                    }
                    if op == StoreOp::Set {
                        self.b.push(Inst::Assign {
                            arr: d_arr,
                            src: Operand::Lit(0.0),
                            op: StoreOp::Set,
                            span: Span::call_site(),
                            scale: None,
                        });
                    }
                }
                Inst::NewArray { var, init } => {
                    let (var, init) = (*var, init.clone());
                    if !self.adj_arrays.contains_key(&var) {
                        continue;
                    }
                    if let ArrayInit::Copy(src) = init {
                        // `let v = src;`: what `v` received goes to `src` (a snapshot shares
                        // its source's adjoint already).
                        if !self.aliases.contains_key(&var) && self.b.is_active(&Operand::Var(src))
                        {
                            let (d_src, d_var) = (self.adj_array(src), self.adj_array(var));
                            self.b.push(Inst::Assign {
                                arr: d_src,
                                src: Operand::Var(d_var),
                                op: StoreOp::Add,
                                span: Span::call_site(),
                                scale: None,
                            });
                        }
                    }
                    if let ArrayInit::Pulled { args, partials, .. } = &init {
                        // `let r = f(a, s);` with `f` returning an array: each argument receives
                        // the adjoint of `r` through its Jacobian block.
                        let d_var = self.adj_array(var);
                        for (a, p) in args.iter().zip(partials) {
                            if !self.b.is_active(a) {
                                continue;
                            }
                            match a {
                                Operand::Var(arr) if self.b.info(*arr).kind == Kind::Array => {
                                    let v = self.runtime_call("vjp", *p, d_var, Kind::Opaque);
                                    let d_a = self.adj_array(*arr);
                                    self.b.push(Inst::Assign {
                                        arr: d_a,
                                        src: v,
                                        op: StoreOp::Add,
                                        span: Span::call_site(),
                                        scale: None,
                                    });
                                }
                                _ => {
                                    let v = self.runtime_call("dot", *p, d_var, Kind::Float);
                                    self.contribute(*a, v);
                                }
                            }
                        }
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
                    self.settled = if self.body_scope {
                        state::settled(&insts[..idx], &insts[idx + 1..])
                    } else {
                        Default::default()
                    };
                    if let Inst::Loop(lp) = &mut insts[idx] {
                        self.reverse_loop(lp);
                    }
                }
            }
        }
    }

    /// `__private::<f>(&j, &d, 0.0)` for a callee's Jacobian block `j` and the adjoint array
    /// `d` of what it returned: an argument's share of the adjoint (`vjp`, an array value) or,
    /// for a float argument, its adjoint's contribution (`dot`).
    fn runtime_call(&mut self, f: &str, j: Operand, d: Var, kind: Kind) -> Operand {
        super::runtime_call(&mut self.b, f, j, Operand::Var(d), kind)
    }

    /// `d_arr += d · partial` for an array passed whole to a `#[grad]` function, `partial`
    /// being the callee's gradient with respect to it (an array value its pullback returned).
    fn pulled_array(&mut self, arr: Var, partial: Operand, d: Operand) {
        let d_arr = self.adj_array(arr);
        self.b.push(Inst::Assign {
            arr: d_arr,
            src: partial,
            op: StoreOp::Add,
            span: Span::call_site(),
            scale: Some(d),
        });
    }

    /// Passes the adjoint `d` of `y = op(args)` on to the active arguments.
    fn op(&mut self, op: Op, args: &[Operand], y: Operand, d: Operand) {
        // Each operand's share of the adjoint, from the table (`rules::arith`): only for the
        // operands that carry derivatives, so nothing is built for data.
        for k in 0..args.len() {
            if let (Op::Pulled(n), Operand::Var(arr)) = (op, args[k]) {
                if k < n && self.b.info(arr).kind == Kind::Array && self.b.is_active(&args[k]) {
                    self.pulled_array(arr, args[n + k], d);
                    continue;
                }
            }
            if self.b.is_active(&args[k]) {
                let c = crate::rules::arith::apply(&mut self.b, op, args, y, k, d);
                self.contribute(args[k], c);
            }
        }
    }
}
