//! How a loop's sweep runs: its header backwards, the storage of what iterations keep (on the stack up to a bound, else the heap), and the effects a sweep must not repeat.

use crate::ir::{
    placeholder, Block, Elem, Header, Inst, Opaque, Operand, Storage, StoreOp, Var, Walk,
};
use proc_macro2::{Ident, Span};
use quote::quote;
use rustc_hash::FxHashSet as HashSet;

/// The header of a loop's reverse sweep: the iterations of `h` last first (`forward`: in
/// their order), with their positions bound to `pos` when given.
pub(super) fn sweep_header(
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
            let count = count.filter(|_| exit);
            // In order, all of them and without positions: the loop as written.
            let walk = match (forward, pos.is_some(), count) {
                (true, false, None) => Walk::AsWritten,
                (forward, enumerate, count) => Walk::Sweep {
                    reverse: !forward,
                    enumerate,
                    count,
                },
            };
            Header::For {
                pat: op(pat_tokens, pat_refs),
                iter: iter.clone(),
                walk,
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
                walk: Walk::AsWritten,
                elems: Vec::new(),
                trip: None,
                pos: None,
            }
        }
    }
}

/// Whether the reversed iterations in `body` may run in any order: they write arrays
/// declared outside only by adding (no overwrite, no zeroing: `d[i] = 0.0`, a whole `d = ..`),
/// and do not read what they add to (element loads, copies, code over data given the array),
/// except an array each iteration reads and writes only at its own element (`own`, the
/// variable of a loop over a range: `t = d[i]; d[i] = 0.0;`), which no two iterations share.
pub(super) fn order_free(body: &Block, vars: &[crate::ir::VarInfo], own: Option<Var>) -> bool {
    let exempt = own.map_or_else(HashSet::default, |p| own_elements(body, p, vars));
    let mut inner = HashSet::default();
    let (mut read, mut added) = (HashSet::default(), HashSet::default());
    crate::ir::walk(body, &mut |i| {
        if let Inst::NewArray { var, .. } = i {
            inner.insert(*var);
        }
    });
    let mut overwrites = false;
    crate::ir::walk(body, &mut |i| match i {
        Inst::Store { arr, op, .. } | Inst::Assign { arr, op, .. } => {
            if *op == StoreOp::Set && !inner.contains(arr) && !exempt.contains(arr) {
                overwrites = true;
            }
            added.insert(*arr);
        }
        _ => {}
    });
    for i in &body.insts {
        super::state::array_reads(i, vars, &mut read);
    }
    !overwrites
        && !added
            .iter()
            .any(|a| read.contains(a) && !inner.contains(a) && !exempt.contains(a))
}

/// The arrays `body` uses only element by element at `[own]` (loads and stores), nowhere else.
fn own_elements(body: &Block, own: Var, vars: &[crate::ir::VarInfo]) -> HashSet<Var> {
    let (mut ok, mut other) = (HashSet::default(), HashSet::default());
    let is_array = |v: &Var| vars[v.0 as usize].kind == crate::ir::Kind::Array;
    crate::ir::walk(body, &mut |i| {
        match i {
            Inst::Load { arr, idx, .. } | Inst::Store { arr, idx, .. }
                if idx.as_slice() == [Operand::Var(own)] =>
            {
                ok.insert(*arr);
            }
            Inst::Load { arr, .. } | Inst::Store { arr, .. } | Inst::Assign { arr, .. } => {
                other.insert(*arr);
            }
            _ => {}
        }
        // Any other mention of an array (a whole read, an index, code over data given it).
        i.for_each_operand(&mut |o| {
            if let Some(v) = o.as_var().filter(is_array) {
                let element =
                    matches!(i, Inst::Load { arr, .. } | Inst::Store { arr, .. } if *arr == v);
                if !element {
                    other.insert(v);
                }
            }
        });
    });
    ok.retain(|a| !other.contains(a));
    ok
}

/// The largest trip count whose carried values are kept on the stack.
pub(super) const STACK_TRIPS: u64 = 1024;

/// The most floats of whole arrays an iteration keeps on the stack, over all iterations.
pub(super) const STACK_ARRAY_FLOATS: u64 = 8192;

/// Storage for a loop's carried values: on the stack for a small constant trip count, else one
/// allocation of the trip count (known before the loop runs) or a growing one (`while`).
/// `arrays`: the floats of the whole arrays each iteration keeps (`None`: not known); the
/// stack holds at most [`STACK_ARRAY_FLOATS`] of them.
pub(super) fn storage(h: &Header, arrays: Option<u64>) -> Storage {
    match h {
        Header::For { trip: Some(n), .. } => {
            match syn::parse2::<syn::LitInt>(n.clone()).map(|l| l.base10_parse::<u64>()) {
                Ok(Ok(k))
                    if k <= STACK_TRIPS
                        && arrays.is_some_and(|a| a.saturating_mul(k) <= STACK_ARRAY_FLOATS) =>
                {
                    Storage::Stack(n.clone())
                }
                _ => Storage::Heap(n.clone()),
            }
        }
        Header::For { iter, .. } => Storage::Iter(iter.clone()),
        Header::Loop => Storage::Growing,
    }
}

/// Removes the calls on data nested in `b`'s branches and inner loops (they ran in the forward
/// pass); returns what they defined, to check that nothing reads it.
pub(super) fn strip_effects(b: &mut Block) -> Vec<Var> {
    let mut out = Vec::new();
    for i in &mut b.insts {
        for nb in i.blocks_mut() {
            crate::ir::walk_blocks_mut(nb, &mut |nb| {
                out.extend(
                    nb.insts
                        .iter()
                        .filter(|i| i.effectful())
                        .flat_map(Inst::defs),
                );
                nb.insts.retain(|i| !i.effectful());
            });
        }
    }
    out
}

/// Every array declared in `b`, nested blocks included.
pub(super) fn arrays_in(b: &Block, out: &mut HashSet<Var>) {
    crate::ir::walk(b, &mut |i| {
        if let Inst::NewArray { var, .. } = i {
            out.insert(*var);
        }
    });
}

pub(super) fn drop_outer_stores(b: &mut Block, inner: &HashSet<Var>) {
    crate::ir::walk_blocks_mut(b, &mut |b| {
        b.insts
            .retain(|i| !matches!(i, Inst::Store { arr, .. } if !inner.contains(arr)))
    });
}
