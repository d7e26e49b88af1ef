//! Reads of data that a call may change in place: kept from the forward pass, never read again.
//!
//! The reverse sweep computes again, at its own time, what it needs of data code that has no
//! side effects (`seen.len()`, `c.get()`, `v[0]`, `n as f64`): in a loop's recomputed
//! iterations, in a reversed branch. That is only right if the data still holds what it held
//! when the forward pass read it. A call with side effects (`bump(&mut n)`, `seen.push(v)`,
//! `c.set(..)`, `v.rotate_left(1)`, a method of the user's own) may have changed it since: the
//! sweep would then read the state the function ended in, and the gradient would be silently
//! wrong (`for &v in xs { bump(&mut n); s += x * v * n as f64 }` would differentiate with the
//! last `n` in every iteration).
//!
//! So:
//! - wherever a call with effects may run after such a read and before the sweep (later in the
//!   body, or in a later iteration of a loop around it), the read is treated as an effect of
//!   its own: it runs once, in order, and the sweep reads what it gave (kept per iteration in a
//!   loop, or refused where the sweep cannot keep it);
//! - a call of a `#[grad]` function that is passed data a call can change (a `&Cell`, a `&mut`,
//!   data declared `mut`, `self`) is an effect itself: it may change that data, so it runs
//!   once and is never called again by the sweep;
//! - a loop whose iterable reads data that an effect may change before the sweep iterates it
//!   again (after the loop, or in its own body) is refused.
//!
//! Data that cannot change is left alone: the function's float, integer, `bool` and
//! float-array parameters not declared `mut`, the float values loop headers bind, and values
//! the macro tracks itself.

use crate::front::ctxt::Ctxt;
use crate::ir::{Block, Cond, Header, Inst, Kind, Name, Opaque, Var, VarInfo};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// Pins the reads of changeable data that a later effect could make stale (and the calls of
/// `#[grad]` functions given such data) as effects; refuses a loop iterating data that may
/// change before its sweep. `plain` are the variables whose value cannot change (see above),
/// `pulled` the calls of `#[grad]` functions.
pub fn pin_state_reads(
    cx: &Ctxt,
    body: &mut Block,
    vars: &[VarInfo],
    (plain, pulled, self_changes): (&HashSet<Var>, &[Var], bool),
) {
    let mut fixed = plain.clone();
    fixed.extend(pulled.iter().copied());
    header_bound(body, vars, &mut fixed);
    let mut state = State {
        vars,
        fixed,
        roots: HashMap::default(),
        self_changes,
    };
    let pulled: HashSet<Var> = pulled.iter().copied().collect();
    state.find_roots(body);
    state.pin_calls(body, &pulled);
    if !has_effects(body) {
        return;
    }
    state.walk(cx, body, false, &HashSet::default());
}

/// The root standing for `self` (a method's receiver, which may hold cells).
const SELF: Var = Var(u32::MAX);

struct State<'a> {
    vars: &'a [VarInfo],
    /// Variables whose value cannot change under a call: plain parameters, what calls of
    /// `#[grad]` functions return, and the float values loop headers bind.
    fixed: HashSet<Var>,
    /// For a variable of data computed from others, the named variables (places) it was
    /// computed from: what a call that changes it changes.
    roots: HashMap<Var, HashSet<Var>>,
    /// A `&mut self` or `mut self` method: its calls may change `self`. Behind `&self` only a
    /// cell could change, and a `#[grad]` method called on it, or a loop over its fields, is
    /// taken not to (reads of it are pinned all the same).
    self_changes: bool,
}

impl State<'_> {
    /// A named variable of data that is not fixed: a local or a parameter a call can be lent
    /// with `&mut`, or that may hold a cell. (An unnamed intermediate is a value computed once;
    /// if what it read could change, its own definition is pinned.)
    fn changeable(&self, v: Var) -> bool {
        let info = &self.vars[v.0 as usize];
        info.kind == Kind::Opaque
            && matches!(info.name, Name::Source(_))
            && !self.fixed.contains(&v)
    }

    /// Whether `o` reads data a call may change, directly or through values computed from it
    /// (`let r = &cells; r[0].get()`), or `self`.
    fn reads_state(&self, o: &Opaque) -> bool {
        !self.roots_of(o).is_empty() || mentions_self(&o.tokens)
    }

    /// Calls of `#[grad]` functions given changeable data (through the values they are passed:
    /// `f(x, &cell)` passes a reference computed from `cell`): effects.
    fn pin_calls(&self, b: &mut Block, pulled: &HashSet<Var>) {
        crate::ir::walk_mut(b, &mut |inst| {
            if let Inst::Opaque { var, expr, .. } = inst {
                if pulled.contains(var) && !self.roots_of(expr).is_empty() {
                    expr.effectful = true;
                }
            }
        });
    }

    /// The places each variable of data was computed from.
    fn find_roots(&mut self, b: &Block) {
        for inst in &b.insts {
            if let Inst::Opaque { var, expr, .. } = inst {
                let mut r = self.roots_of(expr);
                if self.changeable(*var) {
                    r.insert(*var);
                }
                self.roots.insert(*var, r);
            }
            for nb in inst.blocks() {
                self.find_roots(nb);
            }
        }
    }

    /// The places `o` reads (`SELF` for `self`).
    fn roots_of(&self, o: &Opaque) -> HashSet<Var> {
        let mut out = HashSet::default();
        // A fixed value (what a `#[grad]` call returned) is a value, whatever it was computed
        // from: not a way to the data.
        for v in o.refs.iter().filter(|v| !self.fixed.contains(v)) {
            match self.roots.get(v) {
                Some(r) => out.extend(r.iter().copied()),
                None if self.changeable(*v) => {
                    out.insert(*v);
                }
                None => {}
            }
        }
        if self.self_changes && mentions_self(&o.tokens) {
            out.insert(SELF);
        }
        out
    }

    /// The places the effects of `i` may change (nested blocks included).
    fn touched(&self, i: &Inst, out: &mut HashSet<Var>) {
        match i {
            Inst::Opaque { expr, .. } if expr.effectful => out.extend(self.roots_of(expr)),
            Inst::Cond { cond, .. } => self.touched_cond(cond, out),
            _ => {}
        }
        for nb in i.blocks() {
            for j in &nb.insts {
                self.touched(j, out);
            }
        }
    }

    fn touched_cond(&self, c: &Cond, out: &mut HashSet<Var>) {
        match c {
            Cond::And(a, b) | Cond::Or(a, b) => {
                self.touched_cond(a, out);
                self.touched_cond(b, out);
            }
            Cond::Not(a) => self.touched_cond(a, out),
            Cond::Opaque(o) if o.effectful => out.extend(self.roots_of(o)),
            _ => {}
        }
    }

    /// `after`: an effect may run after this block, before the sweep reads what it computed;
    /// `after_touched`: the places such effects may change.
    fn walk(&self, cx: &Ctxt, b: &mut Block, after: bool, after_touched: &HashSet<Var>) {
        let effects: Vec<bool> = b.insts.iter().map(inst_has_effects).collect();
        let mut later = after;
        let mut later_touched = after_touched.clone();
        for (k, inst) in b.insts.iter_mut().enumerate().rev() {
            let mut touched = HashSet::default();
            self.touched(inst, &mut touched);
            match inst {
                Inst::Loop(l) => {
                    let again = later || has_effects(&l.body);
                    let mut changed = later_touched.clone();
                    changed.extend(touched.iter().copied());
                    if let Header::For { iter, .. } = &l.header {
                        if !self.roots_of(iter).is_disjoint(&changed) {
                            let at = iter
                                .tokens
                                .clone()
                                .into_iter()
                                .next()
                                .map_or_else(proc_macro2::Span::call_site, |t| t.span());
                            cx.syn_error(syn::Error::new(
                                at,
                                "this loop's iterable reads data that a call in the function may change before the reverse sweep iterates it again (later, or in the loop's own body): iterate over a copy taken for the loop (`let items = v.clone();`), or over data that does not change",
                            ));
                        }
                    }
                    self.walk(cx, &mut l.body, again, &changed);
                }
                Inst::If { then, els, .. } => {
                    self.walk(cx, then, later, &later_touched);
                    self.walk(cx, els, later, &later_touched);
                }
                Inst::Opaque { expr, .. } if later && !expr.effectful && self.reads_state(expr) => {
                    expr.effectful = true;
                }
                Inst::Cond { cond, .. } if later => self.pin_cond(cond),
                _ => {}
            }
            later |= effects[k];
            later_touched.extend(touched);
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
    // A loop's iterable is evaluated again by the sweep whatever it calls (an adapter like
    // `.zip(..)` counts as a call): not an effect between a read and the sweep.
    let own = |i: &Inst| match i {
        Inst::Opaque { expr, .. } => expr.effectful,
        Inst::Cond { cond, .. } => cond.effectful(),
        _ => false,
    };
    own(i) || i.blocks().any(|b| crate::ir::any(b, &mut |i| own(i)))
}

fn has_effects(b: &Block) -> bool {
    b.insts.iter().any(inst_has_effects)
}

/// The values loop headers bind that cannot change: the floats and `bool`s of their patterns,
/// the data they bind from fixed data, positions, elements of arrays, carried values. (A
/// pattern's data may otherwise be a reference to a cell: `for c in cells { c.set(..) }`.)
fn header_bound(b: &Block, vars: &[VarInfo], out: &mut HashSet<Var>) {
    crate::ir::walk(b, &mut |i| {
        if let Inst::Loop(l) = i {
            if let Header::For {
                pat,
                pos,
                elems,
                iter,
                ..
            } = &l.header
            {
                // Data a pattern binds is fixed when the iterable reads only fixed data (a
                // range, a float array parameter); over anything else it may be a reference
                // to a cell.
                let over_fixed = iter
                    .refs
                    .iter()
                    .all(|v| vars[v.0 as usize].kind != Kind::Opaque || out.contains(v))
                    && !mentions_self(&iter.tokens);
                out.extend(
                    pat.refs
                        .iter()
                        .copied()
                        .filter(|v| over_fixed || vars[v.0 as usize].kind != Kind::Opaque),
                );
                out.extend(pos.iter().copied());
                out.extend(elems.iter().map(|e| e.item));
            }
            for c in &l.carried {
                out.insert(c.phi);
                out.insert(c.out);
            }
            out.extend(l.count.iter().copied());
        }
    });
}
