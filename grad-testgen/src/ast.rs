//! The language of generated programs: a subset of what `#[grad]` accepts, as data.
//!
//! Variable references are indices resolved against the variables in scope where they are
//! used (`index % count`), so every generated (and every shrunk) program is well formed.
//! Domain-restricted functions are applied to guarded arguments (`ln(a² + ½)`), built into the
//! tree, so the printed program and the oracle agree on them by construction.
//!
//! The loop language (`gen::loop_program`) adds `for` over ranges and arrays, `while`,
//! `break`/`continue`/`return`, `match` on data, local arrays, an array `wrt` parameter and
//! iterator sums. Its references resolve the same way: loop variables, arrays and store targets
//! by index modulo what is in scope, and a construct with nothing to refer to prints as a
//! fallback (or nothing), identically for the printer and the oracle, which walk the program
//! with the same [`Scope`].
//!
//! The call language (`gen::call_program`) adds [`Expr::Call`]: a call of one of the program's
//! [`Callee`]s (generated straight-line programs of their own, printed apart, named by the path
//! their [`Place`] gives), its arguments resolved by index modulo the callee's parameters,
//! [`Expr::DataVar`] for what goes to a parameter the callee is not differentiated in, and
//! [`Expr::Recur`] for a helper calling itself.

use std::fmt::{self, Write};

/// A unary function: a method of `f64` or a helper of `grad`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F1 {
    Exp,
    Exp2,
    ExpM1,
    Ln,
    Log2,
    Log10,
    Ln1p,
    Sqrt,
    Cbrt,
    Recip,
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    Asinh,
    Acosh,
    Atanh,
    Abs,
    Signum,
    Floor,
    Ceil,
    Round,
    RoundTiesEven,
    Trunc,
    Fract,
    ToRadians,
    ToDegrees,
    Sigmoid,
    Relu,
    Softplus,
    LogSigmoid,
}

impl F1 {
    pub const ALL: &'static [F1] = &[
        F1::Exp,
        F1::Exp2,
        F1::ExpM1,
        F1::Ln,
        F1::Log2,
        F1::Log10,
        F1::Ln1p,
        F1::Sqrt,
        F1::Cbrt,
        F1::Recip,
        F1::Sin,
        F1::Cos,
        F1::Tan,
        F1::Asin,
        F1::Acos,
        F1::Atan,
        F1::Sinh,
        F1::Cosh,
        F1::Tanh,
        F1::Asinh,
        F1::Acosh,
        F1::Atanh,
        F1::Abs,
        F1::Signum,
        F1::Floor,
        F1::Ceil,
        F1::Round,
        F1::RoundTiesEven,
        F1::Trunc,
        F1::Fract,
        F1::ToRadians,
        F1::ToDegrees,
        F1::Sigmoid,
        F1::Relu,
        F1::Softplus,
        F1::LogSigmoid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            F1::Exp => "exp",
            F1::Exp2 => "exp2",
            F1::ExpM1 => "exp_m1",
            F1::Ln => "ln",
            F1::Log2 => "log2",
            F1::Log10 => "log10",
            F1::Ln1p => "ln_1p",
            F1::Sqrt => "sqrt",
            F1::Cbrt => "cbrt",
            F1::Recip => "recip",
            F1::Sin => "sin",
            F1::Cos => "cos",
            F1::Tan => "tan",
            F1::Asin => "asin",
            F1::Acos => "acos",
            F1::Atan => "atan",
            F1::Sinh => "sinh",
            F1::Cosh => "cosh",
            F1::Tanh => "tanh",
            F1::Asinh => "asinh",
            F1::Acosh => "acosh",
            F1::Atanh => "atanh",
            F1::Abs => "abs",
            F1::Signum => "signum",
            F1::Floor => "floor",
            F1::Ceil => "ceil",
            F1::Round => "round",
            F1::RoundTiesEven => "round_ties_even",
            F1::Trunc => "trunc",
            F1::Fract => "fract",
            F1::ToRadians => "to_radians",
            F1::ToDegrees => "to_degrees",
            F1::Sigmoid => "sigmoid",
            F1::Relu => "relu",
            F1::Softplus => "softplus",
            F1::LogSigmoid => "log_sigmoid",
        }
    }

    pub fn is_helper(self) -> bool {
        matches!(self, F1::Sigmoid | F1::Relu | F1::Softplus | F1::LogSigmoid)
    }

    /// The argument's domain, which the generator guards.
    pub fn domain(self) -> Domain {
        match self {
            F1::Ln | F1::Log2 | F1::Log10 | F1::Sqrt | F1::Recip => Domain::Positive,
            F1::Ln1p => Domain::Positive,
            F1::Asin | F1::Acos | F1::Atanh => Domain::OpenUnit,
            F1::Acosh => Domain::AboveOne,
            // cbrt's derivative is infinite at 0: keep away from it.
            F1::Cbrt => Domain::Positive,
            // Keep exponentials and tan from overflowing or nearing a pole.
            F1::Exp | F1::Exp2 | F1::ExpM1 | F1::Sinh | F1::Cosh | F1::Tan => Domain::Bounded,
            _ => Domain::All,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    All,
    /// `a·a + ½`.
    Positive,
    /// `a.tanh() · 0.9`.
    OpenUnit,
    /// `a·a + 1.5`.
    AboveOne,
    /// `a.tanh() · 1.2`.
    Bounded,
}

/// A binary function of `f64` (method form, receiver first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum F2 {
    Atan2,
    Hypot,
    Min,
    Max,
    /// Receiver guarded positive, exponent bounded.
    Powf,
    /// Both guarded: value `> 0`, base `> 1`.
    Log,
    LeakyRelu,
    Copysign,
    Midpoint,
    /// Divisor guarded positive (also for the next two).
    RemEuclid,
    DivEuclid,
    /// The operator `%`.
    Rem,
}

impl F2 {
    pub const ALL: &'static [F2] = &[
        F2::Atan2,
        F2::Hypot,
        F2::Min,
        F2::Max,
        F2::Powf,
        F2::Log,
        F2::LeakyRelu,
        F2::Copysign,
        F2::Midpoint,
        F2::RemEuclid,
        F2::DivEuclid,
        F2::Rem,
    ];
    pub fn name(self) -> &'static str {
        match self {
            F2::Atan2 => "atan2",
            F2::Hypot => "hypot",
            F2::Min => "min",
            F2::Max => "max",
            F2::Powf => "powf",
            F2::Log => "log",
            F2::LeakyRelu => "leaky_relu",
            F2::Copysign => "copysign",
            F2::Midpoint => "midpoint",
            F2::RemEuclid => "rem_euclid",
            F2::DivEuclid => "div_euclid",
            F2::Rem => "%",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

impl Arith {
    pub const ALL: &'static [Arith] = &[Arith::Add, Arith::Sub, Arith::Mul, Arith::Div];
    pub fn symbol(self) -> &'static str {
        match self {
            Arith::Add => "+",
            Arith::Sub => "-",
            Arith::Mul => "*",
            Arith::Div => "/",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub const ALL: &'static [CmpOp] = &[CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge];
    pub fn symbol(self) -> &'static str {
        match self {
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// An integer exponent for `powi`: a literal, or `k + c` over the integer data parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntExpr {
    Lit(i32),
    KPlus(i32),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A float in scope: parameters first (wrt, then data), then locals, by index modulo their
    /// number.
    Var(u8),
    Lit(f64),
    /// `std::f64::consts::PI`.
    Pi,
    /// The generated module's `const K: f64`.
    UserConst,
    /// `k as f64` (the integer data parameter).
    IntAsFloat,
    /// The local bound last (or `w0` when there is none): programs end with `latest · w0 + ..`
    /// so that their statements reach the result.
    Latest,
    Neg(Box<Expr>),
    Bin(Arith, Box<Expr>, Box<Expr>),
    F1(F1, Box<Expr>),
    F2(F2, Box<Expr>, Box<Expr>),
    MulAdd(Box<Expr>, Box<Expr>, Box<Expr>),
    Powi(Box<Expr>, IntExpr),
    /// `x.clamp(lo, lo + (w² + ⅛))`: bounds in order by construction (clamp panics otherwise).
    Clamp(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `if cond { a } else { b }`.
    If(Box<Cond>, Box<Expr>, Box<Expr>),
    /// `(i as f64)` for a loop variable in scope (counted from the innermost), `(k as f64)`
    /// outside loops.
    LoopIdx(u8),
    /// An element of a readable array (counted from the first: the `wrt` array, the data
    /// array, then filled local arrays); [`Expr::Var`] of the same index when there is none.
    Elem(u8, Ix),
    /// `match on { p | q => a, .., _ => default }` with float arms.
    Match {
        on: MatchOn,
        arms: Vec<(Vec<i8>, Expr)>,
        default: Box<Expr>,
    },
    /// `a.iter().map(|&c| body).sum::<f64>()` (or `.product`), or over `a.iter().zip(b.iter())`;
    /// [`Expr::Var`] of the first index when no array is readable.
    Reduce {
        kind: ReduceKind,
        src: IterSrc,
        body: Box<Expr>,
    },
    /// A float data parameter (`x{i % n_data}`), or `(k as f64)` when there is none: what a
    /// call may pass to a parameter its callee is not differentiated in.
    DataVar(u8),
    /// A call of one of the program's [`Callee`]s.
    Call(Box<Call>),
    /// A call of the function itself, with `k - 1` (`callee` and `k` unused): only in the
    /// `else` branch of `if k <= 0`, so it ends.
    Recur(Box<Call>),
}

/// `path(a0, .., d0, .., k, flag)`: a call of callee `callee % callees.len()` (its first
/// argument, when the program has none). The callee's differentiated parameters get
/// `args[j % args.len()]`, its float data parameters `data[j % data.len()]` (expressions over
/// data only), then its `k` and `flag`.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub callee: u8,
    pub args: Vec<Expr>,
    pub data: Vec<Expr>,
    pub k: IntArg,
    pub flag: FlagArg,
    /// What goes to the callee's array parameters (arrays across calls, `gen::array_call_program`
    /// only): `arrays[0]` picks the array passed to its `wrt` array (see [`Scope::array_arg`]);
    /// empty: the first that fits.
    pub arrays: Vec<u8>,
}

/// What a call passes to its callee's `k: i32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntArg {
    K,
    Lit(i8),
}

/// What a call passes to its callee's `flag: bool`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagArg {
    Flag,
    NotFlag,
    Lit(bool),
}

/// Where a callee is defined, which decides the path a call names it by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Next to its caller: `h(..)`.
    Here,
    /// In the nested module [`CALL_MODULE`]: `m::h(..)`.
    Module,
    /// `pub` in the library [`CALL_CRATE`], another crate than its caller's.
    Crate,
    /// Next to the callers, called from a helper in the nested module: `super::h(..)`.
    Super,
}

/// The module callees of [`Place::Module`] live in, next to their callers.
pub const CALL_MODULE: &str = "m";
/// The path of the module of another crate callees of [`Place::Crate`] live in.
pub const CALL_CRATE: &str = "grad_difftest::calls";

/// A function a program calls: a straight-line program of its own, with `#[grad]` (a
/// building block, differentiated in all its float parameters, so `body.n_data == 0`) or
/// `#[grad(wrt = w0, ..)]` (its `x` parameters are data, to which callers pass data only).
#[derive(Clone, Debug, PartialEq)]
pub struct Callee {
    pub name: String,
    pub place: Place,
    pub building_block: bool,
    pub body: Program,
    /// Its array parameters (`wa`, `xs` of its body) taken by reference (`wa: &[f64; 3]`, and
    /// the caller passes `&z`) instead of by value (arrays across calls only).
    pub by_ref: bool,
    /// Not empty: it returns `[f64; M]`, its body ending with these `M` results as an array
    /// literal (its `body.ret` unused), and callers bind the result (`let mut z = h(..);`,
    /// [`Stmt::ArrayCall`]).
    pub outputs: Vec<Expr>,
}

impl Callee {
    /// How a caller names it.
    pub fn path(&self) -> String {
        match self.place {
            Place::Here => self.name.clone(),
            Place::Module => format!("{CALL_MODULE}::{}", self.name),
            Place::Crate => format!("{CALL_CRATE}::{}", self.name),
            Place::Super => format!("super::{}", self.name),
        }
    }

    /// Where this callee is, as seen from a function at `from` (`None`: out of reach, as a
    /// function of the test crate is from the library).
    pub fn seen_from(&self, from: Place) -> Option<Place> {
        match (from, self.place) {
            (Place::Here | Place::Super, p) => Some(p),
            (Place::Module, Place::Here) => Some(Place::Super),
            (Place::Module, Place::Module) | (Place::Crate, Place::Crate) => Some(Place::Here),
            (Place::Module, p) => Some(p),
            (Place::Crate, _) => None,
        }
    }

    /// Its definition, as Rust source (`pub` unless it lives next to its callers).
    pub fn source(&self) -> String {
        let attr = if self.building_block {
            "#[grad]".to_string()
        } else {
            self.body.wrt_attr()
        };
        let vis = if matches!(self.place, Place::Here | Place::Super) {
            ""
        } else {
            "pub "
        };
        if self.outputs.is_empty() && !self.by_ref && !self.writes_wa() {
            return self.body.print(&self.name, &attr, vis);
        }
        let ty = if self.outputs.is_empty() {
            "f64".to_string()
        } else {
            format!("[f64; {}]", self.outputs.len())
        };
        let last = |scope: &Scope| {
            if self.outputs.is_empty() {
                return expr_str(&self.body.ret, scope);
            }
            let results: Vec<String> = self.outputs.iter().map(|e| expr_str(e, scope)).collect();
            format!("[{}]", results.join(", "))
        };
        let mut params = self.body.params_with(self.by_ref);
        if self.writes_wa() {
            for p in &mut params {
                if p.starts_with("wa: ") {
                    *p = format!("mut {p}");
                }
            }
        }
        self.body
            .print_with(&self.name, &attr, vis, &params, &ty, &last)
    }

    /// Whether its body writes its parameter `wa` in place ([`WA_PARAM`]; taken by value).
    pub fn writes_wa(&self) -> bool {
        !self.by_ref
            && self
                .body
                .stmts
                .iter()
                .any(|s| matches!(s, Stmt::Store { arr, .. } if *arr == WA_PARAM))
    }

    /// What a caller knows of it.
    pub fn sig(&self) -> CalleeSig {
        CalleeSig {
            path: self.path(),
            n_wrt: self.body.n_wrt,
            n_data: self.body.n_data,
            wrt_array: self.body.wrt_array,
            data_array: self.body.data_array,
            by_ref: self.by_ref,
            outputs: self.outputs.len(),
        }
    }
}

/// What the printer knows of a callee: its path and parameters.
#[derive(Clone, Debug)]
pub struct CalleeSig {
    pub path: String,
    pub n_wrt: usize,
    pub n_data: usize,
    /// Whether it takes a differentiated array `[f64; WA_LEN]` (after its `wrt` floats) and a
    /// data array `[f64; XS_LEN]` (after its data floats), by reference or not, and how many
    /// floats it returns in an array (0: it returns `f64`).
    pub wrt_array: bool,
    pub data_array: bool,
    pub by_ref: bool,
    pub outputs: usize,
}

/// An array index: a loop variable in scope (from the innermost), or a literal, reduced
/// modulo the array's length where it could exceed it; or, for an array of length `n`, another
/// element than the loop variable's: `n - 1 - i` ([`Ix::Rev`]), `(i + 1) % n` ([`Ix::Next`]),
/// `IDXn[i]` through a constant permutation ([`Ix::Gather`], see [`index_tables`]), or the last
/// element `n - 1` ([`Ix::Last`]); or (array state, `gen::state_program` only) the element
/// before, `(i + n - 1) % n`, printed `i - 1` where the loop variable starts at 1 or later
/// ([`Ix::Prev`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ix {
    Loop(u8),
    Lit(u8),
    Rev(u8),
    Next(u8),
    Gather(u8),
    Last,
    Prev(u8),
}

impl Ix {
    /// Whether the index names another element than the loop variable's own (a constant one
    /// included).
    pub fn is_other(self) -> bool {
        !matches!(self, Ix::Loop(_))
    }
}

/// The permutations `IDXn` (`n` from 2 to [`MAX_GATHER`]) that [`Ix::Gather`] reads through:
/// none is the identity or the reversal, and (but for `n = 2`) no element stays in place.
pub const PERMUTATIONS: &[&[usize]] = &[
    &[1, 0],
    &[2, 0, 1],
    &[2, 0, 3, 1],
    &[3, 0, 4, 1, 2],
    &[4, 2, 0, 5, 3, 1],
];
/// The longest array [`Ix::Gather`] reads through a table (longer ones read `(i + 1) % n`).
pub const MAX_GATHER: usize = 6;

/// The permutation table for an array of length `n` (`None` outside `2..=MAX_GATHER`).
pub fn permutation(n: usize) -> Option<&'static [usize]> {
    (2..=MAX_GATHER).contains(&n).then(|| PERMUTATIONS[n - 2])
}

/// The `const IDXn: [usize; n] = [..];` items the programs' gathers name, to print next to
/// `const K`.
pub fn index_tables() -> String {
    let mut out = String::new();
    for p in PERMUTATIONS {
        let v: Vec<String> = p.iter().map(usize::to_string).collect();
        let _ = writeln!(
            out,
            "#[allow(dead_code)]\nconst IDX{n}: [usize; {n}] = [{}];",
            v.join(", "),
            n = p.len()
        );
    }
    out
}

/// What a `match` chooses by: `k`, a loop variable (`k` outside loops), or `flag`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOn {
    K,
    Loop(u8),
    Flag,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceKind {
    Sum,
    Product,
}

/// The arrays an iterator sum walks (indices into the readable arrays).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterSrc {
    One(u8),
    Zip(u8, u8),
}

/// An integer a data-only condition tests: a loop variable (from the innermost; `k` outside
/// loops) or `k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntAtom {
    Loop(u8),
    K,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntCmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl IntCmp {
    pub const ALL: &'static [IntCmp] = &[
        IntCmp::Eq,
        IntCmp::Ne,
        IntCmp::Lt,
        IntCmp::Le,
        IntCmp::Gt,
        IntCmp::Ge,
    ];
    pub fn symbol(self) -> &'static str {
        match self {
            IntCmp::Eq => "==",
            IntCmp::Ne => "!=",
            IntCmp::Lt => "<",
            IntCmp::Le => "<=",
            IntCmp::Gt => ">",
            IntCmp::Ge => ">=",
        }
    }
    pub fn holds(self, a: i64, b: i64) -> bool {
        match self {
            IntCmp::Eq => a == b,
            IntCmp::Ne => a != b,
            IntCmp::Lt => a < b,
            IntCmp::Le => a <= b,
            IntCmp::Gt => a > b,
            IntCmp::Ge => a >= b,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Cmp(CmpOp, Expr, Expr),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    /// The `bool` data parameter.
    Flag,
    /// A condition on integer data only: `(i0 == 2)`, `(k < 1)`.
    Int(IntAtom, IntCmp, u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignOp {
    Set,
    Add,
    Sub,
    Mul,
    Div,
}

impl AssignOp {
    pub const ALL: &'static [AssignOp] = &[
        AssignOp::Set,
        AssignOp::Add,
        AssignOp::Sub,
        AssignOp::Mul,
        AssignOp::Div,
    ];
    pub fn symbol(self) -> &'static str {
        match self {
            AssignOp::Set => "=",
            AssignOp::Add => "+=",
            AssignOp::Sub => "-=",
            AssignOp::Mul => "*=",
            AssignOp::Div => "/=",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `let mut v = value;`: a new local, or (`shadow`) a new binding of an existing name.
    Let { shadow: Option<u8>, value: Expr },
    /// `v op= value;` on a local in scope (skipped when there is none).
    Assign {
        target: Target,
        op: AssignOp,
        value: Expr,
    },
    /// An `if` statement whose branches assign existing locals (in the loop language also
    /// store, and end with a jump).
    If {
        cond: Cond,
        then: Vec<Stmt>,
        els: Vec<Stmt>,
    },
    /// A loop; its body is a block (its `let`s end with it).
    Loop { header: Header, body: Vec<Stmt> },
    /// `break;` / `continue;` (nothing outside loops), `return value;`.
    Jump(Jump),
    /// `let mut z = [0.0; len];`: writable until the first statement of its block that
    /// stores (to any array) has run, readable (and never written again) after it, so no
    /// array of this kind is written after a loop reads it (which the macro refused before
    /// issue 18; array state is [`Stmt::ArrayCopy`]'s).
    ArrayDecl { len: u8 },
    /// Array state (`gen::state_program`): `let mut z = src;`, a whole copy of a readable
    /// array (`wa`, `xs`, a local one; counted from the first, [`LATEST`] and
    /// [`BEFORE_LATEST`] from the last), or `[0.0; len]` (`src` `None`, or no array
    /// readable). The new array ([`ArrayKind::State`]) is readable and writable for the rest
    /// of its block: stores, whole assignments and loops reading it mix in any order (in
    /// place, after a loop read it, double-buffered). `len` is the length of zeros only (0:
    /// that of the latest readable array, or 3).
    ArrayCopy { src: Option<u8>, len: u8 },
    /// `z = src;`: a whole assignment to an array of [`ArrayKind::State`] (counted from the
    /// latest, not one a loop around borrows) from another readable array of the same length
    /// (as [`Stmt::ArrayCopy`]'s `src`; the latest other one of that length if `src` is `z`
    /// itself or another length), or `z = [0.0; n];` (`None`, or none of that length).
    /// Nothing when no array of that kind is in scope.
    ArrayAssign { dst: u8, src: Option<u8> },
    /// `z[ix] op value;` on a writable local array (counted from the latest); nothing when
    /// there is none.
    Store {
        arr: u8,
        ix: Ix,
        op: StoreOp,
        value: Expr,
    },
    /// Arrays across calls (`gen::array_call_program`): `let mut z = h(..);`, the result of a
    /// callee returning an array ([`Scope::array_callee`]), a new array of
    /// [`ArrayKind::State`] (annotated `let mut z: [f64; M] = ..` when `typed`); or, `assign`
    /// naming an array of state of the result's length ([`Scope::state_array`] among those),
    /// `z = h(..);`, a whole assignment (a new array when there is none). Nothing when the
    /// program has no such callee.
    ArrayCall {
        call: Call,
        typed: bool,
        assign: Option<u8>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Jump {
    Break,
    Continue,
    Return(Expr),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreOp {
    Set,
    Add,
    Sub,
}

impl StoreOp {
    pub const ALL: &'static [StoreOp] = &[StoreOp::Set, StoreOp::Add, StoreOp::Sub];
    pub fn symbol(self) -> &'static str {
        match self {
            StoreOp::Set => "=",
            StoreOp::Add => "+=",
            StoreOp::Sub => "-=",
        }
    }
}

/// The head of a loop. Trip counts stay at 6 or below.
#[derive(Clone, Debug, PartialEq)]
pub enum Header {
    /// `for i in lo..lo + len`, `lo..=lo + len - 1`, or either `.rev()`.
    Range {
        lo: u8,
        len: u8,
        inclusive: bool,
        rev: bool,
    },
    /// `for i in 0..(k.unsigned_abs() as usize)`: a trip count from data (0 to 3).
    KRange,
    /// Over a readable array (from the first); `0..3` when there is none.
    Iter { arr: u8, form: IterForm },
    /// `let mut t = 0; while t < n [&& cond] { t += 1; body }`.
    While { n: u8, cond: Option<Cond> },
}

/// How a `for` loop walks an array `a` (`b` a second readable array).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterForm {
    /// `for &e in a.iter()`
    Iter,
    /// `for &e in &a`
    Ref,
    /// `for e in a`
    Value,
    /// `for e in a.iter().copied()`
    Copied,
    /// `for &e in a.iter().rev()` (the data array only; `a.iter()` for another)
    Rev,
    /// `for (i, &e) in a.iter().enumerate()`
    Enumerate,
    /// `for (&e, &p) in a.iter().zip(b.iter())`
    Zip(u8),
    /// `for (&e, &p) in a.iter().zip(&b)`
    ZipRef(u8),
    /// `let mut rest = &a[..]; while !rest.is_empty() { let e = rest[0]; rest = &rest[1..]; ..
    /// }` (the data array only; `a.iter()` for another)
    Reslice,
}

/// A generated function: `fn name(w0.., x0.., k: i32, flag: bool) -> f64`, differentiated
/// with respect to every `w`.
#[derive(Clone, PartialEq)]
pub struct Program {
    pub n_wrt: usize,
    /// `wa: [f64; WA_LEN]`, differentiated (after the scalar `wrt` parameters).
    pub wrt_array: bool,
    pub n_data: usize,
    /// `xs: [f64; XS_LEN]`, data (after the float data parameters).
    pub data_array: bool,
    pub stmts: Vec<Stmt>,
    pub ret: Expr,
    /// The functions its [`Expr::Call`]s call (none outside the call language).
    pub callees: Vec<Callee>,
}

/// The value of `const K` in generated modules.
pub const USER_CONST: f64 = 0.75;
/// An array reference meaning the readable array declared last (a local array just filled).
pub const LATEST: u8 = u8::MAX;
/// An array reference meaning the readable array declared before the last (the current state
/// of a double-buffered time loop, whose buffer is the last).
pub const BEFORE_LATEST: u8 = u8::MAX - 1;
/// An array reference meaning the `wrt` array parameter `wa` itself, written in place by a
/// helper taking it by value (`mut wa: [f64; 3]`, [`Stmt::Store`] only: `gen::array_callee`).
pub const WA_PARAM: u8 = u8::MAX - 2;
/// The length of the `wrt` array parameter `wa`.
pub const WA_LEN: usize = 3;
/// The length of the data array parameter `xs`.
pub const XS_LEN: usize = 4;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayKind {
    Wrt,
    Data,
    Writable,
    Readable,
    /// Declared by [`Stmt::ArrayCopy`]: readable and writable (but not while a loop around
    /// borrows it, `for &e in z.iter()`).
    State,
}

#[derive(Clone, Debug)]
pub struct Array {
    pub name: String,
    pub len: usize,
    pub kind: ArrayKind,
    /// `xs`, or a copy of it (of a copy, ..): data (see [`WORK_AROUND_DATA_COPY_STORE`]).
    pub data: bool,
    /// The array it is a copy of (`let mut zn = z;`), and the loop depth it was declared at
    /// (see [`WORK_AROUND_WHOLE_ASSIGN_IN_BRANCH`]).
    pub origin: Option<usize>,
    pub depth: usize,
    /// The result of a call ([`Stmt::ArrayCall`]), or a copy of one (see
    /// [`WORK_AROUND_CALL_RESULT_IN_BRANCH`]).
    pub from_call: bool,
}

/// An integer loop variable in scope, and the largest value it may take (`None`: unknown to
/// the printer, so indices with it are always reduced modulo the length).
#[derive(Clone, Debug)]
pub struct LoopVar {
    pub name: String,
    pub max: Option<usize>,
    /// The smallest value it takes.
    pub min: usize,
}

/// Where a block began, to drop what it bound when it ends.
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    names: usize,
    n_locals: usize,
    arrays: usize,
    n_arrays: usize,
    loops: usize,
    depth: usize,
    jump_pending: bool,
    borrowed: usize,
}

/// How an array index resolves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    Lit(usize),
    /// Loop variable `var` (an index into [`Scope::loops`]), `% len` when it may exceed it,
    /// then mapped by `map`.
    Var {
        var: usize,
        modulo: Option<usize>,
        map: IndexMap,
    },
}

/// What an index does with its loop variable `i` (already reduced below the length `n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexMap {
    /// `i`
    Same,
    /// `n - 1 - i`
    Rev(usize),
    /// `(i + 1) % n`
    Next(usize),
    /// `IDXn[i]`
    Gather(usize),
    /// `(i + n - 1) % n`
    Prev(usize),
}

impl IndexMap {
    /// The element `i` maps to.
    pub fn apply(self, i: usize) -> usize {
        match self {
            IndexMap::Same => i,
            IndexMap::Rev(n) => n - 1 - i,
            IndexMap::Next(n) => (i + 1) % n,
            IndexMap::Gather(n) => permutation(n).expect("a gather has a table")[i],
            IndexMap::Prev(n) => (i + n - 1) % n,
        }
    }
}

/// The names in scope while walking a program, for the printer and the evaluators alike.
#[derive(Clone, Debug)]
pub struct Scope {
    /// Parameters, then locals: the name each index resolves to.
    pub names: Vec<String>,
    pub n_params: usize,
    pub n_locals: usize,
    /// Arrays in scope: `wa`, `xs`, then local arrays.
    pub arrays: Vec<Array>,
    /// Local arrays declared (their names are `z0`, `z1`, ..).
    pub n_arrays: usize,
    /// Integer loop variables in scope, outermost first.
    pub loops: Vec<LoopVar>,
    /// Enclosing loops (for the names of loop variables, and whether a jump is allowed).
    pub depth: usize,
    /// Enclosing closures (for the names of their parameters).
    pub closures: usize,
    /// Whether a jump may have happened and still be in effect here: a `return` before, a
    /// `break` or `continue` before in this loop's body, or the body of a `while` (see
    /// [`WORK_AROUND_ARRAY_AFTER_JUMP`]).
    pub jump_pending: bool,
    /// Arrays a loop around walks by reference (`for &e in z.iter()`, `.zip(&z)`): not
    /// writable in its body.
    pub borrowed: Vec<usize>,
    /// Enclosing branches (of `if` statements and expressions, `match` arms) and closures,
    /// for [`WORK_AROUND_NESTED_WHOLE_READ`].
    pub branches: usize,
    /// Scalar `wrt` parameters (the first of [`Scope::names`]; float data follows them).
    pub n_wrt: usize,
    /// What calls may call.
    pub callees: Vec<CalleeSig>,
    /// The function being walked (its name, once printed), for recursive calls.
    pub this: CalleeSig,
}

/// BUG (reported, see TESTING.md): a local array declared where a jump may have happened
/// (after `if c { return x; }`, after `if c { break; }` in the same loop body, in a `while`
/// body) and then written does not compile ("cannot index into a value of type `f64`").
/// While this is `true`, such a declaration prints as nothing (and the oracle skips it too).
pub const WORK_AROUND_ARRAY_AFTER_JUMP: bool = false;

/// Fixed in the macro (a copy's adjoint array now follows a chain of copies: the adjoint of an
/// array kept by an outer loop and again by an inner one was a new, undeclared array); set to
/// `true` to generate the workaround again. Was: an array read inside a loop (explicit, or the implicit one of a whole copy or
/// an iterator sum) that is itself inside two loops each writing the array does not compile in
/// reverse mode: the expansion names an undefined `__grad_unnamed_N`. Minimal:
///
/// ```text
/// #[grad(wrt = wa)]
/// fn f(wa: [f64; 3]) -> f64 {
///     let mut z = wa;
///     for _ in 0..2 {
///         for _ in 0..2 {
///             let z2 = z;
///             z[0] = z2[1].sin();
///         }
///     }
///     z[0]
/// }
/// ```
///
/// and the same with `z[i] = z.iter().map(|&c| c).sum::<f64>();` for the inner loop's body, or
/// a double buffer (`let mut zn = z; zn[0] = z[1].sin(); z = zn;`) there. One loop alone
/// compiles, and so do `z[i] = z[0] + z[1]` in the nested loops and the copy in the outer loop
/// only (`let mut zn = z; for .. { zn[0] = z[1].sin() * zn[0]; } z = zn;`). Three loops deep,
/// element reads fail too: `for _ in 0..2 { for _ in 0..2 { for i in 0..3 { s +=
/// z[i].tanh(); } z[0] = wa[1]; } }`, and `for _ in 0..2 { for _ in 0..2 { for i in 1..3 {
/// z[i] = (z[i - 1] * z[i]).sin(); } } }` (with the write in the outermost loop only, `z[0] =
/// ..; for .. { for i .. { s += z[i] } }`, it compiles). While this is `true`, inside a loop
/// nested in another no array of state is copied or walked ([`Scope::walkable`]): copies and
/// whole assignments there read `wa`, `xs`, a filled local array or zeros, and loops and
/// iterator sums walk one of those or none; and three loops deep, or two deep inside a branch
/// (of an `if` statement or expression, a `match` arm) or a closure, arrays of state are
/// neither read nor written (`Scope::hidden`), nor in a condition two loops deep
/// (`if (z[t] > 0.5) ..`, where the generator found it fails too). A branch fails as a loop
/// does: `for _ in 0..3 { for i in 0..3 { z[i] = if k > 0 { 1.0 } else { z[i] }; } }` (and
/// `if k > 0 { z[i] = z[(i + 2) % 3] * 2.0; }` as the inner body), where one loop alone
/// compiles.
pub const WORK_AROUND_NESTED_WHOLE_READ: bool = false;

/// Fixed in the macro (a branch or loop whose only derivative work is a whole assignment was
/// skipped by the sweep); set to `true` to generate the workaround again. Was: a whole assignment to an array in a branch (`if flag { z = wa; }`) or in a
/// loop (`for _ in 0..2 { z = wa; }`, also `z = [0.0; 3];` or from another local array) is left
/// out of the reverse sweep: the gradient is that of the program without it (the value is
/// right); a double buffer (`let mut zn = z; zn[1] = ..; z = zn;` in the loop body) is right,
/// but not after a jump: `for _ in 0..1 { let mut zn = z; zn[1] = z[0] * z[1]; if flag {
/// continue; } z = zn; }` has the gradient `[1, 1, 1]` at `flag = false` too (`wa = [0.3,
/// -0.7, 0.5]`, result `z[0] + z[1] + z[2]`: `[0.3, 0.3, 1]`). Minimal:
///
/// ```text
/// #[grad(wrt = wa)]
/// fn f(wa: [f64; 3], flag: bool) -> f64 {
///     let mut z = wa;
///     z[0] = z[0] * z[1];
///     if flag {
///         z = wa;
///     }
///     z[0] + z[1] + z[2]
/// }
/// ```
///
/// `f_grad([0.3, -0.7, 0.5], true)` is `[-0.7, 1.3, 1.0]`, not `[1.0, 1.0, 1.0]` (the same with
/// `z = wa;` in both branches; at the top level it is right), and with `for _ in 0..2 { z =
/// wa; }` for the `if`. While this is `true`, a whole assignment in a branch, or in a loop other
/// than a double buffer's, prints as nothing (and the oracle skips it too).
pub const WORK_AROUND_WHOLE_ASSIGN_IN_BRANCH: bool = false;

/// Fixed in the macro (a copy of data under a name the body writes is an array of floats);
/// set to `true` to generate the workaround again. Was: a store of data into a copy of a data array (`let mut z = xs; z[0] = 2.0 *
/// z[1];`) is refused: "assigning to an element of an array of data (integers, ...) is not
/// supported in a `#[grad]` function: only the elements of an array of floats declared in the
/// body (`let mut z = [0.0; 3];`) can be assigned" (a differentiated value stored there is
/// accepted). Minimal:
///
/// ```text
/// #[grad(wrt = w)]
/// pub fn f(w: f64, xs: [f64; 3]) -> f64 {
///     let mut z = xs;
///     z[0] = 2.0 * z[1];
///     z[0] * w
/// }
/// ```
///
/// While this is `true`, a copy of `xs` (or of such a copy) is read only (never written:
/// [`ArrayKind::Readable`]), and no whole assignment copies one of those.
pub const WORK_AROUND_DATA_COPY_STORE: bool = false;

impl Scope {
    pub fn new(p: &Program) -> Scope {
        let mut names: Vec<String> = (0..p.n_wrt).map(|i| format!("w{i}")).collect();
        names.extend((0..p.n_data).map(|i| format!("x{i}")));
        let n_params = names.len();
        let mut arrays = Vec::new();
        if p.wrt_array {
            arrays.push(Array {
                name: "wa".into(),
                len: WA_LEN,
                kind: ArrayKind::Wrt,
                data: false,
                origin: None,
                depth: 0,
                from_call: false,
            });
        }
        if p.data_array {
            arrays.push(Array {
                name: "xs".into(),
                len: XS_LEN,
                kind: ArrayKind::Data,
                data: true,
                origin: None,
                depth: 0,
                from_call: false,
            });
        }
        Scope {
            names,
            n_params,
            n_locals: 0,
            arrays,
            n_arrays: 0,
            loops: Vec::new(),
            depth: 0,
            closures: 0,
            jump_pending: false,
            borrowed: Vec::new(),
            branches: 0,
            n_wrt: p.n_wrt,
            callees: p.callees.iter().map(Callee::sig).collect(),
            this: CalleeSig {
                path: "f".into(),
                n_wrt: p.n_wrt,
                n_data: p.n_data,
                wrt_array: p.wrt_array,
                data_array: p.data_array,
                by_ref: false,
                outputs: 0,
            },
        }
    }

    /// The slot of data parameter `i` (counted modulo their number); `None` when there is
    /// none.
    pub fn data_var(&self, i: u8) -> Option<usize> {
        let n_data = self.n_params - self.n_wrt;
        (n_data > 0).then(|| self.n_wrt + i as usize % n_data)
    }

    /// The float arguments of call `c` to a function `sig`, one per parameter (`None`:
    /// `0.0`).
    pub fn call_args<'e>(sig: &CalleeSig, c: &'e Call) -> Vec<Option<&'e Expr>> {
        let pick = |v: &'e [Expr], j: usize| v.get(j % v.len().max(1));
        (0..sig.n_wrt)
            .map(|j| pick(&c.args, j))
            .chain((0..sig.n_data).map(|j| pick(&c.data, j)))
            .collect()
    }

    /// The callee a call refers to (an index into [`Scope::callees`]), among those returning
    /// a float; `None` when there is none.
    pub fn callee(&self, i: u8) -> Option<usize> {
        self.callee_of(i, false)
    }

    /// The callee returning an array ([`Stmt::ArrayCall`]) `i` refers to; `None` when there is
    /// none.
    pub fn array_callee(&self, i: u8) -> Option<usize> {
        self.callee_of(i, true)
    }

    fn callee_of(&self, i: u8, array: bool) -> Option<usize> {
        let fit: Vec<usize> = (0..self.callees.len())
            .filter(|&j| (self.callees[j].outputs > 0) == array)
            .collect();
        (!fit.is_empty()).then(|| fit[i as usize % fit.len()])
    }

    /// The array a call passes to a parameter of length `len`: for a data array, the caller's
    /// data array `xs`; for a differentiated one, the readable array of that length `sel`
    /// picks (counted from the first, [`LATEST`] the last). `None` when there is none.
    pub fn array_arg(&self, sel: u8, len: usize, data: bool) -> Option<usize> {
        let sometimes = self.branches > 0 || self.jump_pending;
        let only_wa = WORK_AROUND_CALL_ARG_WRITTEN_LATER && sometimes;
        let fit: Vec<usize> = self
            .readable_arrays()
            .into_iter()
            .filter(|&j| {
                let a = &self.arrays[j];
                if data {
                    a.kind == ArrayKind::Data
                } else if only_wa {
                    a.kind == ArrayKind::Wrt && a.len == len
                } else {
                    a.len == len && Some(j) == self.walkable_slot(j)
                }
            })
            .collect();
        match sel {
            _ if fit.is_empty() => None,
            LATEST => fit.last().copied(),
            _ => Some(fit[sel as usize % fit.len()]),
        }
    }

    /// The array a call's result is assigned to whole ([`Stmt::ArrayCall`]): the array of
    /// state `assign` names among those of length `len` (counted from the latest), if any.
    pub fn call_target(&self, assign: Option<u8>, len: usize) -> Option<usize> {
        let i = assign?;
        let branch_bug = WORK_AROUND_WHOLE_ASSIGN_IN_BRANCH || WORK_AROUND_CALL_RESULT_IN_BRANCH;
        if branch_bug && self.branches > 0 {
            return None;
        }
        let w: Vec<usize> = (0..self.arrays.len())
            .filter(|&j| {
                let a = &self.arrays[j];
                a.kind == ArrayKind::State
                    && a.len == len
                    && !self.borrowed.contains(&j)
                    && !self.hidden(j)
            })
            .collect();
        (!w.is_empty()).then(|| w[w.len() - 1 - i as usize % w.len()])
    }

    /// The arrays call `c` passes to `sig`: to its `wrt` array, then to its data array (`None`
    /// where nothing fits: a literal of zeros).
    pub fn call_arrays(&self, sig: &CalleeSig, c: &Call) -> Vec<Option<usize>> {
        let mut out = Vec::new();
        if sig.wrt_array {
            out.push(self.array_arg(c.arrays.first().copied().unwrap_or(0), WA_LEN, false));
        }
        if sig.data_array {
            out.push(self.array_arg(0, XS_LEN, true));
        }
        out
    }

    pub fn mark(&self) -> Mark {
        Mark {
            names: self.names.len(),
            n_locals: self.n_locals,
            arrays: self.arrays.len(),
            n_arrays: self.n_arrays,
            loops: self.loops.len(),
            depth: self.depth,
            jump_pending: self.jump_pending,
            borrowed: self.borrowed.len(),
        }
    }

    /// Ends the block begun at `m`: what it bound goes out of scope.
    pub fn leave(&mut self, m: Mark) {
        self.names.truncate(m.names);
        self.n_locals = m.n_locals;
        self.arrays.truncate(m.arrays);
        self.n_arrays = m.n_arrays;
        self.loops.truncate(m.loops);
        self.depth = m.depth;
        self.jump_pending = m.jump_pending;
        self.borrowed.truncate(m.borrowed);
    }

    /// After statement `s` of the block begun at `m`: if it stores, the arrays the block has
    /// declared so far become readable (and are never written again).
    pub fn settle(&mut self, m: &Mark, s: &Stmt) {
        if s.jumps_out(self.depth > 0) {
            self.jump_pending = true;
        }
        if s.stores() {
            for a in &mut self.arrays[m.arrays..] {
                if a.kind == ArrayKind::Writable {
                    a.kind = ArrayKind::Readable;
                }
            }
        }
    }

    /// Whether a local array can be declared here (see [`WORK_AROUND_ARRAY_AFTER_JUMP`]).
    pub fn can_declare_array(&self) -> bool {
        !(WORK_AROUND_ARRAY_AFTER_JUMP && self.jump_pending)
    }

    /// `let mut z = [0.0; len];`: its slot among the arrays, and its name.
    pub fn declare_array(&mut self, len: usize) -> (usize, String) {
        let name = format!("z{}", self.n_arrays);
        self.n_arrays += 1;
        self.arrays.push(Array {
            name: name.clone(),
            len,
            kind: ArrayKind::Writable,
            data: false,
            origin: None,
            depth: self.depth,
            from_call: false,
        });
        (self.arrays.len() - 1, name)
    }

    fn readable_arrays(&self) -> Vec<usize> {
        (0..self.arrays.len())
            .filter(|&j| self.arrays[j].kind != ArrayKind::Writable && !self.hidden(j))
            .collect()
    }

    /// Whether array slot `j` is out of reach here while [`WORK_AROUND_NESTED_WHOLE_READ`]
    /// holds: an array of state three loops deep or more.
    fn hidden(&self, j: usize) -> bool {
        let deep = self.depth >= 3 || (self.depth >= 2 && self.branches > 0);
        WORK_AROUND_NESTED_WHOLE_READ && deep && self.arrays[j].kind == ArrayKind::State
    }

    /// The scope inside a branch of an `if` expression or a `match` arm (a copy only where
    /// that changes what `Scope::hidden` says).
    pub fn branch(&self) -> std::borrow::Cow<'_, Scope> {
        let matters = WORK_AROUND_NESTED_WHOLE_READ
            && self.depth == 2
            && self.branches == 0
            && self.arrays.iter().any(|a| a.kind == ArrayKind::State);
        if matters {
            let mut inner = self.clone();
            inner.branches += 1;
            std::borrow::Cow::Owned(inner)
        } else {
            std::borrow::Cow::Borrowed(self)
        }
    }

    /// The readable array `i` refers to (counted from the first; [`LATEST`]: the one declared
    /// last, [`BEFORE_LATEST`]: the one before it, or the last if there is one only).
    pub fn readable(&self, i: u8) -> Option<usize> {
        let r = self.readable_arrays();
        if i == LATEST {
            return r.last().copied();
        }
        if i == BEFORE_LATEST {
            return r.iter().rev().nth(1).or(r.last()).copied();
        }
        (!r.is_empty()).then(|| r[i as usize % r.len()])
    }

    /// The readable array `i` refers to, as [`Scope::readable`], for a loop or an iterator sum
    /// over all its elements: while [`WORK_AROUND_NESTED_WHOLE_READ`] holds, not an array of
    /// state inside a loop nested in another (`None` if that leaves none).
    pub fn walkable(&self, i: u8) -> Option<usize> {
        if !(WORK_AROUND_NESTED_WHOLE_READ && self.depth >= 2) {
            return self.readable(i);
        }
        let r: Vec<usize> = self
            .readable_arrays()
            .into_iter()
            .filter(|&j| self.arrays[j].kind != ArrayKind::State)
            .collect();
        match i {
            LATEST => r.last().copied(),
            BEFORE_LATEST => r.iter().rev().nth(1).or(r.last()).copied(),
            _ => (!r.is_empty()).then(|| r[i as usize % r.len()]),
        }
    }

    /// `Some(j)` if array slot `j` may be walked or copied here (see [`Scope::walkable`]).
    fn walkable_slot(&self, j: usize) -> Option<usize> {
        let nested = WORK_AROUND_NESTED_WHOLE_READ && self.depth >= 2;
        (!(nested && self.arrays[j].kind == ArrayKind::State)).then_some(j)
    }

    /// The writable array `i` refers to (counted from the latest): a local array being filled,
    /// or one of array state that no loop around borrows.
    pub fn writable(&self, i: u8) -> Option<usize> {
        if i == WA_PARAM {
            return self
                .arrays
                .iter()
                .position(|a| a.kind == ArrayKind::Wrt && a.name == "wa");
        }
        let w: Vec<usize> = (0..self.arrays.len())
            .filter(|&j| match self.arrays[j].kind {
                ArrayKind::Writable => true,
                ArrayKind::State => !self.borrowed.contains(&j) && !self.hidden(j),
                _ => false,
            })
            .collect();
        (!w.is_empty()).then(|| w[w.len() - 1 - i as usize % w.len()])
    }

    /// The array of state `i` refers to (counted from the latest), that no loop around
    /// borrows: the target of a whole assignment (none in a branch while
    /// [`WORK_AROUND_WHOLE_ASSIGN_IN_BRANCH`] holds).
    pub fn state_array(&self, i: u8) -> Option<usize> {
        if WORK_AROUND_WHOLE_ASSIGN_IN_BRANCH && self.branches > 0 {
            return None;
        }
        let w: Vec<usize> = (0..self.arrays.len())
            .filter(|&j| {
                self.arrays[j].kind == ArrayKind::State
                    && !self.borrowed.contains(&j)
                    && !self.hidden(j)
            })
            .collect();
        (!w.is_empty()).then(|| w[w.len() - 1 - i as usize % w.len()])
    }

    /// `let mut z = src;` (see [`Stmt::ArrayCopy`]): the array copied (`None`: zeros), and
    /// the new array's length.
    pub fn copy_source(&self, src: Option<u8>, len: u8) -> (Option<usize>, usize) {
        match src.and_then(|s| self.walkable(s)) {
            Some(a) => (Some(a), self.arrays[a].len),
            None if len == 0 => (
                None,
                self.readable(LATEST).map_or(3, |a| self.arrays[a].len),
            ),
            None => (None, len as usize),
        }
    }

    /// `dst = src;` (see [`Stmt::ArrayAssign`]): the readable array of `dst`'s length other
    /// than `dst` that `src` names, or the latest such; `None`: zeros.
    pub fn assign_source(&self, dst: usize, src: Option<u8>) -> Option<usize> {
        let fits = |j: usize| {
            j != dst
                && self.arrays[j].len == self.arrays[dst].len
                && !(WORK_AROUND_DATA_COPY_STORE && self.arrays[j].data)
        };
        let named = self.walkable(src?)?;
        if fits(named) {
            return Some(named);
        }
        self.readable_arrays()
            .into_iter()
            .rev()
            .find(|&j| fits(j) && Some(j) == self.walkable_slot(j))
    }

    /// `dst = src;` as printed: `None` for nothing, or the source ([`Scope::assign_source`]).
    /// While [`WORK_AROUND_WHOLE_ASSIGN_IN_BRANCH`] holds, in a loop only a double buffer's
    /// (the source a copy of `dst` made in the same loop body) is printed, and not where a
    /// jump may have happened (after a `continue`, in a `while` body).
    pub fn assign_plan(&self, dst: usize, src: Option<u8>) -> Option<Option<usize>> {
        let source = self.assign_source(dst, src);
        let call = |j: usize| self.arrays[j].from_call;
        let result = call(dst) || source.is_some_and(call);
        if WORK_AROUND_CALL_RESULT_IN_BRANCH && self.branches > 0 && result {
            return None;
        }
        if WORK_AROUND_WHOLE_ASSIGN_IN_BRANCH && self.depth > 0 {
            let buffer = source.is_some_and(|j| {
                self.arrays[j].origin == Some(dst) && self.arrays[j].depth == self.depth
            });
            if !buffer || self.jump_pending {
                return None;
            }
        }
        Some(source)
    }

    /// `let mut z = src;` (see [`Stmt::ArrayCopy`]): declares the array (of state, or read
    /// only if [`WORK_AROUND_DATA_COPY_STORE`] holds and `src` is data); its name.
    pub fn declare_copy(&mut self, src: Option<usize>, len: usize) -> String {
        let data = src.is_some_and(|a| self.arrays[a].data);
        let from_call = src.is_some_and(|a| self.arrays[a].from_call);
        let (slot, name) = self.declare_state_array(len);
        self.arrays[slot].data = data;
        self.arrays[slot].from_call = from_call;
        self.arrays[slot].origin = src;
        if WORK_AROUND_DATA_COPY_STORE && data {
            self.arrays[slot].kind = ArrayKind::Readable;
        }
        name
    }

    /// `let mut z = ..;` of array state, `len` elements: its slot among the arrays, and its
    /// name.
    pub fn declare_state_array(&mut self, len: usize) -> (usize, String) {
        let (slot, name) = self.declare_array(len);
        self.arrays[slot].kind = ArrayKind::State;
        (slot, name)
    }

    /// The loop variable `i` refers to (counted from the innermost).
    pub fn loop_var(&self, i: u8) -> Option<usize> {
        let n = self.loops.len();
        (n > 0).then(|| n - 1 - i as usize % n)
    }

    /// A data-only condition as printed: the loop variable it tests (`None`: `k`), and the
    /// comparison, with `< 0` and `>= 0` on a loop variable (unsigned, where rustc warns that
    /// they are constant) read as `<= 0` and `> 0`.
    pub fn int_test(&self, atom: IntAtom, op: IntCmp, c: u8) -> (Option<usize>, IntCmp, u8) {
        let var = match atom {
            IntAtom::K => None,
            IntAtom::Loop(i) => self.loop_var(i),
        };
        let op = match (var, op, c) {
            (Some(_), IntCmp::Lt, 0) => IntCmp::Le,
            (Some(_), IntCmp::Ge, 0) => IntCmp::Gt,
            _ => op,
        };
        (var, op, c)
    }

    /// An index into an array of length `len`.
    pub fn index(&self, ix: Ix, len: usize) -> Index {
        let (i, map) = match ix {
            Ix::Lit(c) => return Index::Lit(c as usize % len),
            Ix::Last => return Index::Lit(len - 1),
            Ix::Loop(i) => (i, IndexMap::Same),
            // `n - 1 - i` of an array of one element is `i`, `(i + 1) % 1` is 0.
            Ix::Rev(i) if len > 1 => (i, IndexMap::Rev(len)),
            Ix::Next(i) if len > 1 => (i, IndexMap::Next(len)),
            Ix::Gather(i) if permutation(len).is_some() => (i, IndexMap::Gather(len)),
            Ix::Gather(i) if len > 1 => (i, IndexMap::Next(len)),
            Ix::Prev(i) if len > 1 => (i, IndexMap::Prev(len)),
            Ix::Rev(i) | Ix::Next(i) | Ix::Gather(i) | Ix::Prev(i) => (i, IndexMap::Same),
        };
        match self.loop_var(i) {
            None => Index::Lit(map.apply(i as usize % len)),
            Some(var) => {
                let fits = self.loops[var].max.is_some_and(|m| m < len);
                Index::Var {
                    var,
                    modulo: (!fits).then_some(len),
                    map,
                }
            }
        }
    }

    /// Binds the loop variable of a loop at the current depth, named `prefix{depth}`, taking
    /// values from `min` to `max` (`None`: unknown).
    pub fn push_loop_var(&mut self, prefix: &str, min: usize, max: Option<usize>) -> String {
        let name = format!("{prefix}{}", self.depth);
        self.loops.push(LoopVar {
            name: name.clone(),
            max,
            min,
        });
        name
    }

    /// Binds a float (a loop's element, a closure's parameter) that cannot be assigned.
    pub fn push_float(&mut self, name: String) {
        self.names.push(name);
    }

    /// The arms of a `match` as printed: patterns already matched by an earlier arm, and
    /// (on a loop variable, which is unsigned) negative ones, are left out, and so is an arm
    /// left with none. For `flag`, the first arm (if any) is `true`.
    pub fn match_arms<'e>(
        &self,
        on: MatchOn,
        arms: &'e [(Vec<i8>, Expr)],
    ) -> Vec<(Vec<i64>, &'e Expr)> {
        if on == MatchOn::Flag {
            return arms.iter().take(1).map(|(_, e)| (vec![1], e)).collect();
        }
        let unsigned = matches!(on, MatchOn::Loop(_)) && !self.loops.is_empty();
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for (pats, e) in arms {
            let mut these = Vec::new();
            for &p in pats {
                let p = i64::from(p);
                if (unsigned && p < 0) || seen.contains(&p) {
                    continue;
                }
                seen.push(p);
                these.push(p);
            }
            if !these.is_empty() {
                out.push((these, e));
            }
        }
        out
    }

    /// The slot a variable reference resolves to, among the visible ones (a shadowed binding
    /// cannot be named).
    pub fn resolve(&self, i: u8) -> usize {
        let visible: Vec<usize> = (0..self.names.len())
            .filter(|&j| !self.names[j + 1..].contains(&self.names[j]))
            .collect();
        visible[i as usize % visible.len()]
    }

    /// The slot a `let` binds: a new one, or (shadowing) an existing local's name, re-bound.
    pub fn bind(&mut self, shadow: Option<u8>) -> (usize, String) {
        match shadow {
            Some(s) if self.n_locals > 0 => {
                let local = s as usize % self.n_locals;
                let name = format!("v{local}");
                self.names.push(name.clone());
                (self.names.len() - 1, name)
            }
            _ => {
                let name = format!("v{}", self.n_locals);
                self.n_locals += 1;
                self.names.push(name.clone());
                (self.names.len() - 1, name)
            }
        }
    }

    /// The slot of the local bound last, or of `w0`.
    pub fn latest(&self) -> usize {
        if self.names.len() > self.n_params {
            self.names.len() - 1
        } else {
            0
        }
    }

    /// The slot an assignment targets: the innermost binding of local `target % n_locals`.
    pub fn assign_target(&self, target: u8) -> Option<usize> {
        if self.n_locals == 0 {
            return None;
        }
        let name = format!("v{}", target as usize % self.n_locals);
        self.names.iter().rposition(|n| *n == name)
    }

    /// The slot of the innermost binding of the local declared last.
    pub fn last_local(&self) -> Option<usize> {
        if self.n_locals == 0 {
            return None;
        }
        let name = format!("v{}", self.n_locals - 1);
        self.names.iter().rposition(|n| *n == name)
    }

    /// The slot an assignment to `t` targets.
    pub fn target(&self, t: Target) -> Option<usize> {
        match t {
            Target::Nth(i) => self.assign_target(i),
            Target::Last => self.last_local(),
        }
    }
}

/// Which local an assignment writes: `v{i % n_locals}`, or the one declared last (the loop
/// language's accumulators and carried state).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Nth(u8),
    Last,
}

impl Stmt {
    /// Whether the statement may leave its block by a jump: a `return`, or (`in_loop`) a
    /// `break` or `continue` not inside a loop of its own.
    pub fn jumps_out(&self, in_loop: bool) -> bool {
        match self {
            Stmt::Jump(Jump::Return(_)) => true,
            Stmt::Jump(_) => in_loop,
            Stmt::If { then, els, .. } => then.iter().chain(els).any(|s| s.jumps_out(in_loop)),
            Stmt::Loop { body, .. } => body.iter().any(|s| s.jumps_out(false)),
            Stmt::Let { .. }
            | Stmt::Assign { .. }
            | Stmt::ArrayDecl { .. }
            | Stmt::ArrayCopy { .. }
            | Stmt::ArrayAssign { .. }
            | Stmt::ArrayCall { .. }
            | Stmt::Store { .. } => false,
        }
    }

    /// Whether the statement stores to an array anywhere inside it (syntactically, taken or
    /// not, so the printer and the oracle agree on which arrays are readable).
    pub fn stores(&self) -> bool {
        match self {
            Stmt::Store { .. } => true,
            Stmt::If { then, els, .. } => then.iter().chain(els).any(Stmt::stores),
            Stmt::Loop { body, .. } => body.iter().any(Stmt::stores),
            Stmt::Let { .. }
            | Stmt::Assign { .. }
            | Stmt::Jump(_)
            | Stmt::ArrayDecl { .. }
            | Stmt::ArrayCopy { .. }
            | Stmt::ArrayAssign { .. }
            | Stmt::ArrayCall { .. } => false,
        }
    }
}

/// A loop as the scope sees it once its variables are bound (see [`Scope::enter_loop`]).
#[derive(Clone, Debug)]
pub struct LoopShape {
    /// A statement printed before the loop (the counter of a `while`).
    pub pre: Option<String>,
    /// `for .. in ..` or `while ..`, without the brace.
    pub head: String,
    /// Statements printed first in the body (a re-sliced walk's element and rest).
    pub first: Vec<String>,
    pub kind: ShapeKind,
}

#[derive(Clone, Debug)]
pub enum ShapeKind {
    /// The values of the loop variable, in order.
    Ints(Vec<i64>),
    /// `0..k.unsigned_abs()`.
    KRange,
    /// Over the elements of array `a` (zipped with `b`), reversed or not; the loop variable
    /// (when `index`) is the position.
    Arrays {
        a: usize,
        b: Option<usize>,
        rev: bool,
        index: bool,
    },
    /// `t = 0; while t < n && cond { t += 1; .. }`.
    While { n: i64, cond: Option<Cond> },
}

/// An iterator sum's closure: the arrays it walks, the source up to the closure's body, and the
/// scope inside the closure (its parameters bound).
pub struct ReduceShape {
    pub a: usize,
    pub b: Option<usize>,
    pub head: String,
    pub scope: Scope,
}

impl Scope {
    /// Binds the variables of a loop with `header` (one level deeper) and says how it runs.
    pub fn enter_loop(&mut self, header: &Header) -> LoopShape {
        let d = self.depth;
        let range = |lo: usize, len: usize, inclusive: bool, rev: bool| {
            let r = if inclusive {
                format!("{lo}..={}", lo + len - 1)
            } else {
                format!("{lo}..{}", lo + len)
            };
            let r = if rev { format!("({r}).rev()") } else { r };
            let mut vals: Vec<i64> = (lo..lo + len).map(|v| v as i64).collect();
            if rev {
                vals.reverse();
            }
            (r, vals)
        };
        let shape = match header {
            Header::Range {
                lo,
                len,
                inclusive,
                rev,
            } => {
                let (lo, len) = (*lo as usize, (*len).max(1) as usize);
                let (r, vals) = range(lo, len, *inclusive, *rev);
                let i = self.push_loop_var("i", lo, Some(lo + len - 1));
                LoopShape {
                    pre: None,
                    first: Vec::new(),
                    head: format!("for {i} in {r}"),
                    kind: ShapeKind::Ints(vals),
                }
            }
            Header::KRange => {
                let i = self.push_loop_var("i", 0, None);
                LoopShape {
                    pre: None,
                    first: Vec::new(),
                    head: format!("for {i} in 0..(k.unsigned_abs() as usize)"),
                    kind: ShapeKind::KRange,
                }
            }
            Header::Iter { arr, form } => match self.walkable(*arr) {
                None => {
                    let (r, vals) = range(0, 3, false, false);
                    let i = self.push_loop_var("i", 0, Some(2));
                    LoopShape {
                        pre: None,
                        first: Vec::new(),
                        head: format!("for {i} in {r}"),
                        kind: ShapeKind::Ints(vals),
                    }
                }
                Some(a) => {
                    let an = self.arrays[a].name.clone();
                    let len = self.arrays[a].len;
                    let (e, p) = (format!("e{d}"), format!("p{d}"));
                    let mut b = None;
                    let (mut rev, mut index) = (false, false);
                    let (mut pre, mut first) = (None, Vec::new());
                    let head = match form {
                        IterForm::Iter => format!("for &{e} in {an}.iter()"),
                        IterForm::Ref => format!("for &{e} in &{an}"),
                        IterForm::Value => format!("for {e} in {an}"),
                        IterForm::Copied => format!("for {e} in {an}.iter().copied()"),
                        // The macro refuses to walk a differentiated array backwards (it says
                        // to loop over the indices instead): only the data array.
                        IterForm::Rev if self.arrays[a].kind == ArrayKind::Data => {
                            rev = true;
                            format!("for &{e} in {an}.iter().rev()")
                        }
                        IterForm::Rev => format!("for &{e} in {an}.iter()"),
                        // Re-slicing a slice of data, as a loop over a list is written in C.
                        IterForm::Reslice if self.arrays[a].kind == ArrayKind::Data => {
                            let rest = format!("rest{d}");
                            pre = Some(format!("let mut {rest} = &{an}[..];"));
                            first = vec![
                                format!("let {e} = {rest}[0];"),
                                format!("{rest} = &{rest}[1..];"),
                            ];
                            format!("while !{rest}.is_empty()")
                        }
                        IterForm::Reslice => format!("for &{e} in {an}.iter()"),
                        IterForm::Enumerate => {
                            index = true;
                            let i = self.push_loop_var("i", 0, Some(len - 1));
                            format!("for ({i}, &{e}) in {an}.iter().enumerate()")
                        }
                        IterForm::Zip(o) | IterForm::ZipRef(o) => {
                            let bi = self.walkable(*o).unwrap_or(a);
                            b = Some(bi);
                            let bn = &self.arrays[bi].name;
                            if matches!(form, IterForm::Zip(_)) {
                                format!("for (&{e}, &{p}) in {an}.iter().zip({bn}.iter())")
                            } else {
                                format!("for (&{e}, &{p}) in {an}.iter().zip(&{bn})")
                            }
                        }
                    };
                    self.push_float(e);
                    if b.is_some() {
                        self.push_float(p);
                    }
                    // A loop over an array by reference borrows it (and the zipped one) for
                    // its body; by value (`for e in z`) it walks a copy.
                    if *form != IterForm::Value {
                        self.borrowed.push(a);
                        self.borrowed.extend(b);
                    }
                    LoopShape {
                        pre,
                        first,
                        head,
                        kind: ShapeKind::Arrays { a, b, rev, index },
                    }
                }
            },
            Header::While { n, cond } => {
                let n = (*n).max(1);
                let t = self.push_loop_var("t", 1, Some(n as usize));
                // The condition as the oracle tests it: inside the loop (one level deeper).
                self.depth += 1;
                let head = match cond {
                    None => format!("while {t} < {n}"),
                    Some(c) => format!("while ({t} < {n}) && {}", cond_str(c, self)),
                };
                self.depth -= 1;
                self.jump_pending = true;
                LoopShape {
                    pre: Some(format!("let mut {t} = 0;")),
                    first: Vec::new(),
                    head,
                    kind: ShapeKind::While {
                        n: i64::from(n),
                        cond: cond.clone(),
                    },
                }
            }
        };
        self.depth += 1;
        shape
    }

    /// The closure of an iterator sum over `src`; `None` when no array is readable.
    pub fn reduce_shape(&self, src: IterSrc) -> Option<ReduceShape> {
        let (ai, bi) = match src {
            IterSrc::One(a) => (a, None),
            IterSrc::Zip(a, b) => (a, Some(b)),
        };
        let a = self.walkable(ai)?;
        let b = bi.map(|b| self.walkable(b).unwrap_or(a));
        let mut scope = self.clone();
        scope.branches += 1;
        let c = format!("c{}", self.closures);
        let cd = format!("d{}", self.closures);
        scope.closures += 1;
        let an = &self.arrays[a].name;
        // Every other sum over one array walks its indices instead, as people also write it:
        // `(0..N).map(|j| xs[j] ..)`, a method call on a parenthesised range (whose parentheses
        // the macro once copied into its loop, where rustc linted them).
        let by_index = b.is_none() && (a + self.closures) % 2 == 1;
        let head = match b {
            None if by_index => {
                let j = format!("j{}", self.closures);
                let head = format!("(0..{}).map(|{j}| ", self.arrays[a].len);
                scope.push_float(format!("{an}[{j}]"));
                head
            }
            None => format!("{an}.iter().map(|&{c}| "),
            Some(b) => format!(
                "{an}.iter().zip({}.iter()).map(|(&{c}, &{cd})| ",
                self.arrays[b].name
            ),
        };
        if !by_index {
            scope.push_float(c);
        }
        if b.is_some() {
            scope.push_float(cd);
        }
        Some(ReduceShape { a, b, head, scope })
    }
}

impl Cond {
    /// Whether `pred` holds for an expression the condition compares (or one inside it).
    pub fn any(&self, pred: &dyn Fn(&Expr) -> bool) -> bool {
        match self {
            Cond::Cmp(_, a, b) => a.any(pred) || b.any(pred),
            Cond::And(a, b) | Cond::Or(a, b) => a.any(pred) || b.any(pred),
            Cond::Not(a) => a.any(pred),
            Cond::Flag | Cond::Int(..) => false,
        }
    }
}

impl Expr {
    /// Whether `pred` holds for the expression or one inside it (in conditions too).
    pub fn any(&self, pred: &dyn Fn(&Expr) -> bool) -> bool {
        pred(self)
            || match self {
                Expr::Neg(a) | Expr::Powi(a, _) | Expr::F1(_, a) => a.any(pred),
                Expr::Bin(_, a, b) | Expr::F2(_, a, b) => a.any(pred) || b.any(pred),
                Expr::MulAdd(a, b, c) | Expr::Clamp(a, b, c) => {
                    a.any(pred) || b.any(pred) || c.any(pred)
                }
                Expr::If(c, a, b) => c.any(pred) || a.any(pred) || b.any(pred),
                Expr::Match { arms, default, .. } => {
                    arms.iter().any(|(_, e)| e.any(pred)) || default.any(pred)
                }
                Expr::Reduce { body, .. } => body.any(pred),
                Expr::Call(c) | Expr::Recur(c) => c.args.iter().chain(&c.data).any(|e| e.any(pred)),
                Expr::Var(_)
                | Expr::DataVar(_)
                | Expr::Lit(_)
                | Expr::Pi
                | Expr::UserConst
                | Expr::IntAsFloat
                | Expr::Latest
                | Expr::LoopIdx(_)
                | Expr::Elem(..) => false,
            }
    }
}

impl Program {
    /// Whether a top-level loop over a range reads, in its first statement, the local array
    /// that the loop right before it (over the same range, `let mut s = 0.0;` between them)
    /// has just filled, at another element than the iteration's own (`z[n - 1 - i]`, `z[0]`,
    /// ..): what loop fusion must not merge.
    pub fn reads_fill_at_other_index(&self) -> bool {
        self.stmts.windows(4).any(|w| match w {
            [Stmt::ArrayDecl { .. }, Stmt::Loop {
                header: h @ Header::Range { .. },
                ..
            }, Stmt::Let { .. }, Stmt::Loop { header, body }] => {
                header == h
                    && matches!(body.first(), Some(Stmt::Assign { value, .. })
                        if value.any(&|e| matches!(e, Expr::Elem(LATEST, ix) if ix.is_other())))
            }
            _ => false,
        })
    }

    /// Whether the program uses a step function (`round`, `%`, ...): then finite differences
    /// can straddle a jump however small the step, and only the oracle is a fair judge.
    pub fn has_steps(&self) -> bool {
        fn step(e: &Expr) -> bool {
            match e {
                Expr::F1(f, _) => matches!(
                    f,
                    F1::Signum
                        | F1::Floor
                        | F1::Ceil
                        | F1::Round
                        | F1::RoundTiesEven
                        | F1::Trunc
                        | F1::Fract
                ),
                Expr::F2(f, ..) => {
                    matches!(f, F2::RemEuclid | F2::DivEuclid | F2::Rem | F2::Copysign)
                }
                _ => false,
            }
        }
        fn expr(e: &Expr) -> bool {
            e.any(&step)
        }
        fn cond(c: &Cond) -> bool {
            c.any(&step)
        }
        fn stmt(s: &Stmt) -> bool {
            match s {
                Stmt::Let { value, .. }
                | Stmt::Assign { value, .. }
                | Stmt::Store { value, .. }
                | Stmt::Jump(Jump::Return(value)) => expr(value),
                Stmt::If { cond: c, then, els } => cond(c) || then.iter().chain(els).any(stmt),
                Stmt::Loop { header, body } => {
                    matches!(header, Header::While { cond: Some(c), .. } if cond(c))
                        || body.iter().any(stmt)
                }
                Stmt::ArrayCall { call, .. } => call.args.iter().chain(&call.data).any(expr),
                Stmt::Jump(_)
                | Stmt::ArrayDecl { .. }
                | Stmt::ArrayCopy { .. }
                | Stmt::ArrayAssign { .. } => false,
            }
        }
        self.stmts.iter().any(stmt)
            || expr(&self.ret)
            || self
                .callees
                .iter()
                .any(|c| c.body.has_steps() || c.outputs.iter().any(expr))
    }

    /// How many gradient components there are: one per scalar `wrt` parameter, then one per
    /// element of `wa`.
    pub fn n_grad(&self) -> usize {
        self.n_wrt + if self.wrt_array { WA_LEN } else { 0 }
    }

    /// Whether the program uses anything of the loop language.
    pub fn has_loops(&self) -> bool {
        self.wrt_array
            || self.data_array
            || self
                .stmts
                .iter()
                .any(|s| !matches!(s, Stmt::Let { .. } | Stmt::Assign { .. } | Stmt::If { .. }))
    }

    pub fn params(&self) -> Vec<String> {
        self.params_with(false)
    }

    /// [`Program::params`], the arrays taken by reference (`wa: &[f64; 3]`) when `by_ref`.
    pub fn params_with(&self, by_ref: bool) -> Vec<String> {
        let r = if by_ref { "&" } else { "" };
        let mut p: Vec<String> = (0..self.n_wrt).map(|i| format!("w{i}: f64")).collect();
        if self.wrt_array {
            p.push(format!("wa: {r}[f64; {WA_LEN}]"));
        }
        p.extend((0..self.n_data).map(|i| format!("x{i}: f64")));
        if self.data_array {
            p.push(format!("xs: {r}[f64; {XS_LEN}]"));
        }
        p.push("k: i32".into());
        p.push("flag: bool".into());
        p
    }

    /// The arguments for `pt`, as Rust expressions in the order of [`Program::params`].
    pub fn args(&self, pt: &crate::oracle::Point) -> Vec<String> {
        let arr = |v: &[f64]| {
            let v: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
            format!("[{}]", v.join(", "))
        };
        let mut a: Vec<String> = pt.w.iter().map(|v| format!("{v:?}")).collect();
        if self.wrt_array {
            a.push(arr(&pt.wa));
        }
        a.extend(pt.x.iter().map(|v| format!("{v:?}")));
        if self.data_array {
            a.push(arr(&pt.xs));
        }
        a.push(pt.k.to_string());
        a.push(pt.flag.to_string());
        a
    }

    /// The annotated function, named `name`, as Rust source (its callees are not included: see
    /// [`Callee::source`]).
    pub fn source(&self, name: &str) -> String {
        self.print(name, &self.wrt_attr(), "")
    }

    /// The function named `name` with `#[grad(wrt = w0, .., {options})]` (`mode = forward`,
    /// `hessian`).
    pub fn source_with(&self, name: &str, options: &str) -> String {
        let attr = self.wrt_attr();
        let attr = format!("{}, {options})]", &attr[..attr.len() - 2]);
        self.print(name, &attr, "")
    }

    /// The function named `name` with `#[grad(wrt = w0, ..)]`, its statements, then what
    /// `last` prints in the scope they leave (statements, and the final expression).
    pub fn source_ending(&self, name: &str, last: &dyn Fn(&Scope) -> String) -> String {
        self.print_ending(name, &self.wrt_attr(), "", "f64", last)
    }

    /// `#[grad(wrt = w0, ..)]`.
    fn wrt_attr(&self) -> String {
        let mut wrt: Vec<String> = (0..self.n_wrt).map(|i| format!("w{i}")).collect();
        if self.wrt_array {
            wrt.push("wa".into());
        }
        format!("#[grad(wrt = {})]", wrt.join(", "))
    }

    /// The function named `name` with attribute `attr` and visibility `vis`.
    fn print(&self, name: &str, attr: &str, vis: &str) -> String {
        self.print_ending(name, attr, vis, "f64", &|scope| expr_str(&self.ret, scope))
    }

    /// The function named `name` with attribute `attr` and visibility `vis`, its statements,
    /// then the final expression `last` prints in the scope they leave, of type `ty`.
    fn print_ending(
        &self,
        name: &str,
        attr: &str,
        vis: &str,
        ty: &str,
        last: &dyn Fn(&Scope) -> String,
    ) -> String {
        let mut params = self.params();
        // A store into `wa` itself (a draw of `WA_PARAM`): the parameter is `mut`.
        if stores_into(&self.stmts, WA_PARAM) {
            for p in &mut params {
                if p.starts_with("wa: ") {
                    *p = format!("mut {p}");
                }
            }
        }
        self.print_with(name, attr, vis, &params, ty, last)
    }

    /// [`Program::print_ending`] with the parameters `params`.
    fn print_with(
        &self,
        name: &str,
        attr: &str,
        vis: &str,
        params: &[String],
        ty: &str,
        last: &dyn Fn(&Scope) -> String,
    ) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{attr}");
        let mut scope = Scope::new(self);
        scope.this.path = name.into();
        let _ = writeln!(out, "{vis}fn {name}({}) -> {ty} {{", params.join(", "));
        // Both data parameters are always declared; mention them so neither is unused.
        let _ = writeln!(out, "    let _ = (k, flag);");
        let top = scope.mark();
        for s in &self.stmts {
            print_stmt(&mut out, s, &mut scope, 1);
            scope.settle(&top, s);
        }
        let _ = writeln!(out, "    {}", last(&scope));
        out.push_str("}\n");
        let results = self.callees.iter().any(|c| !c.outputs.is_empty());
        if WORK_AROUND_UNINDEXED_RESULT && results {
            return annotate_unindexed(&out, WA_LEN);
        }
        out
    }
}

/// A function returning several floats (`gen::multi_program`): a straight-line program's
/// parameters and statements, then 2–3 results instead of one, as a tuple `(f64, f64)` or an
/// array `[f64; M]`. `#[grad(wrt = ..)]` gives it `<name>_jacobian(..) -> [[f64; N]; M]`, row
/// `i` the gradient of result `i`.
#[derive(Clone, PartialEq)]
pub struct Multi {
    /// The parameters and statements (scalar `wrt` parameters only, no callees); its `ret` is
    /// not part of the function (see [`Multi::output`]).
    pub body: Program,
    /// The results, in order: expressions over what the statements leave in scope (so several
    /// may read the same local).
    pub outputs: Vec<Expr>,
    /// `[e0, e1, ..]` returning `[f64; M]`, or `(e0, e1, ..)` returning a tuple.
    pub array: bool,
}

impl Multi {
    /// The single-result program of result `i`: the same statements, ending with
    /// `outputs[i]`. The oracle differentiates each this way (its value and gradient are result
    /// `i`'s, and row `i` of the Jacobian).
    pub fn output(&self, i: usize) -> Program {
        Program {
            ret: self.outputs[i].clone(),
            ..self.body.clone()
        }
    }

    /// The function named `name` with `#[grad(wrt = w0, ..)]`, and `options` added after the
    /// list (`mode = forward`) if not empty.
    pub fn source_with(&self, name: &str, options: &str) -> String {
        let attr = self.body.wrt_attr();
        let attr = if options.is_empty() {
            attr
        } else {
            format!("{}, {options})]", &attr[..attr.len() - 2])
        };
        let m = self.outputs.len();
        let ty = if self.array {
            format!("[f64; {m}]")
        } else {
            format!("({})", vec!["f64"; m].join(", "))
        };
        let last = |scope: &Scope| {
            let results: Vec<String> = self.outputs.iter().map(|e| expr_str(e, scope)).collect();
            let results = results.join(", ");
            if self.array {
                format!("[{results}]")
            } else {
                format!("({results})")
            }
        };
        self.body.print_ending(name, &attr, "", &ty, &last)
    }
}

impl fmt::Debug for Multi {
    /// As a [`Program`]: its Rust source.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{}", self.source_with("f", ""))
    }
}

impl fmt::Debug for Program {
    /// A program prints as its Rust source, so a failing case reads as code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f)?;
        for c in &self.callees {
            writeln!(f, "// {}\n{}", c.path(), c.source())?;
        }
        write!(f, "{}", self.source("f"))
    }
}

/// A block: what it binds ends with it.
fn print_block(out: &mut String, stmts: &[Stmt], scope: &mut Scope, depth: usize) {
    let m = scope.mark();
    for s in stmts {
        print_stmt(out, s, scope, depth);
        scope.settle(&m, s);
    }
    scope.leave(m);
}

/// `name[index]` for array slot `a`.
fn elem_str(scope: &Scope, a: usize, ix: Ix) -> String {
    let arr = &scope.arrays[a];
    let i = match scope.index(ix, arr.len) {
        Index::Lit(c) => c.to_string(),
        Index::Var { var, modulo, map } => {
            let v = &scope.loops[var].name;
            let reduced = match modulo {
                None => v.clone(),
                Some(m) => format!("{v} % {m}"),
            };
            match map {
                IndexMap::Same if modulo.is_none() => reduced,
                IndexMap::Same => format!("({reduced})"),
                IndexMap::Rev(n) => format!("{} - {reduced}", n - 1),
                // `i + 1` where `i + 1 < n` (a stencil's right neighbour, whose reverse sweep
                // adds at two offsets of `i`); `(i % n + 1) % n` elsewhere: the loop variable
                // may be `usize::MAX` for all rustc knows.
                IndexMap::Next(n)
                    if modulo.is_none() && scope.loops[var].max.is_some_and(|m| m + 1 < n) =>
                {
                    format!("{v} + 1")
                }
                IndexMap::Next(n) => match modulo {
                    None => format!("({v} + 1) % {n}"),
                    Some(_) => format!("({reduced} + 1) % {n}"),
                },
                IndexMap::Gather(n) if modulo.is_none() => format!("IDX{n}[{v}]"),
                IndexMap::Gather(n) => format!("IDX{n}[{reduced}]"),
                // `i - 1` where `1 <= i < n`; `(i + n - 1) % n` (of `i % n`) elsewhere.
                IndexMap::Prev(_) if modulo.is_none() && scope.loops[var].min >= 1 => {
                    format!("{v} - 1")
                }
                IndexMap::Prev(n) => format!("({reduced} + {}) % {n}", n - 1),
            }
        }
    };
    format!("{}[{i}]", arr.name)
}

fn print_stmt(out: &mut String, s: &Stmt, scope: &mut Scope, depth: usize) {
    let pad = "    ".repeat(depth);
    match s {
        Stmt::Let { shadow, value } => {
            let v = expr_str(value, scope);
            let (_, name) = scope.bind(*shadow);
            let _ = writeln!(out, "{pad}let mut {name} = {v};");
        }
        Stmt::Assign { target, op, value } => {
            if let Some(slot) = scope.target(*target) {
                let v = expr_str(value, scope);
                let _ = writeln!(out, "{pad}{} {} {v};", scope.names[slot], op.symbol());
            }
        }
        Stmt::If { cond, then, els } => {
            let _ = writeln!(out, "{pad}if {} {{", cond_str(cond, scope));
            scope.branches += 1;
            print_block(out, then, scope, depth + 1);
            let _ = writeln!(out, "{pad}}} else {{");
            print_block(out, els, scope, depth + 1);
            scope.branches -= 1;
            let _ = writeln!(out, "{pad}}}");
        }
        Stmt::Loop { header, body } => {
            let m = scope.mark();
            let shape = scope.enter_loop(header);
            if let Some(pre) = &shape.pre {
                let _ = writeln!(out, "{pad}{pre}");
            }
            let _ = writeln!(out, "{pad}{} {{", shape.head);
            if let ShapeKind::While { .. } = shape.kind {
                let t = &scope.loops[scope.loops.len() - 1].name;
                let _ = writeln!(out, "{pad}    {t} += 1;");
            }
            for line in &shape.first {
                let _ = writeln!(out, "{pad}    {line}");
            }
            print_block(out, body, scope, depth + 1);
            let _ = writeln!(out, "{pad}}}");
            scope.leave(m);
        }
        Stmt::Jump(j) => match j {
            Jump::Break | Jump::Continue if scope.depth == 0 => {}
            Jump::Break => {
                let _ = writeln!(out, "{pad}break;");
            }
            Jump::Continue => {
                let _ = writeln!(out, "{pad}continue;");
            }
            Jump::Return(e) => {
                let _ = writeln!(out, "{pad}return {};", expr_str(e, scope));
            }
        },
        Stmt::ArrayDecl { len } if scope.can_declare_array() => {
            let (_, name) = scope.declare_array((*len).max(1) as usize);
            let _ = writeln!(out, "{pad}let mut {name} = [0.0; {}];", (*len).max(1));
        }
        Stmt::ArrayDecl { .. } => {}
        Stmt::ArrayCopy { src, len } => {
            let (from, n) = scope.copy_source(*src, *len);
            let name = scope.declare_copy(from, n);
            // Typed: stores of expressions of the array alone must still have a type for
            // their methods.
            let from = match from {
                Some(a) => scope.arrays[a].name.clone(),
                None => format!("[0.0_f64; {n}]"),
            };
            let _ = writeln!(out, "{pad}let mut {name} = {from};");
        }
        Stmt::ArrayAssign { dst, src } => {
            let plan = scope
                .state_array(*dst)
                .and_then(|d| Some((d, scope.assign_plan(d, *src)?)));
            if let Some((d, source)) = plan {
                let from = match source {
                    Some(a) => scope.arrays[a].name.clone(),
                    None => format!("[0.0; {}]", scope.arrays[d].len),
                };
                let _ = writeln!(out, "{pad}{} = {from};", scope.arrays[d].name);
            }
        }
        Stmt::Store { arr, ix, op, value } => {
            if let Some(a) = scope.writable(*arr) {
                let v = expr_str(value, scope);
                let _ = writeln!(out, "{pad}{} {} {v};", elem_str(scope, a, *ix), op.symbol());
            }
        }
        Stmt::ArrayCall {
            call,
            typed,
            assign,
        } => {
            let Some(f) = scope.array_callee(call.callee) else {
                return;
            };
            let sig = &scope.callees[f];
            let v = call_str(sig, call, scope, false);
            let m = sig.outputs;
            let target = scope.call_target(*assign, m);
            if let (Some(d), false) = (target, WORK_AROUND_ASSIGN_CALL_RESULT) {
                let _ = writeln!(out, "{pad}{} = {v};", scope.arrays[d].name);
                return;
            }
            let (slot, name) = scope.declare_state_array(m);
            scope.arrays[slot].from_call = true;
            let ty = if *typed || WORK_AROUND_UNTYPED_RESULT_IN_BRANCH {
                format!(": [f64; {m}]")
            } else {
                String::new()
            };
            let _ = writeln!(out, "{pad}let mut {name}{ty} = {v};");
            if let Some(d) = target {
                let _ = writeln!(out, "{pad}{} = {name};", scope.arrays[d].name);
            }
        }
    }
}

/// Fixed in the macro (issue 18); set to `true` to generate the workaround again. Was:
/// Reported (see the report of the ninth batch): the result of a call assigned whole to an
/// array (`z = h(z, ..);`) is refused: "`z` is an array of floats: assign it another array of
/// its shape (`z = v;`, `z = [0.0; N];`) or its elements (`z[i] = ...`)". Minimal:
///
/// ```text
/// #[grad(wrt = s)]
/// fn step(s: [f64; 2]) -> [f64; 2] { [s[1].sin(), s[0] * s[1]] }
/// #[grad(wrt = w)]
/// fn f(w: [f64; 2]) -> f64 {
///     let mut z = w;
///     z = step(z);
///     z[0] + z[1]
/// }
/// ```
///
/// While this is `true`, such an assignment prints as `let mut r = h(z, ..); z = r;` (and the
/// oracle runs it so: a new array, then the whole assignment).
pub const WORK_AROUND_ASSIGN_CALL_RESULT: bool = false;

/// Fixed in the macro (issue 18); set to `true` to generate the workaround again. Was:
/// Reported (see the report of the ninth batch): a wrong gradient. A call taking an array (by
/// value or by reference, returning a float or an array) in code that runs only sometimes (a
/// branch of an `if`, the body of a `while` loop), followed there by a write to that array (a
/// store, or a whole assignment), has its pullback run at the array's value after the write,
/// not at the argument it was called with. Minimal (`f(s) = s[1].sin()`, `#[grad(wrt = s)] fn
/// f(s: &[f64; 3]) -> f64`):
///
/// ```text
/// #[grad(wrt = w)]
/// fn g(w: [f64; 3], flag: bool) -> f64 {
///     let mut z = w;
///     let mut v = 0.0;
///     if flag {
///         v = f(&z);
///         z[1] = 7.0;
///     }
///     v
/// }
/// ```
///
/// `g_grad([2.0, 3.0, 0.5], true)` is `[0, cos(7), 0]`, not `[0, cos(3), 0]`; the same with
/// `let mut t = 0; while t < 1 { t += 1; v = f(&z); z[1] = 7.0; }`, with `z = [1.0, 7.0,
/// 1.0];` for the store, and with an array-valued helper (`let r: [f64; 3] = rhs(z); z =
/// r;`); right at the top level and in a `for` loop. While this is `true`, a call in a branch
/// or where a jump may have happened (a `while` body, after a `continue`) takes `wa` (never
/// written) for its `wrt` array.
pub const WORK_AROUND_CALL_ARG_WRITTEN_LATER: bool = false;

/// Fixed in the macro (issue 18); set to `true` to generate the workaround again. Was:
/// Reported (see the report of the ninth batch), two bugs of an array-valued call's result
/// assigned whole in a branch (`let r = h(z); z = r;` in an `if`):
///
/// - a wrong gradient: the pullback runs at the array's new value (`r`) instead of the argument
///   it was called with. Minimal (`rhs(s) = [s[1].sin(), s[0] * s[1], s[2]]`, `#[grad(wrt =
///   s)]`, by value or `&[f64; 3]`):
///
///   ```text
///   #[grad(wrt = w)]
///   fn b(w: [f64; 3], flag: bool) -> f64 {
///       let mut z = w;
///       if flag {
///           let r: [f64; 3] = rhs(z);
///           z = r;
///       }
///       z[0]
///   }
///   ```
///
///   `b_grad([2.0, 3.0, 0.5], true)` is `[0, 0.960.., 0]` (`cos(6)`, at `r[1] = 6`), not `[0,
///   cos(3), 0]`; right at the top level, in a loop, in `mode = forward`, and with `rhs(w)` for
///   `rhs(z)`.
/// - a compile error in the expansion ("`if` and `else` have incompatible types: expected
///   `[f64; 3]`, found `Vec<_>`", or "expected `Vec<_>`, found `[f64; 3]`", "`Vec<_>: Copy`
///   is not satisfied" at `zeros_like`) when the result is also indexed: `if flag { let r =
///   rhs(w); z = r; z[1] += r[2]; }`.
///
/// The same compile error with a copy of a result: `let r = h(w0, wa); let mut z = r; z = wa;
/// if x1 < w0 { let mut z3 = z; z3[0] = r[1]; z = z3; } z[0] * r[1]` (without `let mut z = r;
/// z = wa;`, `let mut z = wa;`, it compiles).
///
/// While this is `true`, a call's result is not assigned whole in a branch
/// ([`Scope::call_target`] gives none: the result is a new array only), and no whole
/// assignment in a branch writes or reads a result or a copy of one ([`Scope::assign_plan`]).
pub const WORK_AROUND_CALL_RESULT_IN_BRANCH: bool = false;

/// Fixed in the macro (issue 18); set to `true` to generate the workaround again. Was:
/// Reported (see the report of the ninth batch): the result of an array-valued call bound
/// without its type inside a branch does not compile ("mismatched types: expected `Vec<_>`,
/// found `[f64; 3]`", "`Vec<_>: Copy` is not satisfied" at `zeros_like`, or "`if` and `else`
/// have incompatible types"), nor a copy made in a branch of one bound without its type
/// before. Minimal (`h(w0, s) = [s[1].sin() * w0, s[0] * s[1], s[2]]`, `#[grad(wrt = w0,
/// s)]`):
///
/// ```text
/// #[grad(wrt = w0, wa)]
/// fn g(w0: f64, wa: [f64; 3], x1: f64) -> f64 {
///     let mut s = 0.0;
///     if x1 < w0 {
///         let r = h(w0, wa);
///         s = r[0] * r[1];
///     }
///     s
/// }
/// ```
///
/// (`let r: [f64; 3] = h(w0, wa);` compiles, and so does the same without the `if`). While
/// this is `true`, every result is annotated (`let mut z: [f64; 3] = h(..);`).
pub const WORK_AROUND_UNTYPED_RESULT_IN_BRANCH: bool = false;

/// Reported (see the report of the ninth batch): the result of an array-valued call that the
/// body never indexes by its own name (`let r = h(..);` only passed on, `g(&r)`, or copied,
/// `let mut z = r;`) is taken for a float: "this expression cannot be differentiated: it uses
/// `r`, which depends on a `wrt` parameter", and a copy of it indexed later, "assigning to an
/// element of an array of data". Minimal:
///
/// ```text
/// #[grad(wrt = s)]
/// fn rhs(s: [f64; 2]) -> [f64; 2] { [s[1].sin(), s[0] * s[1]] }
/// #[grad(wrt = v)]
/// fn norm(v: &[f64; 2]) -> f64 { v[0] * v[0] + v[1] * v[1] }
/// #[grad(wrt = w)]
/// fn f(w: [f64; 2]) -> f64 {
///     let r = rhs(w);
///     norm(&r)
/// }
/// ```
///
/// (`let r: [f64; 2] = rhs(w);` compiles). While this is `true`, such a result is annotated
/// (`let mut z: [f64; 3] = h(..);`, [`annotate_unindexed`]).
pub const WORK_AROUND_UNINDEXED_RESULT: bool = true;

/// `source` with every `let mut zN = ..;` of a call's result (a line holding a call of a
/// helper, `_h0(`..) annotated `: [f64; 3]` where no line of its block after it indexes `zN[`.
pub fn annotate_unindexed(source: &str, len: usize) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        let is_call = ["_h0(", "_h1(", "_h2("].iter().any(|h| t.contains(h));
        let decl = t
            .strip_prefix("let mut z")
            .and_then(|r| r.split_once(" = "))
            .filter(|(n, _)| is_call && n.bytes().all(|b| b.is_ascii_digit()));
        if let Some((n, value)) = decl {
            let name = format!("z{n}[");
            let scope = lines[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || indent(l) >= indent(line));
            if !scope.into_iter().any(|l| l.contains(&name)) {
                let _ = writeln!(
                    out,
                    "{}let mut z{n}: [f64; {len}] = {value}",
                    &line[..indent(line)]
                );
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Typed (`0.5_f64`): an expression of literals alone must still have a type for its methods.
fn lit_str(v: f64) -> String {
    let s = format!("{:?}_f64", v.abs());
    if v < 0.0 {
        format!("(-{s})")
    } else {
        s
    }
}

/// The name of the integer a loop-variable reference resolves to (`k` outside loops).
fn int_name(scope: &Scope, i: u8) -> String {
    scope
        .loop_var(i)
        .map_or_else(|| "k".into(), |v| scope.loops[v].name.clone())
}

/// Every expression prints fully parenthesised: precedence is rustc's business, not ours.
pub fn expr_str(e: &Expr, scope: &Scope) -> String {
    match e {
        Expr::Var(i) => scope.names[scope.resolve(*i)].clone(),
        Expr::Lit(v) => lit_str(*v),
        Expr::Pi => "std::f64::consts::PI".into(),
        Expr::UserConst => "K".into(),
        Expr::IntAsFloat => "(k as f64)".into(),
        Expr::Latest => scope.names[scope.latest()].clone(),
        Expr::Neg(a) => format!("(-{})", expr_str(a, scope)),
        Expr::Bin(op, a, b) => format!(
            "({} {} {})",
            expr_str(a, scope),
            op.symbol(),
            expr_str(b, scope)
        ),
        Expr::F1(f, a) if f.is_helper() => {
            format!("backprop::{}({})", f.name(), expr_str(a, scope))
        }
        Expr::F1(f, a) => format!("{}.{}()", expr_str(a, scope), f.name()),
        Expr::F2(F2::Rem, a, b) => format!("({} % {})", expr_str(a, scope), expr_str(b, scope)),
        Expr::Clamp(x, lo, w) => {
            let lo = expr_str(lo, scope);
            let w = expr_str(w, scope);
            format!(
                "{}.clamp({lo}, ({lo} + (({w} * {w}) + 0.125_f64)))",
                expr_str(x, scope)
            )
        }
        Expr::F2(F2::LeakyRelu, a, b) => {
            format!(
                "backprop::leaky_relu({}, {})",
                expr_str(a, scope),
                expr_str(b, scope)
            )
        }
        Expr::F2(f, a, b) => format!(
            "{}.{}({})",
            expr_str(a, scope),
            f.name(),
            expr_str(b, scope)
        ),
        Expr::MulAdd(a, b, c) => format!(
            "{}.mul_add({}, {})",
            expr_str(a, scope),
            expr_str(b, scope),
            expr_str(c, scope)
        ),
        Expr::Powi(a, n) => {
            let n = match n {
                IntExpr::Lit(c) => format!("{c}"),
                IntExpr::KPlus(c) => format!("(k + {c})"),
            };
            format!("{}.powi({n})", expr_str(a, scope))
        }
        Expr::If(c, a, b) => format!(
            "(if {} {{ {} }} else {{ {} }})",
            cond_str(c, scope),
            expr_str(a, &scope.branch()),
            expr_str(b, &scope.branch())
        ),
        Expr::LoopIdx(i) => format!("({} as f64)", int_name(scope, *i)),
        Expr::Elem(a, ix) => match scope.readable(*a) {
            Some(a) => elem_str(scope, a, *ix),
            None => scope.names[scope.resolve(*a)].clone(),
        },
        Expr::Match { on, arms, default } => {
            let scrutinee = match on {
                MatchOn::K => "k".into(),
                MatchOn::Loop(i) => int_name(scope, *i),
                MatchOn::Flag => "flag".into(),
            };
            let mut s = format!("(match {scrutinee} {{ ");
            for (pats, e) in scope.match_arms(*on, arms) {
                let pats: Vec<String> = if *on == MatchOn::Flag {
                    vec!["true".into()]
                } else {
                    pats.iter().map(i64::to_string).collect()
                };
                let _ = write!(
                    s,
                    "{} => {}, ",
                    pats.join(" | "),
                    expr_str(e, &scope.branch())
                );
            }
            let _ = write!(s, "_ => {} }})", expr_str(default, &scope.branch()));
            s
        }
        Expr::Reduce { kind, src, body } => match scope.reduce_shape(*src) {
            Some(r) => {
                let k = match kind {
                    ReduceKind::Sum => "sum",
                    ReduceKind::Product => "product",
                };
                format!("({}{}).{k}::<f64>())", r.head, expr_str(body, &r.scope))
            }
            None => scope.names[scope.resolve(0)].clone(),
        },
        Expr::DataVar(i) => scope
            .data_var(*i)
            .map_or_else(|| "(k as f64)".into(), |s| scope.names[s].clone()),
        Expr::Call(call) => match scope.callee(call.callee) {
            Some(f) => call_str(&scope.callees[f], call, scope, false),
            None => call
                .args
                .first()
                .map_or_else(|| "0.0_f64".into(), |a| expr_str(a, scope)),
        },
        Expr::Recur(call) => call_str(&scope.this, call, scope, true),
    }
}

/// `path(args.., data.., k, flag)`, with `k - 1` for a recursive call; a `wrt` array after
/// the `wrt` floats and a data array after the data floats (`&z` by reference).
fn call_str(sig: &CalleeSig, c: &Call, scope: &Scope, recur: bool) -> String {
    let mut args: Vec<String> = Scope::call_args(sig, c)
        .into_iter()
        .map(|e| e.map_or_else(|| "0.0_f64".into(), |e| expr_str(e, scope)))
        .collect();
    let arrays = scope.call_arrays(sig, c);
    let array = |a: Option<usize>, len: usize| {
        let r = if sig.by_ref { "&" } else { "" };
        match a {
            Some(a) => format!("{r}{}", scope.arrays[a].name),
            None => format!("{r}[0.0_f64; {len}]"),
        }
    };
    if sig.data_array {
        let at = sig.n_wrt + sig.n_data;
        args.insert(at, array(*arrays.last().expect("a data array"), XS_LEN));
    }
    if sig.wrt_array {
        args.insert(sig.n_wrt, array(arrays[0], WA_LEN));
    }
    args.push(match c.k {
        _ if recur => "k - 1".into(),
        IntArg::K => "k".into(),
        IntArg::Lit(n) => n.to_string(),
    });
    args.push(
        match c.flag {
            FlagArg::Flag => "flag",
            FlagArg::NotFlag => "!flag",
            FlagArg::Lit(true) => "true",
            FlagArg::Lit(false) => "false",
        }
        .into(),
    );
    format!("{}({})", sig.path, args.join(", "))
}

pub fn cond_str(c: &Cond, scope: &Scope) -> String {
    match c {
        // A condition counts as a branch for `WORK_AROUND_NESTED_WHOLE_READ`.
        Cond::Cmp(op, a, b) => format!(
            "({} {} {})",
            expr_str(a, &scope.branch()),
            op.symbol(),
            expr_str(b, &scope.branch())
        ),
        Cond::And(a, b) => format!("({} && {})", cond_str(a, scope), cond_str(b, scope)),
        Cond::Or(a, b) => format!("({} || {})", cond_str(a, scope), cond_str(b, scope)),
        Cond::Not(a) => format!("!{}", cond_str(a, scope)),
        Cond::Flag => "flag".into(),
        Cond::Int(atom, op, c) => {
            let (var, op, c) = scope.int_test(*atom, *op, *c);
            let name = var.map_or("k", |v| &scope.loops[v].name);
            format!("({name} {} {c})", op.symbol())
        }
    }
}

impl Expr {
    /// The expressions directly inside this one (a condition's operands included).
    pub fn children(&self) -> Vec<&Expr> {
        match self {
            Expr::Var(_)
            | Expr::DataVar(_)
            | Expr::Lit(_)
            | Expr::Pi
            | Expr::UserConst
            | Expr::IntAsFloat
            | Expr::Latest
            | Expr::LoopIdx(_)
            | Expr::Elem(..) => Vec::new(),
            Expr::Neg(a) | Expr::F1(_, a) | Expr::Powi(a, _) => vec![a],
            Expr::Bin(_, a, b) | Expr::F2(_, a, b) => vec![a, b],
            Expr::MulAdd(a, b, c) | Expr::Clamp(a, b, c) => vec![a, b, c],
            Expr::If(c, a, b) => {
                let mut v = c.exprs();
                v.extend([&**a, &**b]);
                v
            }
            Expr::Match { arms, default, .. } => arms
                .iter()
                .map(|(_, e)| e)
                .chain(std::iter::once(&**default))
                .collect(),
            Expr::Reduce { body, .. } => vec![body],
            Expr::Call(c) | Expr::Recur(c) => c.args.iter().chain(&c.data).collect(),
        }
    }
}

impl Cond {
    /// The expressions a condition compares, at any depth of `&&`, `||` and `!`.
    pub fn exprs(&self) -> Vec<&Expr> {
        match self {
            Cond::Cmp(_, a, b) => vec![a, b],
            Cond::And(a, b) | Cond::Or(a, b) => {
                let mut v = a.exprs();
                v.extend(b.exprs());
                v
            }
            Cond::Not(a) => a.exprs(),
            Cond::Flag | Cond::Int(..) => Vec::new(),
        }
    }
}

/// A call in a program's source, for the run's summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallSite {
    /// Where the callee is, as the caller names it.
    pub place: Place,
    pub building_block: bool,
    /// Inside a loop's body.
    pub in_loop: bool,
    /// In a branch of an `if` (statement or expression).
    pub in_branch: bool,
    /// An argument of another call.
    pub nested: bool,
    /// In a helper's body (a call between helpers, or a recursive one).
    pub in_helper: bool,
    pub recursive: bool,
    /// The callee takes an array (`Some(true)`: by reference).
    pub array_arg: Option<bool>,
    /// The callee returns an array ([`Stmt::ArrayCall`]).
    pub returns_array: bool,
}

impl Program {
    /// Prefixes the names of its callees (and theirs) with `prefix_`, so that the helpers of
    /// several programs can live side by side.
    pub fn name_callees(&mut self, prefix: &str) {
        for c in &mut self.callees {
            c.name = format!("{prefix}_{}", c.name);
            c.body.name_callees(prefix);
        }
    }

    /// The calls its source makes and those its helpers' make (each printed call once, whether
    /// it runs or not).
    pub fn call_sites(&self) -> Vec<CallSite> {
        let mut out = Vec::new();
        Sites {
            p: self,
            this: None,
            out: &mut out,
        }
        .program();
        for c in &self.callees {
            Sites {
                p: &c.body,
                this: Some(c),
                out: &mut out,
            }
            .program();
        }
        out
    }
}

/// Where a call is, as [`Program::call_sites`] walks.
#[derive(Clone, Copy, Default)]
struct At {
    in_loop: bool,
    in_branch: bool,
    nested: bool,
}

/// The walk of [`Program::call_sites`] over `p` (helper `this`, if it is one).
struct Sites<'a> {
    p: &'a Program,
    this: Option<&'a Callee>,
    out: &'a mut Vec<CallSite>,
}

impl Sites<'_> {
    fn program(&mut self) {
        for s in &self.p.stmts {
            self.stmt(s, At::default());
        }
        self.expr(&self.p.ret, At::default());
    }

    fn stmt(&mut self, s: &Stmt, at: At) {
        match s {
            Stmt::Let { value, .. }
            | Stmt::Assign { value, .. }
            | Stmt::Store { value, .. }
            | Stmt::Jump(Jump::Return(value)) => self.expr(value, at),
            Stmt::If { cond, then, els } => {
                for e in cond.exprs() {
                    self.expr(e, at);
                }
                for s in then.iter().chain(els) {
                    self.stmt(
                        s,
                        At {
                            in_branch: true,
                            ..at
                        },
                    );
                }
            }
            Stmt::Loop { header, body } => {
                let at = At {
                    in_loop: true,
                    ..at
                };
                if let Header::While { cond: Some(c), .. } = header {
                    for e in c.exprs() {
                        self.expr(e, at);
                    }
                }
                for s in body {
                    self.stmt(s, at);
                }
            }
            Stmt::ArrayCall { call, .. } => {
                let array = |c: &&Callee| !c.outputs.is_empty();
                let fit: Vec<&Callee> = self.p.callees.iter().filter(array).collect();
                if fit.is_empty() {
                    return;
                }
                let callee = fit[call.callee as usize % fit.len()];
                self.push(callee, at, false);
                for child in call.args.iter().chain(&call.data) {
                    self.expr(child, At { nested: true, ..at });
                }
            }
            Stmt::Jump(_)
            | Stmt::ArrayDecl { .. }
            | Stmt::ArrayCopy { .. }
            | Stmt::ArrayAssign { .. } => {}
        }
    }

    fn push(&mut self, callee: &Callee, at: At, recursive: bool) {
        self.out.push(CallSite {
            place: callee.place,
            building_block: callee.building_block,
            in_loop: at.in_loop,
            in_branch: at.in_branch,
            nested: at.nested,
            in_helper: self.this.is_some(),
            recursive,
            array_arg: (callee.body.wrt_array || callee.body.data_array).then_some(callee.by_ref),
            returns_array: !callee.outputs.is_empty(),
        });
    }

    fn expr(&mut self, e: &Expr, at: At) {
        let floats: Vec<&Callee> = self
            .p
            .callees
            .iter()
            .filter(|c| c.outputs.is_empty())
            .collect();
        let callee = match e {
            Expr::Call(c) if !floats.is_empty() => Some(floats[c.callee as usize % floats.len()]),
            Expr::Recur(_) => self.this,
            _ => None,
        };
        if let Some(callee) = callee {
            self.push(callee, at, matches!(e, Expr::Recur(_)));
        }
        let nested = at.nested || matches!(e, Expr::Call(_) | Expr::Recur(_));
        if let Expr::If(c, a, b) = e {
            for x in c.exprs() {
                self.expr(x, At { nested, ..at });
            }
            for x in [a, b] {
                self.expr(
                    x,
                    At {
                        nested,
                        in_branch: true,
                        ..at
                    },
                );
            }
            return;
        }
        for child in e.children() {
            self.expr(child, At { nested, ..at });
        }
    }
}

/// Whether `stmts` (nested blocks included) store into the array `arr`.
fn stores_into(stmts: &[Stmt], arr: u8) -> bool {
    stmts.iter().any(|s| match s {
        Stmt::Store { arr: a, .. } => *a == arr,
        Stmt::If { then, els, .. } => stores_into(then, arr) || stores_into(els, arr),
        Stmt::Loop { body, .. } => stores_into(body, arr),
        _ => false,
    })
}
