//! Reversing a loop: what each iteration keeps for the sweep, and the sweep over the iterations backwards.

use super::state::{self, Keep};
use super::*;
use crate::ir::{
    own_position, Block, Carry, Header, Inst, Kind, Loop, Name, Operand, Restore, Save, StoreOp,
    Var,
};
use proc_macro2::Span;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeSet;

impl Rev {
    /// Reverses a loop: a second loop, over the same iterations last first, that recomputes
    /// each iteration from a copy of the body and runs that copy's reverse. What the copy needs
    /// of the carried values (the state entering the iteration) is kept by the forward loop,
    /// and only that; a loop that only accumulates keeps nothing.
    pub(super) fn reverse_loop(&mut self, lp: &mut Loop) {
        let settled = std::mem::take(&mut self.settled);
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
                    // A recomputed pullback call is one still (its arguments are its
                    // references, renamed with it).
                    b.info_mut(nv).call = info.call;
                    b.info_mut(nv).pulled_part = info.pulled_part;
                    b.info_mut(nv).bilinear = info.bilinear;
                    if let Some(a) = b.arrays.get(v).cloned() {
                        b.arrays.insert(nv, a);
                    }
                    nv
                });
                *v = nv;
            });
        }
        crate::ir::rename_inst(&mut copy, &map);
        self.traced_copies(&map);
        // Copies kept for a sweep share their array's adjoint in the copy of the body too.
        let copied: Vec<(Var, Var)> = map
            .iter()
            .filter_map(|(o, n)| self.aliases.get(o).map(|a| (*n, *map.get(a).unwrap_or(a))))
            .collect();
        self.aliases.extend(copied);
        let Inst::Loop(copy) = copy else { return };
        let Loop {
            header: r_header,
            carried: r_carried,
            body: mut r_body,
            ..
        } = *copy;

        // Arrays from outside that the loop writes and reads: the recomputation reads what each
        // iteration kept of them (`state.rs`), a copy of the whole array (renamed in the copy
        // of the body, sharing the array's adjoint) or the values of its loads.
        let keeps = state::keeps(&lp.body, &self.b.vars);
        let mut snapshots: Vec<(Var, Var)> = Vec::new();
        let mut rename = HashMap::default();
        for (a, keep) in &keeps {
            if *keep == Keep::Snapshot {
                let ak = self.kept_copy(*a);
                rename.insert(*a, ak);
                snapshots.push((*a, ak));
            }
        }
        crate::ir::rename(&mut r_body, &rename);
        for inst in &r_body.insts {
            state::array_writes(inst, &mut self.written);
        }
        // Loads at the top level of the body are kept as values: all loads of an array kept
        // by its loads, and the loads of a kept whole array that follow a write to it (which
        // the recomputation would otherwise have to replay: a vector RNN's loss reads the new
        // state).
        let mut kept_loads: HashSet<Var> = HashSet::default();
        let mut written_so_far: HashSet<Var> = HashSet::default();
        let renamed: HashSet<Var> = snapshots.iter().map(|s| s.1).collect();
        for i in &r_body.insts {
            if let Inst::Load { var, arr, .. } = i {
                if keeps.contains(&(*arr, Keep::Loads))
                    || (renamed.contains(arr) && written_so_far.contains(arr))
                {
                    kept_loads.insert(*var);
                }
            }
            state::array_writes(i, &mut written_so_far);
        }

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
        let counted = self.enter_counted(&r_carried, span);
        let scope = std::mem::replace(&mut self.body_scope, true);
        self.block(&mut r_body.insts);
        self.body_scope = scope;
        self.leave_counted(&counted);
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
        let mut adj = self.b.exit(Vec::new());
        self.contribs = saved;

        // An array the iteration builds and then makes the kept array's new state (`h = hn;`)
        // is, once the iteration is over, the state the next iteration was kept with: the
        // sweep reads it from there (the last iteration's from the array after the loop) rather
        // than build it again.
        let mut next_states: Vec<(Var, Var, Var)> = Vec::new();
        if !lp.exit {
            let mut adj_reads = BTreeSet::new();
            crate::ir::block_reads(&adj, &mut adj_reads);
            for (a, ak) in &snapshots {
                let Some(n) = next_state(&r_body, *ak) else {
                    continue;
                };
                if !settled.contains(a) || !adj_reads.contains(&n) {
                    continue;
                }
                let info = self.b.info(*a).clone();
                let nx = self
                    .b
                    .new_var(Kind::Array, info.name, info.active, info.span);
                if let Some(shape) = self.b.arrays.get(a).cloned() {
                    self.b.arrays.insert(nx, shape);
                }
                let mut m = HashMap::default();
                m.insert(n, nx);
                crate::ir::rename(&mut adj, &m);
                next_states.push((*a, *ak, nx));
            }
        }

        let stored = stored_values(&r_header, lp.exit, &r_body, &settled);
        // The recomputation must not write the forward pass's arrays again.
        let mut inner = HashSet::default();
        arrays_in(&r_body, &mut inner);
        inner.extend(snapshots.iter().map(|s| s.1));
        drop_outer_stores(&mut r_body, &inner);
        // Calls on data (which may have side effects: a random draw, a counter) run once, in the
        // forward loop; the recomputation reads back what they gave.
        let r_yields = r_body.yields.clone();
        let effects: Vec<Var> = r_body
            .insts
            .iter()
            .filter(|i| i.effectful() || i.defs().iter().any(|d| kept_loads.contains(d)))
            .flat_map(Inst::defs)
            .collect();
        // The recomputation runs no effects (only the reversed body may have them: a trace's
        // records).
        r_body
            .insts
            .retain(|i| !i.effectful() && !i.defs().iter().any(|d| kept_loads.contains(d)));
        let nested = strip_effects(&mut r_body);
        let mut insts = r_body.insts;
        insts.extend(adj.insts);
        let mut yields = next;
        yields.extend(escapes.iter().map(|e| e.2));
        let mut rbody = Block { insts, yields };
        // A value the iteration stored in its own element of an array that nothing writes
        // afterwards is read back from there rather than computed again (an activation's
        // `tanh`).
        if !stored.is_empty() {
            let mut subst = HashMap::default();
            let mut loads = Vec::new();
            for (arr, idx, v) in stored {
                let info = self.b.info(v).clone();
                let nv = self
                    .b
                    .new_var(Kind::Float, info.name, info.active, info.span);
                loads.push(Inst::Load { var: nv, arr, idx });
                subst.insert(v, Operand::Var(nv));
            }
            crate::ir::substitute(&mut rbody, &subst);
            rbody.insts.splice(0..0, loads);
        }
        // The state the iteration was kept with, as it entered (the recomputation may write
        // the kept copy), becomes the next state of the iteration before.
        for (_, ak, nx) in &next_states {
            let info = self.b.info(*ak).clone();
            let entered = self
                .b
                .new_var(Kind::Array, info.name, info.active, info.span);
            if let Some(shape) = self.b.arrays.get(ak).cloned() {
                self.b.arrays.insert(entered, shape);
            }
            rbody.insts.insert(
                0,
                Inst::NewArray {
                    var: entered,
                    init: crate::ir::ArrayInit::Copy(*ak),
                },
            );
            rbody.insts.push(Inst::Assign {
                arr: *nx,
                src: Operand::Var(entered),
                op: StoreOp::Set,
                span,
                scale: None,
            });
        }
        crate::ir::fold_identities(&mut rbody);
        crate::opt::simplify::dce_block(&mut rbody);
        state::drop_dead_array_writes(&mut rbody, &inner, &self.b.vars);
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
        // A whole array, as each iteration enters the forward loop: copied first thing.
        let mut snapshot_floats = Some(0u64);
        for (a, ak) in &snapshots {
            if !read.contains(ak) {
                continue;
            }
            let info = self.b.info(*ak).clone();
            let snap = self
                .b
                .new_var(Kind::Array, info.name, info.active, info.span);
            let shape = self.b.arrays.get(ak).cloned();
            snapshot_floats = match (snapshot_floats, shape.as_ref().and_then(floats)) {
                (Some(n), Some(k)) => Some(n + k),
                _ => None,
            };
            if let Some(shape) = shape {
                self.b.arrays.insert(snap, shape);
            }
            lp.body.insts.insert(
                0,
                Inst::NewArray {
                    var: snap,
                    init: crate::ir::ArrayInit::Copy(*a),
                },
            );
            vals.push(snap);
            vars.push(*ak);
        }
        let restore = if vals.is_empty() {
            None
        } else {
            let buf = self
                .b
                .new_var(Kind::Opaque, Name::Fixed("saved"), false, span);
            lp.save = Some(Save {
                buf,
                storage: storage(&lp.header, snapshot_floats),
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
        let forwards = lp.restore.is_none()
            && lp.carried.iter().all(|c| accumulators.contains(&c.phi))
            && order_free(&lp.body, &self.b.vars, own_position(&r_header));
        if forwards {
            lp.header = header(true);
        }
        self.count(&mut lp, counted, forwards);
        // An adjoint the loop leaves unchanged is its initial value.
        let kept: HashSet<Var> = lp.carried.iter().map(|c| c.out).collect();
        for (a, _, nx) in &next_states {
            self.written.insert(*nx);
            self.b.push(Inst::NewArray {
                var: *nx,
                init: crate::ir::ArrayInit::Copy(*a),
            });
        }
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

    /// Builds the derivative operations of `block` again through the builder, so that operands
    /// substituted since (literals) are folded and identities applied.
    pub(super) fn resimplify(&mut self, block: Block, map: &mut HashMap<Var, Operand>) -> Block {
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

/// The values a loop's iteration stores in its own element of an array declared before the
/// loop that nothing writes after it (`settled`): `arr[.., i] = v` at the top level of the body
/// of `for i in a..b` (each iteration its own `i`), the body's only write to `arr`. After the
/// loop, `arr[.., i]` still holds iteration `i`'s `v`. Returns each array, index and value.
fn stored_values(
    header: &Header,
    exit: bool,
    body: &Block,
    settled: &HashSet<Var>,
) -> Vec<(Var, Vec<Operand>, Var)> {
    let Some(own) = own_position(header) else {
        return Vec::new();
    };
    if exit || settled.is_empty() {
        return Vec::new();
    }
    let inside: HashSet<Var> = body.insts.iter().flat_map(Inst::defs_within).collect();
    let top: HashSet<Var> = body.insts.iter().flat_map(Inst::defs).collect();
    let mut writes: HashMap<Var, usize> = HashMap::default();
    crate::ir::walk(body, &mut |i| {
        if let Inst::Store { arr, .. } | Inst::Assign { arr, .. } = i {
            *writes.entry(*arr).or_default() += 1;
        }
    });
    body.insts
        .iter()
        .filter_map(|i| match i {
            Inst::Store {
                arr,
                idx,
                val: Operand::Var(v),
                op: StoreOp::Set,
                ..
            } if settled.contains(arr)
                && writes.get(arr) == Some(&1)
                && top.contains(v)
                && idx.last() == Some(&Operand::Var(own))
                && idx[..idx.len() - 1]
                    .iter()
                    .all(|o| o.as_var().is_none_or(|x| !inside.contains(&x))) =>
            {
                Some((*arr, idx.clone(), *v))
            }
            _ => None,
        })
        .collect()
}

/// The array `n` whose whole value the body makes `arr`'s last (`arr = n;` at the top level,
/// `n` declared at the top level before it, neither written after it).
fn next_state(body: &Block, arr: Var) -> Option<Var> {
    let q = body.insts.iter().rposition(|i| {
        matches!(i, Inst::Assign { arr: a, op: StoreOp::Set, scale: None, src: Operand::Var(_), .. } if *a == arr)
    })?;
    let Inst::Assign {
        src: Operand::Var(n),
        ..
    } = body.insts[q]
    else {
        return None;
    };
    let declared = body.insts[..q]
        .iter()
        .any(|i| matches!(i, Inst::NewArray { var, .. } if *var == n));
    let mut later = HashSet::default();
    for inst in &body.insts[q + 1..] {
        state::array_writes(inst, &mut later);
    }
    (declared && !later.contains(&arr) && !later.contains(&n)).then_some(n)
}

/// The number of floats in an array of constant lengths.
fn floats(info: &crate::ir::ArrayInfo) -> Option<u64> {
    info.lens.iter().try_fold(1u64, |n, l| {
        let l = syn::parse2::<syn::LitInt>(l.clone()?).ok()?;
        n.checked_mul(l.base10_parse::<u64>().ok()?)
    })
}
