//! Fuses the reverse sweep of an accumulating loop into the loop itself.
//!
//! A loop whose reverse only adds into sums is swept forwards over the same iterations (see
//! `ad/reverse/`). When everything that sweep reads is known before the loop runs (as in a mean
//! squared error, whose `1 / n` does not depend on the sum), the two loops become one: the
//! derivative work of each iteration follows its primal work, and the data is traversed once,
//! as a hand-written gradient would.

use crate::ir::{inst_reads as reads, Block, Func, Header, Inst, Loop, Operand, Var};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::collections::BTreeSet;

pub fn fuse(mut func: Func) -> Func {
    let mut insts = std::mem::take(&mut func.body.insts);
    let arrays: HashSet<Var> = func
        .vars
        .iter()
        .enumerate()
        .filter(|(_, i)| i.kind == crate::ir::Kind::Array)
        .map(|(k, _)| Var(k as u32))
        .collect();
    while let Some(next) = fuse_once(&insts, &arrays) {
        insts = next;
    }
    func.body.insts = insts;
    func
}

/// The header's iteration, as text: two loops with the same text run over the same items.
fn iteration(h: &Header) -> Option<(String, Vec<Var>)> {
    match h {
        Header::For {
            iter,
            pos: None,
            walk: crate::ir::Walk::AsWritten,
            ..
        } => Some((iter.tokens.to_string(), iter.refs.clone())),
        _ => None,
    }
}

/// One fusion, if some primal loop and its forward reverse sweep can be fused.
fn fuse_once(insts: &[Inst], arrays: &HashSet<Var>) -> Option<Vec<Inst>> {
    for (pi, p) in insts.iter().enumerate() {
        let Inst::Loop(pl) = p else { continue };
        if pl.exit || pl.count.is_some() || pl.save.is_some() || pl.restore.is_some() {
            continue;
        }
        let Some(piter) = iteration(&pl.header) else {
            continue;
        };
        for (ri, r) in insts.iter().enumerate().skip(pi + 1) {
            let Inst::Loop(rl) = r else { continue };
            if rl.exit || rl.restore.is_some() || rl.save.is_some() || rl.count.is_some() {
                continue;
            }
            if iteration(&rl.header) != Some(piter.clone()) {
                continue;
            }
            if let Some(fused) = try_fuse(insts, pi, pl, ri, rl, arrays) {
                return Some(fused);
            }
        }
    }
    None
}

fn try_fuse(
    insts: &[Inst],
    pi: usize,
    pl: &Loop,
    ri: usize,
    rl: &Loop,
    arrays: &HashSet<Var>,
) -> Option<Vec<Inst>> {
    let (Header::For { pat: ppat, .. }, Header::For { pat: rpat, .. }) = (&pl.header, &rl.header)
    else {
        return None;
    };
    if ppat.tokens.to_string() != rpat.tokens.to_string() || ppat.refs.len() != rpat.refs.len() {
        return None;
    }
    // What the sweep reads from outside itself.
    let mut inside = HashSet::default();
    inside.extend(insts[ri].defs_within());
    let mut needed = BTreeSet::new();
    reads(&insts[ri], &mut needed);
    needed.retain(|v| !inside.contains(v));
    // The loop's results must not be among it, and what lies between the loops that it needs
    // must not depend on them (nor have effects, nor touch arrays the loop writes).
    let mut outs = HashSet::default();
    outs.extend(insts[pi].defs_within());
    let between = &insts[pi + 1..ri];
    // Arrays the loop or what lies between writes: a read of another array moves freely.
    let mut written: HashSet<Var> = writes(&insts[pi]);
    for inst in between {
        written.extend(writes(inst));
    }
    let mut hoist: Vec<usize> = Vec::new();
    let mut want = needed.clone();
    for k in (0..between.len()).rev() {
        let inst = &between[k];
        let defs: Vec<Var> = inst.defs();
        if !defs.iter().any(|d| want.contains(d)) {
            continue;
        }
        let movable = match inst {
            Inst::Op { .. } | Inst::Cond { .. } => !inst.effectful(),
            Inst::Opaque { expr, .. } => !expr.effectful,
            // Zeros shaped like an array depend on its shape only, which no write changes.
            Inst::NewArray {
                init: crate::ir::ArrayInit::Zero { .. } | crate::ir::ArrayInit::ZeroOf(_),
                ..
            } => true,
            Inst::Load { arr, .. } => !written.contains(arr),
            _ => false,
        };
        if !movable {
            return None;
        }
        let mut r = BTreeSet::new();
        reads(inst, &mut r);
        want.extend(r);
        hoist.push(k);
    }
    if want.iter().any(|v| outs.contains(v)) {
        return None;
    }
    hoist.reverse();
    // The sweep moves before what stays between the loops: none of that may touch an array
    // the sweep touches (an adjoint the sweep adds to, zeroed there, say).
    let touched: BTreeSet<Var> = needed
        .iter()
        .filter(|v| arrays.contains(v))
        .copied()
        .collect();
    // Except adding into an array the sweep only adds to (`d_w[0] += s`): the additions
    // commute.
    let only_adds = |a: Var| {
        let mut ok = true;
        crate::ir::walk(&rl.body, &mut |i| match i {
            Inst::Store { arr, op, .. } if *arr == a => ok &= *op != crate::ir::StoreOp::Set,
            // Its own operands only: `walk` visits what a loop or branch holds.
            other => other.for_each_operand(&mut |o| ok &= o.as_var() != Some(a)),
        });
        ok
    };
    for (k, inst) in between.iter().enumerate() {
        if hoist.contains(&k) {
            continue;
        }
        let mut r = BTreeSet::new();
        reads(inst, &mut r);
        if let Inst::Store {
            arr, op, idx, val, ..
        } = inst
        {
            let own_reads_clear = idx
                .iter()
                .chain([val])
                .all(|o| o.as_var().is_none_or(|v| !touched.contains(&v)));
            if *op != crate::ir::StoreOp::Set && own_reads_clear && only_adds(*arr) {
                continue;
            }
        }
        if r.iter().any(|v| touched.contains(v)) {
            return None;
        }
    }
    // The merged loop: the sweep's pattern names are the loop's.
    let map: HashMap<Var, Var> = rpat
        .refs
        .iter()
        .copied()
        .zip(ppat.refs.iter().copied())
        .collect();
    // Iteration k of the merged loop runs the second body right after the first one's
    // iteration k, before the first loop's later iterations: the second must not read (or
    // write) what those write.
    if !independent_iterations(pl, rl, &map, &ppat.refs, arrays) {
        return None;
    }
    let mut rbody: Block = rl.body.clone();
    crate::ir::rename(&mut rbody, &map);
    let mut merged = pl.clone();
    let n = merged.carried.len();
    merged.body.insts.extend(rbody.insts);
    merged.body.yields.truncate(n);
    merged.body.yields.extend(rbody.yields);
    merged.carried.extend(rl.carried.iter().copied());
    share_arrays(&mut merged.body, pl.body.insts.len());
    share_recomputed(&mut merged.body);

    let mut out = Vec::with_capacity(insts.len());
    out.extend(insts[..pi].iter().cloned());
    out.extend(hoist.iter().map(|k| between[*k].clone()));
    out.push(Inst::Loop(Box::new(merged)));
    for (k, inst) in between.iter().enumerate() {
        if !hoist.contains(&k) {
            out.push(inst.clone());
        }
    }
    out.extend(insts[ri + 1..].iter().cloned());
    Some(out)
}

/// Whether running `second`'s iteration k right after `first`'s (renamed by `map`) computes
/// what the two loops compute one after the other. True when `first` has no effect on data
/// (calls on data may write anything), and every array one loop writes that the other uses
/// is used by both only element by element, at the same index, one that names the
/// iteration's own element (a variable of the loop's pattern): then iteration k reads no
/// element another iteration writes. `m[i]` in both is fine; `m[3 - i]`, `m[0]` or a loop
/// over `m` in the second is not.
fn independent_iterations(
    first: &Loop,
    second: &Loop,
    map: &HashMap<Var, Var>,
    pattern: &[Var],
    arrays: &HashSet<Var>,
) -> bool {
    fn effects(b: &Block) -> bool {
        b.insts
            .iter()
            .any(|i| i.effectful() || i.blocks().any(effects))
    }
    if effects(&first.body) {
        return false;
    }
    let mut renamed = second.body.clone();
    crate::ir::rename(&mut renamed, map);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    accesses(&first.body, arrays, &mut a);
    accesses(&renamed, arrays, &mut b);
    let written =
        |acc: &[Access]| -> HashSet<Var> { acc.iter().filter(|x| x.2).map(|x| x.0).collect() };
    let (wa, wb) = (written(&a), written(&b));
    let shared: HashSet<Var> = a
        .iter()
        .chain(&b)
        .map(|x| x.0)
        .filter(|v| {
            (wa.contains(v) && b.iter().any(|x| x.0 == *v))
                || (wb.contains(v) && a.iter().any(|x| x.0 == *v))
        })
        .collect();
    shared.iter().all(|arr| {
        let mut idxs = a.iter().chain(&b).filter(|x| x.0 == *arr).map(|x| &x.1);
        let Some(Some(first_idx)) = idxs.next() else {
            return false;
        };
        let own = first_idx
            .iter()
            .any(|o| o.as_var().is_some_and(|v| pattern.contains(&v)));
        own && idxs.all(|i| i.as_ref() == Some(first_idx))
    })
}

/// An array's use: the array, the index of a load or a store (`None` for any other use, such
/// as code on data or a loop over it), and whether it writes.
type Access = (Var, Option<Vec<Operand>>, bool);

/// The uses of arrays in `b`, nested blocks included.
fn accesses(b: &Block, arrays: &HashSet<Var>, out: &mut Vec<Access>) {
    for inst in &b.insts {
        match inst {
            Inst::Load { arr, idx, .. } => out.push((*arr, Some(idx.clone()), false)),
            Inst::Store { arr, idx, .. } => out.push((*arr, Some(idx.clone()), true)),
            Inst::NewArray { var, .. } => out.push((*var, None, true)),
            // A whole write (`z = src;`, `z += ..`, zeros): every element, and what it reads.
            Inst::Assign { arr, .. } => {
                out.push((*arr, None, true));
                inst.for_each_operand(&mut |o| {
                    if let Operand::Var(v) = o {
                        if arrays.contains(v) && v != arr {
                            out.push((*v, None, false));
                        }
                    }
                });
            }
            other => other.for_each_operand(&mut |o| {
                if let Operand::Var(v) = o {
                    if arrays.contains(v) {
                        out.push((*v, None, false));
                    }
                }
            }),
        }
        for nb in inst.blocks() {
            accesses(nb, arrays, out);
        }
    }
}

/// The sweep recomputed the iteration's values; in one loop they are computed already: each
/// operation, array element read or expression on data computed twice (at the top level of the
/// body) is computed once. A read is shared only while nothing could have written what it
/// reads (a store to its array, a branch, a loop, a call).
fn share_recomputed(body: &mut Block) {
    use crate::ir::OperandKey;
    let mut ops: HashMap<(crate::ir::Op, Vec<OperandKey>), Var> = HashMap::default();
    let mut loads: HashMap<(Var, Vec<OperandKey>), Var> = HashMap::default();
    let mut data: HashMap<(String, Vec<Var>), Var> = HashMap::default();
    let mut map: HashMap<Var, Var> = HashMap::default();
    let mut kept = Vec::with_capacity(body.insts.len());
    for mut inst in std::mem::take(&mut body.insts) {
        crate::ir::rename_inst(&mut inst, &map);
        let seen = match &inst {
            Inst::Op { var, op, args } => {
                let key = (*op, args.iter().map(Operand::key).collect());
                Some((*var, ops.entry(key).or_insert(*var)))
            }
            Inst::Load { var, arr, idx } => {
                let key = (*arr, idx.iter().map(Operand::key).collect());
                Some((*var, loads.entry(key).or_insert(*var)))
            }
            Inst::Opaque { var, expr, ty } if !expr.effectful => {
                let ty = ty.as_ref().map(|t| t.to_string()).unwrap_or_default();
                let key = (format!("{ty}:{}", expr.tokens), expr.refs.clone());
                Some((*var, data.entry(key).or_insert(*var)))
            }
            Inst::Store { arr, .. } | Inst::Assign { arr, .. } => {
                let arr = *arr;
                loads.retain(|(a, _), _| *a != arr);
                data.retain(|(_, refs), _| !refs.contains(&arr));
                None
            }
            Inst::If { .. } | Inst::Loop(_) => {
                loads.clear();
                data.clear();
                None
            }
            other if other.effectful() => {
                loads.clear();
                data.clear();
                None
            }
            _ => None,
        };
        if let Some((var, first)) = seen {
            if *first != var {
                map.insert(var, *first);
                continue;
            }
        }
        kept.push(inst);
    }
    body.insts = kept;
    crate::ir::rename_yields(body, &map);
}

/// The sweep's recomputation of an iteration, in a fused loop, builds again the arrays the
/// primal body built just before it (an MLP's hidden layer, by a loop with a `tanh`). Each
/// instruction that builds or writes an array local to the body (its declaration, a loop or
/// branch filling it, a store), recomputed exactly as the primal body computed it and in the
/// same order, is dropped, and what it defined is read from the primal body. An array is shared
/// only when its whole history matches: every write of the copy and of the original paired, and
/// every remaining read of the copy after the copy's last write.
fn share_arrays(body: &mut Block, primal: usize) {
    let mut banned: HashSet<Var> = HashSet::default();
    loop {
        let Some((map, dropped, bad)) = pair_writes(body, primal, &banned) else {
            return;
        };
        if !bad.is_empty() {
            banned.extend(bad);
            continue;
        }
        let mut kept = Vec::with_capacity(body.insts.len());
        for (k, mut inst) in std::mem::take(&mut body.insts).into_iter().enumerate() {
            if k >= primal && dropped.contains(&(k - primal)) {
                continue;
            }
            if k >= primal {
                crate::ir::rename_inst(&mut inst, &map);
            }
            kept.push(inst);
        }
        body.insts = kept;
        crate::ir::rename_yields(body, &map);
        return;
    }
}

/// Whether `inst` writes or declares an array, or has effects (anywhere inside).
fn touches_arrays(inst: &Inst) -> bool {
    let mut any = false;
    crate::ir::walk_inst(inst, &mut |i| {
        any |= matches!(
            i,
            Inst::Store { .. } | Inst::Assign { .. } | Inst::NewArray { .. }
        ) || i.effectful();
    });
    any
}

/// The arrays `inst` writes or declares, nested blocks included.
fn writes(inst: &Inst) -> HashSet<Var> {
    let mut out = declares(inst);
    crate::ir::walk_inst(inst, &mut |i| {
        if let Inst::Store { arr, .. } | Inst::Assign { arr, .. } = i {
            out.insert(*arr);
        }
    });
    out
}

/// The arrays `inst` declares, nested blocks included.
fn declares(inst: &Inst) -> HashSet<Var> {
    let mut out = HashSet::default();
    crate::ir::walk_inst(inst, &mut |i| {
        if let Inst::NewArray { var, .. } = i {
            out.insert(*var);
        }
    });
    out
}

/// `x` (of the sweep, its reads renamed by `map`) written as `p` (of the primal body), if it is
/// the same instruction with its own definitions renamed to `p`'s.
fn same_as(x: &Inst, p: &Inst, map: &HashMap<Var, Var>) -> Option<Vec<(Var, Var)>> {
    let mut x = x.clone();
    crate::ir::rename_inst(&mut x, map);
    let (xd, pd) = (x.defs_within(), p.defs_within());
    if xd.len() != pd.len() {
        return None;
    }
    let defs: HashMap<Var, Var> = xd.iter().copied().zip(pd.iter().copied()).collect();
    crate::ir::rename_inst(&mut x, &defs);
    x.map_defs(&mut |v| {
        if let Some(n) = defs.get(v) {
            *v = *n;
        }
    });
    (format!("{x:?}") == format!("{p:?}")).then(|| x_top_defs(&xd, &defs, p))
}

/// The pairs of top-level definitions (what later instructions may read) of a matched pair.
fn x_top_defs(xd: &[Var], defs: &HashMap<Var, Var>, p: &Inst) -> Vec<(Var, Var)> {
    let top: HashSet<Var> = p.defs().into_iter().collect();
    xd.iter()
        .filter_map(|x| defs.get(x).filter(|d| top.contains(d)).map(|d| (*x, *d)))
        .collect()
}

/// Pairs the sweep's array-writing instructions with the primal body's, in order: the renaming
/// of the sweep's definitions, the sweep instructions to drop (by position after `primal`), and
/// the sweep's arrays whose histories did not match (to ban, then pair again).
#[allow(clippy::type_complexity)]
fn pair_writes(
    body: &Block,
    primal: usize,
    banned: &HashSet<Var>,
) -> Option<(HashMap<Var, Var>, HashSet<usize>, Vec<Var>)> {
    let (p, s) = body.insts.split_at(primal);
    // Arrays from outside the body that it writes: what the sweep's copy reads of them may not
    // be what the primal body read (not so in a fused loop, which keeps nothing; checked all the
    // same).
    let mut declared: HashSet<Var> = HashSet::default();
    let mut written: HashSet<Var> = HashSet::default();
    for inst in p {
        written.extend(writes(inst));
        declared.extend(declares(inst));
    }
    if written.iter().any(|a| !declared.contains(a)) {
        return None;
    }
    let mut map: HashMap<Var, Var> = HashMap::default();
    let mut dropped: HashSet<usize> = HashSet::default();
    let mut paired_p: HashSet<usize> = HashSet::default();
    let mut arrays: Vec<(Var, Var)> = Vec::new();
    let mut pp = 0;
    for (k, x) in s.iter().enumerate() {
        if !touches_arrays(x) {
            continue;
        }
        let xw = writes(x);
        if x.effectful() || xw.iter().any(|a| banned.contains(a)) {
            break;
        }
        let mut found = None;
        for (j, pi) in p.iter().enumerate().skip(pp) {
            if let Some(pairs) = same_as(x, pi, &map) {
                found = Some((j, pairs));
                break;
            }
            if touches_arrays(pi) {
                break;
            }
        }
        let Some((j, pairs)) = found else { break };
        // Only arrays declared in the body and paired here, or declared inside `x`, may be
        // written.
        let mut own = declares(x);
        own.extend(arrays.iter().map(|a| a.0));
        if xw.iter().any(|a| !own.contains(a)) {
            break;
        }
        if let Inst::NewArray { var, .. } = x {
            if let Some(pv) = pairs.iter().find(|(a, _)| a == var).map(|(_, b)| *b) {
                arrays.push((*var, pv));
            }
        }
        map.extend(pairs);
        dropped.insert(k);
        paired_p.insert(j);
        pp = j + 1;
    }
    if dropped.is_empty() {
        return None;
    }
    // Each shared array's history: all its writes paired, on both sides, and the sweep's
    // remaining reads of it after its last write.
    let mut bad = Vec::new();
    for (xa, pa) in &arrays {
        let p_ok = p
            .iter()
            .enumerate()
            .all(|(j, i)| paired_p.contains(&j) || !writes(i).contains(pa));
        let mut last_write = 0;
        let mut s_ok = true;
        for (k, i) in s.iter().enumerate() {
            if writes(i).contains(xa) {
                s_ok &= dropped.contains(&k);
                last_write = k;
            }
        }
        for (k, i) in s.iter().enumerate().take(last_write) {
            if dropped.contains(&k) {
                continue;
            }
            let mut r = BTreeSet::new();
            reads(i, &mut r);
            s_ok &= !r.contains(xa);
        }
        if !(p_ok && s_ok) {
            bad.push(*xa);
        }
    }
    Some((map, dropped, bad))
}
