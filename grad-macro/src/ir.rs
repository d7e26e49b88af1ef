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
use std::collections::HashMap;

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
    /// A temporary of derivative code: inlined into its single use where possible.
    Anon,
    /// A branch's value carried out of its `if` for the reverse sweep: the same name.
    Export(Var),
}

#[derive(Clone, Debug)]
pub struct VarInfo {
    pub kind: Kind,
    pub name: Name,
    /// Depends on a differentiated (`wrt`) parameter.
    pub active: bool,
    pub span: Span,
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
        }
    }

    /// Calls `f` on every operand this instruction reads directly (not inside nested blocks).
    pub fn for_each_operand(&self, f: &mut impl FnMut(&Operand)) {
        match self {
            Inst::Op { args, .. } => args.iter().for_each(f),
            Inst::Opaque { expr, .. } => expr.refs.iter().for_each(|v| f(&Operand::Var(*v))),
            Inst::Cond { cond, .. } => cond.for_each_operand(f),
            Inst::If { cond, .. } => f(cond),
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
        }
    }
}

impl Opaque {
    fn map_refs(&mut self, f: &mut impl FnMut(&mut Operand)) {
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

/// Renames variables throughout a block.
pub fn rename(block: &mut Block, map: &HashMap<Var, Var>) {
    if map.is_empty() {
        return;
    }
    block.map_operands(&mut |o| {
        if let Operand::Var(v) = o {
            if let Some(n) = map.get(v) {
                *v = *n;
            }
        }
    });
}
