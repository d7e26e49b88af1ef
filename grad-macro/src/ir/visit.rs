//! Visiting an instruction's operands, definitions and nested blocks.

use super::*;

impl Inst {
    /// The variables this instruction defines.
    pub fn defs(&self) -> Vec<Var> {
        match self {
            Inst::Op { var, .. } | Inst::Opaque { var, .. } | Inst::Cond { var, .. } => vec![*var],
            Inst::If { outs, .. } => outs.clone(),
            Inst::Load { var, .. } | Inst::NewArray { var, .. } => vec![*var],
            Inst::Store { .. } | Inst::Assign { .. } => Vec::new(),
            Inst::Loop(l) => {
                let mut v: Vec<Var> = l.carried.iter().map(|c| c.out).collect();
                if let Some(s) = &l.save {
                    v.push(s.buf);
                }
                v
            }
        }
    }

    /// Calls `f` on every operand this instruction reads directly (not inside nested blocks).
    pub fn for_each_operand(&self, f: &mut impl FnMut(&Operand)) {
        match self {
            Inst::Op { args, .. } => args.iter().for_each(f),
            Inst::Opaque { expr, .. } => expr.refs.iter().for_each(|v| f(&Operand::Var(*v))),
            Inst::Cond { cond, .. } => cond.for_each_operand(f),
            Inst::If { cond, .. } => f(cond),
            Inst::Load { arr, idx, .. } => {
                f(&Operand::Var(*arr));
                idx.iter().for_each(f);
            }
            Inst::Store { arr, idx, val, .. } => {
                f(&Operand::Var(*arr));
                idx.iter().for_each(&mut *f);
                f(val);
            }
            Inst::NewArray { init, .. } => match init {
                // Only the shape of `like` is used (a slice's length: a parameter, always there).
                ArrayInit::Zero { .. } => {}
                ArrayInit::Repeat { elem, .. } => f(elem),
                ArrayInit::List(xs) => xs.iter().for_each(f),
                ArrayInit::Copy(src) | ArrayInit::ZeroOf(src) => f(&Operand::Var(*src)),
                ArrayInit::Pulled {
                    value,
                    args,
                    partials,
                } => {
                    f(value);
                    args.iter().chain(partials).for_each(f);
                }
            },
            Inst::Assign {
                arr, src, scale, ..
            } => {
                f(&Operand::Var(*arr));
                f(src);
                if let Some(s) = scale {
                    f(s);
                }
            }
            Inst::Loop(l) => {
                if let Header::For {
                    iter, elems, walk, ..
                } = &l.header
                {
                    iter.refs.iter().for_each(|v| f(&Operand::Var(*v)));
                    if let Walk::Sweep { count: Some(n), .. } = walk {
                        f(&Operand::Var(*n));
                    }
                    for e in elems {
                        f(&Operand::Var(e.arr));
                        e.prefix.iter().for_each(&mut *f);
                    }
                }
                l.carried.iter().for_each(|c| f(&c.init));
                if let Some(Save {
                    storage: Storage::Iter(it),
                    ..
                }) = &l.save
                {
                    it.refs.iter().for_each(|v| f(&Operand::Var(*v)));
                }
                if let Some(r) = &l.restore {
                    f(&Operand::Var(r.buf));
                }
            }
        }
    }

    /// The blocks nested in this instruction.
    pub fn blocks(&self) -> impl Iterator<Item = &Block> {
        let (a, b) = match self {
            Inst::If { then, els, .. } => (Some(then), Some(els)),
            Inst::Loop(l) => (Some(&l.body), None),
            _ => (None, None),
        };
        a.into_iter().chain(b)
    }

    /// Rewrites every operand this instruction reads, nested blocks included.
    pub fn map_operands(&mut self, f: &mut impl FnMut(&mut Operand)) {
        match self {
            Inst::Op { args, .. } => args.iter_mut().for_each(f),
            Inst::Opaque { expr, .. } => expr.map_refs(f),
            Inst::Cond { cond, .. } => cond.map_operands(f),
            Inst::If {
                cond, then, els, ..
            } => {
                f(cond);
                then.map_operands(f);
                els.map_operands(f);
            }
            Inst::Load { arr, idx, .. } => {
                map_var(arr, f);
                idx.iter_mut().for_each(f);
            }
            Inst::Store { arr, idx, val, .. } => {
                map_var(arr, f);
                idx.iter_mut().for_each(&mut *f);
                f(val);
            }
            Inst::NewArray { init, .. } => match init {
                ArrayInit::Zero { like } => map_var(like, f),
                ArrayInit::Repeat { elem, .. } => f(elem),
                ArrayInit::List(xs) => xs.iter_mut().for_each(f),
                ArrayInit::Copy(src) | ArrayInit::ZeroOf(src) => map_var(src, f),
                ArrayInit::Pulled {
                    value,
                    args,
                    partials,
                } => {
                    f(value);
                    args.iter_mut().chain(partials.iter_mut()).for_each(f);
                }
            },
            Inst::Assign {
                arr, src, scale, ..
            } => {
                map_var(arr, f);
                f(src);
                if let Some(s) = scale {
                    f(s);
                }
            }
            Inst::Loop(l) => {
                if let Header::For {
                    iter, elems, walk, ..
                } = &mut l.header
                {
                    iter.map_refs(f);
                    if let Walk::Sweep { count: Some(n), .. } = walk {
                        map_var(n, f);
                    }
                    for e in elems {
                        map_var(&mut e.arr, f);
                        e.prefix.iter_mut().for_each(&mut *f);
                    }
                }
                for c in &mut l.carried {
                    f(&mut c.init);
                }
                if let Some(Save {
                    storage: Storage::Iter(it),
                    ..
                }) = &mut l.save
                {
                    it.map_refs(f);
                }
                if let Some(r) = &mut l.restore {
                    map_var(&mut r.buf, f);
                }
                l.body.map_operands(f);
            }
        }
    }
}

pub(super) fn map_var(v: &mut Var, f: &mut impl FnMut(&mut Operand)) {
    let mut o = Operand::Var(*v);
    f(&mut o);
    if let Operand::Var(n) = o {
        *v = n;
    }
}

impl Opaque {
    pub fn map_refs(&mut self, f: &mut impl FnMut(&mut Operand)) {
        let record = self.is_record();
        let mut k = 0;
        while k < self.refs.len() {
            let mut o = Operand::Var(self.refs[k]);
            f(&mut o);
            match o {
                Operand::Var(n) => self.refs[k] = n,
                // Renaming maps variables to variables; user code never refers to a literal,
                // but a trace's record may (an adjoint found constant): it is written in.
                Operand::Lit(x) if record => {
                    let lit = f64_tokens(x);
                    self.tokens = splice(std::mem::take(&mut self.tokens), k, &lit);
                    self.refs.remove(k);
                    continue;
                }
                _ => {}
            }
            k += 1;
        }
    }

    /// Whether this is a `_trace` companion's record (`ad::trace::record`).
    pub fn is_record(&self) -> bool {
        matches!(self.tokens.clone().into_iter().next(), Some(proc_macro2::TokenTree::Ident(i)) if i == "__grad_trace")
    }
}

/// `x` as an `f64` expression.
fn f64_tokens(x: f64) -> proc_macro2::TokenStream {
    if x.is_nan() {
        quote::quote!(::core::f64::NAN)
    } else if x.is_infinite() && x > 0.0 {
        quote::quote!(::core::f64::INFINITY)
    } else if x.is_infinite() {
        quote::quote!(::core::f64::NEG_INFINITY)
    } else if x < 0.0 || (x == 0.0 && x.is_sign_negative()) {
        let l = proc_macro2::Literal::f64_suffixed(-x);
        quote::quote!((-#l))
    } else {
        let l = proc_macro2::Literal::f64_suffixed(x);
        quote::quote!(#l)
    }
}

/// `tokens` with the placeholder of reference `k` replaced by `with`, and those of later
/// references renumbered (reference `k` is gone).
fn splice(
    tokens: proc_macro2::TokenStream,
    k: usize,
    with: &proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    use proc_macro2::{Group, Ident, TokenTree};
    let mut out = proc_macro2::TokenStream::new();
    for t in tokens {
        match t {
            TokenTree::Group(g) => {
                let mut n = Group::new(g.delimiter(), splice(g.stream(), k, with));
                n.set_span(g.span());
                out.extend([TokenTree::Group(n)]);
            }
            TokenTree::Ident(i) => {
                let s = i.to_string();
                match s
                    .strip_prefix("__grad_ref_")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(j) if j == k => out.extend(with.clone()),
                    Some(j) if j > k => out.extend([TokenTree::Ident(Ident::new(
                        &super::placeholder(j - 1),
                        i.span(),
                    ))]),
                    _ => out.extend([TokenTree::Ident(i)]),
                }
            }
            other => out.extend([other]),
        }
    }
    out
}

impl Cond {
    /// Contains a call (which may have side effects).
    pub fn effectful(&self) -> bool {
        match self {
            Cond::And(a, b) | Cond::Or(a, b) => a.effectful() || b.effectful(),
            Cond::Not(a) => a.effectful(),
            Cond::Val(_) => false,
            Cond::Opaque(o) => o.effectful,
        }
    }

    pub fn for_each_operand(&self, f: &mut impl FnMut(&Operand)) {
        match self {
            Cond::And(a, b) | Cond::Or(a, b) => {
                a.for_each_operand(f);
                b.for_each_operand(f);
            }
            Cond::Not(a) => a.for_each_operand(f),
            Cond::Val(o) => f(o),
            Cond::Opaque(e) => e.refs.iter().for_each(|v| f(&Operand::Var(*v))),
        }
    }
    pub fn map_operands(&mut self, f: &mut impl FnMut(&mut Operand)) {
        match self {
            Cond::And(a, b) | Cond::Or(a, b) => {
                a.map_operands(f);
                b.map_operands(f);
            }
            Cond::Not(a) => a.map_operands(f),
            Cond::Val(o) => f(o),
            Cond::Opaque(e) => e.map_refs(f),
        }
    }
}

impl Block {
    pub fn map_operands(&mut self, f: &mut impl FnMut(&mut Operand)) {
        for inst in &mut self.insts {
            inst.map_operands(f);
        }
        self.yields.iter_mut().for_each(f);
    }
}

impl Inst {
    /// Code over data that may have side effects (a call): it must run exactly as often as in
    /// the original.
    pub fn effectful(&self) -> bool {
        match self {
            Inst::Opaque { expr, .. } => expr.effectful,
            Inst::Cond { cond, .. } => cond.effectful(),
            _ => false,
        }
    }

    /// Every variable this instruction defines, nested blocks included, in the order
    /// [`Inst::map_defs`] visits them.
    pub fn defs_within(&self) -> Vec<Var> {
        let mut out = Vec::new();
        self.clone().map_defs(&mut |v| out.push(*v));
        out
    }

    /// Calls `f` on every variable this instruction defines, nested blocks included.
    pub fn map_defs(&mut self, f: &mut impl FnMut(&mut Var)) {
        match self {
            Inst::Op { var, .. }
            | Inst::Opaque { var, .. }
            | Inst::Cond { var, .. }
            | Inst::Load { var, .. }
            | Inst::NewArray { var, .. } => f(var),
            Inst::Store { .. } | Inst::Assign { .. } => {}
            Inst::If {
                then, els, outs, ..
            } => {
                outs.iter_mut().for_each(&mut *f);
                then.insts.iter_mut().for_each(|i| i.map_defs(f));
                els.insts.iter_mut().for_each(|i| i.map_defs(f));
            }
            Inst::Loop(l) => {
                for c in &mut l.carried {
                    f(&mut c.phi);
                    f(&mut c.out);
                }
                if let Some(c) = &mut l.count {
                    f(c);
                }
                if let Header::For {
                    pat, elems, pos, ..
                } = &mut l.header
                {
                    if let Some(p) = pos {
                        f(p);
                    }
                    pat.refs.iter_mut().for_each(&mut *f);
                    for e in elems {
                        f(&mut e.item);
                        if let Some(a) = &mut e.at {
                            f(a);
                        }
                    }
                }
                if let Some(s) = &mut l.save {
                    f(&mut s.buf);
                    s.vals.iter_mut().for_each(&mut *f);
                }
                if let Some(r) = &mut l.restore {
                    r.vars.iter_mut().for_each(&mut *f);
                }
                l.body.insts.iter_mut().for_each(|i| i.map_defs(f));
            }
        }
    }
}

impl Inst {
    /// The blocks nested in this instruction, to change.
    pub fn blocks_mut(&mut self) -> impl Iterator<Item = &mut Block> {
        let (a, b) = match self {
            Inst::If { then, els, .. } => (Some(then), Some(els)),
            Inst::Loop(l) => (Some(&mut l.body), None),
            _ => (None, None),
        };
        a.into_iter().chain(b)
    }
}

/// Calls `f` on every instruction of `block` and of the blocks nested in it, in program order:
/// an `if` or a loop before the instructions it holds, an `if`'s arm `then` before `else`.
pub fn walk<'a>(block: &'a Block, f: &mut impl FnMut(&'a Inst)) {
    for inst in &block.insts {
        f(inst);
        for b in inst.blocks() {
            walk(b, f);
        }
    }
}

/// Calls `f` on `inst` and on every instruction of the blocks it holds, as [`walk`] does.
pub fn walk_inst<'a>(inst: &'a Inst, f: &mut impl FnMut(&'a Inst)) {
    f(inst);
    for b in inst.blocks() {
        walk(b, f);
    }
}

/// [`walk`], with each instruction changeable (before the blocks it holds are visited).
pub fn walk_mut(block: &mut Block, f: &mut impl FnMut(&mut Inst)) {
    for inst in &mut block.insts {
        f(inst);
        for b in inst.blocks_mut() {
            walk_mut(b, f);
        }
    }
}

/// Calls `f` on `block` and on every block nested in it, outer before inner.
pub fn walk_blocks<'a>(block: &'a Block, f: &mut impl FnMut(&'a Block)) {
    f(block);
    for inst in &block.insts {
        for b in inst.blocks() {
            walk_blocks(b, f);
        }
    }
}

/// [`walk_blocks`], with each block changeable (before the blocks nested in what remains of
/// it are visited: `f` may drop instructions).
pub fn walk_blocks_mut(block: &mut Block, f: &mut impl FnMut(&mut Block)) {
    f(block);
    for inst in &mut block.insts {
        for b in inst.blocks_mut() {
            walk_blocks_mut(b, f);
        }
    }
}

/// Whether `f` holds for an instruction of `block` or of a block nested in it.
pub fn any(block: &Block, f: &mut impl FnMut(&Inst) -> bool) -> bool {
    block
        .insts
        .iter()
        .any(|inst| f(inst) || inst.blocks().any(|b| any(b, f)))
}
