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

use crate::builder::Builder;
use crate::ir::{rename, Block, Func, Inst, Kind, Name, Op, Operand, Var};
use crate::rules::RULES;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Returns a function yielding `[value, d value / d wrt[0], ...]`.
pub fn reverse(primal: &Func, wrt: &[Var], simplify: bool) -> Func {
    let mut b = Builder::new(primal.float);
    b.vars = primal.vars.clone();
    b.externs = primal.externs.clone();
    b.simplify = simplify;
    b.derivative = true;
    let mut body = primal.body.clone();
    b.seed_cse(&body.insts);
    let mut rev = Rev {
        b,
        contribs: BTreeMap::new(),
    };
    let ret = body.yields[0];
    let one = rev.b.lit(1.0);
    rev.contribute(ret, one);
    rev.block(&mut body.insts);
    let mut yields = vec![ret];
    for v in wrt {
        let g = rev.take_adjoint(*v).unwrap_or(Operand::Lit(0.0));
        yields.push(g);
    }
    body.insts.extend(rev.b.take_root());
    body.yields = yields;
    Func {
        float: primal.float,
        vars: rev.b.vars,
        externs: rev.b.externs,
        params: primal.params.clone(),
        body,
    }
}

struct Rev {
    b: Builder,
    /// The contributions each variable's adjoint has received so far (ordered, so output is
    /// deterministic).
    contribs: BTreeMap<Var, Vec<Operand>>,
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

    fn block(&mut self, insts: &mut [Inst]) {
        for idx in (0..insts.len()).rev() {
            match &insts[idx] {
                Inst::Op { var, op, args } => {
                    let (var, op, args) = (*var, *op, args.clone());
                    if !self.b.info(var).active {
                        continue;
                    }
                    if let Some(d) = self.take_adjoint(var) {
                        self.op(op, &args, Operand::Var(var), d);
                    }
                }
                Inst::If { .. } => self.reverse_if(&mut insts[idx]),
                Inst::Opaque { var, .. } | Inst::Cond { var, .. } => {
                    // No derivative flows through data.
                    self.contribs.remove(var);
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
                    // ∂(a/b)/∂b = −(a/b)/b: reuses the quotient.
                    let m = self.b.mul(d, y);
                    let q = self.b.div(m, args[1]);
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
        if d_outs.iter().all(Option::is_none) {
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
        collect_vars(rev, &mut needed);
        let mut map = HashMap::new();
        let mut exports = Vec::new();
        for v in needed.intersection(&local) {
            let info = self.b.info(*v).clone();
            let export = self
                .b
                .new_var(info.kind, Name::Export(*v), false, info.span);
            let placeholder = match info.kind {
                Kind::Float => Operand::Lit(0.0),
                Kind::Bool => Operand::Bool(false),
                Kind::Opaque => self
                    .b
                    .add_extern(quote::quote!(::core::default::Default::default())),
            };
            map.insert(*v, export);
            exports.push((*v, export, placeholder));
        }
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

/// Every variable `block` reads, nested blocks included.
fn collect_vars(block: &Block, out: &mut BTreeSet<Var>) {
    for inst in &block.insts {
        inst.for_each_operand(&mut |o| {
            if let Operand::Var(v) = o {
                out.insert(*v);
            }
        });
        if let Inst::If { then, els, .. } = inst {
            collect_vars(then, out);
            collect_vars(els, out);
        }
    }
    for y in &block.yields {
        if let Operand::Var(v) = y {
            out.insert(*v);
        }
    }
}
