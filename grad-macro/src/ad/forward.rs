//! Forward mode: each active value carries `n` tangents (`ẋ`, the derivative along `n`
//! directions at once), computed alongside it, instruction by instruction, from the same rule
//! table the reverse sweep reads: `ẏ = Σₖ ∂y/∂xₖ · ẋₖ`.
//!
//! It serves three companions: `_jvp` (one direction, given by the caller), the `_grad` of
//! `mode = forward` (`n` = the number of `wrt` parameters, one unit direction each), and,
//! applied to the program the reverse sweep produced, second derivatives (`_hessian`, `_hvp`:
//! forward over reverse).
//!
//! An array that holds differentiated values has `n` tangent arrays of its shape: a load reads
//! the tangents at the same index, a store writes them, and a loop over its elements reads
//! them at the iteration's position. A seed of an array is `n` arrays (variables).
//!
//! Over a reverse sweep (second derivatives), a loop that keeps values for the sweep keeps
//! their tangents with them, and the sweep reads both back.
//!
//! What it does not take, an error: a value from opaque code that depends on a differentiated
//! one.

use crate::build::Builder;
use crate::ir::{
    ArrayInit, Block, Carry, Elem, Func, Header, Inst, Kind, Loop, Name, Op, Operand, StoreOp, Var,
};
use crate::rules::arith;
use proc_macro2::Span;
use rustc_hash::FxHashMap as HashMap;

mod calls;

/// The tangents of each seed variable: `n` operands each (a literal, or a variable: a
/// parameter of the companion).
pub struct Seeds {
    pub n: usize,
    pub of: Vec<(Var, Vec<Operand>)>,
    /// A call of a `#[grad]` function's pullback gets its tangents in every direction from one
    /// call of the callee's `pullback_hessian` (its pullback and its Hessian in one pass),
    /// rather than one `pullback_jvp` per direction. Only for `_hessian`, whose `_hvp` beside
    /// it calls `pullback_jvp`: a callee without either is reported there (`pullback_hessian`'s
    /// stand-in is quiet, so that the message is not said twice). With two directions or more;
    /// a callee returning an array has a `pullback_hessian` shaped like its `pullback_jvp`,
    /// called per direction.
    pub through_hessians: bool,
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
        kept: HashMap::default(),
        calls: HashMap::default(),
        call_refs: HashMap::default(),
        through_hessians: seeds.through_hessians,
        errors: Vec::new(),
    };
    for (v, t) in &seeds.of {
        f.tan.insert(*v, t.clone());
    }
    f.block(&primal.body.insts);
    let mut yields = primal.body.yields.clone();
    for y in &primal.body.yields {
        match y.as_var() {
            // An array without tangents (nothing differentiated reaches it): zeros.
            Some(v) if f.b.info(v).kind == Kind::Array && !f.tan.contains_key(&v) => {
                for t in f.tangent_arrays(v) {
                    f.b.push(Inst::NewArray {
                        var: t,
                        init: ArrayInit::Zero { like: v },
                    });
                    yields.push(Operand::Var(t));
                }
            }
            _ => yields.extend(f.tangents(y)),
        }
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
    /// For each storage a loop keeps values in for a reverse sweep: the tangents of each
    /// value kept (`None` for a value without), in order; those that are variables are kept
    /// after the values.
    kept: HashMap<Var, Vec<Option<Vec<Operand>>>>,
    /// For each call of a `#[grad]` function's pullback whose arguments have tangents: the
    /// tangent of what it returned, per direction (the second half of its `pullback_jvp`).
    calls: HashMap<Var, calls::CallTangents>,
    /// The references of each pullback call met (its arguments, as `PulledCall` says).
    call_refs: HashMap<Var, Vec<Var>>,
    /// See [`Seeds::through_hessians`].
    through_hessians: bool,
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

    /// `n` arrays shaped like `arr`, for its tangents.
    fn tangent_arrays(&mut self, arr: Var) -> Vec<Var> {
        let span = self.b.info(arr).span;
        let info = self.b.arrays.get(&arr).cloned();
        (0..self.n)
            .map(|_| {
                let t = self.b.new_var(Kind::Array, Name::Tangent(arr), true, span);
                if let Some(info) = &info {
                    self.b.arrays.insert(t, info.clone());
                }
                t
            })
            .collect()
    }

    fn block(&mut self, insts: &[Inst]) {
        // A call's tangents are variables of the block that made them: a sweep that computes
        // the call again elsewhere (in its own arm of a branch) makes its own.
        let outer: Vec<Var> = self.calls.keys().copied().collect();
        for inst in insts {
            self.inst(inst);
        }
        self.calls.retain(|k, _| outer.contains(k));
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
                if self.pulled_part(*var, expr) {
                    return;
                }
                if self.b.info(*var).bilinear {
                    self.bilinear(*var, expr);
                    return;
                }
                let reads = expr.refs.iter().any(|r| self.tan.contains_key(r));
                // (A pullback call itself: its parts get their tangents, `pulled_part`.)
                let call = self.b.info(*var).call.is_some();
                if reads && !call && matches!(self.b.info(*var).kind, Kind::Float | Kind::Opaque) {
                    self.error(
                        *var,
                        "this expression reads a differentiated value through code the macro passes through as written, which has no tangent: forward mode and second derivatives need arithmetic and the supported functions only",
                    );
                }
            }
            Inst::Cond { .. } => self.b.push(inst.clone()),
            Inst::Load { var, arr, idx } => {
                self.b.push(inst.clone());
                // `ẏ = ȧrr[idx]`, from each tangent array.
                if let Some(ts) = self.tan.get(arr).cloned() {
                    let tv = self.tangent_vars(*var);
                    for (t, a) in tv.iter().zip(&ts) {
                        if let Some(a) = a.as_var() {
                            self.b.push(Inst::Load {
                                var: *t,
                                arr: a,
                                idx: idx.clone(),
                            });
                        }
                    }
                    self.tan
                        .insert(*var, tv.into_iter().map(Operand::Var).collect());
                }
            }
            Inst::Store {
                arr,
                idx,
                val,
                op,
                span,
            } => {
                self.b.push(inst.clone());
                match self.tan.get(arr).cloned() {
                    // `ȧrr[idx] = v̇` (or `+=`, `-=`); a value without tangent overwrites with 0.
                    Some(ts) if self.has_tangent(val) || *op == StoreOp::Set => {
                        let tv = self.tangents(val);
                        for (a, v) in ts.iter().zip(tv) {
                            if let Some(a) = a.as_var() {
                                self.b.push(Inst::Store {
                                    arr: a,
                                    idx: idx.clone(),
                                    val: v,
                                    op: *op,
                                    span: *span,
                                });
                            }
                        }
                    }
                    Some(_) => {}
                    None if self.has_tangent(val) => self.error(
                        *arr,
                        "internal error: forward mode writes a differentiated value into an array it did not give tangents; please report this function",
                    ),
                    None => {}
                }
            }
            Inst::Assign {
                arr,
                src,
                op,
                span,
                scale,
            } => {
                self.b.push(inst.clone());
                // `arr += s · src` (derivative code, in a forward pass over a sweep):
                // `ȧrr += s · ṡrc + ṡ · src`.
                if let Some(s) = scale {
                    let Some(ts) = self.tan.get(arr).cloned() else {
                        return;
                    };
                    let st = self.tangents(s);
                    let src_t = match src {
                        Operand::Var(v) => self.tan.get(v).cloned(),
                        _ => None,
                    };
                    for (j, a) in ts.iter().enumerate() {
                        let Some(a) = a.as_var() else { continue };
                        if let Some(t) = src_t.as_ref().map(|t| t[j]).filter(|t| !t.is_lit(0.0)) {
                            self.b.push(Inst::Assign {
                                arr: a,
                                src: t,
                                op: StoreOp::Add,
                                span: *span,
                                scale: Some(*s),
                            });
                        }
                        if !st[j].is_lit(0.0) {
                            self.b.push(Inst::Assign {
                                arr: a,
                                src: *src,
                                op: StoreOp::Add,
                                span: *span,
                                scale: Some(st[j]),
                            });
                        }
                    }
                    return;
                }
                let src_tangents = match src {
                    Operand::Var(v) => self.tan.get(v).cloned(),
                    _ => None,
                };
                match self.tan.get(arr).cloned() {
                    // `ȧrr = ṡrc` (or `+=`); a source without tangents writes zeros.
                    Some(ts) => {
                        for (j, a) in ts.iter().enumerate() {
                            let Some(a) = a.as_var() else { continue };
                            let s = match &src_tangents {
                                Some(st) => st[j],
                                None => Operand::Lit(0.0),
                            };
                            if s.is_lit(0.0) && *op != StoreOp::Set {
                                continue;
                            }
                            self.b.push(Inst::Assign {
                                arr: a,
                                src: s,
                                op: *op,
                                span: *span,
                                scale: None,
                            });
                        }
                    }
                    None if src_tangents.is_some() => self.error(
                        *arr,
                        "internal error: forward mode copies a differentiated array into an array it did not give tangents; please report this function",
                    ),
                    None => {}
                }
            }
            Inst::NewArray { var, init } => {
                self.b.push(inst.clone());
                let elems: Vec<Operand> = match init {
                    ArrayInit::List(xs) => xs.clone(),
                    ArrayInit::Repeat { elem, .. } => vec![*elem],
                    ArrayInit::Copy(src) => vec![Operand::Var(*src)],
                    ArrayInit::Pulled { args, .. } => args.clone(),
                    ArrayInit::Zero { .. } | ArrayInit::ZeroOf(_) => Vec::new(),
                };
                // An array that holds differentiated values (now or later) gets `n` tangent
                // arrays of its shape, made alongside it.
                if self.b.info(*var).active || elems.iter().any(|e| self.has_tangent(e)) {
                    let ts = self.tangent_arrays(*var);
                    for (j, t) in ts.iter().enumerate() {
                        let tinit = match init {
                            ArrayInit::List(xs) => {
                                ArrayInit::List(xs.iter().map(|x| self.tangents(x)[j]).collect())
                            }
                            ArrayInit::Repeat { elem, lens } => ArrayInit::Repeat {
                                elem: self.tangents(elem)[j],
                                lens: lens.clone(),
                            },
                            ArrayInit::Zero { like } => ArrayInit::Zero { like: *like },
                            ArrayInit::ZeroOf(_) => crate::ir::zeros_like(&self.b.arrays, *var),
                            // The tangent of a copy is a copy of the tangent.
                            ArrayInit::Copy(src) => match self.tan.get(src) {
                                Some(ts) => match ts[j] {
                                    Operand::Var(t) => ArrayInit::Copy(t),
                                    _ => crate::ir::zeros_like(&self.b.arrays, *var),
                                },
                                None => crate::ir::zeros_like(&self.b.arrays, *var),
                            },
                            // Zeros, then `ṫ += J_k · ṡ_k` for each argument with a tangent.
                            ArrayInit::Pulled { .. } => crate::ir::zeros_like(&self.b.arrays, *var),
                        };
                        self.b.push(Inst::NewArray {
                            var: *t,
                            init: tinit,
                        });
                        if let ArrayInit::Pulled { args, partials, .. } = init {
                            for (a, p) in args.iter().zip(partials) {
                                if !self.has_tangent(a) {
                                    continue;
                                }
                                let ta = self.tangents(a)[j];
                                if ta.is_lit(0.0) {
                                    continue;
                                }
                                let src = self.jvp(*p, ta);
                                self.b.push(Inst::Assign {
                                    arr: *t,
                                    src,
                                    op: StoreOp::Add,
                                    span: self.b.info(*var).span,
                                    scale: None,
                                });
                            }
                        }
                    }
                    self.tan
                        .insert(*var, ts.into_iter().map(Operand::Var).collect());
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
        if let Op::Select(cmp) = op {
            // The table's two entries (each the chosen arm's seed) summed, as one select.
            return (0..self.n)
                .map(|j| self.b.select(args[0], cmp, args[1], t[2][j], t[3][j]))
                .collect();
        }
        // ∂y/∂args[k] from the table, once for all directions (only where args[k] has tangents),
        // then a product per direction.
        // An array passed whole to a `#[grad]` function: its term is the callee's gradient
        // with respect to it dotted with its tangent (`dot(p, ṫ)`), direction by direction.
        let mut dotted: Vec<Vec<Operand>> = Vec::new();
        if let Op::Pulled(n) = op {
            for k in 0..n {
                if self.b.kind(&args[k]) == Kind::Array && self.has_tangent(&args[k]) {
                    let terms = (0..self.n)
                        .map(|j| self.dot(args[n + k], t[k][j]))
                        .collect();
                    dotted.push(terms);
                }
            }
        }
        let partials: Vec<Option<Operand>> = (0..args.len())
            .map(|k| {
                (self.has_tangent(&args[k]) && self.b.kind(&args[k]) != Kind::Array)
                    .then(|| arith::partial(&mut self.b, op, args, y, k))
            })
            .collect();
        (0..self.n)
            .map(|j| {
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
                for terms in &dotted {
                    sum = Some(match sum {
                        Some(s) => self.b.add(s, terms[j]),
                        None => terms[j],
                    });
                }
                sum.unwrap_or_else(|| self.zero())
            })
            .collect()
    }

    fn branch(&mut self, cond: Operand, then: &Block, els: &Block, outs: &[Var]) {
        // Each arm, with the tangents of what it yields.
        let mut arms = Vec::new();
        let mut carried = Vec::new();
        for arm in [then, els] {
            self.b.enter();
            let outer: Vec<Var> = self.calls.keys().copied().collect();
            for inst in &arm.insts {
                self.inst(inst);
            }
            // A pullback call the arm carries out (for the reversed arm, which reads what it
            // returned): its tangents, made in the arm, go out with it.
            carried.push(self.carried_calls(&arm.yields));
            self.calls.retain(|k, _| outer.contains(k));
            let t: Vec<Vec<Operand>> = arm.yields.iter().map(|y| self.tangents(y)).collect();
            let has: Vec<bool> = arm.yields.iter().map(|y| self.has_tangent(y)).collect();
            let blk = self.b.exit(arm.yields.clone());
            arms.push((blk, t, has));
        }
        // Storage a loop in an arm keeps values in leaves the `if` as one of its outputs (the
        // other arm gives empty storage): the record of the tangents kept goes with it.
        for (i, o) in outs.iter().enumerate() {
            let kept = [then, els]
                .iter()
                .find_map(|arm| arm.yields[i].as_var().and_then(|v| self.kept.get(&v)))
                .cloned();
            if let Some(k) = kept {
                self.kept.insert(*o, k);
            }
        }
        let mut new_outs = outs.to_vec();
        for (i, o) in outs.iter().enumerate() {
            if arms.iter().any(|(_, _, has)| has[i]) {
                // An array leaving the `if` (the other arm gives zeros) has tangent arrays.
                let tv = if self.b.info(*o).kind == Kind::Array {
                    self.tangent_arrays(*o)
                } else {
                    self.tangent_vars(*o)
                };
                let shape = self.b.arrays.get(o).cloned();
                for (blk, t, has) in arms.iter_mut() {
                    match &shape {
                        // Zeros of the array's shape from the arm without tangents.
                        Some(info) if !has[i] => {
                            let z = self.b.zeros_of(info);
                            blk.yields.extend(std::iter::repeat_n(z, self.n));
                        }
                        _ => blk.yields.extend(t[i].iter().copied()),
                    }
                }
                new_outs.extend(&tv);
                self.tan
                    .insert(*o, tv.into_iter().map(Operand::Var).collect());
            }
        }
        let mut blocks: Vec<&mut Block> = arms.iter_mut().map(|(blk, _, _)| blk).collect();
        self.carry_calls(outs, &mut blocks, &carried, &mut new_outs);
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
        // Elements of arrays with tangents the loop iterates (`for x in w.iter()`): their
        // tangents are the tangent arrays' elements at the iteration's position.
        let mut header = l.header.clone();
        let mut element_loads: Vec<(Var, Var, Vec<Operand>)> = Vec::new();
        if let Header::For {
            pat, elems, pos, ..
        } = &mut header
        {
            // Every differentiated value the pattern binds is an element the loop knows the
            // array of; anything else would have no tangent.
            let unknown = pat.refs.iter().find(|v| {
                let info = self.b.info(**v);
                info.active && info.kind == Kind::Float && !elems.iter().any(|e| e.item == **v)
            });
            if let Some(v) = unknown {
                self.error(
                    *v,
                    "internal error: forward mode does not know where this loop variable comes from, so it has no tangent; please report this function",
                );
            }
            for Elem {
                item,
                arr,
                prefix,
                at,
            } in elems.iter()
            {
                let Some(ts) = self.tan.get(arr).cloned() else {
                    continue;
                };
                // Where the pattern binds the position (a reverse sweep), that; otherwise the
                // position of a loop running forwards, bound by `enumerate`.
                let p = match at {
                    Some(p) => *p,
                    None => *pos.get_or_insert_with(|| {
                        let span = self.b.info(*arr).span;
                        self.b
                            .new_var(Kind::Opaque, Name::Fixed("pos"), false, span)
                    }),
                };
                let mut idx = prefix.clone();
                idx.push(Operand::Var(p));
                let tv = self.tangent_vars(*item);
                for (t, a) in tv.iter().zip(&ts) {
                    if let Some(a) = a.as_var() {
                        element_loads.push((*t, a, idx.clone()));
                    }
                }
                self.tan
                    .insert(*item, tv.into_iter().map(Operand::Var).collect());
            }
        }
        // Carried values with derivatives get `n` carried tangents each (also one the reverse
        // sweep made inactive, that starts from a value with tangents).
        let mut with: Vec<(usize, Vec<Var>, Vec<Var>)> = Vec::new();
        for (i, c) in l.carried.iter().enumerate() {
            let info = self.b.info(c.phi);
            if info.kind == Kind::Float && (info.active || self.has_tangent(&c.init)) {
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
        // A reverse sweep's iteration reads back what the forward loop kept: the tangents
        // were kept with the values (see below), and are read back with them.
        let mut restore = l.restore.clone();
        if let Some(r) = &mut restore {
            match self.kept.get(&r.buf).cloned() {
                Some(kept) => {
                    for (v, ts) in r.vars.clone().iter().zip(kept) {
                        let Some(ts) = ts else { continue };
                        let tv: Vec<Operand> = ts
                            .iter()
                            .map(|t| match t {
                                Operand::Var(_) => {
                                    // An array kept whole is read back as an array.
                                    let kind = self.b.info(*v).kind;
                                    let nv = self.b.new_var(
                                        kind,
                                        Name::Tangent(*v),
                                        true,
                                        Span::call_site(),
                                    );
                                    if let Some(a) = self.b.arrays.get(v).cloned() {
                                        self.b.arrays.insert(nv, a);
                                    }
                                    r.vars.push(nv);
                                    Operand::Var(nv)
                                }
                                other => *other,
                            })
                            .collect();
                        self.tan.insert(*v, tv);
                    }
                }
                None => {
                    if let Some(v) = r.vars.iter().find(|v| self.b.info(**v).active) {
                        self.error(
                            *v,
                            "internal error: forward mode reads back a value whose tangents were not kept; please report this function",
                        );
                    }
                }
            }
        }
        self.b.enter();
        for (var, arr, idx) in element_loads {
            self.b.push(Inst::Load { var, arr, idx });
        }
        self.block(&l.body.insts);
        let nc = l.carried.len();
        let mut yields = l.body.yields[..nc].to_vec();
        for (i, _, _) in &with {
            yields.extend(self.tangents(&l.body.yields[*i]));
        }
        for (i, c) in l.carried.iter().enumerate() {
            if self.has_tangent(&l.body.yields[i]) && !with.iter().any(|w| w.0 == i) {
                self.error(
                    c.out,
                    "internal error: forward mode drops the tangent of a value this loop carries; please report this function",
                );
            }
        }
        // What the loop keeps for a reverse sweep, it keeps with its tangents (those that are
        // variables: a constant tangent is read back as the constant).
        let mut save = l.save.clone();
        if let Some(sv) = &mut save {
            let mut kept = Vec::new();
            for v in sv.vals.clone() {
                if !self.tan.contains_key(&v) {
                    kept.push(None);
                    continue;
                }
                let ts = self.tangents(&Operand::Var(v));
                sv.vals.extend(ts.iter().filter_map(Operand::as_var));
                kept.push(Some(ts));
            }
            self.kept.insert(sv.buf, kept);
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
            header,
            carried,
            body,
            exit: l.exit,
            count: l.count,
            save,
            restore,
        })));
    }
}
