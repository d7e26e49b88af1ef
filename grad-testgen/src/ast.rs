//! The language of generated programs: a subset of what `#[grad]` accepts, as data.
//!
//! Variable references are indices resolved against the variables in scope where they are
//! used (`index % count`), so every generated (and every shrunk) program is well formed.
//! Domain-restricted functions are applied to guarded arguments (`ln(a² + ½)`), built into the
//! tree, so the printed program and the oracle agree on them by construction.

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
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Cmp(CmpOp, Expr, Expr),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    /// The `bool` data parameter.
    Flag,
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
        target: u8,
        op: AssignOp,
        value: Expr,
    },
    /// An `if` statement whose branches assign existing locals.
    If {
        cond: Cond,
        then: Vec<Stmt>,
        els: Vec<Stmt>,
    },
}

/// A generated function: `fn name(w0.., x0.., k: i32, flag: bool) -> f64`, differentiated
/// with respect to every `w`.
#[derive(Clone, PartialEq)]
pub struct Program {
    pub n_wrt: usize,
    pub n_data: usize,
    pub stmts: Vec<Stmt>,
    pub ret: Expr,
}

/// The value of `const K` in generated modules.
pub const USER_CONST: f64 = 0.75;

/// The names in scope while walking a program, for the printer and the evaluators alike.
#[derive(Clone, Debug)]
pub struct Scope {
    /// Parameters, then locals: the name each index resolves to.
    pub names: Vec<String>,
    pub n_params: usize,
    pub n_locals: usize,
}

impl Scope {
    pub fn new(p: &Program) -> Scope {
        let mut names: Vec<String> = (0..p.n_wrt).map(|i| format!("w{i}")).collect();
        names.extend((0..p.n_data).map(|i| format!("x{i}")));
        let n_params = names.len();
        Scope {
            names,
            n_params,
            n_locals: 0,
        }
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
}

impl Program {
    /// Whether the program uses a step function (`round`, `%`, ...): then finite differences
    /// can straddle a jump however small the step, and only the oracle is a fair judge.
    pub fn has_steps(&self) -> bool {
        fn expr(e: &Expr) -> bool {
            match e {
                Expr::F1(f, a) => {
                    matches!(
                        f,
                        F1::Signum
                            | F1::Floor
                            | F1::Ceil
                            | F1::Round
                            | F1::RoundTiesEven
                            | F1::Trunc
                            | F1::Fract
                    ) || expr(a)
                }
                Expr::F2(f, a, b) => {
                    matches!(f, F2::RemEuclid | F2::DivEuclid | F2::Rem | F2::Copysign)
                        || expr(a)
                        || expr(b)
                }
                Expr::Neg(a) | Expr::Powi(a, _) => expr(a),
                Expr::Bin(_, a, b) => expr(a) || expr(b),
                Expr::MulAdd(a, b, c) | Expr::Clamp(a, b, c) => expr(a) || expr(b) || expr(c),
                Expr::If(c, a, b) => cond(c) || expr(a) || expr(b),
                Expr::Var(_)
                | Expr::Lit(_)
                | Expr::Pi
                | Expr::UserConst
                | Expr::IntAsFloat
                | Expr::Latest => false,
            }
        }
        fn cond(c: &Cond) -> bool {
            match c {
                Cond::Cmp(_, a, b) => expr(a) || expr(b),
                Cond::And(a, b) | Cond::Or(a, b) => cond(a) || cond(b),
                Cond::Not(a) => cond(a),
                Cond::Flag => false,
            }
        }
        fn stmt(s: &Stmt) -> bool {
            match s {
                Stmt::Let { value, .. } | Stmt::Assign { value, .. } => expr(value),
                Stmt::If { cond: c, then, els } => cond(c) || then.iter().chain(els).any(stmt),
            }
        }
        self.stmts.iter().any(stmt) || expr(&self.ret)
    }

    pub fn params(&self) -> Vec<String> {
        let mut p: Vec<String> = (0..self.n_wrt).map(|i| format!("w{i}: f64")).collect();
        p.extend((0..self.n_data).map(|i| format!("x{i}: f64")));
        p.push("k: i32".into());
        p.push("flag: bool".into());
        p
    }

    /// The annotated function, named `name`, as Rust source.
    pub fn source(&self, name: &str) -> String {
        let mut out = String::new();
        let wrt: Vec<String> = (0..self.n_wrt).map(|i| format!("w{i}")).collect();
        let _ = writeln!(out, "#[grad(wrt = {})]", wrt.join(", "));
        let _ = writeln!(out, "fn {name}({}) -> f64 {{", self.params().join(", "));
        // Both data parameters are always declared; mention them so neither is unused.
        let _ = writeln!(out, "    let _ = (k, flag);");
        let mut scope = Scope::new(self);
        for s in &self.stmts {
            print_stmt(&mut out, s, &mut scope, 1);
        }
        let _ = writeln!(out, "    {}", expr_str(&self.ret, &scope));
        out.push_str("}\n");
        out
    }
}

impl fmt::Debug for Program {
    /// A program prints as its Rust source, so a failing case reads as code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\n{}", self.source("f"))
    }
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
            if let Some(slot) = scope.assign_target(*target) {
                let v = expr_str(value, scope);
                let _ = writeln!(out, "{pad}{} {} {v};", scope.names[slot], op.symbol());
            }
        }
        Stmt::If { cond, then, els } => {
            let _ = writeln!(out, "{pad}if {} {{", cond_str(cond, scope));
            for t in then {
                print_stmt(out, t, scope, depth + 1);
            }
            let _ = writeln!(out, "{pad}}} else {{");
            for e in els {
                print_stmt(out, e, scope, depth + 1);
            }
            let _ = writeln!(out, "{pad}}}");
        }
    }
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
        Expr::F1(f, a) if f.is_helper() => format!("grad::{}({})", f.name(), expr_str(a, scope)),
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
                "grad::leaky_relu({}, {})",
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
            expr_str(a, scope),
            expr_str(b, scope)
        ),
    }
}

pub fn cond_str(c: &Cond, scope: &Scope) -> String {
    match c {
        Cond::Cmp(op, a, b) => format!(
            "({} {} {})",
            expr_str(a, scope),
            op.symbol(),
            expr_str(b, scope)
        ),
        Cond::And(a, b) => format!("({} && {})", cond_str(a, scope), cond_str(b, scope)),
        Cond::Or(a, b) => format!("({} || {})", cond_str(a, scope), cond_str(b, scope)),
        Cond::Not(a) => format!("!{}", cond_str(a, scope)),
        Cond::Flag => "flag".into(),
    }
}
