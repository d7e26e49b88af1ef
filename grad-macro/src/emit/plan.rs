//! Planning before printing: which values are printed where they are used, and the names of the rest.

use super::*;
use crate::ir::{Block, Header, Inst, Kind, Name, Operand, Var};
use proc_macro2::Span;
use quote::format_ident;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

impl Emitter<'_> {
    pub(super) fn plan_inlining(&mut self, block: &Block) {
        // Uses at this block's own level (not in nested blocks).
        let mut local: HashMap<Var, usize> = HashMap::default();
        for inst in &block.insts {
            inst.for_each_operand(&mut |o| {
                if let Operand::Var(v) = o {
                    *local.entry(*v).or_default() += 1;
                }
            });
        }
        for y in &block.yields {
            if let Operand::Var(v) = y {
                *local.entry(*v).or_default() += 1;
            }
        }
        // Where each variable is used at this level, for loads: a load moves to its use only
        // over instructions that cannot write memory.
        let mut used_at: HashMap<Var, usize> = HashMap::default();
        for (k, inst) in block.insts.iter().enumerate() {
            inst.for_each_operand(&mut |o| {
                if let Operand::Var(v) = o {
                    used_at.insert(*v, k);
                }
            });
        }
        // What stops a read from moving down to its use: anything that may write memory, and
        // for a read of an array the body writes, a store.
        let barrier = |i: &Inst, reads_written: bool| match i {
            Inst::Op { .. } | Inst::Load { .. } | Inst::NewArray { .. } => false,
            Inst::Cond { cond, .. } => cond.effectful(),
            Inst::Opaque { expr, .. } => expr.effectful,
            Inst::Store { .. } | Inst::Assign { .. } => reads_written,
            Inst::If { .. } | Inst::Loop(_) => true,
        };
        for (k, inst) in block.insts.iter().enumerate() {
            match inst {
                // A read (an array element, an expression on data), moved to its one use in a
                // later instruction of this block (not its yields, printed after everything)
                // when nothing between may write what it reads.
                Inst::Load { var, .. } | Inst::Opaque { var, .. } => {
                    let read = match inst {
                        Inst::Load { arr, idx, .. } => {
                            Some((Inlined::Load(*arr, idx.clone()), self.written.contains(arr)))
                        }
                        Inst::Opaque { expr, ty: None, .. }
                            if !expr.effectful && !self.func.info(*var).mutable =>
                        {
                            Some((
                                Inlined::Opaque(expr.clone()),
                                expr.refs.iter().any(|r| self.written.contains(r)),
                            ))
                        }
                        _ => None,
                    };
                    let once = self.uses.get(var) == Some(&1) && local.get(var) == Some(&1);
                    let temp = self.func.info(*var).name == Name::Temp;
                    if let (Some((inlined, w)), true, true, Some(&at)) =
                        (read, once, temp, used_at.get(var))
                    {
                        // Through the operations it is inlined into, a read may move further,
                        // to the block's yields (a carried value's new value is printed last):
                        // a read of memory the body writes stays before every write after it.
                        let upto = if w { block.insts.len() } else { at };
                        if !block.insts[k + 1..upto].iter().any(|i| barrier(i, w)) {
                            self.inline.insert(*var, inlined);
                        }
                    }
                }
                Inst::Op { var, op, args } => {
                    // Derivative temporaries, and primal intermediates the reverse sweep does
                    // not read: the primal reads as the user wrote it, with a `let` for each
                    // value the gradient needs. (Not a value of literals alone, which would
                    // have no type where it is used.) Used once, in this block.
                    let inlinable = match self.func.info(*var).name {
                        Name::Anon => true,
                        Name::Temp => !untyped(*op, args),
                        // The adjoint of an intermediate that has no name of its own.
                        Name::Adjoint(of) | Name::Tangent(of) => {
                            matches!(self.func.info(of).name, Name::Temp | Name::Anon)
                                && !untyped(*op, args)
                        }
                        _ => false,
                    };
                    let once = self.uses.get(var) == Some(&1) && local.get(var) == Some(&1);
                    // A long chain (the adjoint of a value used a thousand times) is cut into
                    // `let`s: expressions stay short to read and shallow for rustc.
                    let depth = 1 + args
                        .iter()
                        .filter_map(|a| a.as_var().and_then(|v| self.depth.get(&v)))
                        .max()
                        .copied()
                        .unwrap_or(0);
                    if inlinable && once && depth <= MAX_INLINE_DEPTH {
                        self.inline.insert(*var, Inlined::Op(*op, args.clone()));
                        self.depth.insert(*var, depth);
                    }
                }
                Inst::If { then, els, .. } => {
                    self.plan_inlining(then);
                    self.plan_inlining(els);
                }
                Inst::Loop(l) => {
                    self.plan_inlining(&l.body);
                    // A carried variable's new value, computed for it alone, is written in its
                    // assignment (`loss = loss + t;`).
                    let defs: HashMap<Var, Inlined> = l
                        .body
                        .insts
                        .iter()
                        .filter_map(|i| match i {
                            Inst::Op { var, op, args } => {
                                Some((*var, Inlined::Op(*op, args.clone())))
                            }
                            _ => None,
                        })
                        .collect();
                    for (c, y) in l.carried.iter().zip(&l.body.yields) {
                        if let Operand::Var(v) = y {
                            let once = self.uses.get(v) == Some(&1);
                            if let (true, Some(d @ Inlined::Op(_, args))) = (once, defs.get(v)) {
                                if args.contains(&Operand::Var(c.phi)) {
                                    self.inline.insert(*v, d.clone());
                                }
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The variables an operand's printed expression reads (through inlined temporaries).
    pub(super) fn reads(&self, o: &Operand, out: &mut HashSet<Var>) {
        if let Operand::Var(v) = o {
            match self.inline.get(v) {
                Some(Inlined::Op(_, args)) => args.iter().for_each(|a| self.reads(a, out)),
                Some(Inlined::Load(arr, idx)) => {
                    out.insert(*arr);
                    idx.iter().for_each(|a| self.reads(a, out));
                }
                Some(Inlined::Opaque(o)) => {
                    for r in &o.refs {
                        self.reads(&Operand::Var(*r), out);
                    }
                }
                None => {
                    out.insert(*v);
                }
            }
        }
    }

    /// What `v` is called: its own name, or its emitted name with `d_` (an adjoint) or `_dot`
    /// (a tangent) added, or, for a value printed without a name (the gradient a companion
    /// does not return, whose tangent it does), the same built from that value's base.
    pub(super) fn base_name(&self, v: Var) -> Option<String> {
        let of = |o: &Var| {
            self.names
                .get(o)
                .map(|id| id.to_string())
                .or_else(|| self.base_name(*o))
                .map(|s| s.trim_start_matches('_').to_string())
        };
        match &self.func.info(v).name {
            Name::Source(s) => Some(s.clone()),
            Name::Fixed(s) => Some(s.to_string()),
            Name::Adjoint(o) => of(o).map(|s| format!("d_{s}")),
            Name::Tangent(o) => of(o).map(|s| format!("{s}_dot")),
            Name::Temp | Name::Anon | Name::Export(_) => None,
        }
    }

    pub(super) fn name_one(&mut self, v: Var, namer: &mut Namer) {
        let info = self.func.info(v);
        let base = self.base_name(v);
        let id = match base {
            Some(b) => namer.named(&b, matches!(info.name, Name::Source(_))),
            None if info.kind == Kind::Bool => namer.cond(),
            None => namer.temp(),
        };
        self.names
            .insert(v, format_ident!("{}", id, span = Span::mixed_site()));
    }

    pub(super) fn name_block(&mut self, block: &Block, namer: &mut Namer) {
        for inst in &block.insts {
            if let Inst::Loop(l) = inst {
                if let Some(s) = &l.save {
                    self.name_one(s.buf, namer);
                }
                // A carried variable is one mutable variable: before, during and after.
                for c in &l.carried {
                    self.name_one(c.phi, namer);
                    if let Some(id) = self.names.get(&c.phi).cloned() {
                        self.names.insert(c.out, id);
                    }
                }
                if let Header::For { pat, pos, .. } = &l.header {
                    if let Some(p) = pos {
                        self.name_one(*p, namer);
                    }
                    for v in &pat.refs {
                        self.name_one(*v, namer);
                    }
                }
                if let Some(r) = &l.restore {
                    for v in &r.vars {
                        self.name_one(*v, namer);
                    }
                }
                self.name_block(&l.body, namer);
                continue;
            }
            for v in inst.defs() {
                if self.inline.contains_key(&v) || matches!(self.func.info(v).name, Name::Export(_))
                {
                    continue;
                }
                self.name_one(v, namer);
            }
            if let Inst::If {
                then, els, outs, ..
            } = inst
            {
                self.name_block(then, namer);
                self.name_block(els, namer);
                // An exported value keeps the name it has inside its branch (shadowing is
                // harmless: the name is unique to that value).
                for v in outs {
                    if let Name::Export(inner) = self.func.info(*v).name {
                        if let Some(id) = self.names.get(&inner).cloned() {
                            self.names.insert(*v, id);
                        }
                    }
                }
            }
        }
    }
}

pub(super) struct Namer<'r> {
    pub(super) reserved: &'r HashSet<String>,
    pub(super) taken: HashSet<String>,
    pub(super) temps: usize,
    pub(super) conds: usize,
}

impl Namer<'_> {
    /// `base`, or `base_1`, `base_2`, ...: the first not yet given and not the user's (a
    /// user's own variable may keep its name).
    pub(super) fn named(&mut self, base: &str, own: bool) -> String {
        let ok = |n: &str, s: &Self| {
            !s.taken.contains(n) && (own && n == base || !s.reserved.contains(n))
        };
        let mut name = base.to_string();
        let mut k = 0;
        while !ok(&name, self) {
            k += 1;
            name = format!("{base}_{k}");
        }
        self.taken.insert(name.clone());
        name
    }

    pub(super) fn temp(&mut self) -> String {
        self.counter('t')
    }

    pub(super) fn cond(&mut self) -> String {
        self.counter('c')
    }

    pub(super) fn counter(&mut self, prefix: char) -> String {
        loop {
            let n = if prefix == 't' {
                &mut self.temps
            } else {
                &mut self.conds
            };
            let name = format!("{prefix}{n}");
            *n += 1;
            if !self.taken.contains(&name) && !self.reserved.contains(&name) {
                self.taken.insert(name.clone());
                return name;
            }
        }
    }
}

pub(super) fn written(block: &Block, out: &mut HashSet<Var>) {
    crate::ir::walk(block, &mut |inst| match inst {
        Inst::Store { arr, .. } | Inst::Assign { arr, .. } => {
            out.insert(*arr);
        }
        Inst::Loop(l) => {
            if let Some(s) = &l.save {
                out.insert(s.buf);
            }
        }
        _ => {}
    });
}
