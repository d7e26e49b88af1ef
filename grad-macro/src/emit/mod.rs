//! Prints IR as Rust.
//!
//! The output is meant to be read in `cargo expand`: the primal as the user wrote it, with a
//! `let` for each intermediate the reverse sweep reads again (named after the source, `p`, and
//! its adjoint `d_p`, or `t0, t1, ...` like the ξ tables of the lecture notes); a value used
//! once in the same block, primal or derivative, is printed where it is used, up to a depth
//! that keeps expressions short. Parentheses appear only where precedence needs them.
//!
//! Every local the macro introduces is spanned with `Span::mixed_site()`, so it can neither
//! capture nor shadow a name of the user's; the names are also kept textually distinct from
//! every identifier in the user's function, so the expansion reads unambiguously.

pub mod tokens;

use crate::ir::count_uses;
use crate::ir::{
    ArrayInit, Block, Cmp, Cond, Func, Header, Inst, Kind, Name, Op, Opaque, Operand, StoreOp, Var,
};
use crate::rules::{Form, RULES};
use proc_macro2::{Delimiter, Group, Ident, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use tokens::*;

/// An expression being printed, with enough structure to place parentheses.
enum E {
    Atom(Toks),
    Neg(Box<E>),
    Bin(&'static str, u8, Box<E>, Box<E>),
    Method(Box<E>, Ident, Vec<E>),
    Call(Toks, Vec<E>),
    If(Toks, Box<E>, Box<E>),
    /// Tokens of the given binding strength.
    Raw(Toks, u8),
}

impl E {
    fn prec(&self) -> u8 {
        match self {
            E::Atom(_) | E::Method(..) | E::Call(..) => PREC_ATOM,
            E::Neg(_) => PREC_UNARY,
            E::Bin(_, p, _, _) => *p,
            E::If(..) => PREC_LOWEST,
            E::Raw(_, p) => *p,
        }
    }

    fn wrap(self, min: u8) -> Toks {
        if self.prec() < min {
            self.tokens().group(Delimiter::Parenthesis)
        } else {
            self.tokens()
        }
    }

    fn tokens(self) -> Toks {
        match self {
            E::Atom(t) | E::Raw(t, _) => t,
            E::Neg(x) => {
                let mut t = Toks::default();
                t.punct("-");
                t.append(x.wrap(PREC_ATOM));
                t
            }
            E::Bin(op, p, l, r) => {
                let mut t = l.wrap(p);
                t.punct(op);
                t.append(r.wrap(p + 1));
                t
            }
            E::Method(recv, name, args) => {
                let mut t = recv.wrap(PREC_ATOM);
                t.punct(".");
                t.push(name);
                t.append(Toks::args(args.into_iter().map(E::tokens)));
                t
            }
            E::Call(mut path, args) => {
                path.append(Toks::args(args.into_iter().map(E::tokens)));
                path
            }
            E::If(c, then, els) => {
                let mut t = Toks::default();
                t.ident("if");
                t.append(c);
                t.append(then.tokens().group(Delimiter::Brace));
                t.ident("else");
                t.append(match *els {
                    nested @ E::If(..) => nested.tokens(),
                    other => other.tokens().group(Delimiter::Brace),
                });
                t
            }
        }
    }
}

/// A value built from literals alone (or an `if` choosing between literals) has no type until
/// used: its `let` says the type, so methods can be called on it.
fn untyped(op: Op, args: &[Operand]) -> bool {
    match op {
        Op::Select(_) => args[2..].iter().all(|a| a.lit().is_some()),
        _ => args
            .iter()
            .all(|a| matches!(a, Operand::Lit(_) | Operand::Int(_))),
    }
}

/// The deepest expression inlining builds before a `let` is written.
const MAX_INLINE_DEPTH: u32 = 16;

/// What a variable printed in place of its name stands for.
#[derive(Clone)]
enum Inlined {
    Op(Op, Vec<Operand>),
    /// An array element, read where it is used (nothing between writes memory).
    Load(Var, Vec<Operand>),
    /// An expression on data without side effects (`x[0]`, `n as f64`), likewise.
    Opaque(Opaque),
}

pub struct Emitter<'a> {
    func: &'a Func,
    krate: Toks,
    /// `Func::externs`, as trees.
    externs: Vec<Toks>,
    names: HashMap<Var, Ident>,
    inline: HashMap<Var, Inlined>,
    /// How deep the expression printed for an inlined variable is.
    depth: HashMap<Var, u32>,
    uses: HashMap<Var, usize>,
    /// Arrays written after their declaration, and loop storage (declared `let mut`).
    written: HashSet<Var>,
    /// How many loops the statement being printed is in.
    loop_depth: std::cell::Cell<u32>,
    /// Storage of inner loops, declared before the outermost loop being printed.
    hoisted: std::cell::RefCell<Vec<TokenStream>>,
}

impl<'a> Emitter<'a> {
    /// `reserved`: every identifier of the user's function; `params`: the identifiers of its
    /// parameters, as they appear in the companion's signature.
    pub fn new(
        func: &'a Func,
        krate: &'a TokenStream,
        reserved: &HashSet<String>,
        params: &[Ident],
    ) -> Self {
        let mut e = Emitter {
            func,
            krate: krate.clone().into(),
            externs: func.externs.iter().map(|t| t.clone().into()).collect(),
            names: HashMap::default(),
            inline: HashMap::default(),
            depth: HashMap::default(),
            uses: HashMap::default(),
            written: HashSet::default(),
            loop_depth: std::cell::Cell::new(0),
            hoisted: std::cell::RefCell::new(Vec::new()),
        };
        count_uses(&func.body, &mut e.uses);
        written(&func.body, &mut e.written);
        // Storage carried out of an `if` is still popped from.
        let mut grew = true;
        while grew {
            grew = false;
            for (i, info) in func.vars.iter().enumerate() {
                if let Name::Export(inner) = info.name {
                    if e.written.contains(&inner) && e.written.insert(Var(i as u32)) {
                        grew = true;
                    }
                }
            }
        }
        e.plan_inlining(&func.body);
        let mut namer = Namer {
            reserved,
            taken: HashSet::default(),
            temps: 0,
            conds: 0,
        };
        for (v, id) in func.params.iter().zip(params) {
            namer.taken.insert(id.to_string());
            e.names.insert(*v, id.clone());
        }
        e.name_block(&func.body, &mut namer);
        e
    }

    /// The statements and final expression of the companion's body.
    pub fn body(&self, value_and_grad: bool) -> TokenStream {
        self.body_with(|mut ys| {
            let value = ys.remove(0);
            let grad = one_or_tuple(&ys);
            if value_and_grad {
                quote!((#value, #grad))
            } else {
                grad
            }
        })
    }

    /// The statements of the companion's body, and its final expression made by `shape` from
    /// the body's yields.
    pub fn body_with(&self, shape: impl FnOnce(Vec<TokenStream>) -> TokenStream) -> TokenStream {
        let (stmts, _) = self.block_parts(&self.func.body, false);
        let ys: Vec<TokenStream> = self
            .func
            .body
            .yields
            .iter()
            .map(|y| self.operand(y).tokens().into_token_stream())
            .collect();
        let unused = self
            .func
            .params
            .iter()
            .filter(|p| self.uses.get(p).copied().unwrap_or(0) == 0)
            .filter_map(|p| self.names.get(p))
            .filter(|id| !id.to_string().starts_with('_'));
        let result = shape(ys);
        quote! {
            #(let _ = &#unused;)*
            #(#stmts)*
            #result
        }
    }

    fn plan_inlining(&mut self, block: &Block) {
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
            Inst::Store { .. } => reads_written,
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
                        if !block.insts[k + 1..at].iter().any(|i| barrier(i, w)) {
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
    fn reads(&self, o: &Operand, out: &mut HashSet<Var>) {
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

    /// `a[i] = a[i] op rest;` as `a[i] op= rest;`: the operator and `rest`, when `val` is an
    /// operation printed in place on the element itself, read in place.
    fn element_update<'o>(
        &'o self,
        arr: Var,
        idx: &[Operand],
        val: &Operand,
    ) -> Option<(&'static str, &'o Operand)> {
        let Some(Inlined::Op(op, args)) = val.as_var().and_then(|v| self.inline.get(&v)) else {
            return None;
        };
        let same = |o: &Operand| {
            matches!(o.as_var().and_then(|v| self.inline.get(&v)),
                Some(Inlined::Load(a, i)) if *a == arr && i.as_slice() == idx)
        };
        match op {
            Op::Add if same(&args[0]) => Some(("+=", &args[1])),
            Op::Add if same(&args[1]) => Some(("+=", &args[0])),
            Op::Mul if same(&args[0]) => Some(("*=", &args[1])),
            Op::Mul if same(&args[1]) => Some(("*=", &args[0])),
            Op::Sub if same(&args[0]) => Some(("-=", &args[1])),
            Op::Div if same(&args[0]) => Some(("/=", &args[1])),
            _ => None,
        }
    }

    /// `phi = y;` as `phi op= rest;` when `y` is `phi op rest`.
    fn assignment(&self, phi: Var, y: &Operand) -> Toks {
        let n = Toks::one(self.ident(phi));
        if let Some(Inlined::Op(op, args)) = y.as_var().and_then(|v| self.inline.get(&v)) {
            let me = Operand::Var(phi);
            let rest = match op {
                Op::Add | Op::Sub | Op::Mul | Op::Div if args[0] == me => Some(&args[1]),
                Op::Add | Op::Mul if args[1] == me => Some(&args[0]),
                _ => None,
            };
            if let Some(r) = rest {
                let r = self.operand(r).tokens();
                let op = match op {
                    Op::Add => "+=",
                    Op::Sub => "-=",
                    Op::Mul => "*=",
                    _ => "/=",
                };
                return Toks::assign(n, op, r);
            }
        }
        Toks::assign(n, "=", self.operand(y).tokens())
    }

    /// What `v` is called: its own name, or its emitted name with `d_` (an adjoint) or `_dot`
    /// (a tangent) added, or, for a value printed without a name (the gradient a companion
    /// does not return, whose tangent it does), the same built from that value's base.
    fn base_name(&self, v: Var) -> Option<String> {
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

    fn name_one(&mut self, v: Var, namer: &mut Namer) {
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

    fn name_block(&mut self, block: &Block, namer: &mut Namer) {
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

    fn ident(&self, v: Var) -> Ident {
        match self.names.get(&v) {
            Some(id) => id.clone(),
            // Every defined variable is named; an unnamed one would be a bug in a pass, and
            // rustc will report the unknown name.
            None => format_ident!("__grad_unnamed_{}", v.0, span = Span::mixed_site()),
        }
    }

    fn operand(&self, o: &Operand) -> E {
        self.operand_in(o, false)
    }

    fn operand_in(&self, o: &Operand, receiver: bool) -> E {
        let float = self.func.float;
        match o {
            Operand::Var(v) => match self.inline.get(v) {
                Some(Inlined::Op(op, args)) => self.op_expr(*op, args),
                Some(Inlined::Load(arr, idx)) => E::Atom(self.place(*arr, idx)),
                Some(Inlined::Opaque(o)) => E::Raw(self.opaque(o), o.prec),
                None => E::Atom(self.ident(*v).into()),
            },
            Operand::Lit(x) => {
                let t = float_lit_toks(x.abs(), float, receiver);
                if x.is_sign_negative() && !x.is_nan() {
                    E::Neg(Box::new(E::Atom(t)))
                } else {
                    E::Atom(t)
                }
            }
            Operand::Int(i) => {
                let l = Toks::one(Literal::i64_unsuffixed(i.abs()));
                if *i < 0 {
                    E::Neg(Box::new(E::Atom(l)))
                } else {
                    E::Atom(l)
                }
            }
            Operand::Bool(b) => E::Atom(Toks::one(Ident::new(
                if *b { "true" } else { "false" },
                Span::call_site(),
            ))),
            Operand::Const(c) => E::Atom(named_const(*c, float).into()),
            Operand::Extern(i) => E::Atom(self.externs[*i as usize].clone()),
        }
    }

    fn op_expr(&self, op: Op, args: &[Operand]) -> E {
        let bin = |sym: &'static str, p: u8| {
            E::Bin(
                sym,
                p,
                Box::new(self.operand(&args[0])),
                Box::new(self.operand(&args[1])),
            )
        };
        match op {
            Op::Neg => E::Neg(Box::new(self.operand(&args[0]))),
            Op::Add => bin("+", PREC_ADD),
            Op::Sub => bin("-", PREC_ADD),
            Op::Mul => bin("*", PREC_MUL),
            Op::Div => bin("/", PREC_MUL),
            Op::Rem => bin("%", PREC_MUL),
            Op::Pulled(n) => self.operand(&args[2 * n]),
            Op::Call(i) => {
                let rule = &RULES[i];
                let name = Ident::new(rule.name, Span::call_site());
                match rule.form {
                    Form::Method => {
                        let recv = self.operand_in(&args[0], true);
                        E::Method(
                            Box::new(recv),
                            name,
                            args[1..].iter().map(|a| self.operand(a)).collect(),
                        )
                    }
                    Form::Helper => {
                        let mut path = self.krate.clone();
                        path.punct("::");
                        path.push(name);
                        E::Call(path, args.iter().map(|a| self.operand(a)).collect())
                    }
                }
            }
            Op::Select(cmp) => {
                let c = self.cmp(cmp, &args[0], &args[1]);
                E::If(
                    c,
                    Box::new(self.operand(&args[2])),
                    Box::new(self.operand(&args[3])),
                )
            }
        }
    }

    fn cmp(&self, cmp: Cmp, a: &Operand, b: &Operand) -> Toks {
        if cmp == Cmp::Nan {
            let mut t = self.operand_in(a, true).wrap(PREC_ATOM);
            t.punct(".");
            t.push(Ident::new("is_nan", Span::call_site()));
            t.append(Toks::args([]));
            return t;
        }
        let sym = match cmp {
            Cmp::Lt => "<",
            Cmp::Gt => ">",
            Cmp::Eq => "==",
            // Handled above.
            Cmp::Nan => "==",
        };
        // `x as f64 < y` would read as the start of generic arguments: a cast on the left is
        // parenthesised.
        let a = self.operand(a);
        let min = if a.prec() == PREC_CAST {
            PREC_CAST + 1
        } else {
            PREC_CMP + 1
        };
        let mut t = a.wrap(min);
        t.punct(sym);
        t.append(self.operand(b).wrap(PREC_CMP + 1));
        t
    }

    fn cond(&self, c: &Cond) -> (Toks, u8) {
        match c {
            Cond::And(a, b) | Cond::Or(a, b) => {
                let (sym, p) = if matches!(c, Cond::And(..)) {
                    ("&&", PREC_AND)
                } else {
                    ("||", PREC_OR)
                };
                let mut t = self.cond_wrapped(a, p);
                t.punct(sym);
                t.append(self.cond_wrapped(b, p + 1));
                (t, p)
            }
            Cond::Not(x) => {
                let mut t = Toks::default();
                t.punct("!");
                t.append(self.cond_wrapped(x, PREC_ATOM));
                (t, PREC_UNARY)
            }
            Cond::Val(o) => {
                let e = self.operand(o);
                let p = e.prec();
                (e.tokens(), p)
            }
            Cond::Opaque(o) => (self.opaque(o), o.prec),
        }
    }

    fn cond_wrapped(&self, c: &Cond, min: u8) -> Toks {
        let (t, p) = self.cond(c);
        if p < min {
            t.group(Delimiter::Parenthesis)
        } else {
            t
        }
    }

    /// The user's tokens with each placeholder replaced by the variable it stands for.
    fn opaque(&self, o: &Opaque) -> Toks {
        let subst: Vec<Subst> = o
            .refs
            .iter()
            .map(|v| {
                let e = self.operand(&Operand::Var(*v));
                if e.prec() == PREC_ATOM {
                    Subst::Same(e.tokens())
                } else {
                    Subst::Paren(e.tokens())
                }
            })
            .collect();
        replace_placeholders(o.tokens.clone(), &subst, &self.krate)
    }

    fn place(&self, arr: Var, idx: &[Operand]) -> Toks {
        let mut t = Toks::one(self.ident(arr));
        for i in idx {
            t.append(self.operand(i).tokens().group(Delimiter::Bracket));
        }
        t
    }

    /// `[0.0; N]`, `[[0.0; M]; N]`, `vec![0.0; w.len()]`, ... for an array shaped like `like`.
    fn zeros(&self, like: Var) -> TokenStream {
        let Some(info) = self.func.arrays.get(&like) else {
            return float_lit(0.0, self.func.float, true);
        };
        let a = self.ident(like);
        zero_array(info, self.func.float, &|t| {
            quote!(::std::vec![#t; #a.len()])
        })
    }

    fn loop_stmt(&self, l: &crate::ir::Loop) -> TokenStream {
        let mut before = Vec::new();
        let outermost = self.loop_depth.get() == 0;
        if let Some(s) = &l.save {
            let buf = self.ident(s.buf);
            match (&s.reuse, outermost) {
                // Inside another loop: storage made once, before the outermost loop, and
                // emptied here, so that every run of this loop shares one allocation.
                (Some(reuse), false) => {
                    let new = replace_placeholders(
                        quote!(__grad_krate::__private::Saved::new()),
                        &[],
                        &self.krate,
                    );
                    self.hoisted.borrow_mut().push(quote!(let mut #buf = #new;));
                    let r = self.opaque(reuse);
                    before.push(quote!(#buf #r;));
                }
                _ => {
                    let cap = self.opaque(&s.cap);
                    before.push(quote!(let mut #buf = #cap;));
                }
            }
        }
        self.loop_depth.set(self.loop_depth.get() + 1);
        let float = float_type_tokens(self.func.float);
        for c in &l.carried {
            let name = self.ident(c.phi);
            let init = self.operand(&c.init).tokens();
            if self.func.info(c.phi).kind == Kind::Float && c.init.lit().is_some() {
                before.push(quote!(let mut #name: #float = #init;));
            } else {
                before.push(quote!(let mut #name = #init;));
            }
        }
        let mut inner: Vec<Toks> = Vec::new();
        if let Some(r) = &l.restore {
            let buf = self.ident(r.buf);
            let vars: Vec<Ident> = r.vars.iter().map(|v| self.ident(*v)).collect();
            let pat = one_or_tuple(&vars);
            inner.push(quote!(let #pat = #buf.pop();).into());
        }
        let (stmts, _) = self.block_parts(&l.body, false);
        self.loop_depth.set(self.loop_depth.get() - 1);
        if outermost {
            let hoisted = std::mem::take(&mut *self.hoisted.borrow_mut());
            before.splice(0..0, hoisted);
        }
        inner.extend(stmts);
        // What the reverse sweep reads back of this iteration: its carried values as they
        // entered it, and what calls on data gave.
        if let Some(s) = &l.save {
            let buf = self.ident(s.buf);
            let vals: Vec<Ident> = s.vals.iter().map(|v| self.ident(*v)).collect();
            let vals = one_or_tuple(&vals);
            inner.push(quote!(#buf.push(#vals);).into());
        }
        let changed: Vec<(Var, Operand)> = l
            .carried
            .iter()
            .zip(&l.body.yields)
            .filter(|(c, y)| **y != Operand::Var(c.phi))
            .map(|(c, y)| (c.phi, *y))
            .collect();
        // One assignment after another, unless a new value reads a variable assigned before
        // it (then all at once).
        let mut assigned = HashSet::default();
        let mut sequential = true;
        for (phi, y) in &changed {
            let mut r = HashSet::default();
            self.reads(y, &mut r);
            if r.iter().any(|v| assigned.contains(v)) {
                sequential = false;
            }
            assigned.insert(*phi);
        }
        if sequential {
            for (phi, y) in &changed {
                inner.push(self.assignment(*phi, y));
            }
        } else {
            let ns = changed.iter().map(|c| self.ident(c.0));
            let ys = changed.iter().map(|c| self.operand(&c.1).tokens());
            inner.push(quote!((#(#ns),*) = (#(#ys),*);).into());
        }
        if l.exit {
            if let Some(flag) = l.body.yields.get(l.carried.len()) {
                let f = self.operand(flag).wrap(PREC_OR);
                inner.push(quote!(if #f { break; }).into());
            }
        }
        let head = match &l.header {
            Header::For { pat, iter, pos, .. } => {
                // A name the body does not read is bound as `_`.
                let subst: Vec<Toks> = pat
                    .refs
                    .iter()
                    .map(|v| {
                        if self.uses.get(v).copied().unwrap_or(0) == 0 {
                            Toks::one(Ident::new("_", Span::call_site()))
                        } else {
                            self.ident(*v).into()
                        }
                    })
                    .collect();
                let subst: Vec<Subst> = subst.into_iter().map(Subst::Same).collect();
                let p = replace_placeholders(pat.tokens.clone(), &subst, &self.krate);
                let mut it = self.opaque(iter);
                // A struct literal cannot stand bare before the loop's block.
                let brace = it
                    .0
                    .iter()
                    .any(|t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace));
                if brace {
                    it = it.group(Delimiter::Parenthesis);
                }
                match pos {
                    Some(v) => {
                        let v = self.ident(*v);
                        let krate = &self.krate;
                        quote!(for (#v, #p) in #krate::__private::enumerate(#it))
                    }
                    None => quote!(for #p in #it),
                }
            }
            Header::Loop => quote!(loop),
        };
        quote! {
            #(#before)*
            #head {
                #(#inner)*
            }
        }
    }

    /// Statements of a block, and its value (`None` when it yields nothing).
    fn block_parts(&self, block: &Block, with_value: bool) -> (Vec<Toks>, Option<Toks>) {
        let mut stmts = Vec::new();
        for inst in &block.insts {
            if let Some(s) = self.inst(inst) {
                stmts.push(s);
            }
        }
        let value = with_value.then(|| self.tuple(&block.yields));
        (stmts, value)
    }

    fn tuple(&self, ops: &[Operand]) -> Toks {
        let mut parts: Vec<Toks> = ops.iter().map(|o| self.operand(o).tokens()).collect();
        if parts.len() == 1 {
            parts.swap_remove(0)
        } else {
            Toks::args(parts)
        }
    }

    fn inst(&self, inst: &Inst) -> Option<Toks> {
        Some(match inst {
            Inst::Op { var, op, args } => {
                if self.inline.contains_key(var) {
                    return None;
                }
                let ty = untyped(*op, args).then(|| float_type_tokens(self.func.float));
                Toks::let_stmt(self.ident(*var), ty, self.op_expr(*op, args).tokens())
            }
            Inst::Opaque { var, expr, ty } => {
                if self.inline.contains_key(var) {
                    return None;
                }
                let e = self.opaque(expr);
                let info = self.func.info(*var);
                // A float of a type the macro does not know (see `VarInfo::float_checked`):
                // `&f64` takes a float or a reference to one, and nothing else.
                // Every token at the user's expression, where rustc reports a wrong type.
                let at = info.span;
                let float: TokenStream = crate::emit::tokens::float_type_tokens(self.func.float)
                    .into_iter()
                    .map(|mut t| {
                        t.set_span(at);
                        t
                    })
                    .collect();
                let float = quote::quote_spanned!(at=> &#float);
                if self.uses.get(var).copied().unwrap_or(0) == 0 {
                    // Unused, but run for its effects; its type still checked, as written.
                    match ty {
                        Some(ty) => quote!(let _: #ty = #e;).into(),
                        None if info.float_checked => {
                            quote::quote_spanned!(at=> let _: #float = &#e;).into()
                        }
                        None => quote!(let _ = #e;).into(),
                    }
                } else {
                    let ident = self.ident(*var);
                    let name = if info.mutable {
                        quote!(mut #ident)
                    } else {
                        quote!(#ident)
                    };
                    let check = info.float_checked.then(|| {
                        let mut at = ident.clone();
                        // The variable's own hygiene, at the user's expression.
                        at.set_span(at.span().located_at(info.span));
                        quote::quote_spanned!(info.span=> let _: #float = &#at;)
                    });
                    match ty {
                        Some(ty) => quote!(let #name: #ty = #e; #check).into(),
                        None => quote!(let #name = #e; #check).into(),
                    }
                }
            }
            Inst::Cond { var, cond } => Toks::let_stmt(self.ident(*var), None, self.cond(cond).0),
            Inst::Load { var, arr, idx } => {
                if self.inline.contains_key(var) {
                    return None;
                }
                Toks::let_stmt(self.ident(*var), None, self.place(*arr, idx))
            }
            Inst::Store {
                arr, idx, val, op, ..
            } => {
                let op = match op {
                    StoreOp::Set => "=",
                    StoreOp::Add => "+=",
                    StoreOp::Sub => "-=",
                };
                if op == "=" {
                    if let Some((op, rest)) = self.element_update(*arr, idx, val) {
                        return Some(Toks::assign(
                            self.place(*arr, idx),
                            op,
                            self.operand(rest).tokens(),
                        ));
                    }
                }
                Toks::assign(self.place(*arr, idx), op, self.operand(val).tokens())
            }
            Inst::NewArray { var, init } => {
                let name = self.ident(*var);
                let e = match init {
                    ArrayInit::Zero { like } => self.zeros(*like),
                    ArrayInit::Repeat { elem, lens } => {
                        let mut t = self.operand_in(elem, true).tokens().into_token_stream();
                        for n in lens.iter().rev() {
                            t = quote!([#t; #n]);
                        }
                        t
                    }
                    ArrayInit::List(xs) => {
                        let xs = xs.iter().map(|x| self.operand(x).tokens());
                        quote!([#(#xs),*])
                    }
                };
                if self.written.contains(var) {
                    quote!(let mut #name = #e;).into()
                } else {
                    quote!(let #name = #e;).into()
                }
            }
            Inst::Loop(l) => self.loop_stmt(l).into(),
            Inst::If {
                cond,
                then,
                els,
                outs,
            } => {
                let c = self.operand(cond).tokens();
                // A loop in a branch keeps its own storage (it may be carried out of the `if`):
                // it counts as outermost.
                let depth = self.loop_depth.replace(0);
                let hoisted = self.hoisted.take();
                let t = self.branch(then, !outs.is_empty());
                let e = self.else_branch(els, outs);
                self.loop_depth.set(depth);
                self.hoisted.replace(hoisted);
                if outs.is_empty() && els.insts.is_empty() {
                    quote!(if #c #t).into()
                } else if outs.is_empty() {
                    quote!(if #c #t else #e).into()
                } else {
                    let pat = self.pattern(outs);
                    quote!(let #pat = if #c #t else #e;).into()
                }
            }
        })
    }

    /// `name: f64` or `(a, b): (f64, bool)`: typed, because arms that are bare literals
    /// (`if c { 2.0 } else { -1.0 }`) give Rust no type to call methods on.
    fn pattern(&self, outs: &[Var]) -> TokenStream {
        let ids: Vec<TokenStream> = outs
            .iter()
            .map(|v| {
                let id = self.ident(*v);
                if self.written.contains(v) {
                    quote!(mut #id)
                } else {
                    quote!(#id)
                }
            })
            .collect();
        let float = float_type_tokens(self.func.float);
        let tys: Vec<TokenStream> = outs
            .iter()
            .map(|v| match self.func.info(*v).kind {
                Kind::Float => float.clone(),
                Kind::Bool => quote!(bool),
                Kind::Opaque | Kind::Array => quote!(_),
            })
            .collect();
        if ids.len() == 1 {
            let (id, ty) = (&ids[0], &tys[0]);
            quote!(#id: #ty)
        } else {
            quote!((#(#ids),*): (#(#tys),*))
        }
    }

    fn branch(&self, block: &Block, with_value: bool) -> TokenStream {
        let (stmts, value) = self.block_parts(block, with_value);
        quote!({ #(#stmts)* #value })
    }

    /// `else { .. }`, or `else if ..` when the else branch is just another `if` yielding the
    /// same variables.
    fn else_branch(&self, els: &Block, outs: &[Var]) -> TokenStream {
        if let [Inst::If {
            cond,
            then,
            els: inner_els,
            outs: inner_outs,
        }] = &els.insts[..]
        {
            let same = inner_outs.len() == els.yields.len()
                && inner_outs
                    .iter()
                    .zip(&els.yields)
                    .all(|(o, y)| *y == Operand::Var(*o) && self.uses.get(o) == Some(&1));
            if same {
                let c = self.operand(cond).tokens();
                let t = self.branch(then, !outs.is_empty());
                let e = self.else_branch(inner_els, inner_outs);
                return quote!(if #c #t else #e);
            }
        }
        self.branch(els, !outs.is_empty())
    }
}

struct Namer<'r> {
    reserved: &'r HashSet<String>,
    taken: HashSet<String>,
    temps: usize,
    conds: usize,
}

impl Namer<'_> {
    /// `base`, or `base_1`, `base_2`, ...: the first not yet given and not the user's (a
    /// user's own variable may keep its name).
    fn named(&mut self, base: &str, own: bool) -> String {
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

    fn temp(&mut self) -> String {
        self.counter('t')
    }

    fn cond(&mut self) -> String {
        self.counter('c')
    }

    fn counter(&mut self, prefix: char) -> String {
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

fn written(block: &Block, out: &mut HashSet<Var>) {
    for inst in &block.insts {
        if let Inst::Store { arr, .. } = inst {
            out.insert(*arr);
        }
        if let Inst::Loop(l) = inst {
            if let Some(s) = &l.save {
                out.insert(s.buf);
            }
        }
        for b in inst.blocks() {
            written(b, out);
        }
    }
}

/// What a placeholder in opaque code stands for: an atom, or an expression that needs
/// parentheses unless it is a whole argument or index (`f(a - b)`, `x[i + 1]`).
enum Subst {
    Same(Toks),
    Paren(Toks),
}

fn replace_placeholders(tokens: TokenStream, subst: &[Subst], krate: &Toks) -> Toks {
    replace_in(tokens, subst, krate, false)
}

/// `listed`: the tokens are the inside of `(..)` or `[..]`, where an item between commas needs
/// no parentheses of its own.
fn replace_in(tokens: TokenStream, subst: &[Subst], krate: &Toks, listed: bool) -> Toks {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let comma = |t: Option<&TokenTree>| match t {
        None => true,
        Some(TokenTree::Punct(p)) => p.as_char() == ',',
        _ => false,
    };
    let mut out = Toks::default();
    for (i, tt) in trees.iter().enumerate() {
        match tt {
            TokenTree::Ident(id) if id == "__grad_krate" => {
                out.0.extend(krate.0.iter().cloned().map(|mut t| {
                    t.set_span(t.span().located_at(id.span()));
                    t
                }))
            }
            TokenTree::Ident(id) => {
                let s = id.to_string();
                match s
                    .strip_prefix("__grad_ref_")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    // A name keeps its own hygiene but is located where the user wrote it, so
                    // that rustc's errors about it point there.
                    Some(n) if n < subst.len() => {
                        let alone = listed
                            && comma(i.checked_sub(1).and_then(|j| trees.get(j)))
                            && comma(trees.get(i + 1));
                        let t = match &subst[n] {
                            Subst::Same(t) => t.clone(),
                            Subst::Paren(t) if alone => t.clone(),
                            Subst::Paren(t) => t.clone().group(Delimiter::Parenthesis),
                        };
                        out.0.extend(t.0.into_iter().map(|mut t| {
                            t.set_span(t.span().located_at(id.span()));
                            t
                        }))
                    }
                    _ => out.push(id.clone()),
                }
            }
            TokenTree::Group(g) => {
                let listed = matches!(g.delimiter(), Delimiter::Parenthesis | Delimiter::Bracket);
                let inner = replace_in(g.stream(), subst, krate, listed);
                let mut ng = Group::new(g.delimiter(), inner.0.into_iter().collect());
                ng.set_span(g.span());
                out.push(ng);
            }
            other => out.push(other.clone()),
        }
    }
    out
}
