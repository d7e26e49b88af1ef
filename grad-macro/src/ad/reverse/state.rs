//! Arrays as state: what a loop's sweep must see of the arrays it reads.
//!
//! A loop's sweep recomputes each iteration after the whole forward pass has run (see
//! `loops.rs`), so an array the loop reads may by then hold later values. Three ways to give the
//! recomputation what the forward loop saw, chosen per loop and array:
//! - the loop does not write the array, but code after it does (before the sweep reaches the
//!   loop): a copy made once before the loop, which the loop reads instead ([`snapshot_reads`]);
//! - the loop writes the array and reads it only by element loads at the top level of its body:
//!   each iteration keeps the loaded values ([`Keep::Loads`]);
//! - otherwise (a read in a branch, an inner loop, a copy, code over data): each iteration keeps
//!   the whole array as it entered, and the sweep's iteration starts from that copy
//!   ([`Keep::Snapshot`]).

use super::Rev;
use crate::ir::{ArrayInit, Block, Inst, Kind, Name, Operand, Var, VarInfo};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

impl Rev {
    /// A new array of `a`'s shape, a local (not a reference), holding what the sweep keeps of
    /// `a`: it shares `a`'s adjoint.
    pub(super) fn kept_copy(&mut self, a: Var) -> Var {
        let info = self.b.info(a).clone();
        let name = match &info.name {
            Name::Source(_) => info.name.clone(),
            _ => Name::Fixed("kept"),
        };
        let copy = self.b.new_var(Kind::Array, name, info.active, info.span);
        if let Some(shape) = self.b.arrays.get(&a).cloned() {
            self.b.arrays.insert(
                copy,
                crate::ir::ArrayInfo {
                    by_ref: false,
                    ..shape
                },
            );
        }
        self.aliases.insert(copy, a);
        copy
    }
}

/// How a loop keeps an array it writes and reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Keep {
    /// The values of its element loads, per iteration.
    Loads,
    /// The whole array as each iteration entered it.
    Snapshot,
}

/// The arrays `inst` reads (element loads, copies, iteration, code over data, what a nested
/// block yields: an array a branch exports), nested blocks included; a write's target and a
/// zero array's shape do not count.
pub(super) fn array_reads(inst: &Inst, vars: &[VarInfo], out: &mut HashSet<Var>) {
    let own = |i: &Inst, out: &mut HashSet<Var>| {
        let mut add = |o: &Operand| {
            if let Operand::Var(v) = o {
                if vars[v.0 as usize].kind == Kind::Array {
                    out.insert(*v);
                }
            }
        };
        match i {
            Inst::Store { idx, val, .. } => {
                idx.iter().for_each(&mut add);
                add(val);
            }
            Inst::Assign { src, scale, .. } => {
                add(src);
                if let Some(s) = scale {
                    add(s);
                }
            }
            Inst::NewArray {
                init: ArrayInit::Zero { .. },
                ..
            } => {}
            other => other.for_each_operand(&mut add),
        }
    };
    crate::ir::walk_inst(inst, &mut |i| own(i, out));
    for b in inst.blocks() {
        crate::ir::walk_blocks(b, &mut |nb| {
            for y in &nb.yields {
                if let Operand::Var(v) = y {
                    if vars[v.0 as usize].kind == Kind::Array {
                        out.insert(*v);
                    }
                }
            }
        });
    }
}

/// The arrays `inst` writes (element stores, whole writes), nested blocks included.
pub(super) fn array_writes(inst: &Inst, out: &mut HashSet<Var>) {
    let mut own = |i: &Inst| {
        if let Inst::Store { arr, .. } | Inst::Assign { arr, .. } = i {
            out.insert(*arr);
        }
    };
    crate::ir::walk_inst(inst, &mut own);
}

/// The arrays declared at the top level of `before` that nothing in `after` writes (and nothing
/// there has effects): a loop between the two leaves them as the sweep finds them.
pub(super) fn settled(before: &[Inst], after: &[Inst]) -> HashSet<Var> {
    let mut effects = false;
    let mut written = HashSet::default();
    for inst in after {
        array_writes(inst, &mut written);
        crate::ir::walk_inst(inst, &mut |i| effects |= i.effectful());
    }
    if effects {
        return HashSet::default();
    }
    before
        .iter()
        .filter_map(|i| match i {
            Inst::NewArray { var, .. } if !written.contains(var) => Some(*var),
            _ => None,
        })
        .collect()
}

/// The arrays `block` declares, nested blocks included.
fn declared_in(block: &Block, out: &mut HashSet<Var>) {
    crate::ir::walk(block, &mut |i| {
        if let Inst::NewArray { var, .. } = i {
            out.insert(*var);
        }
    });
}

/// How the loop `body` keeps the arrays declared outside it that it writes and reads.
pub(super) fn keeps(body: &Block, vars: &[VarInfo]) -> Vec<(Var, Keep)> {
    let mut inner = HashSet::default();
    declared_in(body, &mut inner);
    let mut written = HashSet::default();
    let mut nested_reads = HashSet::default();
    let mut loads = HashSet::default();
    for inst in &body.insts {
        array_writes(inst, &mut written);
        match inst {
            Inst::Load { arr, idx, .. } => {
                loads.insert(*arr);
                for o in idx {
                    if let Operand::Var(v) = o {
                        if vars[v.0 as usize].kind == Kind::Array {
                            nested_reads.insert(*v);
                        }
                    }
                }
            }
            other => array_reads(other, vars, &mut nested_reads),
        }
    }
    let mut out: Vec<(Var, Keep)> = written
        .into_iter()
        .filter(|a| !inner.contains(a))
        .filter_map(|a| {
            if nested_reads.contains(&a) {
                Some((a, Keep::Snapshot))
            } else if loads.contains(&a) {
                Some((a, Keep::Loads))
            } else {
                None
            }
        })
        .collect();
    out.sort_by_key(|(a, _)| *a);
    out
}

/// Before each loop that reads an array it does not write, but that code after it writes
/// before the sweep reaches the loop (later in the function, or later in the body of the loop
/// around it), a copy of the array, which the loop reads instead. The copy shares the array's
/// adjoint (`aliases`).
pub(super) fn snapshot_reads(rev: &mut Rev, body: &mut Block) {
    // Positions in preorder: where each array is written, and each loop's span and the loop
    // directly around it.
    #[derive(Default)]
    struct Scan {
        n: usize,
        writes: HashMap<Var, Vec<usize>>,
        loops: Vec<(usize, usize, Option<usize>)>,
    }
    fn scan(b: &Block, s: &mut Scan, parent: Option<usize>) {
        for inst in &b.insts {
            s.n += 1;
            if let Inst::Store { arr, .. } | Inst::Assign { arr, .. } = inst {
                s.writes.entry(*arr).or_default().push(s.n);
            }
            if let Inst::Loop(l) = inst {
                let k = s.loops.len();
                s.loops.push((s.n, 0, parent));
                scan(&l.body, s, Some(k));
                s.loops[k].1 = s.n;
            } else {
                for nb in inst.blocks() {
                    scan(nb, s, parent);
                }
            }
        }
    }
    let mut s = Scan::default();
    scan(body, &mut s, None);
    let vars = rev.b.vars.clone();
    // For each loop in preorder: the arrays to copy before it.
    let mut plans: Vec<Vec<Var>> = Vec::with_capacity(s.loops.len());
    let mut k = 0;
    collect(body, &mut |l| {
        let (_, end, parent) = s.loops[k];
        // The sweep reaches the loop after undoing what follows it up to the end of the loop
        // around it (of the function, at the top).
        let region = parent.map_or(usize::MAX, |p| s.loops[p].1);
        k += 1;
        let inst = Inst::Loop(Box::new(l.clone()));
        let (mut reads, mut writes, mut inner) =
            (HashSet::default(), HashSet::default(), HashSet::default());
        array_reads(&inst, &vars, &mut reads);
        array_writes(&inst, &mut writes);
        declared_in(&l.body, &mut inner);
        let mut plan: Vec<Var> = reads
            .into_iter()
            .filter(|a| !writes.contains(a) && !inner.contains(a))
            .filter(|a| {
                s.writes
                    .get(a)
                    .is_some_and(|ws| ws.iter().any(|&w| w > end && w <= region))
            })
            .collect();
        plan.sort();
        plans.push(plan);
    });
    let mut k = 0;
    apply(rev, body, &plans, &mut k);
}

fn collect(b: &Block, f: &mut impl FnMut(&crate::ir::Loop)) {
    for inst in &b.insts {
        if let Inst::Loop(l) = inst {
            f(l);
        }
        for nb in inst.blocks() {
            collect(nb, f);
        }
    }
}

fn apply(rev: &mut Rev, b: &mut Block, plans: &[Vec<Var>], k: &mut usize) {
    let insts = std::mem::take(&mut b.insts);
    for mut inst in insts {
        if let Inst::Loop(_) = &inst {
            let plan = &plans[*k];
            *k += 1;
            let mut map = HashMap::default();
            for a in plan {
                let mut reads = HashSet::default();
                array_reads(&inst, &rev.b.vars, &mut reads);
                if !reads.contains(a) {
                    continue;
                }
                let copy = rev.kept_copy(*a);
                b.insts.push(Inst::NewArray {
                    var: copy,
                    init: ArrayInit::Copy(*a),
                });
                map.insert(*a, copy);
            }
            crate::ir::rename_inst(&mut inst, &map);
        }
        for nb in inst.blocks_mut() {
            apply(rev, nb, plans, k);
        }
        b.insts.push(inst);
    }
}

/// Drops writes to the arrays in `inner` that nothing reads afterwards in `b` (the sweep's
/// recomputation of an iteration writes arrays its reverse never reads again).
pub(super) fn drop_dead_array_writes(b: &mut Block, inner: &HashSet<Var>, vars: &[VarInfo]) {
    let mut live: HashSet<Var> = HashSet::default();
    for y in &b.yields {
        if let Operand::Var(v) = y {
            live.insert(*v);
        }
    }
    let mut kept = Vec::with_capacity(b.insts.len());
    for mut inst in std::mem::take(&mut b.insts).into_iter().rev() {
        let mut reads = HashSet::default();
        array_reads(&inst, vars, &mut reads);
        match &mut inst {
            Inst::Store { arr, .. } | Inst::Assign { arr, .. }
                if inner.contains(arr) && !live.contains(arr) =>
            {
                continue;
            }
            other => {
                // Inside a branch or loop: writes to arrays read neither after it nor in it.
                let dead: HashSet<Var> = inner
                    .iter()
                    .filter(|a| !live.contains(a) && !reads.contains(a))
                    .copied()
                    .collect();
                if !dead.is_empty() {
                    for nb in other.blocks_mut() {
                        crate::ir::walk_blocks_mut(nb, &mut |nb| {
                            nb.insts.retain(|i| {
                                !matches!(i, Inst::Store { arr, .. } | Inst::Assign { arr, .. } if dead.contains(arr))
                            })
                        });
                    }
                }
            }
        }
        live.extend(reads);
        kept.push(inst);
    }
    kept.reverse();
    b.insts = kept;
}

/// Removes copies of arrays that nothing writes: a copy `x` of `y` (`let x = y;`) that is never
/// written is read as `y` itself when nothing writes `y` after it in its block, or as an earlier
/// unwritten copy of `y` in the same block when nothing wrote `y` between (the sweep's copies
/// kept for a loop's reads, and a snapshot taken twice in an iteration).
pub(super) fn propagate_copies(
    body: &mut Block,
    params: &[Var],
    arrays: &HashMap<Var, crate::ir::ArrayInfo>,
) {
    let mut written = HashSet::default();
    for inst in &body.insts {
        array_writes(inst, &mut written);
    }
    // A parameter taken by reference is not a drop-in for an array value, nor is an array
    // whose shape the macro does not know (data passed in: the copy's adjoint takes its shape
    // from the copy).
    let not_drop_in = |v: &Var| {
        (params.contains(v) && arrays.get(v).is_some_and(|i| i.by_ref)) || !arrays.contains_key(v)
    };
    fn go(b: &mut Block, written: &HashSet<Var>, not_drop_in: &dyn Fn(&Var) -> bool) {
        let mut k = 0;
        while k < b.insts.len() {
            if let Inst::NewArray {
                var: x,
                init: ArrayInit::Copy(y),
            } = b.insts[k]
            {
                if !written.contains(&x) && !not_drop_in(&y) {
                    let writes_y = |insts: &[Inst]| {
                        let mut w = HashSet::default();
                        insts.iter().for_each(|i| array_writes(i, &mut w));
                        w.contains(&y)
                    };
                    let target = if !writes_y(&b.insts[k + 1..]) {
                        Some(y)
                    } else {
                        (0..k).rev().find_map(|j| match b.insts[j] {
                            Inst::NewArray {
                                var: x2,
                                init: ArrayInit::Copy(y2),
                            } if y2 == y
                                && !written.contains(&x2)
                                && !writes_y(&b.insts[j + 1..k]) =>
                            {
                                Some(x2)
                            }
                            _ => None,
                        })
                    };
                    if let Some(t) = target {
                        let mut map = HashMap::default();
                        map.insert(x, t);
                        b.insts.remove(k);
                        for i in &mut b.insts[k..] {
                            crate::ir::rename_inst(i, &map);
                        }
                        crate::ir::rename_yields(b, &map);
                        continue;
                    }
                }
            }
            for nb in b.insts[k].blocks_mut() {
                go(nb, written, not_drop_in);
            }
            k += 1;
        }
    }
    go(body, &written, &not_drop_in);
}
