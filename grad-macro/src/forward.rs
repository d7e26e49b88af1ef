//! Forward mode: each active value carries `n` tangents (`ẋ`, the derivative along `n`
//! directions at once), computed alongside it, instruction by instruction, from the same rule
//! table the reverse sweep reads: `ẏ = Σₖ ∂y/∂xₖ · ẋₖ`.
//!
//! It serves three companions: `_jvp` (one direction, given by the caller), the `_grad` of
//! `mode = forward` (`n` = the number of `wrt` parameters, one unit direction each), and,
//! applied to the program the reverse sweep produced, second derivatives (`_hessian`, `_hvp`:
//! forward over reverse).
//!
//! What it does not take, each an error: arrays with derivatives (only scalar `wrt`
//! parameters), a loop that keeps values for a reverse sweep (the tangents of what it reads
//! back are not kept), and a value from opaque code that depends on a differentiated one.

use crate::builder::Builder;
use crate::ir::{Block, Carry, Func, Inst, Kind, Loop, Name, Op, Operand, Var};
use crate::rules::RULES;
use proc_macro2::Span;
use rustc_hash::FxHashMap as HashMap;

/// The tangents of each seed variable: `n` operands each (a literal, or a variable: a
/// parameter of the companion).
pub struct Seeds {
    pub n: usize,
    pub of: Vec<(Var, Vec<Operand>)>,
}

/// `primal` with tangents: its yields, then the `n` tangents of each yield in turn.
pub fn forward(primal: &Func, seeds: &Seeds) -> (Func, Vec<syn::Error>) {
    let mut b = Builder::new(primal.float);
    b.vars = primal.vars.clone();
    b.externs = primal.externs.clone();
    b.arrays = primal.arrays.clone();
    b.derivative = true;
    let mut f = Fwd {
        b,
        n: seeds.n,
        tan: HashMap::default(),
        errors: Vec::new(),
    };
    for (v, t) in &seeds.of {
        f.tan.insert(*v, t.clone());
    }
    f.block(&primal.body.insts);
    let mut yields = primal.body.yields.clone();
    for y in &primal.body.yields {
        yields.extend(f.tangents(y));
    }
    let mut body = Block {
        insts: f.b.take_root(),
        yields,
    };
    crate::ir::fold_identities(&mut body);
    let func = Func {
        float: primal.float,
        vars: f.b.vars,
        externs: f.b.externs,
        params: primal.params.clone(),
        body,
        arrays: f.b.arrays,
    };
    (func, f.errors)
}

struct Fwd {
    b: Builder,
    n: usize,
    /// The tangents of each variable that has any; absent means zero.
    tan: HashMap<Var, Vec<Operand>>,
    errors: Vec<syn::Error>,
}

impl Fwd {
    fn zero(&self) -> Operand {
        self.b.lit(0.0)
    }

    /// The `n` tangents of `o` (zeros for a constant or a value without derivative).
    fn tangents(&self, o: &Operand) -> Vec<Operand> {
        match o.as_var().and_then(|v| self.tan.get(&v)) {
            Some(t) => t.clone(),
            None => vec![self.zero(); self.n],
        }
    }

    fn has_tangent(&self, o: &Operand) -> bool {
        o.as_var().is_some_and(|v| self.tan.contains_key(&v))
    }

    fn error(&mut self, v: Var, msg: &str) {
        let span = self.b.info(v).span;
        self.errors.push(syn::Error::new(span, msg));
    }

    /// A variable for each tangent of `v`, named after it.
    fn tangent_vars(&mut self, v: Var) -> Vec<Var> {
        (0..self.n)
            .map(|_| {
                self.b
                    .new_var(Kind::Float, Name::Tangent(v), true, Span::call_site())
            })
            .collect()
    }

    fn block(&mut self, insts: &[Inst]) {
        for inst in insts {
            self.inst(inst);
        }
    }

    fn inst(&mut self, inst: &Inst) {
        match inst {
            Inst::Op { var, op, args } => {
                self.b.push(inst.clone());
                // Reusable from here on (not before: the program may compute it again later).
                self.b.seed_cse(std::slice::from_ref(inst));
                if args.iter().any(|a| self.has_tangent(a)) {
                    let t = self.op(*op, args, Operand::Var(*var));
                    self.tan.insert(*var, t);
                }
            }
            Inst::Opaque { var, expr, .. } => {
                self.b.push(inst.clone());
                let reads = expr.refs.iter().any(|r| self.tan.contains_key(r));
                if reads && self.b.info(*var).kind == Kind::Float {
                    self.error(
                        *var,
                        "this expression reads a differentiated value through code the macro passes through as written, which has no tangent: forward mode and second derivatives need arithmetic and the supported functions only",
                    );
                }
            }
            Inst::Cond { .. } => self.b.push(inst.clone()),
            Inst::Load { var, arr, .. } => {
                self.b.push(inst.clone());
                if self.tan.contains_key(arr) {
                    self.error(*var, ARRAYS);
                }
            }
            Inst::Store { arr, val, .. } => {
                self.b.push(inst.clone());
                if self.has_tangent(val) {
                    self.error(*arr, ARRAYS);
                }
            }
            Inst::NewArray { var, init } => {
                self.b.push(inst.clone());
                let elems: Vec<Operand> = match init {
                    crate::ir::ArrayInit::List(xs) => xs.clone(),
                    crate::ir::ArrayInit::Repeat { elem, .. } => vec![*elem],
                    crate::ir::ArrayInit::Zero { .. } => Vec::new(),
                };
                if elems.iter().any(|e| self.has_tangent(e)) {
                    self.error(*var, ARRAYS);
                }
            }
            Inst::If {
                cond,
                then,
                els,
                outs,
            } => self.branch(*cond, then, els, outs),
            Inst::Loop(l) => self.lp(l),
        }
    }

    /// `ẏ` for `y = op(args)`, one per direction.
    fn op(&mut self, op: Op, args: &[Operand], y: Operand) -> Vec<Operand> {
        let t: Vec<Vec<Operand>> = args.iter().map(|a| self.tangents(a)).collect();
        let active: Vec<bool> = args.iter().map(|a| self.has_tangent(a)).collect();
        // ∂y/∂args[k], computed once for all directions (only where args[k] has tangents).
        let partials: Vec<Option<Operand>> = match op {
            Op::Select(_) => Vec::new(),
            _ => (0..args.len())
                .map(|k| active[k].then(|| self.partial(op, args, y, k)))
                .collect(),
        };
        (0..self.n)
            .map(|j| match op {
                Op::Select(cmp) => {
                    let (tt, te) = (t[2][j], t[3][j]);
                    self.b.select(args[0], cmp, args[1], tt, te)
                }
                _ => {
                    let mut sum: Option<Operand> = None;
                    for (k, p) in partials.iter().enumerate() {
                        if let Some(p) = p {
                            let term = self.b.mul(*p, t[k][j]);
                            sum = Some(match sum {
                                Some(s) => self.b.add(s, term),
                                None => term,
                            });
                        }
                    }
                    sum.unwrap_or_else(|| self.zero())
                }
            })
            .collect()
    }

    fn partial(&mut self, op: Op, args: &[Operand], y: Operand, k: usize) -> Operand {
        local_partial(&mut self.b, op, args, y, k)
    }

    fn branch(&mut self, cond: Operand, then: &Block, els: &Block, outs: &[Var]) {
        // Each arm, with the tangents of what it yields.
        let mut arms = Vec::new();
        for arm in [then, els] {
            self.b.enter();
            self.block(&arm.insts);
            let t: Vec<Vec<Operand>> = arm.yields.iter().map(|y| self.tangents(y)).collect();
            let has: Vec<bool> = arm.yields.iter().map(|y| self.has_tangent(y)).collect();
            let blk = self.b.exit(arm.yields.clone());
            arms.push((blk, t, has));
        }
        let mut new_outs = outs.to_vec();
        for (i, o) in outs.iter().enumerate() {
            if arms.iter().any(|(_, _, has)| has[i]) {
                let tv = self.tangent_vars(*o);
                for (blk, t, _) in arms.iter_mut() {
                    blk.yields.extend(t[i].iter().copied());
                }
                new_outs.extend(&tv);
                self.tan
                    .insert(*o, tv.into_iter().map(Operand::Var).collect());
            }
        }
        let mut arms = arms.into_iter().map(|(blk, _, _)| blk);
        let (then, els) = (
            arms.next().unwrap_or_default(),
            arms.next().unwrap_or_default(),
        );
        self.b.push(Inst::If {
            cond,
            then,
            els,
            outs: new_outs,
        });
    }

    fn lp(&mut self, l: &Loop) {
        if l.save.is_some() || l.restore.is_some() {
            if let Some(c) = l.carried.first() {
                self.error(c.out, "second derivatives of this loop are not supported: its reverse sweep reads back values it stored (a `while` loop, or a loop that carries a value from one iteration to the next other than a sum), and their tangents are not kept; a `for` loop that only sums is supported");
            }
            self.b.push(Inst::Loop(Box::new(l.clone())));
            return;
        }
        if let crate::ir::Header::For { elems, .. } = &l.header {
            if let Some(e) = elems.first() {
                if self.tan.contains_key(&e.arr) {
                    self.error(e.arr, ARRAYS);
                }
            }
        }
        // Carried values with derivatives get `n` carried tangents each.
        let mut with: Vec<(usize, Vec<Var>, Vec<Var>)> = Vec::new();
        for (i, c) in l.carried.iter().enumerate() {
            let info = self.b.info(c.phi);
            if info.active && info.kind == Kind::Float {
                let tp = self.tangent_vars(c.phi);
                let to = self.tangent_vars(c.out);
                self.tan
                    .insert(c.phi, tp.iter().copied().map(Operand::Var).collect());
                with.push((i, tp, to));
            }
        }
        let inits: Vec<Vec<Operand>> = with
            .iter()
            .map(|(i, _, _)| self.tangents(&l.carried[*i].init))
            .collect();
        self.b.enter();
        self.block(&l.body.insts);
        let nc = l.carried.len();
        let mut yields = l.body.yields[..nc].to_vec();
        for (i, _, _) in &with {
            yields.extend(self.tangents(&l.body.yields[*i]));
        }
        yields.extend(l.body.yields[nc..].iter().copied());
        let body = self.b.exit(yields);
        let mut carried = l.carried.clone();
        for ((i, tp, to), init) in with.iter().zip(inits) {
            for j in 0..self.n {
                carried.push(Carry {
                    phi: tp[j],
                    init: init[j],
                    out: to[j],
                });
            }
            self.tan.insert(
                l.carried[*i].out,
                to.iter().copied().map(Operand::Var).collect(),
            );
        }
        self.b.push(Inst::Loop(Box::new(Loop {
            header: l.header.clone(),
            carried,
            body,
            exit: l.exit,
            count: l.count,
            save: None,
            restore: None,
        })));
    }
}

/// `∂y/∂args[k]` for `y = op(args)`: the arithmetic's, or the rule table's (for `Select`, the
/// partial with respect to the chosen arm is not a single value: 0 here, handled by callers).
pub fn local_partial(b: &mut Builder, op: Op, args: &[Operand], y: Operand, k: usize) -> Operand {
    match (op, k) {
        (Op::Neg, _) => b.lit(-1.0),
        (Op::Add, _) | (Op::Sub, 0) | (Op::Rem, 0) => b.lit(1.0),
        (Op::Sub, _) => b.lit(-1.0),
        (Op::Mul, 0) => args[1],
        (Op::Mul, _) => args[0],
        (Op::Div, 0) => b.recip(args[1]),
        // ∂(a/b)/∂b = −(a/b)/b.
        (Op::Div, _) => {
            let q = b.div(y, args[1]);
            b.neg(q)
        }
        // a % b = a − b·trunc(a / b).
        (Op::Rem, _) => {
            let q = b.div(args[0], args[1]);
            let t = b.call("trunc", vec![q]);
            b.neg(t)
        }
        (Op::Call(i), k) => (RULES[i].partials[k])(b, args, y),
        (Op::Pulled(n), k) if k < n => args[n + k],
        // The partials and the value of a call are data.
        (Op::Pulled(_), _) | (Op::Select(_), _) => b.lit(0.0),
    }
}

const ARRAYS: &str = "forward mode and second derivatives take scalar values only: an array with derivatives (a `wrt` array, or a local array of differentiated values) is not supported";
