//! The escape language: a straight-line program ([`crate::gen::program`]) followed by a value
//! that leaves the arithmetic the macro models — through a `&mut` out-parameter, a method of a
//! mutated local, a `Vec`, a `Cell`, an atomic, a bit pattern, a `Box`, an `Option`, a call
//! whose value is thrown away, a predicate in a condition — or goes through a construct the
//! macro models instead (a tuple destructured with `let`, an integer changed in place), and is
//! read back into the result.
//!
//! Each program knows its [`Verdict`]: a value that depends on a `wrt` parameter and escapes
//! must be refused at compile time (by the macro, or by rustc through a pullback the macro
//! asks for); everything else must compile, and its gradient is the oracle's for
//! [`Escape::oracle_program`] (the base program with the value read back added to its
//! result). The effect may run once, under `if flag`, or twice in a loop.

use crate::ast::{expr_str, Arith, CmpOp, Cond, Expr, Program};
use crate::gen;
use proptest::prelude::*;
use proptest::sample::select;

/// How the value leaves (or what models it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `let mut esc0 = 0.0; set_out(&mut esc0, v);` read back as `esc0`.
    MutOut,
    /// `let mut esc0 = [0.0; 2]; fill2(&mut esc0, v);` read back as `esc0[1]`.
    ArrayOut,
    /// `let mut esc0 = 1.0; let esc1 = std::mem::replace(&mut esc0, v);`, `esc0 + esc1 - 1.0`.
    MemReplace,
    /// `let mut esc0 = Acc::default(); esc0.add(v);` read back as `esc0.total()`.
    Method,
    /// `let mut esc0 = Vec::new(); esc0.push(v);` read back as `esc0[0]`.
    Push,
    /// `let esc0 = std::cell::Cell::new(0.0); esc0.set(v);`, `esc0.get()`.
    Cell,
    /// An `AtomicU64` storing `(v).to_bits()`, read back with `f64::from_bits`.
    AtomicBits,
    /// `let esc0 = f64::from_bits((v).to_bits());`
    Bits,
    /// `let esc0 = Box::new(v);`, `*esc0`.
    BoxNew,
    /// `let esc0 = Some(v);`, `esc0.unwrap_or(0.0)`.
    SomeWrap,
    /// `record(v);`: a call whose value is thrown away (nothing is read back).
    Discarded,
    /// `if positive(v) { 1.5 } else { -0.5 }` added to the result.
    CondCall,
    /// `let (esc0, esc1) = (v, u); let (esc0, esc1) = (esc1, esc0 - esc1);`, `esc0 * esc1`:
    /// modelled.
    Tuple,
    /// `let mut esc0 = 0; bump(&mut esc0);`, `esc0 as f64`: data changed in place, modelled.
    CountOut,
    /// A counter changed through `&mut` in a loop and read after the change, in the same
    /// iteration: `for _ in 0..3 { bump(&mut esc0); esc1 += (v) * esc0 as f64; }` (the sweep
    /// must read each iteration's count, not the last).
    CountInLoop,
    /// A `Vec` read before it is pushed to, in each iteration: `esc1 += (v) * esc0.len() as
    /// f64; esc0.push(1.5);`.
    PushInLoop,
    /// A `Cell` changed and read in each iteration.
    CellInLoop,
    /// A local array written at an index that a call moves on: `esc2[esc0] += (v) * ..;
    /// bump_at(&mut esc0);`.
    IndexInLoop,
    /// Cells bound by a loop's pattern, read next to `v` and changed in each iteration: `for c
    /// in esc0.iter() { esc1 += (v) * c.get(); c.set(c.get() + 1.0); }`.
    CellsLoopVar,
    /// A `#[grad]` helper given a `&Cell` it changes, called in a loop: it must run once per
    /// iteration, never again in the sweep: `esc1 += counted(v, &esc0);`.
    HelperCell,
    /// A closure of `.map(..)` assigning a local declared outside it: refused.
    ClosureAssign,
    /// A local of a type with `Add<f64, Output = f64>`: `esc0 + (v)` is not float arithmetic;
    /// rustc refuses it at the local, through the check the companions make, when `v` is
    /// differentiated (always, here).
    OpOverload,
}

impl Kind {
    pub const ALL: &'static [Kind] = &[
        Kind::MutOut,
        Kind::ArrayOut,
        Kind::MemReplace,
        Kind::Method,
        Kind::Push,
        Kind::Cell,
        Kind::AtomicBits,
        Kind::Bits,
        Kind::BoxNew,
        Kind::SomeWrap,
        Kind::Discarded,
        Kind::CondCall,
        Kind::Tuple,
        Kind::CountOut,
        Kind::CountInLoop,
        Kind::PushInLoop,
        Kind::CellInLoop,
        Kind::IndexInLoop,
        Kind::CellsLoopVar,
        Kind::HelperCell,
        Kind::ClosureAssign,
        Kind::OpOverload,
    ];
}

/// Where the effect runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    Once,
    /// Under `if flag { .. }` (a `Vec` gets `0.5` in the `else`, so `esc0[0]` exists).
    IfFlag,
    /// In `for _ in 0..2 { .. }`.
    Twice,
}

/// What the build must do with a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The macro refuses it with its own error, whose message contains this.
    Macro(&'static str),
    /// The macro accepts it and rustc refuses it, through the check its expansion contains
    /// (this text: a callee's stand-in pullback, a float type check).
    Rustc(&'static str),
    /// It compiles, and its gradient is the oracle's.
    Accepted,
}

#[derive(Clone, PartialEq)]
pub struct Escape {
    pub base: Program,
    pub kind: Kind,
    pub guard: Guard,
    /// The value that escapes; `second` the other element of a tuple.
    pub value: Expr,
    pub second: Expr,
    /// Whether `value` depends on a `wrt` parameter (`w0 · e`), or is data only.
    pub differentiated: bool,
}

/// The items the programs call, written once per module.
pub const SUPPORT: &str = r#"
#[allow(dead_code)]
fn set_out(o: &mut f64, v: f64) {
    *o = v;
}
#[allow(dead_code)]
fn fill2(a: &mut [f64; 2], v: f64) {
    a[0] = v;
    a[1] = v;
}
#[allow(dead_code)]
fn bump(n: &mut i32) {
    *n += 1;
}
#[allow(dead_code)]
fn bump_at(n: &mut usize) {
    *n += 1;
}
#[allow(dead_code)]
#[grad]
fn counted(s: f64, c: &std::cell::Cell<f64>) -> f64 {
    c.set(c.get() + 1.0);
    s * c.get()
}
#[allow(dead_code)]
#[derive(Clone, Copy)]
struct Wrap(f64);
impl std::ops::Add<f64> for Wrap {
    type Output = f64;
    fn add(self, v: f64) -> f64 {
        self.0 * v
    }
}
#[allow(dead_code)]
fn record(v: f64) -> f64 {
    v
}
#[allow(dead_code)]
fn positive(v: f64) -> bool {
    v > 0.0
}
#[allow(dead_code)]
#[derive(Default)]
struct Acc {
    s: f64,
}
#[allow(dead_code)]
impl Acc {
    fn add(&mut self, v: f64) {
        self.s += v;
    }
    fn total(&self) -> f64 {
        self.s
    }
}
"#;

fn b(e: Expr) -> Box<Expr> {
    Box::new(e)
}

impl Escape {
    pub fn verdict(&self) -> Verdict {
        use Kind::*;
        match self.kind {
            // A statement lending a float (an array) to a function: `esc0 = set_out(esc0, v)`
            // (issue 22). Given a differentiated value, the function must be `#[grad]` (rustc
            // says so at the stand-in pullback); on data, it is called as written, on a copy.
            MutOut if self.differentiated => Verdict::Rustc("__grad_set_out"),
            ArrayOut if self.differentiated => Verdict::Rustc("__grad_fill2"),
            MutOut | ArrayOut => Verdict::Accepted,
            MemReplace => Verdict::Macro(if self.differentiated {
                "std::mem::replace"
            } else {
                "lends `esc0`"
            }),
            ClosureAssign => Verdict::Macro("this closure assigns `esc0`"),
            // Always given a differentiated value (`escape_program`): with data only, whether
            // the operator counts as float arithmetic depends on the data's kind.
            OpOverload => Verdict::Rustc("f64 = & esc0"),
            Tuple | CountOut | CountInLoop | PushInLoop | CellInLoop | IndexInLoop
            | CellsLoopVar | HelperCell => Verdict::Accepted,
            _ if !self.differentiated => Verdict::Accepted,
            Method => Verdict::Macro("thrown away"),
            Push => Verdict::Macro(".push(..)"),
            Cell => Verdict::Macro(".set(..)"),
            AtomicBits => Verdict::Macro("to_bits"),
            Bits => Verdict::Macro("f64::from_bits"),
            BoxNew => Verdict::Macro("Box::new"),
            SomeWrap => Verdict::Macro("Some(..)"),
            Discarded => Verdict::Macro("thrown away"),
            CondCall => Verdict::Rustc("__grad_positive"),
        }
    }

    /// The annotated function named `name` (the items it calls are [`SUPPORT`]).
    pub fn source(&self, name: &str) -> String {
        self.base.source_ending(name, &|scope| {
            let v = expr_str(&self.value, scope);
            let u = expr_str(&self.second, scope);
            let ret = expr_str(&self.base.ret, scope);
            let (decl, effect, alt, read) = self.parts(&v, &u);
            let effect = match self.guard {
                Guard::Once => effect,
                Guard::IfFlag => format!("if flag {{ {effect} }} else {{ {alt} }}"),
                Guard::Twice => format!("for _ in 0..2 {{ {effect} }}"),
            };
            format!("{decl}\n    {effect}\n    ({ret}) + {read}")
        })
    }

    /// The declaration, the effect, the `else` of [`Guard::IfFlag`] and the read-back.
    fn parts(&self, v: &str, u: &str) -> (String, String, String, String) {
        use Kind::*;
        let relaxed = "std::sync::atomic::Ordering::Relaxed";
        let s = |a: &str, b: &str, c: &str, d: &str| (a.into(), b.into(), c.into(), d.into());
        match self.kind {
            MutOut => s(
                "let mut esc0 = 0.0;",
                &format!("set_out(&mut esc0, {v});"),
                "",
                "esc0",
            ),
            ArrayOut => s(
                "let mut esc0 = [0.0; 2];",
                &format!("fill2(&mut esc0, {v});"),
                "",
                "esc0[1]",
            ),
            MemReplace => s(
                "let mut esc0 = 1.0;",
                &format!("let esc1 = std::mem::replace(&mut esc0, {v}); let _ = esc1;"),
                "",
                "esc0",
            ),
            Method => s(
                "let mut esc0 = Acc::default();",
                &format!("esc0.add({v});"),
                "",
                "esc0.total()",
            ),
            Push => s(
                "let mut esc0 = Vec::new();",
                &format!("esc0.push({v});"),
                "esc0.push(0.5);",
                "esc0[0]",
            ),
            Cell => s(
                "let esc0 = std::cell::Cell::new(0.0);",
                &format!("esc0.set({v});"),
                "",
                "esc0.get()",
            ),
            AtomicBits => s(
                "let esc0 = std::sync::atomic::AtomicU64::new(0.0_f64.to_bits());",
                &format!("esc0.store(({v}).to_bits(), {relaxed});"),
                "",
                &format!("f64::from_bits(esc0.load({relaxed}))"),
            ),
            Bits => s(
                "let _ = 0;",
                &format!("let esc0 = f64::from_bits(({v}).to_bits());"),
                "",
                "esc0",
            ),
            BoxNew => s(
                "let _ = 0;",
                &format!("let esc0 = Box::new({v});"),
                "",
                "*esc0",
            ),
            SomeWrap => s(
                "let _ = 0;",
                &format!("let esc0 = Some({v});"),
                "",
                "esc0.unwrap_or(0.0)",
            ),
            Discarded => s("let _ = 0;", &format!("record({v});"), "", "0.0"),
            CondCall => s(
                "let _ = 0;",
                "",
                "",
                &format!("(if positive({v}) {{ 1.5 }} else {{ -0.5 }})"),
            ),
            Tuple => s(
                "let _ = 0;",
                &format!("let (esc0, esc1) = ({v}, {u}); let (esc0, esc1) = (esc1, esc0 - esc1);"),
                "",
                "esc0 * esc1",
            ),
            CountOut => s("let mut esc0 = 0;", "bump(&mut esc0);", "", "(esc0 as f64)"),
            CountInLoop => s(
                "let mut esc0 = 0; let mut esc1 = 0.0;",
                &format!("for _ in 0..3 {{ bump(&mut esc0); esc1 += ({v}) * esc0 as f64; }}"),
                "",
                "esc1",
            ),
            PushInLoop => s(
                "let mut esc0 = Vec::new(); let mut esc1 = 0.0;",
                &format!(
                    "for _ in 0..3 {{ esc1 += ({v}) * esc0.len() as f64; esc0.push(1.5); }}"
                ),
                "",
                "esc1",
            ),
            CellInLoop => s(
                "let esc0 = std::cell::Cell::new(0.0); let mut esc1 = 0.0;",
                &format!(
                    "for _ in 0..3 {{ esc0.set(esc0.get() + 1.0); esc1 += ({v}) * esc0.get(); }}"
                ),
                "",
                "esc1",
            ),
            IndexInLoop => s(
                "let mut esc0 = 0; let mut esc2 = [0.0; 3];",
                &format!(
                    "for _ in 0..3 {{ esc2[esc0] += ({v}) * (esc0 + 1) as f64; bump_at(&mut esc0); }}"
                ),
                "",
                "(esc2[0] + 2.0 * esc2[1] + 3.0 * esc2[2])",
            ),
            CellsLoopVar => s(
                "let esc0 = [std::cell::Cell::new(1.0), std::cell::Cell::new(2.0)]; let mut esc1 = 0.0;",
                &format!(
                    "for c in esc0.iter() {{ esc1 += ({v}) * c.get(); c.set(c.get() + 1.0); }}"
                ),
                "",
                "esc1",
            ),
            HelperCell => s(
                "let esc0 = std::cell::Cell::new(0.0); let mut esc1 = 0.0;",
                &format!("for _ in 0..3 {{ esc1 += counted({v}, &esc0); }}"),
                "",
                "esc1",
            ),
            ClosureAssign => s(
                "let mut esc0 = 0;",
                &format!(
                    "let esc1 = [1.0, 2.0].iter().map(|c| {{ esc0 += 1; c * ({v}) }}).sum::<f64>();"
                ),
                "",
                "esc1",
            ),
            OpOverload => s(
                "let esc0 = Wrap(1.5);",
                "",
                "",
                &format!("(esc0 + ({v}))"),
            ),
        }
    }

    /// The program the oracle differentiates (for an accepted program): the base, with what
    /// is read back added to its result.
    pub fn oracle_program(&self) -> Program {
        let v = self.value.clone();
        let once = |e: Expr, otherwise: Expr| match self.guard {
            Guard::IfFlag => Expr::If(Box::new(Cond::Flag), b(e), b(otherwise)),
            _ => e,
        };
        let read = match self.kind {
            Kind::Method => match self.guard {
                // Added twice.
                Guard::Twice => Expr::Bin(Arith::Mul, b(Expr::Lit(2.0)), b(v)),
                _ => once(v, Expr::Lit(0.0)),
            },
            Kind::Push => once(v, Expr::Lit(0.5)),
            Kind::Cell | Kind::AtomicBits => once(v, Expr::Lit(0.0)),
            Kind::Bits | Kind::BoxNew | Kind::SomeWrap => v,
            Kind::Discarded => Expr::Lit(0.0),
            Kind::CondCall => Expr::If(
                Box::new(Cond::Cmp(CmpOp::Gt, v, Expr::Lit(0.0))),
                b(Expr::Lit(1.5)),
                b(Expr::Lit(-0.5)),
            ),
            // (u, v − u) multiplied.
            Kind::Tuple => Expr::Bin(
                Arith::Mul,
                b(self.second.clone()),
                b(Expr::Bin(Arith::Sub, b(v), b(self.second.clone()))),
            ),
            Kind::CountOut => match self.guard {
                Guard::Once => Expr::Lit(1.0),
                Guard::IfFlag => {
                    Expr::If(Box::new(Cond::Flag), b(Expr::Lit(1.0)), b(Expr::Lit(0.0)))
                }
                Guard::Twice => Expr::Lit(2.0),
            },
            // v·(1 + 2 + 3); v·(0 + 1 + 2); v·(1 + 2 + 3); v·1·1 + 2·(v·2) + 3·(v·3).
            Kind::CountInLoop | Kind::CellInLoop => Expr::Bin(Arith::Mul, b(v), b(Expr::Lit(6.0))),
            // v·(0 + 1 + 2); v·(1 + 2); v·(1 + 2 + 3).
            Kind::PushInLoop | Kind::CellsLoopVar => Expr::Bin(Arith::Mul, b(v), b(Expr::Lit(3.0))),
            Kind::HelperCell => Expr::Bin(Arith::Mul, b(v), b(Expr::Lit(6.0))),
            Kind::IndexInLoop => Expr::Bin(Arith::Mul, b(v), b(Expr::Lit(14.0))),
            // What it writes (`MutOut`, `ArrayOut`: data only compiles); the others are
            // refused whatever they are given.
            Kind::MutOut
            | Kind::ArrayOut
            | Kind::MemReplace
            | Kind::ClosureAssign
            | Kind::OpOverload => v,
        };
        let mut p = self.base.clone();
        p.ret = Expr::Bin(Arith::Add, b(p.ret), b(read));
        p
    }
}

impl std::fmt::Debug for Escape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source("f"))
    }
}

/// Escape programs: a straight-line program, then one escape of a differentiated value (half
/// of them, `w0 · e`) or of data.
pub fn escape_program() -> impl Strategy<Value = Escape> {
    (
        gen::program(),
        select(Kind::ALL),
        select(&[Guard::Once, Guard::Once, Guard::IfFlag, Guard::Twice][..]),
        any::<bool>(),
        gen::expr(),
        gen::plain_data_expr(),
        gen::expr(),
    )
        .prop_map(|(base, kind, guard, differentiated, e, data, second)| {
            // Guards apply to the effects that have an `else` worth writing.
            let guard = match kind {
                Kind::Method | Kind::Push | Kind::Cell | Kind::AtomicBits | Kind::CountOut => guard,
                _ => Guard::Once,
            };
            let differentiated = differentiated || kind == Kind::OpOverload;
            let value = if differentiated {
                Expr::Bin(Arith::Mul, b(Expr::Var(0)), b(e))
            } else {
                data
            };
            Escape {
                base,
                kind,
                guard,
                value,
                second,
                differentiated,
            }
        })
}

/// An escape program with a few points to evaluate it at.
pub fn escape_case(points: usize) -> impl Strategy<Value = (Escape, Vec<crate::oracle::Point>)> {
    escape_program().prop_flat_map(move |e| {
        let pts = prop::collection::vec(gen::point(&e.base), points);
        (Just(e), pts)
    })
}
