//! Reads of data that a call may change in place: kept from the forward pass, never read again.
//!
//! The reverse sweep computes again, at its own time, what it needs of data code that has no
//! side effects (`seen.len()`, `c.get()`, `v[0]`, `n as f64`): in a loop's recomputed
//! iterations, in a reversed branch. That is only right if the data still holds what it held
//! when the forward pass read it. A call with side effects (`bump(&mut n)`, `seen.push(v)`,
//! `c.set(..)`, `v.rotate_left(1)`, a method of the user's own) may have changed it since: the
//! sweep would then read the state the function ended in, and the gradient would be silently
//! wrong (`for &v in xs { bump(&mut n); s += x * n as f64 }` would differentiate with the last
//! `n` in every iteration).
//!
//! So wherever a call with effects may run after such a read and before the sweep (later in
//! the body, or in a later iteration of a loop around it), the read is treated as an effect of
//! its own: it runs once, in order, and the sweep reads what it gave (kept per iteration in a
//! loop, or refused where the sweep cannot keep it). Data that cannot change is left alone: the
//! function's float, integer, `bool` and float-array parameters, loop variables, and values
//! the macro tracks itself. A loop whose iterable reads data that may change before the sweep
//! is refused.

use crate::ctxt::Ctxt;
use crate::ir::{Block, Cond, Header, Inst, Kind, Name, Opaque, Var, VarInfo};
use rustc_hash::FxHashSet as HashSet;

/// Marks the reads of changeable data that a later effect could make stale as effects
/// themselves; refuses a loop iterating such data. `plain` are the variables whose value
/// cannot change: parameters that are floats, integers, `bool`s, arrays and slices of floats,
/// and what calls of `#[grad]` functions return.
pub fn pin_state_reads(
    cx: &Ctxt,
    body: &mut Block,
    vars: &[VarInfo],
    (plain, params): (&HashSet<Var>, &[Var]),
) {
    if !has_effects(body) {
        return;
    }
    let mut fixed = plain.clone();
    header_bound(body, &mut fixed);
    let params = params.iter().copied().collect();
    let state = State {
        vars,
        fixed,
        params,
    };
    state.walk(cx, body, false);
}

struct State<'a> {
    vars: &'a [VarInfo],
    /// Variables whose value cannot change under a call: plain parameters and what loop
    /// headers bind.
    fixed: HashSet<Var>,
    params: HashSet<Var>,
}

impl State<'_> {
    /// Whether `o` reads data a call may change: a named variable of data that is not fixed
    /// (a local, a parameter: what a call can be lent with `&mut`, or that may hold a cell), or
    /// `self`. An unnamed intermediate is a value computed once (if what it read could change,
    /// its own definition is pinned).
    fn reads_state(&self, o: &Opaque) -> bool {
        o.refs.iter().any(|v| {
            let info = &self.vars[v.0 as usize];
            info.kind == Kind::Opaque
                && matches!(info.name, Name::Source(_))
                && !self.fixed.contains(v)
        }) || mentions_self(&o.tokens)
    }

    /// `after`: an effect may run after this block, before the sweep reads what it computed.
    fn walk(&self, cx: &Ctxt, b: &mut Block, after: bool) {
        let effects: Vec<bool> = b.insts.iter().map(inst_has_effects).collect();
        let mut later = after;
        for (k, inst) in b.insts.iter_mut().enumerate().rev() {
            match inst {
                Inst::Loop(l) => {
                    let again = later || has_effects(&l.body);
                    // (A parameter a loop iterates is taken to hold still: it could change
                    // only through a cell inside it. Its reads in the body are pinned.)
                    if let Header::For { iter, .. } = &l.header {
                        let local = iter.refs.iter().any(|v| {
                            let info = &self.vars[v.0 as usize];
                            info.kind == Kind::Opaque
                                && matches!(info.name, Name::Source(_))
                                && !self.fixed.contains(v)
                                && !self.params.contains(v)
                        });
                        if again && local {
                            let at = iter
                                .tokens
                                .clone()
                                .into_iter()
                                .next()
                                .map_or_else(proc_macro2::Span::call_site, |t| t.span());
                            cx.syn_error(syn::Error::new(
                                at,
                                "this loop's iterable reads data that a call in the function may change in place before the reverse sweep iterates it again: iterate over a copy taken for the loop (`let items = v.clone();`), or over data that does not change",
                            ));
                        }
                    }
                    self.walk(cx, &mut l.body, again);
                }
                Inst::If { then, els, .. } => {
                    self.walk(cx, then, later);
                    self.walk(cx, els, later);
                }
                Inst::Opaque { expr, .. } if later && !expr.effectful && self.reads_state(expr) => {
                    expr.effectful = true;
                }
                Inst::Cond { cond, .. } if later => self.pin_cond(cond),
                _ => {}
            }
            later |= effects[k];
        }
    }

    fn pin_cond(&self, c: &mut Cond) {
        match c {
            Cond::And(a, b) | Cond::Or(a, b) => {
                self.pin_cond(a);
                self.pin_cond(b);
            }
            Cond::Not(a) => self.pin_cond(a),
            Cond::Opaque(o) => {
                if !o.effectful && self.reads_state(o) {
                    o.effectful = true;
                }
            }
            Cond::Val(_) => {}
        }
    }
}

/// Whether the tokens name `self` (a method's receiver, which may hold cells).
fn mentions_self(t: &proc_macro2::TokenStream) -> bool {
    t.clone().into_iter().any(|tt| match tt {
        proc_macro2::TokenTree::Ident(id) => id == "self",
        proc_macro2::TokenTree::Group(g) => mentions_self(&g.stream()),
        _ => false,
    })
}

/// Calls with side effects in `i`, nested blocks included (writes to the arrays the macro
/// tracks are modelled, not effects on data).
fn inst_has_effects(i: &Inst) -> bool {
    match i {
        Inst::Opaque { expr, .. } => expr.effectful,
        Inst::Cond { cond, .. } => cond.effectful(),
        Inst::If { then, els, .. } => has_effects(then) || has_effects(els),
        // A loop's iterable is evaluated again by the sweep whatever it calls (an adapter like
        // `.zip(..)` counts as a call): not an effect between a read and the sweep.
        Inst::Loop(l) => has_effects(&l.body),
        _ => false,
    }
}

fn has_effects(b: &Block) -> bool {
    b.insts.iter().any(inst_has_effects)
}

/// What loop headers bind (patterns, positions, elements) and carry: values of the iteration,
/// not places a call can change.
fn header_bound(b: &Block, out: &mut HashSet<Var>) {
    for i in &b.insts {
        if let Inst::Loop(l) = i {
            if let Header::For {
                pat, pos, elems, ..
            } = &l.header
            {
                out.extend(pat.refs.iter().copied());
                out.extend(pos.iter().copied());
                out.extend(elems.iter().map(|e| e.item));
            }
            for c in &l.carried {
                out.insert(c.phi);
                out.insert(c.out);
            }
            out.extend(l.count.iter().copied());
        }
        for nb in i.blocks() {
            header_bound(nb, out);
        }
    }
}
