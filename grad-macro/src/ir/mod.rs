//! The intermediate representation every pass works on.
//!
//! A function body becomes structured SSA: a [`Block`] is a list of [`Inst`]s, each defining at
//! most one [`Var`] exactly once, and ending in the values it yields. The only control flow is
//! [`Inst::If`], whose branches are blocks and whose results (`outs`) play the role of phi
//! nodes. Values the macro does not model (integer data, struct fields, user constants) are
//! carried as opaque tokens with no derivative.
//!
//! Why this shape: the reverse sweep (and later forward mode, loops and second order) are passes
//! from one `Func` to another, so a derivative program can be simplified, printed, interpreted
//! in tests or differentiated again with the same code.

use proc_macro2::{Span, TokenStream};
use rustc_hash::FxHashMap as HashMap;

/// The float type a function is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Float {
    F32,
    F64,
}

impl Float {
    /// Rounds `v` to this type (exactly representable as `f64` either way).
    pub fn round(self, v: f64) -> f64 {
        match self {
            Float::F32 => v as f32 as f64,
            Float::F64 => v,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(pub u32);

/// What kind of value a variable holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The function's float type.
    Float,
    /// A condition.
    Bool,
    /// Anything else the user's code computes (integers, references, ...): passed through.
    Opaque,
    /// An array of the function's float type, mutable memory rather than a value: read by
    /// [`Inst::Load`], written by [`Inst::Store`]; its shape is in [`Func::arrays`].
    Array,
}

/// The shape of an [`Kind::Array`] variable.
#[derive(Clone, Debug)]
pub struct ArrayInfo {
    /// Lengths, outermost first, as the user's constant expressions; `None` for a slice, whose
    /// length is only known at run time.
    pub lens: Vec<Option<TokenStream>>,
    /// The variable is a reference (`&[f64]`, `&[f64; 3]`): iterating it yields references.
    pub by_ref: bool,
}

impl ArrayInfo {
    /// Number of indices down to a number.
    pub fn dims(&self) -> usize {
        self.lens.len()
    }
}

/// How an array variable starts.
#[derive(Clone, Debug)]
pub enum ArrayInit {
    /// Zeros, shaped like the array `like` (a `Vec` when `like` is a slice).
    Zero { like: Var },
    /// `[elem; lens[0]]`, nested for more lengths (`[[elem; lens[1]]; lens[0]]`).
    Repeat {
        elem: Operand,
        lens: Vec<TokenStream>,
    },
    /// `[a, b, c]`.
    List(Vec<Operand>),
}

/// How a [`Inst::Store`] writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOp {
    Set,
    Add,
    Sub,
}

/// A loop. Its variables are in SSA form like everything else: each carried variable has a
/// `phi` (its value at the start of an iteration), an `init` (before the first) and an `out`
/// (after the loop); the body yields the new value of each, then (when `exit` is set) whether
/// to leave the loop after this iteration (`break`, `return`).
#[derive(Clone, Debug)]
pub struct Loop {
    pub header: Header,
    pub carried: Vec<Carry>,
    pub body: Block,
    pub exit: bool,
    /// The carried variable counting iterations (for the reverse sweep of a loop that may stop
    /// early): its `out`.
    pub count: Option<Var>,
    /// The forward pass keeps these carried values of each iteration for the reverse sweep.
    pub save: Option<Save>,
    /// The reverse sweep's loop reads them back, last iteration first.
    pub restore: Option<Restore>,
}

#[derive(Clone, Copy, Debug)]
pub struct Carry {
    pub phi: Var,
    pub init: Operand,
    pub out: Var,
}

#[derive(Clone, Debug)]
pub enum Header {
    /// `for pat in iter`: `pat.refs` are the variables the pattern binds (defined, not read);
    /// `elems` says which of them are elements of a differentiated array.
    For {
        pat: Opaque,
        iter: Opaque,
        elems: Vec<Elem>,
        /// The trip count, when it is a constant (an upper bound suffices).
        trip: Option<TokenStream>,
        /// The iteration's position, when the body needs it (rows of an array it iterates):
        /// the loop then runs over `enumerate(iter)`.
        pos: Option<Var>,
    },
    /// `loop` (a `while` is a `loop` that starts with `if !cond { break }`).
    Loop,
}

/// A loop variable that is an element of an array (`for w in ws.iter()`): the element at the
/// iteration's position in `arr[prefix..]`.
#[derive(Clone, Debug)]
pub struct Elem {
    pub item: Var,
    pub arr: Var,
    pub prefix: Vec<Operand>,
    /// The position, when the loop's pattern binds it (a reverse sweep's
    /// `enumerate_rev(..)`); otherwise the header's `pos`, when there is one.
    pub at: Option<Var>,
}

/// Storage for carried values, declared before the loop (`cap` builds it).
#[derive(Clone, Debug)]
pub struct Save {
    pub buf: Var,
    /// The storage, made before the loop (`Saved::for_iter(..)`).
    pub cap: Opaque,
    /// For storage on the heap, the method call that empties it for another run of the loop
    /// (`.restart(..)`, printed after `buf`): a loop nested in another loop reuses storage made
    /// once, before the outermost loop.
    pub reuse: Option<Opaque>,
    pub vals: Vec<Var>,
}

#[derive(Clone, Debug)]
pub struct Restore {
    pub buf: Var,
    pub vars: Vec<Var>,
}

/// How a variable is named when emitted. Names are given at emission (see `emit.rs`), so passes
/// only say what a variable *is*.
#[derive(Clone, Debug, PartialEq)]
pub enum Name {
    /// A parameter or a user's `let`: the user's identifier.
    Source(String),
    /// A primal intermediate the user did not name (`t0`, `t1`, ...).
    Temp,
    /// The adjoint of a variable (`d_p`).
    Adjoint(Var),
    /// A tangent of a variable, in forward mode (`p_dot`).
    Tangent(Var),
    /// A temporary of derivative code: inlined into its single use where possible.
    Anon,
    /// A branch's value carried out of its `if` for the reverse sweep: the same name.
    Export(Var),
    /// A variable of the macro's own with a descriptive name (`saved`, `pos`), numbered if
    /// taken.
    Fixed(&'static str),
}

#[derive(Clone, Debug)]
pub struct VarInfo {
    pub kind: Kind,
    pub name: Name,
    /// Depends on a differentiated (`wrt`) parameter.
    pub active: bool,
    pub span: Span,
    /// Data declared `let mut` and changed in place (`v.clear()`): declared `let mut` too.
    pub mutable: bool,
    /// Data of a type the macro does not know, used in float arithmetic: the companions check
    /// that it is a float (`let _: &f64 = &q;`), so that an operator of another type is not
    /// differentiated as float arithmetic.
    pub float_checked: bool,
}

/// A named constant of `core::{f32,f64}::consts` used by derivative rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NamedConst {
    Ln2,
    Ln10,
}

impl NamedConst {
    pub fn ident(self) -> &'static str {
        match self {
            NamedConst::Ln2 => "LN_2",
            NamedConst::Ln10 => "LN_10",
        }
    }
    /// The `f64` value (for the test interpreter).
    #[cfg(test)]
    pub fn value(self) -> f64 {
        match self {
            NamedConst::Ln2 => std::f64::consts::LN_2,
            NamedConst::Ln10 => std::f64::consts::LN_10,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Operand {
    Var(Var),
    /// A float literal, already rounded to the function's type.
    Lit(f64),
    /// An unsuffixed integer literal (`powi` exponents, integer data).
    Int(i64),
    Bool(bool),
    Const(NamedConst),
    /// A user path or literal emitted as written (`PI`, `MY_CONST`), index into `Func::externs`.
    Extern(u32),
}

impl PartialEq for Operand {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

/// A hashable identity for an operand: literals by their bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OperandKey {
    Var(Var),
    Lit(u64),
    Int(i64),
    Bool(bool),
    Const(NamedConst),
    Extern(u32),
}

impl Operand {
    pub fn key(&self) -> OperandKey {
        match *self {
            Operand::Var(v) => OperandKey::Var(v),
            Operand::Lit(x) => OperandKey::Lit(x.to_bits()),
            Operand::Int(i) => OperandKey::Int(i),
            Operand::Bool(b) => OperandKey::Bool(b),
            Operand::Const(c) => OperandKey::Const(c),
            Operand::Extern(e) => OperandKey::Extern(e),
        }
    }
    pub fn as_var(&self) -> Option<Var> {
        match *self {
            Operand::Var(v) => Some(v),
            _ => None,
        }
    }
    pub fn lit(&self) -> Option<f64> {
        match *self {
            Operand::Lit(x) => Some(x),
            _ => None,
        }
    }
    pub fn is_lit(&self, v: f64) -> bool {
        matches!(*self, Operand::Lit(x) if x == v)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    Lt,
    Gt,
    Eq,
    /// `l.is_nan()` (`r` is ignored).
    Nan,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Neg,
    Add,
    Sub,
    Mul,
    Div,
    /// `%`: `a − b·trunc(a / b)`.
    Rem,
    /// A function of the rule table (`rules::RULES[i]`).
    Call(usize),
    /// `if args[0] CMP args[1] { args[2] } else { args[3] }`: both arms are values, not code.
    Select(Cmp),
    /// A call to another `#[grad]` function with `n` arguments: the value is `args[2n]` (what
    /// the callee's pullback returned), and its partial with respect to `args[k]` is
    /// `args[n + k]`, for `k < n`.
    Pulled(usize),
}

/// Tokens of user code the macro passes through. Variables it refers to are placeholders
/// (`refs[i]` is spliced where the token stream has the identifier `placeholder(i)`).
#[derive(Clone, Debug)]
pub struct Opaque {
    pub tokens: TokenStream,
    pub refs: Vec<Var>,
    /// Contains a call, so may have side effects: never removed, never duplicated.
    pub effectful: bool,
    /// Binding strength of the tokens as an expression (see `emit::Prec`), so that they are
    /// parenthesised only where needed.
    pub prec: u8,
}

/// The identifier standing for `refs[i]` inside [`Opaque::tokens`].
pub fn placeholder(i: usize) -> String {
    format!("__grad_ref_{i}")
}

#[derive(Clone, Debug)]
pub enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Val(Operand),
    /// A condition over data only, kept inline so that `&&` and `||` still short-circuit it.
    Opaque(Opaque),
}

#[derive(Clone, Debug)]
pub enum Inst {
    Op {
        var: Var,
        op: Op,
        args: Vec<Operand>,
    },
    Opaque {
        var: Var,
        expr: Opaque,
        ty: Option<TokenStream>,
    },
    Cond {
        var: Var,
        cond: Cond,
    },
    If {
        cond: Operand,
        then: Block,
        els: Block,
        outs: Vec<Var>,
    },
    /// `var = arr[idx[0]][idx[1]]..`.
    Load {
        var: Var,
        arr: Var,
        idx: Vec<Operand>,
    },
    /// `arr[idx..] = val` (or `+=`, `-=`).
    Store {
        arr: Var,
        idx: Vec<Operand>,
        val: Operand,
        op: StoreOp,
        span: Span,
    },
    /// `let mut var = init;` for an array.
    NewArray {
        var: Var,
        init: ArrayInit,
    },
    Loop(Box<Loop>),
}

#[derive(Clone, Debug, Default)]
pub struct Block {
    pub insts: Vec<Inst>,
    pub yields: Vec<Operand>,
}

#[derive(Clone, Debug)]
pub struct Func {
    pub float: Float,
    pub vars: Vec<VarInfo>,
    pub externs: Vec<TokenStream>,
    pub params: Vec<Var>,
    pub body: Block,
    pub arrays: HashMap<Var, ArrayInfo>,
}

impl Func {
    pub fn info(&self, v: Var) -> &VarInfo {
        &self.vars[v.0 as usize]
    }
}

impl Inst {
    /// The variables this instruction defines.
    pub fn defs(&self) -> Vec<Var> {
        match self {
            Inst::Op { var, .. } | Inst::Opaque { var, .. } | Inst::Cond { var, .. } => vec![*var],
            Inst::If { outs, .. } => outs.clone(),
            Inst::Load { var, .. } | Inst::NewArray { var, .. } => vec![*var],
            Inst::Store { .. } => Vec::new(),
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
            },
            Inst::Loop(l) => {
                if let Header::For { iter, elems, .. } = &l.header {
                    iter.refs.iter().for_each(|v| f(&Operand::Var(*v)));
                    for e in elems {
                        f(&Operand::Var(e.arr));
                        e.prefix.iter().for_each(&mut *f);
                    }
                }
                l.carried.iter().for_each(|c| f(&c.init));
                if let Some(s) = &l.save {
                    for o in std::iter::once(&s.cap).chain(&s.reuse) {
                        o.refs.iter().for_each(|v| f(&Operand::Var(*v)));
                    }
                }
                if let Some(r) = &l.restore {
                    f(&Operand::Var(r.buf));
                }
            }
        }
    }

    /// The blocks nested in this instruction.
    pub fn blocks(&self) -> Vec<&Block> {
        match self {
            Inst::If { then, els, .. } => vec![then, els],
            Inst::Loop(l) => vec![&l.body],
            _ => Vec::new(),
        }
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
            },
            Inst::Loop(l) => {
                if let Header::For { iter, elems, .. } = &mut l.header {
                    iter.map_refs(f);
                    for e in elems {
                        map_var(&mut e.arr, f);
                        e.prefix.iter_mut().for_each(&mut *f);
                    }
                }
                for c in &mut l.carried {
                    f(&mut c.init);
                }
                if let Some(s) = &mut l.save {
                    s.cap.map_refs(f);
                    if let Some(r) = &mut s.reuse {
                        r.map_refs(f);
                    }
                }
                if let Some(r) = &mut l.restore {
                    map_var(&mut r.buf, f);
                }
                l.body.map_operands(f);
            }
        }
    }
}

fn map_var(v: &mut Var, f: &mut impl FnMut(&mut Operand)) {
    let mut o = Operand::Var(*v);
    f(&mut o);
    if let Operand::Var(n) = o {
        *v = n;
    }
}

impl Opaque {
    pub fn map_refs(&mut self, f: &mut impl FnMut(&mut Operand)) {
        for v in &mut self.refs {
            let mut o = Operand::Var(*v);
            f(&mut o);
            // Renaming maps variables to variables; opaque code never refers to a literal.
            if let Operand::Var(n) = o {
                *v = n;
            }
        }
    }
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

    /// Calls `f` on every variable this instruction defines, nested blocks included.
    pub fn map_defs(&mut self, f: &mut impl FnMut(&mut Var)) {
        match self {
            Inst::Op { var, .. }
            | Inst::Opaque { var, .. }
            | Inst::Cond { var, .. }
            | Inst::Load { var, .. }
            | Inst::NewArray { var, .. } => f(var),
            Inst::Store { .. } => {}
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

/// Removes the carried variables the body did not change after all: their uses read the
/// initial value. A literal initial value is substituted only when `lits` (opaque code cannot
/// refer to a literal).
pub fn drop_unchanged(mut lp: Loop, lits: bool) -> Loop {
    let mut keep = Vec::new();
    let mut map: HashMap<Var, Operand> = HashMap::default();
    for (k, c) in lp.carried.iter().enumerate() {
        let unchanged = lp.body.yields[k] == Operand::Var(c.phi);
        if unchanged && (lits || c.init.as_var().is_some()) {
            map.insert(c.phi, c.init);
            map.insert(c.out, c.init);
        } else {
            keep.push(k);
        }
    }
    if map.is_empty() {
        return lp;
    }
    let n = lp.carried.len();
    let carried: Vec<Carry> = keep.iter().map(|&k| lp.carried[k]).collect();
    let mut yields: Vec<Operand> = keep.iter().map(|&k| lp.body.yields[k]).collect();
    yields.extend(lp.body.yields[n..].iter().copied());
    lp.carried = carried;
    lp.body.yields = yields;
    substitute(&mut lp.body, &map);
    lp
}

/// Replaces variables by operands throughout a block (code passed through as tokens can only
/// refer to variables: a literal is not substituted there).
pub fn substitute(block: &mut Block, map: &HashMap<Var, Operand>) {
    if map.is_empty() {
        return;
    }
    block.map_operands(&mut |o| {
        if let Operand::Var(v) = o {
            if let Some(n) = map.get(v) {
                *o = *n;
            }
        }
    });
}

/// Replaces an output of an `if` that both branches give as the same variable by that variable,
/// and a flag set only in `then` by the condition, nested blocks included.
pub fn fold_identities(block: &mut Block) {
    let mut map: HashMap<Var, Operand> = HashMap::default();
    fold_in(block, &mut map);
}

fn fold_in(block: &mut Block, map: &mut HashMap<Var, Operand>) {
    for inst in &mut block.insts {
        inst.map_operands(&mut |o| {
            if let Operand::Var(v) = o {
                if let Some(n) = map.get(v) {
                    *o = *n;
                }
            }
        });
        if let Inst::If {
            cond,
            then,
            els,
            outs,
        } = inst
        {
            fold_in(then, map);
            fold_in(els, map);
            // An output both branches give the same variable is that variable; a flag set in
            // `then` only is the condition.
            for (k, out) in outs.iter().enumerate() {
                match (then.yields[k], els.yields[k]) {
                    (Operand::Var(a), Operand::Var(b)) if a == b => {
                        map.insert(*out, Operand::Var(a));
                    }
                    (Operand::Bool(true), Operand::Bool(false)) if cond.as_var().is_some() => {
                        map.insert(*out, *cond);
                    }
                    _ => {}
                }
            }
            continue;
        }
        if let Inst::Loop(l) = inst {
            fold_in(&mut l.body, map);
            continue;
        }
    }
    block.yields.iter_mut().for_each(|o| {
        if let Operand::Var(v) = o {
            if let Some(n) = map.get(v) {
                *o = *n;
            }
        }
    });
}

/// Every variable `inst` reads, nested blocks included (a loop's storage reads the values it
/// keeps).
pub fn inst_reads(inst: &Inst, out: &mut std::collections::BTreeSet<Var>) {
    inst.for_each_operand(&mut |o| {
        if let Operand::Var(v) = o {
            out.insert(*v);
        }
    });
    for b in inst.blocks() {
        block_reads(b, out);
    }
    if let Inst::Loop(l) = inst {
        if let Some(s) = &l.save {
            out.extend(s.vals.iter().copied());
        }
    }
}

/// Every variable `block` reads, nested blocks included.
pub fn block_reads(block: &Block, out: &mut std::collections::BTreeSet<Var>) {
    for inst in &block.insts {
        inst_reads(inst, out);
    }
    for y in &block.yields {
        if let Operand::Var(v) = y {
            out.insert(*v);
        }
    }
}

/// The variables code passed through as tokens refers to, in `block` and nested blocks.
pub fn opaque_refs(block: &Block, out: &mut rustc_hash::FxHashSet<Var>) {
    for i in &block.insts {
        match i {
            Inst::Opaque { expr, .. } => out.extend(expr.refs.iter().copied()),
            Inst::Cond { cond, .. } => cond.for_each_operand(&mut |o| {
                if let Operand::Var(v) = o {
                    out.insert(*v);
                }
            }),
            Inst::Loop(l) => {
                if let Header::For { iter, .. } = &l.header {
                    out.extend(iter.refs.iter().copied());
                }
            }
            _ => {}
        }
        for b in i.blocks() {
            opaque_refs(b, out);
        }
    }
}

/// Renames the variables one instruction reads, nested blocks included.
pub fn rename_inst(inst: &mut Inst, map: &HashMap<Var, Var>) {
    if !map.is_empty() {
        inst.map_operands(&mut renamer(map));
    }
}

/// Renames variables throughout a block.
pub fn rename(block: &mut Block, map: &HashMap<Var, Var>) {
    if !map.is_empty() {
        block.map_operands(&mut renamer(map));
    }
}

fn renamer(map: &HashMap<Var, Var>) -> impl FnMut(&mut Operand) + '_ {
    move |o| {
        if let Operand::Var(v) = o {
            if let Some(n) = map.get(v) {
                *v = *n;
            }
        }
    }
}

/// Renumbers the placeholders of `tokens` by `by`, so two operands' tokens can be joined.
pub(crate) fn shift_placeholders(tokens: TokenStream, by: usize) -> TokenStream {
    if by == 0 {
        return tokens;
    }
    tokens
        .into_iter()
        .map(|tt| match tt {
            proc_macro2::TokenTree::Ident(id) => {
                let s = id.to_string();
                match s
                    .strip_prefix("__grad_ref_")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(n) => proc_macro2::TokenTree::Ident(proc_macro2::Ident::new(
                        &placeholder(n + by),
                        id.span(),
                    )),
                    None => proc_macro2::TokenTree::Ident(id),
                }
            }
            proc_macro2::TokenTree::Group(g) => {
                let mut ng =
                    proc_macro2::Group::new(g.delimiter(), shift_placeholders(g.stream(), by));
                ng.set_span(g.span());
                proc_macro2::TokenTree::Group(ng)
            }
            other => other,
        })
        .collect()
}

/// How many times each variable is read in `block`, nested blocks included.
pub(crate) fn count_uses(block: &Block, uses: &mut HashMap<Var, usize>) {
    for inst in &block.insts {
        inst.for_each_operand(&mut |o| {
            if let Operand::Var(v) = o {
                *uses.entry(*v).or_default() += 1;
            }
        });
        if let Inst::Loop(l) = inst {
            if let Some(s) = &l.save {
                for v in &s.vals {
                    *uses.entry(*v).or_default() += 1;
                }
            }
        }
        for b in inst.blocks() {
            count_uses(b, uses);
        }
    }
    for y in &block.yields {
        if let Operand::Var(v) = y {
            *uses.entry(*v).or_default() += 1;
        }
    }
}
