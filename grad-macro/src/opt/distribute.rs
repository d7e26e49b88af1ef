//! Loop distribution: a loop over `a..b` that adds into an array at several offsets of its
//! counter (`d[i - 1] += t; d[i] -= 2.0 * t; d[i + 1] += t;`, the reverse sweep of a stencil)
//! is split into one loop per offset, each recomputing the few values its additions need,
//! followed by the rest of the loop.
//!
//! In the one loop, iteration `i + 1` adds into the element iteration `i` has just added to,
//! so each addition waits for the one before and nothing vectorises. Split by offset, each
//! loop adds into distinct elements, which LLVM vectorises (the heat equation's sweep runs
//! about 1.6 times as fast).
//!
//! The result is the same to the bit. Element `j` receives, in the one loop, the additions of
//! iteration `j - c` for each offset `c`, iterations in increasing order, so offsets in
//! decreasing order, and those of one iteration in the body's order. The split loops run in
//! decreasing order of offset, each keeping its additions in the body's order: element `j`
//! receives the same additions in the same order.
//!
//! Split only when every step is plainly safe:
//! - the loop is `for i in a..b` as written (increasing, each `i` once), with no exit, no
//!   storage for a sweep, no nested branch or loop, and no code with effects;
//! - the array is touched in the loop only by those additions, each at one index `i + c`
//!   with `c` a literal;
//! - what an addition needs is a few pure instructions of the body (arithmetic, index code,
//!   loads) that read no value carried from one iteration to the next, and load only arrays
//!   the loop does not write, or writes only at `[i]` after the load (an adjoint each
//!   iteration reads, then zeroes): the split loops, which run first, see what the loop did.

use crate::ir::{
    own_position, placeholder, Block, Func, Inst, Kind, Loop, Op, Operand, StoreOp, Var,
};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// The most instructions a split loop recomputes for its additions.
const MAX_RECOMPUTED: usize = 6;

/// Splits every loop it can; whether any was.
pub fn distribute(func: &mut Func) -> bool {
    let one_dim: HashSet<Var> = func
        .arrays
        .iter()
        .filter(|(v, i)| func.info(**v).kind == Kind::Array && i.dims() == 1)
        .map(|(v, _)| *v)
        .collect();
    let mut changed = false;
    crate::ir::walk_blocks_mut(&mut func.body, &mut |b| {
        let mut k = 0;
        while k < b.insts.len() {
            let split = match &b.insts[k] {
                Inst::Loop(l) => split(l, &one_dim),
                _ => None,
            };
            match split {
                Some(loops) => {
                    let n = loops.len();
                    b.insts.splice(k..=k, loops);
                    k += n;
                    changed = true;
                }
                None => k += 1,
            }
        }
    });
    changed
}

/// The offset `c` of an index `i + c` (`i - c`, `i`) of the loop's counter `own`, where `defs`
/// maps the body's definitions to their positions.
fn offset(o: &Operand, own: Var, body: &Block, defs: &HashMap<Var, usize>) -> Option<i64> {
    let v = o.as_var()?;
    if v == own {
        return Some(0);
    }
    let Inst::Opaque { expr, .. } = &body.insts[*defs.get(&v)?] else {
        return None;
    };
    if expr.effectful || expr.refs.as_slice() != [own] {
        return None;
    }
    let syn::Expr::Binary(b) = syn::parse2::<syn::Expr>(expr.tokens.clone()).ok()? else {
        return None;
    };
    let syn::Expr::Path(p) = &*b.left else {
        return None;
    };
    if !p.path.is_ident(&placeholder(0)) {
        return None;
    }
    let syn::Expr::Lit(syn::ExprLit {
        lit: syn::Lit::Int(n),
        ..
    }) = &*b.right
    else {
        return None;
    };
    let n: i64 = n.base10_parse().ok()?;
    match b.op {
        syn::BinOp::Add(_) => Some(n),
        syn::BinOp::Sub(_) => Some(-n),
        _ => None,
    }
}

/// The loops `l` splits into (the split loops, then what remains), or `None` to keep it.
fn split(l: &Loop, one_dim: &HashSet<Var>) -> Option<Vec<Inst>> {
    if l.exit || l.count.is_some() || l.save.is_some() || l.restore.is_some() {
        return None;
    }
    let own = own_position(&l.header)?;
    let body = &l.body;
    if body
        .insts
        .iter()
        .any(|i| i.blocks().next().is_some() || i.effectful())
    {
        return None;
    }
    let defs: HashMap<Var, usize> = body
        .insts
        .iter()
        .enumerate()
        .flat_map(|(k, i)| i.defs().into_iter().map(move |v| (v, k)))
        .collect();

    // The arrays touched only by additions at offsets of `own`: each addition's position and
    // offset.
    let mut adds: HashMap<Var, Vec<(usize, i64)>> = HashMap::default();
    let mut other: HashSet<Var> = body.yields.iter().filter_map(Operand::as_var).collect();
    for (k, inst) in body.insts.iter().enumerate() {
        if let Inst::Store {
            arr,
            idx,
            op: StoreOp::Add | StoreOp::Sub,
            val,
            ..
        } = inst
        {
            if let ([x], Some(c)) = (
                idx.as_slice(),
                idx.first().and_then(|x| offset(x, own, body, &defs)),
            ) {
                if one_dim.contains(arr) && x.as_var() != Some(*arr) && val.as_var() != Some(*arr) {
                    adds.entry(*arr).or_default().push((k, c));
                    continue;
                }
            }
        }
        inst.for_each_operand(&mut |o| {
            if let Some(v) = o.as_var() {
                other.insert(v);
            }
        });
    }
    adds.retain(|a, _| !other.contains(a));
    let several = |s: &Vec<(usize, i64)>| s.iter().any(|&(_, c)| c != s[0].1);
    if !adds.values().any(several) {
        return None;
    }

    // Each array the loop writes: the positions of its writes, or `None` when some write is
    // not a store at `[own]`.
    let mut writes: HashMap<Var, Option<Vec<usize>>> = HashMap::default();
    for (k, inst) in body.insts.iter().enumerate() {
        match inst {
            Inst::Store { arr, idx, .. } if !adds.contains_key(arr) => {
                let w = writes.entry(*arr).or_insert_with(|| Some(Vec::new()));
                match (w, idx.as_slice()) {
                    (Some(ks), [Operand::Var(i)]) if *i == own => ks.push(k),
                    (w, _) => *w = None,
                }
            }
            Inst::Assign { arr, .. } => {
                writes.insert(*arr, None);
            }
            _ => {}
        }
    }
    let phis: HashSet<Var> = l.carried.iter().map(|c| c.phi).collect();

    // What one addition needs, in body positions; `None` when it cannot be recomputed.
    let slice = |at: usize| -> Option<Vec<usize>> {
        let mut need = vec![at];
        let mut todo = vec![at];
        while let Some(k) = todo.pop() {
            let mut bad = false;
            body.insts[k].for_each_operand(&mut |o| match o.as_var() {
                Some(v) if phis.contains(&v) => bad = true,
                Some(v) => {
                    if let Some(&d) = defs.get(&v) {
                        if !need.contains(&d) {
                            need.push(d);
                            todo.push(d);
                        }
                    }
                }
                None => {}
            });
            if bad {
                return None;
            }
        }
        for &k in &need[1..] {
            let ok = match &body.insts[k] {
                Inst::Op { op, .. } => matches!(op, Op::Neg | Op::Add | Op::Sub | Op::Mul),
                Inst::Opaque { expr, .. } => !expr.effectful,
                Inst::Load { arr, idx, .. } => match writes.get(arr) {
                    None => true,
                    Some(None) => false,
                    Some(Some(ks)) => {
                        idx.as_slice() == [Operand::Var(own)] && ks.iter().all(|&w| k < w)
                    }
                },
                _ => false,
            };
            if !ok {
                return None;
            }
        }
        (need.len() <= MAX_RECOMPUTED + 1).then_some(need)
    };

    // Group the additions by offset, largest first.
    let mut groups: Vec<(i64, Vec<usize>)> = Vec::new();
    for s in adds.values() {
        for &(k, c) in s {
            match groups.iter_mut().find(|(g, _)| *g == c) {
                Some((_, ks)) => ks.push(k),
                None => groups.push((c, vec![k])),
            }
        }
    }
    groups.sort_by_key(|g| std::cmp::Reverse(g.0));
    let mut out = Vec::new();
    let mut moved = HashSet::default();
    for (_, stores) in &groups {
        let mut keep: Vec<usize> = Vec::new();
        for &k in stores {
            for d in slice(k)? {
                if !keep.contains(&d) {
                    keep.push(d);
                }
            }
            moved.insert(k);
        }
        keep.sort_unstable();
        out.push(Inst::Loop(Box::new(Loop {
            header: l.header.clone(),
            carried: Vec::new(),
            body: Block {
                insts: keep.iter().map(|&k| body.insts[k].clone()).collect(),
                yields: Vec::new(),
            },
            exit: false,
            count: None,
            save: None,
            restore: None,
        })));
    }
    let mut rest = l.clone();
    rest.body.insts = body
        .insts
        .iter()
        .enumerate()
        .filter(|(k, _)| !moved.contains(k))
        .map(|(_, i)| i.clone())
        .collect();
    out.push(Inst::Loop(Box::new(rest)));
    Some(out)
}
