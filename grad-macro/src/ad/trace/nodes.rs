//! The walk over a function's body that finds the nodes of its derivation: each operation on
//! differentiated values, in branches and loops too, named as in the source (`ξ1`, `ξ2`, ...
//! for intermediates without a name). It instruments a copy of the body for `_trace`: after
//! each node, its local derivatives and a record of its value; each loop counts its
//! iterations and records how many it ran (`record`).

use super::arrays::{rename, ArrayMay};
use super::record::{self, Arg};
use super::*;
use crate::build::Builder;
use crate::ir::{Block, Carry, Header, Loop};
use crate::rules::arith;
use proc_macro2::Span;
use std::collections::HashSet;

pub(super) struct Walk<'a> {
    primal: &'a Func,
    function: &'a str,
    /// `ξ`, or `t` when the function names its own `xi1`, `ξ1`, ...
    prefix: &'static str,
    sources: HashSet<String>,
    taken: HashSet<String>,
    unnamed: usize,
    result: Option<Var>,
    order: usize,
    pub b: Builder,
    pub names: HashMap<Var, String>,
    pub defs: HashMap<Var, Def>,
    /// What a call's pullback gave, by name: each partial `∂₁f(z, x)`.
    pub labels: HashMap<Var, String>,
    /// The nodes whose value each variable may be.
    pub may_be: HashMap<Var, Vec<Cand>>,
    pub nodes: Vec<OpNode>,
    pub loops: Vec<LoopNode>,
    /// Each node's number, by its variable.
    pub ids: HashMap<Var, usize>,
    /// Each loop's number, by its iteration counter.
    pub counters: HashMap<Var, usize>,
    pub branches: bool,
    /// The tests of `while` loops (the `if` their body is in).
    guards: HashSet<Var>,
    /// Which row each value is at run time: a variable holding its number (`Recorder::value`),
    /// or an input's number.
    pub shadows: HashMap<Var, Operand>,
    /// Names for intermediates that become a named value: an `if`'s arm's result, a loop's
    /// next value of a carried variable.
    preferred: HashMap<Var, String>,
    /// Names given to a loop's unnamed accumulator (`Σ` of an iterator's sum), which the node
    /// giving its next value takes as it is.
    reserved: HashMap<Var, String>,
    /// The nodes named `ξ1`, `ξ2`, ...: one stored in an array takes the element's name.
    auto: HashSet<Var>,
    /// The nodes each array that carries derivatives may hold, and each element written at
    /// constant indices.
    pub array_may: ArrayMay,
    /// The elements read in loops (`Walk::load_may`): variable, array, indices, loops around.
    pub pending: Vec<(Var, Var, Vec<Operand>, Vec<usize>)>,
}

/// The loops around a node: each one's number and iteration counter.
type Path = [(usize, Var)];

impl<'a> Walk<'a> {
    pub(super) fn new(primal: &'a Func, function: &'a str) -> Walk<'a> {
        let sources: HashSet<String> = primal
            .vars
            .iter()
            .filter_map(|v| match &v.name {
                Name::Source(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        let named_xi = sources
            .iter()
            .any(|s| s.starts_with("xi") || s.starts_with('ξ'));
        let mut b = Builder::new(primal.float);
        b.vars = primal.vars.clone();
        b.externs = primal.externs.clone();
        b.arrays = primal.arrays.clone();
        b.derivative = true;
        Walk {
            primal,
            function,
            prefix: if named_xi { "t" } else { "ξ" },
            sources,
            taken: HashSet::new(),
            unnamed: 0,
            result: primal.body.yields[0].as_var(),
            order: 0,
            b,
            names: HashMap::default(),
            defs: HashMap::default(),
            labels: HashMap::default(),
            may_be: HashMap::default(),
            nodes: Vec::new(),
            loops: Vec::new(),
            ids: HashMap::default(),
            counters: HashMap::default(),
            branches: false,
            shadows: HashMap::default(),
            guards: HashSet::new(),
            preferred: HashMap::default(),
            reserved: HashMap::default(),
            auto: HashSet::new(),
            array_may: ArrayMay::default(),
            pending: Vec::new(),
        }
    }

    /// Every node's name is its own: a name given twice (shadowing, reassignment) gets a prime
    /// (`s`, `s′`, `s′′`).
    pub(super) fn unique(&mut self, base: String) -> String {
        let mut name = base;
        while !self.taken.insert(name.clone()) {
            name.push('′');
        }
        name
    }

    fn next_order(&mut self) -> usize {
        self.order += 1;
        self.order
    }

    pub(super) fn render(&self) -> Render<'_> {
        Render {
            names: &self.names,
            defs: &self.defs,
            func: self.primal,
            labels: &self.labels,
            budget: std::cell::Cell::new(BUDGET),
        }
    }

    /// The nodes `o` may be.
    pub(super) fn may(&self, o: &Operand) -> Vec<Cand> {
        o.as_var()
            .and_then(|v| self.may_be.get(&v).cloned())
            .unwrap_or_default()
    }

    /// Finds the nodes of `block` (in `path`'s loops, in `arm` of an `if`) and instruments it.
    pub(super) fn block(&mut self, block: &mut Block, path: &Path, arm: Option<(String, bool)>) {
        for mut inst in std::mem::take(&mut block.insts) {
            let mut after = Vec::new();
            match &mut inst {
                Inst::Op { var, op, args } => {
                    let (var, op, args) = (*var, *op, args.clone());
                    if self.primal.info(var).active {
                        after = self.node(var, op, &args, path, arm.clone());
                    } else {
                        self.defs.insert(var, Def::Op(op, args));
                    }
                }
                Inst::Opaque { var, expr, .. } => {
                    self.defs.insert(
                        *var,
                        Def::Opaque(expr.tokens.to_string(), expr.refs.clone(), expr.prec),
                    );
                }
                Inst::Cond { var, cond } => {
                    self.defs.insert(*var, Def::Cond(cond.clone()));
                }
                Inst::Load { var, arr, idx } => {
                    self.defs.insert(*var, Def::Load(*arr, idx.clone()));
                    if self.primal.info(*arr).active {
                        // The row the element holds (the node that last wrote it).
                        let (load, row) = record::row_of(
                            &mut self.b,
                            "load",
                            &[Arg::Num(arr.0 as usize), Arg::Index(idx)],
                        );
                        after.push(load);
                        self.shadows.insert(*var, Operand::Var(row));
                        let loops = path.iter().map(|p| p.0).collect();
                        self.load_may(*var, *arr, idx, loops);
                    }
                }
                Inst::Store { arr, idx, val, .. } if self.primal.info(*arr).active => {
                    self.name_stored(*arr, idx, val);
                    let may = self.may(val);
                    self.array_may.add(*arr, idx, may);
                    let row = self.shadow(val);
                    after.push(record::record(
                        &mut self.b,
                        "store",
                        &[Arg::Num(arr.0 as usize), Arg::Index(idx), Arg::Row(row)],
                    ));
                }
                Inst::NewArray { var, init } if self.primal.info(*var).active => {
                    after = self.new_array(*var, init);
                }
                Inst::Assign { arr, src, .. } if self.primal.info(*arr).active => {
                    // `a = b` (a copy) or `a = 0.0` (zeros): `supported` refuses the rest.
                    let (arr, src) = (*arr, *src);
                    after = match src.as_var() {
                        Some(from) => self.new_array(arr, &crate::ir::ArrayInit::Copy(from)),
                        None => self.new_array(arr, &crate::ir::ArrayInit::ZeroOf(arr)),
                    };
                }
                Inst::If {
                    cond,
                    then,
                    els,
                    outs,
                } => {
                    for (k, o) in outs.iter().enumerate() {
                        self.prefer(*o, &then.yields[k]);
                        self.prefer(*o, &els.yields[k]);
                    }
                    let c = self.render().operand(*cond).0;
                    if cond.as_var().is_some_and(|v| self.guards.contains(&v)) {
                        // A `while`'s test: its body is the loop's, not an arm.
                        self.block(then, path, arm.clone());
                        self.block(els, path, arm.clone());
                    } else {
                        self.branches = true;
                        self.block(then, path, Some((c.clone(), true)));
                        self.block(els, path, Some((c.clone(), false)));
                    }
                    for (k, o) in outs.clone().into_iter().enumerate() {
                        let mut may = self.may(&then.yields[k]);
                        may.extend(self.may(&els.yields[k]));
                        let r = self.render();
                        let (a, b) = (r.operand(then.yields[k]).0, r.operand(els.yields[k]).0);
                        self.alias(o, format!("({a} if {c}, else {b})"), may);
                        // Which row the value is: the arm's, carried out of the `if` with it.
                        if self.primal.info(o).active {
                            let row = self.row_var();
                            outs.push(row);
                            let (t, e) =
                                (self.shadow(&then.yields[k]), self.shadow(&els.yields[k]));
                            then.yields.push(t);
                            els.yields.push(e);
                            self.shadows.insert(o, Operand::Var(row));
                        }
                    }
                }
                Inst::Loop(lp) => after = self.lp(lp, path, arm.clone()),
                _ => {}
            }
            block.insts.push(inst);
            block.insts.extend(after);
        }
    }

    /// The node just made, named `ξ1`, stored in `arr[idx]`: named `arr[idx]` instead.
    fn name_stored(&mut self, arr: Var, idx: &[Operand], val: &Operand) {
        let Some(v) = val.as_var().filter(|v| self.auto.contains(v)) else {
            return;
        };
        let Name::Source(a) = &self.primal.info(arr).name else {
            return;
        };
        if self.ids.get(&v) != Some(&(self.nodes.len() - 1)) {
            return;
        }
        let mut name = a.clone();
        for i in idx {
            name.push_str(&format!("[{}]", self.render().operand(*i).0));
        }
        let name = self.unique(name);
        let Some(node) = self.nodes.last_mut() else {
            return;
        };
        let old = std::mem::replace(&mut node.name, name.clone());
        for l in &mut node.local {
            l.formula = rename(&l.formula, &old, &name);
        }
        self.taken.remove(&old);
        if old == format!("{}{}", self.prefix, self.unnamed) {
            self.unnamed -= 1;
        }
        self.auto.remove(&v);
        self.names.insert(v, name.clone());
        self.may_be.insert(v, vec![(name, false)]);
    }

    /// A variable holding a row's number (`Recorder::value`).
    fn row_var(&mut self) -> Var {
        self.b
            .new_var(Kind::Opaque, Name::Fixed("row"), false, Span::call_site())
    }

    /// The row `o` is (its number), or none (`usize::MAX`: a literal, data).
    pub(super) fn shadow(&mut self, o: &Operand) -> Operand {
        match o.as_var().and_then(|v| self.shadows.get(&v)) {
            Some(r) => *r,
            None => self.b.add_extern(quote::quote!(usize::MAX)),
        }
    }

    /// The intermediate `y` takes the source's name of `v`, if it has one.
    fn prefer(&mut self, v: Var, y: &Operand) {
        if let (Name::Source(s), Some(y)) = (&self.primal.info(v).name, y.as_var()) {
            if !matches!(self.primal.info(y).name, Name::Source(_)) {
                self.preferred.entry(y).or_insert_with(|| s.clone());
            }
        }
    }

    /// Names `v` (an `if`'s or a loop's value, not a node) as the source does, or `fallback`;
    /// it may be the nodes `may`.
    fn alias(&mut self, v: Var, fallback: String, may: Vec<Cand>) {
        let name = match &self.primal.info(v).name {
            Name::Source(s) => s.clone(),
            _ => fallback,
        };
        self.names.insert(v, name);
        self.may_be.insert(v, may);
    }

    fn lp(&mut self, lp: &mut Loop, path: &Path, arm: Option<(String, bool)>) -> Vec<Inst> {
        let id = self.loops.len();
        let order = self.next_order();
        let header = match &lp.header {
            Header::For { pat, iter, .. } => {
                let r = self.render();
                let text = |o: &crate::ir::Opaque| r.code(&o.tokens.to_string(), &o.refs);
                format!("for {} in {}", text(pat).replace("& ", "&"), text(iter))
            }
            // A `while` is a `loop` whose body is an `if` on its test (its only `if`, last,
            // after the test's code alone): named once the body is walked.
            Header::Loop => "loop".to_string(),
        };
        self.loops.push(LoopNode {
            header,
            parent: path.last().map(|p| p.0),
            order,
            carried: Vec::new(),
        });
        for (k, c) in lp.carried.clone().into_iter().enumerate() {
            // The value it starts from, or the one the iteration before gave.
            let may = self.may(&c.init);
            let y = lp.body.yields[k];
            if !matches!(self.primal.info(c.phi).name, Name::Source(_))
                && self.primal.info(c.phi).active
            {
                // An accumulator the source does not name: `Σ` for a sum, `Π` for a
                // product, `acc` otherwise; the node giving its next value is named so too.
                let init = self.render().operand(c.init).0;
                let base = if init.contains("::sum(") {
                    "Σ"
                } else if init.contains("::product(") {
                    "Π"
                } else {
                    "acc"
                };
                let name = self.unique(base.to_string());
                self.names.insert(c.phi, name.clone());
                self.may_be.insert(c.phi, may);
                if let Some(y) = y.as_var() {
                    self.reserved.insert(y, name);
                }
            } else {
                let like = self.render().operand(c.init).0;
                self.alias(c.phi, like, may);
                self.prefer(c.phi, &y);
            }
        }
        let span = lp
            .carried
            .first()
            .map_or_else(Span::call_site, |c| self.primal.info(c.phi).span);
        // Which row each carried value is, carried with it.
        let mut rows = Vec::new();
        for (k, c) in lp.carried.clone().into_iter().enumerate() {
            if self.primal.info(c.phi).active {
                let (phi, out) = (self.row_var(), self.row_var());
                let init = self.shadow(&c.init);
                self.shadows.insert(c.phi, Operand::Var(phi));
                self.shadows.insert(c.out, Operand::Var(out));
                rows.push((k, Carry { phi, init, out }));
            }
        }
        let counter = record::counter(&mut self.b, span);
        self.counters.insert(counter, id);
        let mut inner = path.to_vec();
        inner.push((id, counter));
        let guard = match &lp.header {
            Header::Loop => lp
                .body
                .insts
                .iter()
                .position(|i| matches!(i, Inst::If { .. }))
                .filter(|k| {
                    k + 1 == lp.body.insts.len()
                        && lp.body.insts[..*k]
                            .iter()
                            .all(|i| matches!(i, Inst::Opaque { .. } | Inst::Cond { .. }))
                })
                .and_then(|k| match &lp.body.insts[k] {
                    Inst::If { cond, .. } => cond.as_var(),
                    _ => None,
                }),
            Header::For { .. } => None,
        };
        if let Some(g) = guard {
            self.guards.insert(g);
        }
        // The elements of arrays that carry derivatives the loop's pattern binds (`for x in
        // w.iter()`): each is the row its element holds, at the iteration's position.
        let mut loads = Vec::new();
        if let Header::For { elems, pos, .. } = &lp.header {
            for e in elems.clone() {
                let at = e.at.or(*pos).unwrap_or(counter);
                let mut idx = e.prefix.clone();
                idx.push(Operand::Var(at));
                let (load, row) = record::row_of(
                    &mut self.b,
                    "load",
                    &[Arg::Num(e.arr.0 as usize), Arg::Index(&idx)],
                );
                loads.push(load);
                self.shadows.insert(e.item, Operand::Var(row));
                let loops = inner.iter().map(|p| p.0).collect();
                self.load_may(e.item, e.arr, &idx, loops);
            }
        }
        let first_node = self.nodes.len();
        self.block(&mut lp.body, &inner, arm);
        self.loop_end(id);
        lp.body.insts.splice(0..0, loads);
        if let Some(g) = guard {
            self.loops[id].header = format!("while {}", self.render().operand(Operand::Var(g)).0);
        }
        // The nodes of this loop's body: a value one of them gives is carried to the next
        // iteration (a value from before the loop that reaches its end unchanged is not).
        let inside: HashSet<String> = self.nodes[first_node..]
            .iter()
            .map(|n| n.name.clone())
            .collect();
        for (k, c) in lp.carried.clone().into_iter().enumerate() {
            let next = self.may(&lp.body.yields[k]);
            let mut may = self.may_be.get(&c.phi).cloned().unwrap_or_default();
            may.extend(
                next.iter()
                    .map(|(n, carried)| (n.clone(), *carried || inside.contains(n))),
            );
            self.may_be.insert(c.phi, may);
            let mut after = self.may(&c.init);
            after.extend(next.iter().cloned());
            let name = self.names.get(&c.phi).cloned().unwrap_or_default();
            self.names.insert(c.out, name.clone());
            self.may_be.insert(c.out, after);
            if !next.is_empty() {
                self.loops[id]
                    .carried
                    .push((name.clone(), next.into_iter().map(|c| c.0).collect()));
            }
        }
        for (k, row) in rows {
            let next = self.shadow(&lp.body.yields[k]);
            lp.carry(row, next);
        }
        // The counter: `0` before the first iteration, one more after each.
        let zero = record::zero(&mut self.b);
        let out = record::count(&mut self.b, lp, counter, zero, true);
        let outer: Vec<Var> = path.iter().map(|p| p.1).collect();
        vec![record::record(
            &mut self.b,
            "trips",
            &[Arg::Num(id), Arg::Path(&outer), Arg::Count(out)],
        )]
    }

    /// The node `var = op(args)`: its name, expression and local derivatives; returns the code
    /// that computes them and records its value.
    fn node(
        &mut self,
        var: Var,
        op: Op,
        args: &[Operand],
        path: &Path,
        arm: Option<(String, bool)>,
    ) -> Vec<Inst> {
        let id = self.nodes.len();
        let base = match &self.primal.info(var).name {
            _ if self.reserved.contains_key(&var) => String::new(),
            Name::Source(s) => s.clone(),
            _ if self.result == Some(var) => self.function.to_string(),
            _ if self.preferred.contains_key(&var) => self.preferred[&var].clone(),
            _ => loop {
                self.unnamed += 1;
                let n = format!("{}{}", self.prefix, self.unnamed);
                if !self.sources.contains(&n) {
                    self.auto.insert(var);
                    break n;
                }
            },
        };
        let name = match self.reserved.get(&var) {
            Some(n) => n.clone(),
            None => self.unique(base),
        };
        // A call's partials, named `∂₁f(z, x)`: the callee's partial in its first argument at
        // that call's arguments (one call's partials and another's, or two arguments' of one
        // call, are told apart).
        if let Op::Pulled(n) = op {
            let callee = self.render().callee(&args[2 * n]);
            let xs: Vec<String> = (0..n).map(|k| self.render().operand(args[k]).0).collect();
            for k in 0..n {
                if let Some(p) = args[n + k].as_var() {
                    self.labels.insert(
                        p,
                        format!("∂{}{callee}({})", subscript(k + 1), xs.join(", ")),
                    );
                }
            }
        }
        let expr = self.render().op(op, args).0;
        // Named now: a local derivative may be the node itself (`∂e^x/∂x = e^x`).
        self.names.insert(var, name.clone());
        let mut code = Vec::new();
        let mut local = Vec::new();
        let mut partials = Vec::new();
        let mut used = Vec::new();
        let mut arrays = Vec::new();
        for (k, a) in args.iter().enumerate() {
            let differentiated = a.as_var().is_some_and(|x| self.primal.info(x).active);
            let operand = match op {
                Op::Select(_) => k >= 2,
                Op::Pulled(n) => k < n,
                _ => true,
            };
            if !differentiated || !operand {
                continue;
            }
            // An array passed to a call: the callee's partial is an array, a local derivative
            // per element (`value_arrays`), each element's row read where the call runs.
            if let (Op::Pulled(n), Some(arr)) = (
                op,
                a.as_var()
                    .filter(|v| self.primal.info(*v).kind == Kind::Array),
            ) {
                let (l, passed) = self.array_operand(arr, args[n + k]);
                local.push(l);
                arrays.push(passed);
                continue;
            }
            self.b.enter();
            let p = arith::partial(&mut self.b, op, args, Operand::Var(var), k);
            let formula = self.render().built(&self.b, p);
            code.extend(self.b.exit(Vec::new()).insts);
            local.push(Local {
                operand: self.render().operand(*a).0,
                var: a.as_var(),
                formula,
                may_be: Vec::new(),
            });
            partials.push(p);
            used.push(k);
        }
        self.may_be.insert(var, vec![(name.clone(), false)]);
        self.defs.insert(var, Def::Op(op, args.to_vec()));
        self.ids.insert(var, id);
        let counters: Vec<Var> = path.iter().map(|p| p.1).collect();
        let operands: Vec<Operand> = args
            .iter()
            .enumerate()
            .filter(|(k, _)| used.contains(k))
            .map(|(_, a)| *a)
            .collect();
        let rows: Vec<Operand> = operands.iter().map(|a| self.shadow(a)).collect();
        let mut record_args = vec![
            Arg::Num(id),
            Arg::Path(&counters),
            Arg::Float(Operand::Var(var)),
            Arg::Floats(&partials),
            Arg::Rows(&rows),
            Arg::Floats(&operands),
        ];
        let (inst, row) = if arrays.is_empty() {
            record::row(&mut self.b, &record_args)
        } else {
            record_args.push(Arg::Arrays(&arrays));
            record::row_of(&mut self.b, "value_arrays", &record_args)
        };
        code.push(inst);
        self.shadows.insert(var, Operand::Var(row));
        let order = self.next_order();
        self.nodes.push(OpNode {
            name,
            expr,
            local,
            loops: path.iter().map(|p| p.0).collect(),
            order,
            arm,
            call: matches!(op, Op::Pulled(_)),
        });
        code
    }
}
