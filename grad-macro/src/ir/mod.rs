//! The intermediate representation every pass works on.
//!
//! A function body becomes structured SSA: a [`Block`] is a list of [`Inst`]s, each defining its
//! [`Var`]s where they are not yet visible, and ending in the values it yields. Control flow is
//! [`Inst::If`], whose branches are blocks and whose results (`outs`) play the role of phi
//! nodes, and [`Loop`], whose carried variables do. `validate` states the invariants and checks
//! them after every pass in tests; `visit` walks a body (`walk`, `walk_mut`, `any`); `util`
//! holds the small transformations passes share. Values the macro does not model (integer data, struct fields, user constants) are
//! carried as opaque tokens with no derivative.
//!
//! Why this shape: the reverse sweep (and later forward mode, loops and second order) are passes
//! from one `Func` to another, so a derivative program can be simplified, printed, interpreted
//! in tests or differentiated again with the same code.

mod util;
#[cfg(test)]
pub mod validate;
mod visit;

pub use util::*;
#[cfg(test)]
pub use validate::validate;
pub use visit::{any, walk, walk_blocks, walk_blocks_mut, walk_inst, walk_mut};

use proc_macro2::{Span, TokenStream};
use rustc_hash::FxHashMap as HashMap;

/// The float type a function is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Float {
    F32,
    F64,
    /// The type parameter of a function generic over its float type (`fn f<T: Real>`). The
    /// macro reads the function with the parameter renamed [`GENERIC_FLOAT`] and names it
    /// back in its output (`expand::generic`). Constants are held as `f64` and written
    /// `T::from_f64(c)`; two are folded into one only where `f32` and `f64` agree exactly.
    Generic,
}

/// What the float type parameter of a generic function is called while the macro reads it.
pub const GENERIC_FLOAT: &str = "__grad_float";

impl Float {
    /// Rounds `v` to this type (exactly representable as `f64` either way).
    pub fn round(self, v: f64) -> f64 {
        match self {
            Float::F32 => v as f32 as f64,
            Float::F64 | Float::Generic => v,
        }
    }

    /// Whether `v`, a constant computed by the macro, is what the function's own arithmetic
    /// gives: always for `f32` and `f64` (the macro rounds as they do), and for a generic
    /// float only when `v` is a normal `f32` too (or zero), so that either instance agrees.
    pub fn exact(self, v: f64) -> bool {
        match self {
            Float::F32 | Float::F64 => true,
            Float::Generic => v == 0.0 || ((v as f32) as f64 == v && (v as f32).is_normal()),
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
    /// The lengths are fixed but not written in the source (`lens` are `None`): an array a
    /// `#[grad]` function returned. Its zeros are made from the array itself.
    pub len_from_value: bool,
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
    /// A copy of the array `src`, of the same shape (`let mut u = u0;`).
    Copy(Var),
    /// Zeros shaped like the array `of`, made from its value (an array whose lengths the
    /// source does not write: see [`ArrayInfo::len_from_value`]), so `of` is read.
    ZeroOf(Var),
    /// The array a `#[grad]` function returned (`let k1 = rhs(s, k);`): `value` (what its
    /// pullback gave), with, for each argument `args[i]`, the callee's Jacobian block
    /// `partials[i]` (row `r` the gradient of element `r` with respect to that argument; `0.0`
    /// for an argument without derivative).
    Pulled {
        value: Operand,
        args: Vec<Operand>,
        partials: Vec<Operand>,
    },
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

// A header lives in a `Loop`, which an `Inst` boxes: the variants' sizes cost nothing there.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Header {
    /// `for pat in iter`: `pat.refs` are the variables the pattern binds (defined, not read);
    /// `elems` says which of them are elements of a differentiated array.
    For {
        pat: Opaque,
        iter: Opaque,
        /// How the loop walks `iter`: as written, or as a reverse sweep walks it.
        walk: Walk,
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

/// How a `for` loop walks its iterable. `emit` writes a sweep's walk with the runtime's
/// adapters (`rev`, `enumerate_rev`, `rev_prefix`, ...).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Walk {
    /// `for pat in iter`.
    AsWritten,
    /// The iterations of the loop a reverse sweep reverses: last first (`reverse`) or in their
    /// order, each with its position first in the pattern (`enumerate`), and only the first
    /// `count` when that loop may have stopped early.
    Sweep {
        reverse: bool,
        enumerate: bool,
        count: Option<Var>,
    },
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

/// Storage for carried values, declared before the loop.
#[derive(Clone, Debug)]
pub struct Save {
    pub buf: Var,
    pub storage: Storage,
    pub vals: Vec<Var>,
}

/// Where a loop keeps what its iterations save for the reverse sweep. The sweep chooses;
/// `emit` writes it as the runtime's `SavedN` (stack) or `Saved` (heap). Storage on the heap
/// of a loop nested in another is made once, before the outermost loop, and emptied for each
/// run of the inner one.
#[derive(Clone, Debug)]
pub enum Storage {
    /// On the stack, for a constant trip count `n` up to a bound.
    Stack(TokenStream),
    /// On the heap, one allocation of a trip count `n` known before the loop runs.
    Heap(TokenStream),
    /// On the heap, one allocation of the iterable's length (an `ExactSizeIterator`'s).
    Iter(Opaque),
    /// On the heap, growing as iterations run (a `loop` or `while`).
    Growing,
}

#[derive(Clone, Debug)]
pub struct Restore {
    pub buf: Var,
    pub vars: Vec<Var>,
}

/// How a variable is named when emitted. Names are given at emission (see `emit/`), so passes
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
    /// A call of another `#[grad]` function's pullback (`(value, partials)`), with what second
    /// order needs to call its tangent (`pullback_jvp`); `None` for anything else.
    pub call: Option<std::rc::Rc<PulledCall>>,
    /// A part of what a pullback call returned (its value, a partial): second order needs
    /// the call's tangent for it (`ad::forward`).
    pub pulled_part: Option<PulledPart>,
    /// A runtime product of its two references (`vjp(j, d)`, `dot(p, d)`, `jvp(j, t)`: linear
    /// in each), which forward mode differentiates by the product rule (`ad::forward`).
    pub bilinear: bool,
}

/// Which part of what a pullback returned (`(value, partials)`) a variable is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PulledPart {
    Value,
    /// The partial in slot `k` of the partials (a method's `self` is slot 0).
    Partial(usize),
}

/// An argument of a [`PulledCall`]: one of the call's references (so that a copy of the call,
/// its references renamed, still finds it), or tokens without any.
#[derive(Debug)]
pub enum CallArg {
    Ref(usize),
    Tokens(TokenStream),
}

impl CallArg {
    /// An argument written `t`, with references `refs` (of the call's first).
    pub fn of(refs: &[Var], t: &TokenStream) -> CallArg {
        match refs.first() {
            Some(_) => CallArg::Ref(0),
            None => CallArg::Tokens(t.clone()),
        }
    }

    /// Its reference, counted after the call's first `n`.
    pub fn shifted(self, n: usize) -> CallArg {
        match self {
            CallArg::Ref(i) => CallArg::Ref(i + n),
            other => other,
        }
    }
}

/// A call of a `#[grad]` function's pullback, as forward mode over the reverse sweep (second
/// order) needs it: the tangent of the pullback's results along the arguments' tangents comes
/// from the callee's `pullback_jvp`, which takes the same arguments and one tangent per
/// argument (`()` where the callee is not differentiated).
#[derive(Debug)]
pub struct PulledCall {
    /// The path of the callee's `pullback_jvp` (for a method, its name: `f_pullback_jvp`);
    /// `None` where second order cannot go through the call (a slice argument).
    pub jvp: Option<TokenStream>,
    /// The callee returns an array: its pullback gives Jacobian blocks, and their tangents
    /// come from `pullback_jvp`, direction by direction (it has no `pullback_hessian`).
    pub blocks: bool,
    /// A method's receiver (`self.f(..)`), as the arguments are.
    pub recv: Option<CallArg>,
    /// The arguments, in order, each passed by reference or not: the call's `refs[i]`, or
    /// tokens (a literal).
    pub args: Vec<(CallArg, bool)>,
    /// Where the call is, for messages.
    pub span: Span,
    /// The callee's name, for messages.
    pub name: String,
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
    /// A write of the whole array `arr`: `arr = src` (an array of its shape), `arr += src`
    /// element by element, or, with `src` the literal `0.0` and `Set`, every element zeroed.
    Assign {
        arr: Var,
        src: Operand,
        op: StoreOp,
        span: Span,
        /// With `Add`: `arr += scale · src` (a callee's gradient scaled by the adjoint of its
        /// value).
        scale: Option<Operand>,
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

/// Zeros shaped like the array `like`: from its lengths, or from its value when the source
/// does not write them.
pub fn zeros_like(arrays: &HashMap<Var, ArrayInfo>, like: Var) -> ArrayInit {
    if arrays.get(&like).is_some_and(|i| i.len_from_value) {
        ArrayInit::ZeroOf(like)
    } else {
        ArrayInit::Zero { like }
    }
}

impl Func {
    pub fn info(&self, v: Var) -> &VarInfo {
        &self.vars[v.0 as usize]
    }
}
