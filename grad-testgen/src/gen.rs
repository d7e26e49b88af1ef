//! proptest strategies for programs and the points to evaluate them at. A new construct of the
//! language is one more arm here, in `ast.rs`'s printer and in `oracle.rs`.
//!
//! Three languages: [`program`] (straight-line code with `if`, which the IR interpreter of
//! `grad-macro` runs too), [`loop_program`] (also loops, jumps, `match`, arrays and iterator
//! sums, for the compiled path only: the interpreter does not run loops) and [`call_program`]
//! (callers of generated `#[grad]` helpers, compiled path only); and [`multi_program`], the
//! first language's statements ending with several results (Jacobians, compiled path only).

use crate::ast::{
    Arith, AssignOp, Call, Callee, CmpOp, Cond, Domain, Expr, FlagArg, Header, IntArg, IntAtom,
    IntCmp, IntExpr, IterForm, IterSrc, Ix, Jump, MatchOn, Multi, Place, Program, ReduceKind, Stmt,
    StoreOp, Target, BEFORE_LATEST, F1, F2, LATEST, WA_LEN, WA_PARAM, XS_LEN,
};
use crate::oracle::Point;
use proptest::prelude::*;
use proptest::sample::select;

fn b(e: Expr) -> Box<Expr> {
    Box::new(e)
}

/// `a` made to lie in `domain`.
pub fn guard(domain: Domain, a: Expr) -> Expr {
    let sq = |a: Expr, c: f64| {
        Expr::Bin(
            Arith::Add,
            b(Expr::Bin(Arith::Mul, b(a.clone()), b(a))),
            b(Expr::Lit(c)),
        )
    };
    let squash =
        |a: Expr, c: f64| Expr::Bin(Arith::Mul, b(Expr::F1(F1::Tanh, b(a))), b(Expr::Lit(c)));
    match domain {
        Domain::All => a,
        Domain::Positive => sq(a, 0.5),
        Domain::AboveOne => sq(a, 1.5),
        Domain::OpenUnit => squash(a, 0.9),
        Domain::Bounded => squash(a, 1.2),
    }
}

fn leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        6 => any::<u8>().prop_map(Expr::Var),
        2 => (-24i32..=24).prop_map(|n| Expr::Lit(f64::from(n) / 8.0)),
        1 => Just(Expr::Pi),
        1 => Just(Expr::UserConst),
        1 => Just(Expr::IntAsFloat),
    ]
}

fn int_expr() -> impl Strategy<Value = IntExpr> {
    prop_oneof![
        (-3i32..=4).prop_map(IntExpr::Lit),
        (-2i32..=2).prop_map(IntExpr::KPlus),
    ]
}

fn cond_of(e: BoxedStrategy<Expr>) -> impl Strategy<Value = Cond> {
    let cmp = (select(CmpOp::ALL), e.clone(), e).prop_map(|(op, a, c)| Cond::Cmp(op, a, c));
    let cmp = cmp.boxed();
    prop_oneof![
        4 => cmp.clone(),
        1 => Just(Cond::Flag),
        1 => cmp.clone().prop_map(|c| Cond::Not(Box::new(c))),
        1 => (cmp.clone(), cmp.clone()).prop_map(|(a, c)| Cond::And(Box::new(a), Box::new(c))),
        1 => (cmp.clone(), prop_oneof![cmp, Just(Cond::Flag)]).prop_map(|(a, c)| Cond::Or(Box::new(a), Box::new(c))),
    ]
}

/// The recursive cases of expressions over `inner`; the conditions of `if` expressions over
/// `conds`.
fn branches(inner: BoxedStrategy<Expr>, conds: BoxedStrategy<Expr>) -> BoxedStrategy<Expr> {
    prop_oneof![
        1 => inner.clone().prop_map(|a| Expr::Neg(b(a))),
        4 => (select(Arith::ALL), inner.clone(), inner.clone()).prop_map(|(op, x, y)| Expr::Bin(op, b(x), b(y))),
        4 => (select(F1::ALL), inner.clone()).prop_map(|(f, a)| Expr::F1(f, b(guard(f.domain(), a)))),
        2 => (select(F2::ALL), inner.clone(), inner.clone()).prop_map(|(f, x, y)| {
            let (x, y) = match f {
                F2::Powf => (guard(Domain::Positive, x), guard(Domain::Bounded, y)),
                F2::Log => (guard(Domain::Positive, x), guard(Domain::AboveOne, y)),
                F2::RemEuclid | F2::DivEuclid | F2::Rem => (x, guard(Domain::Positive, y)),
                _ => (x, y),
            };
            Expr::F2(f, b(x), b(y))
        }),
        1 => (inner.clone(), inner.clone(), inner.clone()).prop_map(|(x, y, z)| Expr::MulAdd(b(x), b(y), b(z))),
        1 => (inner.clone(), int_expr()).prop_map(|(x, n)| Expr::Powi(b(x), n)),
        1 => (inner.clone(), inner.clone(), inner.clone()).prop_map(|(x, lo, w)| Expr::Clamp(b(x), b(lo), b(w))),
        1 => (cond_of(conds), inner.clone(), inner).prop_map(|(c, x, y)| Expr::If(Box::new(c), b(x), b(y))),
    ]
    .boxed()
}

/// Expressions of bounded depth over everything the generator knows.
pub fn expr() -> BoxedStrategy<Expr> {
    leaf()
        .prop_recursive(4, 24, 3, |inner| {
            let inner = inner.boxed();
            branches(inner.clone(), inner)
        })
        .boxed()
}

fn assign() -> impl Strategy<Value = Stmt> {
    (any::<u8>(), select(AssignOp::ALL), expr()).prop_map(|(target, op, value)| Stmt::Assign {
        target: Target::Nth(target),
        op,
        value,
    })
}

fn stmt() -> impl Strategy<Value = Stmt> {
    let branch = prop::collection::vec(assign(), 0..3).boxed();
    prop_oneof![
        4 => (prop::option::weighted(0.25, any::<u8>()), expr()).prop_map(|(shadow, value)| Stmt::Let { shadow, value }),
        3 => assign(),
        2 => (cond_of(expr()), branch.clone(), branch).prop_map(|(cond, then, els)| Stmt::If { cond, then, els }),
    ]
}

/// Whole programs: 1–3 `wrt` parameters, 0–2 float data parameters, up to 6 statements, and
/// a result `latest · w0 + e` that the statements and a `wrt` parameter reach (without it,
/// half the programs had a gradient of 0 everywhere).
pub fn program() -> impl Strategy<Value = Program> {
    (
        1usize..=3,
        0usize..=2,
        prop::collection::vec(stmt(), 0..6),
        expr(),
    )
        .prop_map(|(n_wrt, n_data, stmts, e)| {
            let reach = Expr::Bin(Arith::Mul, b(Expr::Latest), b(Expr::Var(0)));
            let ret = Expr::Bin(Arith::Add, b(reach), b(e));
            Program {
                n_wrt,
                wrt_array: false,
                n_data,
                data_array: false,
                stmts,
                ret,
                callees: Vec::new(),
            }
        })
}

/// A point for `p`: floats in [−1.5, 1.5], `k` in −3..=3.
pub fn point(p: &Program) -> BoxedStrategy<Point> {
    let floats = |n: usize| prop::collection::vec(-1.5f64..1.5, n);
    if !p.wrt_array && !p.data_array {
        return (floats(p.n_wrt), floats(p.n_data), -3i32..=3, any::<bool>())
            .prop_map(|(w, x, k, flag)| Point {
                w,
                wa: Vec::new(),
                x,
                xs: Vec::new(),
                k,
                flag,
            })
            .boxed();
    }
    let wa = if p.wrt_array { WA_LEN } else { 0 };
    let xs = if p.data_array { XS_LEN } else { 0 };
    (
        floats(p.n_wrt),
        floats(wa),
        floats(p.n_data),
        floats(xs),
        -3i32..=3,
        any::<bool>(),
    )
        .prop_map(|(w, wa, x, xs, k, flag)| Point {
            w,
            wa,
            x,
            xs,
            k,
            flag,
        })
        .boxed()
}

/// A program with a few points to evaluate it at.
pub fn case(points: usize) -> impl Strategy<Value = (Program, Vec<Point>)> {
    program().prop_flat_map(move |p| {
        let pts = prop::collection::vec(point(&p), points);
        (Just(p), pts)
    })
}

/// A program of the loop language with a few points to evaluate it at (compiled path only).
pub fn loop_case(points: usize) -> impl Strategy<Value = (Program, Vec<Point>)> {
    loop_program().prop_flat_map(move |p| {
        let pts = prop::collection::vec(point(&p), points);
        (Just(p), pts)
    })
}

// ---------------------------------------------------------------------------------------------
// Functions returning several floats (Jacobians).

/// Result `i` of a function returning several: the first is `latest · w0 + e`, as a program's
/// single result (so the statements reach it); a later one is `r · wⱼ + e`, `r` the local bound
/// last again (the two results share it: fan-out) or any float in scope, `wⱼ` any `wrt`
/// parameter, or, one time in four, any expression (a parameter, a literal, a constant row).
fn output(i: usize, n_wrt: usize) -> BoxedStrategy<Expr> {
    if i == 0 {
        return expr()
            .prop_map(|e| {
                let reach = Expr::Bin(Arith::Mul, b(Expr::Latest), b(Expr::Var(0)));
                Expr::Bin(Arith::Add, b(reach), b(e))
            })
            .boxed();
    }
    let r = prop_oneof![1 => Just(Expr::Latest), 1 => any::<u8>().prop_map(Expr::Var)];
    // A `Var` below the number of `wrt` parameters is that parameter: parameters come first
    // among the names in scope, and no local shadows one.
    let w = (0..n_wrt as u8).prop_map(Expr::Var);
    prop_oneof![
        3 => (r, w, expr()).prop_map(|(r, w, e)| {
            Expr::Bin(Arith::Add, b(Expr::Bin(Arith::Mul, b(r), b(w))), b(e))
        }),
        1 => expr(),
    ]
    .boxed()
}

/// Functions returning several floats: 1–4 `wrt` parameters (all scalars), 0–2 float data
/// parameters, up to 6 statements of the straight-line language, and 2–3 results (see
/// `output`), as a tuple or an array. `n_wrt` against the number of results decides the
/// macro's default mode: forward when `n_wrt <= m`, reverse otherwise (3 or 4 parameters for
/// 2 results, 4 for 3).
pub fn multi_program() -> impl Strategy<Value = Multi> {
    (1usize..=4, 2usize..=3, 0usize..=2, any::<bool>()).prop_flat_map(
        |(n_wrt, m, n_data, array)| {
            let outputs: Vec<BoxedStrategy<Expr>> = (0..m).map(|i| output(i, n_wrt)).collect();
            (prop::collection::vec(stmt(), 0..6), outputs).prop_map(move |(stmts, outputs)| {
                Multi {
                    body: Program {
                        n_wrt,
                        wrt_array: false,
                        n_data,
                        data_array: false,
                        stmts,
                        // Not part of the function: each result is one (`Multi::output`).
                        ret: Expr::Lit(0.0),
                        callees: Vec::new(),
                    },
                    outputs,
                    array,
                }
            })
        },
    )
}

/// A function returning several floats with a few points to evaluate it at (compiled path
/// only: the IR interpreter runs single results).
pub fn multi_case(points: usize) -> impl Strategy<Value = (Multi, Vec<Point>)> {
    multi_program().prop_flat_map(move |p| {
        let pts = prop::collection::vec(point(&p.body), points);
        (Just(p), pts)
    })
}

// ---------------------------------------------------------------------------------------------
// The loop language.

/// A reference to one of the innermost loop variables (shrinks to the innermost).
fn near() -> impl Strategy<Value = u8> {
    0u8..3
}

fn ix() -> impl Strategy<Value = Ix> {
    prop_oneof![
        6 => near().prop_map(Ix::Loop),
        2 => (0u8..6).prop_map(Ix::Lit),
        1 => near().prop_map(Ix::Rev),
        1 => near().prop_map(Ix::Next),
        1 => near().prop_map(Ix::Gather),
    ]
}

/// An index of the innermost loop's array other than its own element: `n - 1 - i`,
/// `(i + 1) % n`, `IDXn[i]`, `0` or `n - 1`.
fn other_ix() -> impl Strategy<Value = Ix> {
    prop_oneof![
        3 => Just(Ix::Rev(0)),
        2 => Just(Ix::Next(0)),
        2 => Just(Ix::Gather(0)),
        1 => Just(Ix::Lit(0)),
        1 => Just(Ix::Last),
    ]
}

fn loop_leaf() -> impl Strategy<Value = Expr> {
    prop_oneof![
        6 => any::<u8>().prop_map(Expr::Var),
        2 => (-24i32..=24).prop_map(|n| Expr::Lit(f64::from(n) / 8.0)),
        1 => Just(Expr::Pi),
        1 => Just(Expr::UserConst),
        1 => Just(Expr::IntAsFloat),
        3 => near().prop_map(Expr::LoopIdx),
        5 => (0u8..4, ix()).prop_map(|(a, i)| Expr::Elem(a, i)),
    ]
}

fn int_cond() -> impl Strategy<Value = Cond> {
    (
        prop_oneof![3 => near().prop_map(IntAtom::Loop), 1 => Just(IntAtom::K)],
        select(IntCmp::ALL),
        0u8..=4,
    )
        .prop_map(|(a, op, c)| Cond::Int(a, op, c))
}

/// Conditions on floats (`s > 0.5`) and on integer data only (`i0 == 2`, `k < 1`).
fn loop_cond(e: BoxedStrategy<Expr>) -> BoxedStrategy<Cond> {
    let cmp = (select(CmpOp::ALL), e.clone(), e)
        .prop_map(|(op, a, c)| Cond::Cmp(op, a, c))
        .boxed();
    let atom = prop_oneof![cmp.clone(), int_cond()].boxed();
    prop_oneof![
        3 => cmp,
        3 => int_cond(),
        1 => Just(Cond::Flag),
        1 => atom.clone().prop_map(|c| Cond::Not(Box::new(c))),
        1 => (atom.clone(), atom.clone()).prop_map(|(a, c)| Cond::And(Box::new(a), Box::new(c))),
        1 => (atom.clone(), atom).prop_map(|(a, c)| Cond::Or(Box::new(a), Box::new(c))),
    ]
    .boxed()
}

/// Expressions of the loop language: also loop variables, array elements, `match` and
/// iterator sums (smaller than [`expr`]'s: they run in loops).
pub fn loop_expr() -> BoxedStrategy<Expr> {
    loop_expr_of(true)
        .prop_map(|e| {
            if WORK_AROUND_HELPER_ARGS {
                no_match_in_helpers(e, false)
            } else {
                e
            }
        })
        .boxed()
}

/// Fixed in the macro: a `backprop::` helper of data may hold a `match` or an iterator sum. Set to
/// `true` to generate the workaround again (see `no_match_in_helpers`).
pub const WORK_AROUND_HELPER_ARGS: bool = false;

/// `e` with every `match` inside the argument of a `backprop::` helper replaced by its default
/// arm, and every iterator sum there by its closure's body. Was a BUG, now fixed: a
/// helper of data containing a `match` or an iterator sum, `backprop::sigmoid(match k { 0 =>
/// xs[0], _ => K })`, `backprop::relu(xs.iter().map(|&c| c * 2.0).sum::<f64>())`, is refused
/// ("not supported inside a condition or an expression over data", "a closure is supported
/// only as the argument of `.map(..)` ..."), while `(match k { .. }).sin()` is accepted.
fn no_match_in_helpers(e: Expr, inside: bool) -> Expr {
    let f = |e: Box<Expr>, inside: bool| b(no_match_in_helpers(*e, inside));
    match e {
        Expr::Match { default, .. } if inside => no_match_in_helpers(*default, inside),
        Expr::Match { on, arms, default } => Expr::Match {
            on,
            arms: arms
                .into_iter()
                .map(|(p, e)| (p, no_match_in_helpers(e, inside)))
                .collect(),
            default: f(default, inside),
        },
        Expr::F1(g, a) => Expr::F1(g, f(a, inside || g.is_helper())),
        Expr::F2(g, x, y) => {
            let inside = inside || g == F2::LeakyRelu;
            Expr::F2(g, f(x, inside), f(y, inside))
        }
        Expr::Neg(a) => Expr::Neg(f(a, inside)),
        Expr::Powi(a, n) => Expr::Powi(f(a, inside), n),
        Expr::Bin(op, x, y) => Expr::Bin(op, f(x, inside), f(y, inside)),
        Expr::MulAdd(x, y, z) => Expr::MulAdd(f(x, inside), f(y, inside), f(z, inside)),
        Expr::Clamp(x, y, z) => Expr::Clamp(f(x, inside), f(y, inside), f(z, inside)),
        // Conditions hold no `match` (see `cond_expr`).
        Expr::If(c, x, y) => Expr::If(c, f(x, inside), f(y, inside)),
        Expr::Reduce { body, .. } if inside => no_match_in_helpers(*body, inside),
        Expr::Reduce { kind, src, body } => Expr::Reduce {
            kind,
            src,
            body: f(body, inside),
        },
        leaf @ (Expr::Var(_)
        | Expr::DataVar(_)
        | Expr::Call(_)
        | Expr::Recur(_)
        | Expr::Lit(_)
        | Expr::Pi
        | Expr::UserConst
        | Expr::IntAsFloat
        | Expr::Latest
        | Expr::LoopIdx(_)
        | Expr::Elem(..)) => leaf,
    }
}

/// Expressions for conditions: without `match` and iterator sums, which the macro refuses
/// inside a condition ("compute it in a statement before").
pub fn cond_expr() -> BoxedStrategy<Expr> {
    loop_expr_of(false)
}

/// Whether iterator sums multiply their closure's value by 1.0. BUG (reported, see
/// TESTING.md): a closure value computed from data only (`c`, `c.sin()`, `xs[0] - c` for an
/// element `c` of a data array) is refused ("`.sum()` here must add up floats"), while
/// `c * 2.0` is accepted. Set to `false` once the macro accepts it. (Storing such a value in
/// a local array, refused the same way at commit 990fd3a, was fixed by abf544b and is
/// generated as it is.)
pub const WORK_AROUND_DATA_SUMS: bool = false;

/// `e`, times 1.0 while [`WORK_AROUND_DATA_SUMS`] holds.
fn as_float(e: Expr) -> Expr {
    if WORK_AROUND_DATA_SUMS {
        Expr::Bin(Arith::Mul, b(e), b(Expr::Lit(1.0)))
    } else {
        e
    }
}

fn loop_expr_of(rich: bool) -> BoxedStrategy<Expr> {
    loop_leaf()
        .prop_recursive(3, 16, 3, move |inner| {
            let inner = inner.boxed();
            let conds = if rich { cond_expr() } else { inner.clone() };
            let mut cases = vec![
                (12, branches(inner.clone(), conds.clone())),
                (
                    1,
                    (loop_cond(conds), inner.clone(), inner.clone())
                        .prop_map(|(c, x, y)| Expr::If(Box::new(c), b(x), b(y)))
                        .boxed(),
                ),
            ];
            if rich {
                let on = prop_oneof![
                    2 => Just(MatchOn::K),
                    3 => near().prop_map(MatchOn::Loop),
                    1 => Just(MatchOn::Flag),
                ];
                let arms = prop::collection::vec(
                    (prop::collection::vec(-2i8..=4, 1..3), inner.clone()),
                    1..4,
                );
                let kind = prop_oneof![3 => Just(ReduceKind::Sum), 1 => Just(ReduceKind::Product)];
                let src = prop_oneof![
                    3 => (0u8..4).prop_map(IterSrc::One),
                    1 => (0u8..4, 0u8..4).prop_map(|(a, c)| IterSrc::Zip(a, c)),
                ];
                cases.push((
                    2,
                    (on, arms, inner.clone())
                        .prop_map(|(on, arms, d)| Expr::Match {
                            on,
                            arms,
                            default: b(d),
                        })
                        .boxed(),
                ));
                // Mostly a function of the element: `c op (..)`.
                let body = prop_oneof![
                    1 => inner.clone(),
                    2 => (select(Arith::ALL), inner.clone()).prop_map(|(op, e)| Expr::Bin(op, b(Expr::Latest), b(e))),
                ];
                cases.push((
                    2,
                    (kind, src, body)
                        .prop_map(|(kind, src, body)| Expr::Reduce {
                            kind,
                            src,
                            body: b(as_float(body)),
                        })
                        .boxed(),
                ));
            }
            proptest::strategy::Union::new_weighted(cases)
        })
        .boxed()
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![2 => any::<u8>().prop_map(Target::Nth), 1 => Just(Target::Last)]
}

/// BUG (reported, see TESTING.md): a loop whose body copies a variable into a carried one,
/// so that it may end an iteration holding the value it started with (`for .. { v = v; }`,
/// `let u = v; v = u;`, `if c { v = v; }`), does not compile: the expansion names an undefined
/// `__grad_unnamed_N`. While this is `true`, the loop language never binds or assigns a bare
/// variable (`v * 1.0` instead).
pub const WORK_AROUND_COPY_IN_LOOP: bool = false;

/// `e`, times 1.0 if it is a bare variable and [`WORK_AROUND_COPY_IN_LOOP`] holds.
fn no_copy(e: Expr) -> Expr {
    match e {
        Expr::Var(_) | Expr::Latest if WORK_AROUND_COPY_IN_LOOP => {
            Expr::Bin(Arith::Mul, b(e), b(Expr::Lit(1.0)))
        }
        e => e,
    }
}

fn loop_assign() -> impl Strategy<Value = Stmt> {
    (target(), select(AssignOp::ALL), loop_expr()).prop_map(|(target, op, value)| Stmt::Assign {
        target,
        op,
        value: no_copy(value),
    })
}

/// Carried state that stays bounded: `h = (..).tanh() * 1.2`.
fn carry(target: BoxedStrategy<Target>) -> impl Strategy<Value = Stmt> {
    (target, loop_expr()).prop_map(|(target, e)| Stmt::Assign {
        target,
        op: AssignOp::Set,
        value: guard(Domain::Bounded, e),
    })
}

fn store(arr: BoxedStrategy<u8>, ix: BoxedStrategy<Ix>) -> impl Strategy<Value = Stmt> {
    (arr, ix, select(StoreOp::ALL), loop_expr()).prop_map(|(arr, ix, op, value)| Stmt::Store {
        arr,
        ix,
        op,
        value,
    })
}

fn jump() -> impl Strategy<Value = Jump> {
    prop_oneof![
        2 => Just(Jump::Break),
        2 => Just(Jump::Continue),
        1 => loop_expr().prop_map(Jump::Return),
    ]
}

/// `if cond { ..; jump } else { .. }`: the branches assign or store, the first ends with a
/// jump.
fn jump_if() -> impl Strategy<Value = Stmt> {
    let simple = prop_oneof![3 => loop_assign(), 1 => store(Just(0).boxed(), ix().boxed())].boxed();
    (
        loop_cond(cond_expr()),
        prop::collection::vec(simple.clone(), 0..2),
        jump(),
        prop::collection::vec(simple, 0..2),
    )
        .prop_map(|(cond, mut then, j, els)| {
            then.push(Stmt::Jump(j));
            Stmt::If { cond, then, els }
        })
}

fn iter_form() -> impl Strategy<Value = IterForm> {
    prop_oneof![
        2 => Just(IterForm::Iter),
        1 => Just(IterForm::Ref),
        1 => Just(IterForm::Value),
        1 => Just(IterForm::Copied),
        1 => Just(IterForm::Rev),
        2 => Just(IterForm::Enumerate),
        1 => (0u8..4).prop_map(IterForm::Zip),
        1 => (0u8..4).prop_map(IterForm::ZipRef),
        1 => Just(IterForm::Reslice),
    ]
}

/// A loop head with at most `max` iterations (arrays have at most 5 elements).
fn header(max: u8) -> impl Strategy<Value = Header> {
    prop_oneof![
        4 => (0u8..=2, 1..=max, any::<bool>(), any::<bool>()).prop_map(|(lo, len, inclusive, rev)| Header::Range { lo, len, inclusive, rev }),
        1 => Just(Header::KRange),
        3 => (0u8..4, iter_form()).prop_map(|(arr, form)| Header::Iter { arr, form }),
        2 => (1..=max.min(5), prop::option::weighted(0.5, loop_cond(cond_expr()))).prop_map(|(n, cond)| Header::While { n, cond }),
    ]
}

/// `let mut z = [0.0; len];` and a loop over `0..len` that fills it (the stores last): `z[i]
/// op= e`, `z[i] = e; z[i] += e'`, or `for j in .. { z[i] += e }`, where `i` is the loop's
/// variable or a constant (so that an element is written more than once).
fn fill(max: u8, body: BoxedStrategy<Vec<Stmt>>) -> impl Strategy<Value = Vec<Stmt>> {
    let ix = prop_oneof![
        6 => Just(Ix::Loop(0)),
        2 => (0u8..6).prop_map(Ix::Lit),
        1 => Just(Ix::Rev(0)),
    ];
    let add = select(&[StoreOp::Add, StoreOp::Sub][..]);
    let st = |ix: Ix, op: StoreOp, value: Expr| Stmt::Store {
        arr: 0,
        ix,
        op,
        value,
    };
    let stores = prop_oneof![
        2 => (ix.clone(), select(StoreOp::ALL), loop_expr()).prop_map(move |(ix, op, e)| vec![st(ix, op, e)]),
        1 => (ix.clone(), add.clone(), loop_expr(), loop_expr())
            .prop_map(move |(ix, op, e, f)| vec![st(ix, StoreOp::Set, e), st(ix, op, f)]),
        1 => (ix, header(3), add, loop_expr()).prop_map(move |(ix, header, op, e)| {
            // Inside the inner loop, the fill loop's variable is the second innermost.
            let ix = match ix {
                Ix::Loop(_) => Ix::Loop(1),
                Ix::Rev(_) => Ix::Rev(1),
                lit => lit,
            };
            vec![Stmt::Loop {
                header,
                body: vec![st(ix, op, e)],
            }]
        }),
    ];
    (2u8..=max, any::<bool>(), body, stores).prop_map(|(len, rev, mut body, stores)| {
        body.extend(stores);
        let header = Header::Range {
            lo: 0,
            len,
            inclusive: false,
            rev,
        };
        vec![Stmt::ArrayDecl { len }, Stmt::Loop { header, body }]
    })
}

/// BUG (fixed): a `let` in a loop body that shadows a local of an enclosing block, then
/// assigned in the body (`let v = w; for .. { let mut v = 1.0; v -= w; } v`), did not compile:
/// the expansion named an undefined `__grad_unnamed_N`. While this is `true`, loop bodies bind
/// new names only (`shadow` dropped).
pub const WORK_AROUND_SHADOW_IN_LOOP: bool = false;

/// Statements of a loop body at nesting `depth` (0: the outermost loop's body), as short
/// runs (a local array and the loop that fills it come together).
fn body_chunk(depth: usize) -> BoxedStrategy<Vec<Stmt>> {
    let one = |s: BoxedStrategy<Stmt>| s.prop_map(|s| vec![s]).boxed();
    // A `let` in a loop body binds a new name or, one in four, shadows a local of the body
    // or of an enclosing block (see [`WORK_AROUND_SHADOW_IN_LOOP`]).
    let let_ = (prop::option::weighted(0.25, any::<u8>()), loop_expr())
        .prop_map(|(shadow, value)| Stmt::Let {
            shadow: shadow.filter(|_| !WORK_AROUND_SHADOW_IN_LOOP),
            value: no_copy(value),
        })
        .boxed();
    let plain = prop_oneof![
        3 => one(let_),
        4 => one(loop_assign().boxed()),
        2 => one(carry(target().boxed()).boxed()),
        3 => one(jump_if().boxed()),
        1 => one((loop_cond(cond_expr()), prop::collection::vec(loop_assign(), 1..3), prop::collection::vec(loop_assign(), 0..2))
            .prop_map(|(cond, then, els)| Stmt::If { cond, then, els }).boxed()),
        2 => one(store(any::<u8>().boxed(), ix().boxed()).boxed()),
    ]
    .boxed();
    if depth > 0 {
        return plain;
    }
    let inner = prop::collection::vec(body_chunk(depth + 1), 1..3)
        .prop_map(|c| c.concat())
        .boxed();
    prop_oneof![
        12 => plain,
        2 => (header(3), inner.clone()).prop_map(|(header, body)| vec![Stmt::Loop { header, body }]),
        1 => fill(3, inner),
    ]
    .boxed()
}

fn loop_body(min: usize) -> BoxedStrategy<Vec<Stmt>> {
    prop::collection::vec(body_chunk(0), min..4)
        .prop_map(|c| c.concat())
        .boxed()
}

/// A top-level loop, in one of the shapes the brief of the generator names: an accumulator
/// (`s += ..`), carried state (`h = f(h, ..)`), a local array filled and read by a later loop,
/// or any body.
fn loop_chunk() -> BoxedStrategy<Vec<Stmt>> {
    let start = prop_oneof![
        1 => Just(Expr::Lit(0.0)),
        2 => loop_expr(),
    ];
    let accumulate = select(&[AssignOp::Add, AssignOp::Sub][..]);
    // `s = 0; for .. over the array just filled { s += z[..] · e }`: over its elements, over
    // its positions (`.enumerate()`), or over the fill loop's own range (the loop right after
    // it, as loop fusion would merge them), reading one or two elements by position: its own
    // (`z[i]`), or another (`z[n - 1 - i]`, `z[(i + 1) % n]`, `z[IDXn[i]]`, `z[0]`, `z[n - 1]`).
    let positions =
        prop::collection::vec(prop_oneof![2 => Just(Ix::Loop(0)), 3 => other_ix()], 1..3);
    let rest = prop_oneof![1 => Just(Vec::new()), 2 => loop_body(0)];
    let read = (
        0u8..4,
        iter_form(),
        accumulate.clone(),
        positions,
        loop_expr(),
        rest,
    );
    let fill_read =
        (fill(5, loop_body(0)), read).prop_map(|(fill, (how, form, op, positions, e, rest))| {
            let item = || {
                positions
                    .iter()
                    .map(|&ix| Expr::Elem(LATEST, ix))
                    .reduce(|a, c| Expr::Bin(Arith::Mul, b(a), b(c)))
                    .expect("one position at least")
            };
            let (header, item) = match how {
                0 => (Header::Iter { arr: LATEST, form }, Expr::Latest),
                1 => {
                    let header = Header::Iter {
                        arr: LATEST,
                        form: IterForm::Enumerate,
                    };
                    (header, item())
                }
                _ => {
                    let Stmt::Loop { header, .. } = &fill[1] else {
                        unreachable!("`fill` declares an array, then loops");
                    };
                    (header.clone(), item())
                }
            };
            let value = Expr::Bin(Arith::Mul, b(item), b(e));
            let mut body = vec![Stmt::Assign {
                target: Target::Last,
                op,
                value,
            }];
            body.extend(rest);
            let mut out = fill;
            out.push(Stmt::Let {
                shadow: None,
                value: Expr::Lit(0.0),
            });
            out.push(Stmt::Loop { header, body });
            out
        });
    prop_oneof![
        3 => (start.clone(), header(6), accumulate, loop_expr(), loop_body(0))
            .prop_map(|(init, header, op, value, rest)| {
                let mut body = vec![Stmt::Assign { target: Target::Last, op, value }];
                body.extend(rest);
                vec![Stmt::Let { shadow: None, value: init }, Stmt::Loop { header, body }]
            }),
        2 => (start, header(6), carry(Just(Target::Last).boxed()), loop_body(0))
            .prop_map(|(init, header, c, rest)| {
                let mut body = vec![c];
                body.extend(rest);
                vec![Stmt::Let { shadow: None, value: init }, Stmt::Loop { header, body }]
            }),
        3 => fill_read,
        3 => (header(6), loop_body(1)).prop_map(|(header, body)| vec![Stmt::Loop { header, body }]),
    ]
    .boxed()
}

/// Top-level statements around the loops: locals, assignments, `if`, an early `return`.
fn top_chunk() -> BoxedStrategy<Vec<Stmt>> {
    prop_oneof![
        4 => loop_chunk(),
        3 => (prop::option::weighted(0.25, any::<u8>()), loop_expr())
            .prop_map(|(shadow, value)| vec![Stmt::Let { shadow, value: no_copy(value) }]),
        2 => loop_assign().prop_map(|s| vec![s]),
        1 => (loop_cond(cond_expr()), loop_expr()).prop_map(|(cond, e)| vec![Stmt::If {
            cond,
            then: vec![Stmt::Jump(Jump::Return(e))],
            els: Vec::new(),
        }]),
        1 => (loop_cond(cond_expr()), prop::collection::vec(loop_assign(), 1..3), prop::collection::vec(loop_assign(), 0..3))
            .prop_map(|(cond, then, els)| vec![Stmt::If { cond, then, els }]),
    ]
    .boxed()
}

/// Programs of the loop language: 0–2 scalar `wrt` parameters and maybe `wa: [f64; 3]` (at
/// least one of them), 0–2 float data parameters and maybe `xs: [f64; 4]`, a local, at least
/// one loop, and a result `latest · w0 + e` (`latest · wa[0] + e` without a scalar).
pub fn loop_program() -> impl Strategy<Value = Program> {
    (
        (0usize..=2, any::<bool>(), 0usize..=2, any::<bool>()),
        loop_expr(),
        prop::collection::vec(top_chunk(), 0..3),
        loop_chunk(),
        prop::collection::vec(top_chunk(), 0..2),
        loop_expr(),
    )
        .prop_map(
            |((n_wrt, wrt_array, n_data, data_array), first, before, main, after, e)| {
                // Something to differentiate, and a float for references to resolve to.
                let wrt_array = wrt_array || n_wrt == 0;
                let n_data = if n_wrt == 0 { n_data.max(1) } else { n_data };
                // A local from the start, so that assignments have a target.
                let mut stmts = vec![Stmt::Let {
                    shadow: None,
                    value: first,
                }];
                stmts.extend(before.concat());
                stmts.extend(main);
                stmts.extend(after.concat());
                let w = if n_wrt > 0 {
                    Expr::Var(0)
                } else {
                    Expr::Elem(0, Ix::Lit(0))
                };
                let reach = Expr::Bin(Arith::Mul, b(Expr::Latest), b(w));
                Program {
                    n_wrt,
                    wrt_array,
                    n_data,
                    data_array,
                    stmts,
                    ret: Expr::Bin(Arith::Add, b(reach), b(e)),
                    callees: Vec::new(),
                }
            },
        )
}

// ---------------------------------------------------------------------------------------------
// The call language: callers of generated helpers.

/// A straight-line body (the IR path's statements and expressions) with `n_wrt`
/// differentiated floats and `n_data` float data parameters, and up to `max_stmts` statements.
fn straight_line(n_wrt: usize, n_data: usize, max_stmts: usize) -> impl Strategy<Value = Program> {
    (prop::collection::vec(stmt(), 0..=max_stmts), expr()).prop_map(move |(stmts, e)| {
        let reach = Expr::Bin(Arith::Mul, b(Expr::Latest), b(Expr::Var(0)));
        Program {
            n_wrt,
            wrt_array: false,
            n_data,
            data_array: false,
            stmts,
            ret: Expr::Bin(Arith::Add, b(reach), b(e)),
            callees: Vec::new(),
        }
    })
}

/// A helper: a building block (`#[grad]`, 1–3 floats, all differentiated) or, one time in
/// three, `#[grad(wrt = ..)]` with 1–2 differentiated floats and 1–2 float data parameters;
/// its body a straight-line program of up to 4 statements, one time in five recursive (`if k
/// <= 0 { e } else { h(.., k - 1, ..) op e' }`). Named `h` (the caller names them); next to
/// its caller, in the nested module, or in another crate.
pub fn callee() -> impl Strategy<Value = Callee> {
    let place = prop_oneof![
        2 => Just(Place::Here),
        1 => Just(Place::Module),
        1 => Just(Place::Crate),
    ];
    let recursion = (
        call_of(first_arg(), data_expr()),
        select(&[Arith::Add, Arith::Mul][..]),
        expr(),
    );
    (
        prop::bool::weighted(0.67),
        1usize..=3,
        1usize..=2,
        place,
        prop::option::weighted(0.2, recursion),
    )
        .prop_flat_map(|(building_block, n, n_data, place, recursion)| {
            let (n_wrt, n_data) = if building_block {
                (n, 0)
            } else {
                (n.min(2), n_data)
            };
            straight_line(n_wrt, n_data, 4).prop_map(move |mut body| {
                if let Some((call, op, e)) = recursion.clone() {
                    let deeper = Expr::Bin(op, b(Expr::Recur(Box::new(call))), b(e));
                    let base = Cond::Int(IntAtom::K, IntCmp::Le, 0);
                    body.ret = Expr::If(Box::new(base), b(body.ret), b(deeper));
                }
                Callee {
                    name: "h".into(),
                    place,
                    building_block,
                    body,
                    by_ref: false,
                    outputs: Vec::new(),
                }
            })
        })
}

fn int_arg() -> impl Strategy<Value = IntArg> {
    prop_oneof![3 => Just(IntArg::K), 1 => (-2i8..=3).prop_map(IntArg::Lit)]
}

fn flag_arg() -> impl Strategy<Value = FlagArg> {
    prop_oneof![
        3 => Just(FlagArg::Flag),
        1 => Just(FlagArg::NotFlag),
        1 => any::<bool>().prop_map(FlagArg::Lit),
    ]
}

/// Expressions over data only, for the parameters a callee is not differentiated in: data
/// parameters, literals, constants, functions of them, and calls with data arguments only
/// (which the macro passes through as written).
pub fn data_expr() -> BoxedStrategy<Expr> {
    data_expr_of(true)
}

/// [`data_expr`] without calls (for programs that have no callees).
pub fn plain_data_expr() -> BoxedStrategy<Expr> {
    data_expr_of(false)
}

/// [`data_expr`], with calls or not.
fn data_expr_of(calls: bool) -> BoxedStrategy<Expr> {
    let leaf = prop_oneof![
        4 => any::<u8>().prop_map(Expr::DataVar),
        2 => (-24i32..=24).prop_map(|n| Expr::Lit(f64::from(n) / 8.0)),
        1 => Just(Expr::UserConst),
        1 => Just(Expr::IntAsFloat),
    ];
    leaf.prop_recursive(2, 6, 2, move |inner| {
        let mut cases = vec![
            (
                3,
                (select(Arith::ALL), inner.clone(), inner.clone())
                    .prop_map(|(op, x, y)| Expr::Bin(op, b(x), b(y)))
                    .boxed(),
            ),
            (
                2,
                (select(F1::ALL), inner.clone())
                    .prop_map(|(f, a)| Expr::F1(f, b(guard(f.domain(), a))))
                    .boxed(),
            ),
        ];
        if calls {
            let call = call_of(inner.clone(), inner).prop_map(|c| Expr::Call(Box::new(c)));
            cases.push((1, call.boxed()));
        }
        proptest::strategy::Union::new_weighted(cases)
    })
    .boxed()
}

/// A call whose differentiated arguments come from `args` and data arguments from `data` (3
/// and 2 of them: the callee takes what it needs).
fn call_of(
    args: impl Strategy<Value = Expr>,
    data: impl Strategy<Value = Expr>,
) -> impl Strategy<Value = Call> {
    (
        any::<u8>(),
        prop::collection::vec(args, 3),
        prop::collection::vec(data, 2),
        int_arg(),
        flag_arg(),
    )
        .prop_map(|(callee, args, data, k, flag)| Call {
            callee,
            args,
            data,
            k,
            flag,
            arrays: Vec::new(),
        })
}

/// Expressions of callers outside loops: those of [`expr`], and calls whose arguments are such
/// expressions again (so a call's result may go straight into another call).
pub fn call_expr() -> BoxedStrategy<Expr> {
    leaf()
        .prop_recursive(3, 16, 3, |inner| {
            let inner = inner.boxed();
            proptest::strategy::Union::new_weighted(vec![
                (8, branches(inner.clone(), inner.clone())),
                (
                    3,
                    call_of(inner, data_expr())
                        .prop_map(|c| Expr::Call(Box::new(c)))
                        .boxed(),
                ),
            ])
        })
        .boxed()
}

fn call_stmt() -> impl Strategy<Value = Stmt> {
    let assign =
        (any::<u8>(), select(AssignOp::ALL), call_expr()).prop_map(|(t, op, value)| Stmt::Assign {
            target: Target::Nth(t),
            op,
            value,
        });
    let branch = prop::collection::vec(assign.clone(), 0..3).boxed();
    prop_oneof![
        4 => (prop::option::weighted(0.25, any::<u8>()), call_expr()).prop_map(|(shadow, value)| Stmt::Let { shadow, value }),
        3 => assign,
        2 => (cond_of(call_expr()), branch.clone(), branch).prop_map(|(cond, then, els)| Stmt::If { cond, then, els }),
    ]
}

/// The arguments of the calls that open a caller: parameters and the local bound last (the
/// previous call's result) mostly, so values fan out to several calls and results feed calls.
fn first_arg() -> impl Strategy<Value = Expr> {
    prop_oneof![
        3 => (0u8..3).prop_map(Expr::Var),
        2 => Just(Expr::Latest),
        1 => expr(),
    ]
}

/// The arguments of a call in a loop: the carried local, parameters, scaled by the loop
/// variable, or any expression without calls (a call in a loop must be at the top of its
/// body, not inside an `if` expression, for the reverse sweep to read back its result).
fn loop_arg() -> impl Strategy<Value = Expr> {
    prop_oneof![
        3 => Just(Expr::Latest),
        3 => (0u8..3).prop_map(Expr::Var),
        2 => ((0u8..3), near()).prop_map(|(v, i)| Expr::Bin(Arith::Mul, b(Expr::Var(v)), b(Expr::LoopIdx(i)))),
        2 => expr(),
    ]
}

/// A call in a loop: its first argument is `w0 · a`, and its data arguments hold no call, so
/// it is never a call on data. Calls on data may not sit in a loop's branch (documented: the
/// reverse sweep keeps their results, which it can only do for a call at the top of the body),
/// and one at the top of a `while` loop's body is refused too ("computed by a call inside a
/// branch or an inner loop", see TESTING.md), while calls of pullbacks, which are pure and
/// recomputed, go anywhere in any loop.
fn loop_call() -> BoxedStrategy<Expr> {
    call_of(loop_arg(), data_expr_of(false))
        .prop_map(|mut call| {
            let a = std::mem::replace(&mut call.args[0], Expr::Lit(0.0));
            call.args[0] = Expr::Bin(Arith::Mul, b(Expr::Var(0)), b(a));
            Expr::Call(Box::new(call))
        })
        .boxed()
}

/// A local and a loop (at most 4 iterations, any head) that calls on it: an accumulator `s +=
/// h(..) · e`, also in an `if` whose `else` may `continue` before a last `s += e'`, or
/// carried state `v = h(v, ..).tanh() · 1.2`, also with the call in one branch of an `if`
/// expression.
fn call_loop() -> BoxedStrategy<Vec<Stmt>> {
    let start = prop_oneof![1 => Just(Expr::Lit(0.0)), 2 => expr()].boxed();
    let op = select(&[AssignOp::Add, AssignOp::Sub][..]);
    let accumulate = (op.clone(), loop_call(), expr()).prop_map(|(op, call, e)| Stmt::Assign {
        target: Target::Last,
        op,
        value: Expr::Bin(Arith::Mul, b(call), b(e)),
    });
    let in_branch = (
        loop_cond(cond_expr()),
        accumulate.clone(),
        any::<bool>(),
        op,
        expr(),
    )
        .prop_map(|(cond, add, skip, op, e)| {
            let els = if skip {
                vec![Stmt::Jump(Jump::Continue)]
            } else {
                Vec::new()
            };
            vec![
                Stmt::If {
                    cond,
                    then: vec![add],
                    els,
                },
                Stmt::Assign {
                    target: Target::Last,
                    op,
                    value: e,
                },
            ]
        });
    let body = prop_oneof![
        2 => accumulate.prop_map(|s| vec![s]),
        1 => in_branch,
    ];
    let carried = loop_call().prop_map(|mut call| {
        if let Expr::Call(c) = &mut call {
            c.args[0] = Expr::Bin(Arith::Mul, b(Expr::Var(0)), b(Expr::Latest));
        }
        call
    });
    let carry = prop_oneof![
        2 => carried.clone(),
        1 => (loop_cond(cond_expr()), carried, any::<bool>()).prop_map(|(cond, call, first)| {
            let other = Expr::Bin(Arith::Mul, b(Expr::Latest), b(Expr::Lit(0.5)));
            let (a, c) = if first { (call, other) } else { (other, call) };
            Expr::If(Box::new(cond), b(a), b(c))
        }),
    ];
    let open = |init: Expr, header: Header, body: Vec<Stmt>| {
        vec![
            Stmt::Let {
                shadow: None,
                value: init,
            },
            Stmt::Loop { header, body },
        ]
    };
    prop_oneof![
        (start.clone(), header(4), body)
            .prop_map(move |(init, header, body)| open(init, header, body)),
        (start, header(4), carry).prop_map(move |(init, header, value)| {
            let body = vec![Stmt::Assign {
                target: Target::Last,
                op: AssignOp::Set,
                value: guard(Domain::Bounded, value),
            }];
            open(init, header, body)
        }),
    ]
    .boxed()
}

/// Callers: 1–3 `wrt` parameters, 0–2 float data parameters, 1–3 helpers ([`callee`]), each
/// called once by the opening `let`s, then up to 2 statements with calls anywhere, maybe a
/// loop that calls (`call_loop`), and a result `latest · w0 + e` with calls in `e`. A
/// helper's result may also be combined (`+`, `·`) with a call of an earlier helper, where
/// it can reach it (one in the library cannot call one in the test crate).
pub fn call_program() -> impl Strategy<Value = Program> {
    let link = (
        any::<u8>(),
        call_of(first_arg(), data_expr()),
        select(&[Arith::Add, Arith::Mul][..]),
    );
    (
        (1usize..=3, 0usize..=2),
        (
            prop::collection::vec(callee(), 1..=3),
            prop::collection::vec(prop::option::weighted(0.5, link), 3),
        ),
        prop::collection::vec(call_of(first_arg(), data_expr()), 3),
        prop::collection::vec(call_stmt(), 0..3),
        prop::option::weighted(0.6, call_loop()),
        call_expr(),
    )
        .prop_map(
            |((n_wrt, n_data), (mut callees, links), first, middle, lp, e)| {
                for (j, c) in callees.iter_mut().enumerate() {
                    c.name = format!("h{j}");
                }
                for (j, link) in links.into_iter().enumerate().take(callees.len()).skip(1) {
                    let Some((i, mut call, op)) = link else {
                        continue;
                    };
                    let mut earlier = callees[i as usize % j].clone();
                    let Some(place) = earlier.seen_from(callees[j].place) else {
                        continue;
                    };
                    earlier.place = place;
                    call.callee = 0;
                    let body = &mut callees[j].body;
                    body.callees.push(earlier);
                    let ret = std::mem::replace(&mut body.ret, Expr::Lit(0.0));
                    body.ret = Expr::Bin(op, b(ret), b(Expr::Call(Box::new(call))));
                }
                let mut stmts = Vec::new();
                for (j, mut call) in first.into_iter().take(callees.len()).enumerate() {
                    call.callee = j as u8;
                    stmts.push(Stmt::Let {
                        shadow: None,
                        value: Expr::Call(Box::new(call)),
                    });
                }
                stmts.extend(middle);
                stmts.extend(lp.unwrap_or_default());
                let reach = Expr::Bin(Arith::Mul, b(Expr::Latest), b(Expr::Var(0)));
                Program {
                    n_wrt,
                    wrt_array: false,
                    n_data,
                    data_array: false,
                    stmts,
                    ret: Expr::Bin(Arith::Add, b(reach), b(e)),
                    callees,
                }
            },
        )
}

/// A caller with a few points to evaluate it at (compiled path only: the IR interpreter runs
/// no calls).
pub fn call_case(points: usize) -> impl Strategy<Value = (Program, Vec<Point>)> {
    call_program().prop_flat_map(move |p| {
        let pts = prop::collection::vec(point(&p), points);
        (Just(p), pts)
    })
}

// ---------------------------------------------------------------------------------------------
// Array state (issue 18): arrays as values, written after and inside the loops that read them.

/// The index of a neighbour for array state: the iteration's own element, the one before
/// (`z[i - 1]`, `z[(i + n - 1) % n]`), the one after, or another.
fn state_ix() -> impl Strategy<Value = Ix> {
    prop_oneof![
        4 => near().prop_map(Ix::Loop),
        3 => near().prop_map(Ix::Prev),
        2 => near().prop_map(Ix::Next),
        1 => (0u8..6).prop_map(Ix::Lit),
        1 => near().prop_map(Ix::Rev),
    ]
}

/// A bounded update of an element from its neighbours in array `arr` (a readable array
/// reference: [`LATEST`], [`BEFORE_LATEST`]): `((arr[i - 1] · e) op arr[i] [+ arr[i + 1]]).tanh()
/// · 1.2`, or, one time in four, from any two elements (`state_ix`).
fn stencil(arr: u8) -> BoxedStrategy<Expr> {
    let op = select(&[Arith::Add, Arith::Sub, Arith::Mul][..]);
    let neighbours = (op.clone(), loop_expr(), leaf(), any::<bool>(), 0u8..6).prop_map(
        move |(op, e, coefficient, right, wrap)| {
            // Linear updates take a plain coefficient (a variable, a literal), as a scheme's
            // `κ·Δt/Δx²` is: what the sweep adds is then a product, not a branch or a call.
            let e = if wrap >= 4 { coefficient } else { e };
            let left = Expr::Bin(Arith::Mul, b(Expr::Elem(arr, Ix::Prev(0))), b(e));
            let mut v = Expr::Bin(op, b(left), b(Expr::Elem(arr, Ix::Loop(0))));
            if right {
                v = Expr::Bin(Arith::Add, b(v), b(Expr::Elem(arr, Ix::Next(0))));
            }
            match wrap {
                // A plain `tanh` (an activation): the value stored is the one its derivative
                // reads, which the sweep may read back from the array.
                0 | 1 => Expr::F1(F1::Tanh, b(v)),
                2 | 3 => guard(Domain::Bounded, v),
                // Linear, as an explicit scheme for the heat equation: the sweep only adds
                // scaled adjoints at `i - 1`, `i`, `i + 1`, a loop the macro splits by offset.
                _ => v,
            }
        },
    );
    let any_two = (op, state_ix(), state_ix(), loop_expr()).prop_map(move |(op, i, j, e)| {
        let v = Expr::Bin(op, b(Expr::Elem(arr, i)), b(Expr::Elem(arr, j)));
        guard(Domain::Bounded, Expr::Bin(Arith::Add, b(v), b(e)))
    });
    prop_oneof![3 => neighbours, 1 => any_two].boxed()
}

/// `let mut z = src;`: a copy of `wa`, of `xs`, of another array, or zeros.
fn state_init() -> impl Strategy<Value = Stmt> {
    (
        prop_oneof![
            3 => Just(Some(0u8)),
            2 => Just(Some(1u8)),
            1 => Just(Some(LATEST)),
            2 => Just(None),
        ],
        2u8..=5,
    )
        .prop_map(|(src, len)| Stmt::ArrayCopy { src, len })
}

/// A few statements of a loop body that may store anywhere (and read, jump, ..).
fn noise() -> BoxedStrategy<Vec<Stmt>> {
    prop_oneof![2 => Just(Vec::new()), 1 => body_chunk(1)].boxed()
}

/// A loop head for a time loop or a sweep: a range, or a `while` with a counter.
fn time_header() -> impl Strategy<Value = Header> {
    prop_oneof![
        3 => (0u8..=1, 1u8..=4, any::<bool>()).prop_map(|(lo, len, inclusive)| Header::Range { lo, len, inclusive, rev: false }),
        1 => (1u8..=3).prop_map(|n| Header::While { n, cond: None }),
        1 => Just(Header::KRange),
    ]
}

fn range(lo: u8, len: u8, rev: bool) -> Header {
    Header::Range {
        lo,
        len,
        inclusive: false,
        rev,
    }
}

fn store_to(arr: u8, ix: Ix, op: StoreOp, value: Expr) -> Stmt {
    Stmt::Store { arr, ix, op, value }
}

/// One use of the latest array of state (see [`state_program`]).
fn state_step() -> BoxedStrategy<Vec<Stmt>> {
    let op = select(StoreOp::ALL);
    // In place: `for i in 1..n { z[i] = f(z[i - 1], z[i], ..); }`, forwards or backwards.
    let in_place = (
        0u8..=1,
        2u8..=5,
        any::<bool>(),
        op.clone(),
        stencil(LATEST),
        noise(),
    )
        .prop_map(|(lo, len, rev, op, v, rest)| {
            let mut body = vec![store_to(0, Ix::Loop(0), op, v)];
            body.extend(rest);
            vec![Stmt::Loop {
                header: range(lo, len, rev),
                body,
            }]
        });
    // Gauss–Seidel: sweeps of an in-place update from both neighbours.
    let sweeps = (time_header(), 2u8..=5, stencil(LATEST)).prop_map(|(header, len, v)| {
        let inner = Stmt::Loop {
            header: range(0, len, false),
            body: vec![store_to(0, Ix::Loop(0), StoreOp::Set, v)],
        };
        vec![Stmt::Loop {
            header,
            body: vec![inner],
        }]
    });
    // A time loop, double-buffered: `let mut zn = z; for i in .. { zn[i] = g(z[..]); } z =
    // zn;` (the buffer a copy, or zeros), maybe more after.
    let buffer = prop_oneof![3 => Just(Some(LATEST)), 1 => Just(None)];
    let double = (
        time_header(),
        buffer,
        // Often over the interior (`for i in 1..3` of four cells), as an explicit scheme with
        // fixed boundaries: `i - 1` and `i + 1` are then in bounds, written as such.
        prop_oneof![2 => 2u8..=3, 1 => 4u8..=5],
        prop_oneof![1 => Just(0u8), 2 => Just(1u8)],
        stencil(BEFORE_LATEST),
        noise(),
        any::<bool>(),
    )
        .prop_map(|(header, src, len, lo, v, rest, inside)| {
            let fill = Stmt::Loop {
                header: range(lo, len, false),
                body: vec![store_to(0, Ix::Loop(0), StoreOp::Set, v)],
            };
            // Zeros of the state's length (`len: 0`).
            let mut body = vec![Stmt::ArrayCopy { src, len: 0 }, fill];
            if inside {
                body.extend(rest);
                body.push(Stmt::ArrayAssign {
                    dst: 1,
                    src: Some(LATEST),
                });
            } else {
                body.push(Stmt::ArrayAssign {
                    dst: 1,
                    src: Some(LATEST),
                });
                body.extend(rest);
            }
            vec![Stmt::Loop { header, body }]
        });
    // Stores, whole assignments and copies in the branches of an `if`.
    let branch_part = prop_oneof![
        3 => (state_ix(), op.clone(), loop_expr()).prop_map(|(ix, op, e)| vec![store_to(0, ix, op, e)]),
        2 => prop::option::weighted(0.7, any::<u8>()).prop_map(|src| vec![Stmt::ArrayAssign { dst: 0, src }]),
        2 => (state_ix(), op.clone(), loop_expr()).prop_map(|(ix, op, e)| vec![
            Stmt::ArrayCopy { src: Some(LATEST), len: 0 },
            store_to(0, ix, op, e),
            Stmt::ArrayAssign { dst: 1, src: Some(LATEST) },
        ]),
        1 => Just(Vec::new()),
    ];
    let branch = (loop_cond(cond_expr()), branch_part.clone(), branch_part)
        .prop_map(|(cond, then, els)| vec![Stmt::If { cond, then, els }]);
    // A loop reads the array, then a store changes it: `for &e in z.iter() { s += e · .. }
    // z[c] op= s · ..;`.
    let read_then_store = (
        iter_form(),
        loop_expr(),
        (0u8..6).prop_map(Ix::Lit),
        op.clone(),
        loop_expr(),
    )
        .prop_map(|(form, e, ix, op, f)| {
            vec![
                Stmt::Let {
                    shadow: None,
                    value: Expr::Lit(0.0),
                },
                Stmt::Loop {
                    header: Header::Iter { arr: LATEST, form },
                    body: vec![Stmt::Assign {
                        target: Target::Last,
                        op: AssignOp::Add,
                        value: Expr::Bin(Arith::Mul, b(Expr::Latest), b(e)),
                    }],
                },
                store_to(
                    0,
                    ix,
                    op,
                    guard(
                        Domain::Bounded,
                        Expr::Bin(Arith::Mul, b(Expr::Latest), b(f)),
                    ),
                ),
            ]
        });
    // Whole copies and assignments between arrays at the top.
    let whole = (
        prop::option::weighted(0.8, any::<u8>()),
        any::<u8>(),
        prop::option::weighted(0.8, any::<u8>()),
    )
        .prop_map(|(src, dst, from)| {
            vec![
                Stmt::ArrayCopy { src, len: 3 },
                Stmt::ArrayAssign { dst, src: from },
            ]
        });
    // A layer in a loop over samples: `let mut s = 0.0; for .. { let mut zn = [0.0; n]; for i
    // in .. { zn[i] = g(z[..]); } s += zn.iter().map(|&c| c op ..).sum::<f64>(); }` (an
    // accumulating loop that builds an array of its own, as an MLP's hidden layer).
    let layer = (
        time_header(),
        2u8..=5,
        0u8..=1,
        stencil(BEFORE_LATEST),
        select(Arith::ALL),
        loop_expr(),
    )
        .prop_map(|(header, len, lo, v, op, e)| {
            let fill = Stmt::Loop {
                header: range(lo, len, false),
                body: vec![store_to(0, Ix::Loop(0), StoreOp::Set, v)],
            };
            vec![
                Stmt::Let {
                    shadow: None,
                    value: Expr::Lit(0.0),
                },
                Stmt::Loop {
                    header,
                    body: vec![
                        Stmt::ArrayCopy { src: None, len: 0 },
                        fill,
                        Stmt::Assign {
                            target: Target::Last,
                            op: AssignOp::Add,
                            value: Expr::Reduce {
                                kind: ReduceKind::Sum,
                                src: IterSrc::One(LATEST),
                                body: b(Expr::Bin(op, b(Expr::Latest), b(e))),
                            },
                        },
                    ],
                },
            ]
        });
    let one = prop_oneof![
        3 => in_place,
        2 => sweeps,
        3 => double,
        2 => layer,
        2 => branch,
        2 => read_then_store,
        1 => whole,
    ]
    .boxed();
    // Sometimes inside a loop of its own (copies and stores in an inner loop).
    prop_oneof![
        4 => one.clone(),
        1 => (time_header(), one).prop_map(|(header, body)| vec![Stmt::Loop { header, body }]),
    ]
    .boxed()
}

/// An array of state, then 1–3 uses of it ([`state_step`]), then a local reading all of it
/// (`let v = z.iter().map(|&c| c op ..).sum::<f64>();`), which the result reaches.
fn state_chunk() -> BoxedStrategy<Vec<Stmt>> {
    (
        state_init(),
        prop::collection::vec(state_step(), 1..4),
        select(Arith::ALL),
        loop_expr(),
    )
        .prop_map(|(init, steps, op, e)| {
            let mut out = vec![init];
            out.extend(steps.concat());
            out.push(Stmt::Let {
                shadow: None,
                value: Expr::Reduce {
                    kind: ReduceKind::Sum,
                    src: IterSrc::One(LATEST),
                    body: b(Expr::Bin(op, b(Expr::Latest), b(e))),
                },
            });
            out
        })
        .boxed()
}

/// Programs of array state (`Stmt::ArrayCopy`, `Stmt::ArrayAssign`): the loop language's
/// parameters (`wa` more often), a local, maybe chunks of the loop language, 1–2 arrays of
/// state with their uses (in-place recurrences and sweeps, double-buffered time loops, stores
/// and whole copies in branches and inner loops, stores after a loop read the array), maybe
/// more of the loop language (whose stores may write the arrays of state too), and a result
/// `latest · w0 + e` (compiled path only).
pub fn state_program() -> impl Strategy<Value = Program> {
    (
        (
            0usize..=2,
            prop::bool::weighted(0.75),
            0usize..=2,
            any::<bool>(),
        ),
        loop_expr(),
        prop::collection::vec(top_chunk(), 0..2),
        prop::collection::vec(state_chunk(), 1..3),
        prop::collection::vec(top_chunk(), 0..2),
        loop_expr(),
    )
        .prop_map(
            |((n_wrt, wrt_array, n_data, data_array), first, before, main, after, e)| {
                let wrt_array = wrt_array || n_wrt == 0;
                let n_data = if n_wrt == 0 { n_data.max(1) } else { n_data };
                let mut stmts = vec![Stmt::Let {
                    shadow: None,
                    value: first,
                }];
                stmts.extend(before.concat());
                stmts.extend(main.concat());
                stmts.extend(after.concat());
                let w = if n_wrt > 0 {
                    Expr::Var(0)
                } else {
                    Expr::Elem(0, Ix::Lit(0))
                };
                let reach = Expr::Bin(Arith::Mul, b(Expr::Latest), b(w));
                Program {
                    n_wrt,
                    wrt_array,
                    n_data,
                    data_array,
                    stmts,
                    ret: Expr::Bin(Arith::Add, b(reach), b(e)),
                    callees: Vec::new(),
                }
            },
        )
}

/// A program of array state with a few points to evaluate it at (compiled path only).
pub fn state_case(points: usize) -> impl Strategy<Value = (Program, Vec<Point>)> {
    state_program().prop_flat_map(move |p| {
        let pts = prop::collection::vec(point(&p), points);
        (Just(p), pts)
    })
}

// ---------------------------------------------------------------------------------------------
// Arrays across calls (issue 18): helpers taking arrays (by value, by reference) and returning
// them.

/// A helper of arrays across calls: `#[grad]` (one in three: every float parameter
/// differentiated, `wa` included) or `#[grad(wrt = ..)]`, with 0–2 scalar `wrt` floats, a
/// differentiated array `wa: [f64; 3]` (always for a building block; else most of the time,
/// and a scalar `wrt` float when not), 0–1 data floats and maybe a data array `xs: [f64; 4]`
/// (not in a building block), both arrays by value or (one in two) by reference; returning a
/// float, or (one in two) `[f64; 3]`, each result bounded (`(..).tanh() · 1.2`). Its body:
/// a local read off the arrays (`let mut v0 = wa[1] op xs[0];`, so that names resolve), up to
/// 3 statements of the loop language's `let`s, assignments and `if`s (no loops: element
/// reads, iterator sums, `match` over the arrays), and a result `latest · w + e` (`w` the
/// first scalar `wrt` float, or `wa[0]`).
pub fn array_callee() -> impl Strategy<Value = Callee> {
    let place = prop_oneof![
        2 => Just(Place::Here),
        1 => Just(Place::Module),
        1 => Just(Place::Crate),
    ];
    let stmt = prop_oneof![
        3 => loop_expr().prop_map(|value| Stmt::Let { shadow: None, value }),
        2 => loop_assign(),
        1 => (loop_cond(cond_expr()), prop::collection::vec(loop_assign(), 1..3), prop::collection::vec(loop_assign(), 0..2))
            .prop_map(|(cond, then, els)| Stmt::If { cond, then, els }),
    ];
    let outputs = prop::collection::vec(loop_expr(), WA_LEN);
    (
        (
            prop::bool::weighted(0.33),
            0usize..=2,
            prop::bool::weighted(0.8),
            0usize..=1,
            prop::bool::weighted(0.4),
        ),
        (any::<bool>(), any::<bool>(), place),
        (0u8..6, 0u8..6, select(Arith::ALL)),
        prop::collection::vec(stmt, 0..=3),
        loop_expr(),
        outputs,
        (
            prop::bool::weighted(0.5),
            0u8..3,
            select(StoreOp::ALL),
            loop_expr(),
        ),
    )
        .prop_map(
            |(
                (building_block, n_wrt, wrt_array, n_data, data_array),
                (by_ref, returns, place),
                (i, j, op),
                mut stmts,
                e,
                mut outputs,
                (in_place, at, store_op, stored),
            )| {
                let building_block = building_block && !WORK_AROUND_BUILDING_BLOCK_ARRAYS;
                let (n_data, data_array) = if building_block {
                    (0, false)
                } else {
                    (n_data, data_array)
                };
                let wrt_array = wrt_array || building_block || n_wrt == 0;
                let first = Expr::Bin(
                    op,
                    b(Expr::Elem(0, Ix::Lit(i))),
                    b(Expr::Elem(1, Ix::Lit(j))),
                );
                stmts.insert(
                    0,
                    Stmt::Let {
                        shadow: None,
                        value: first,
                    },
                );
                // A helper returning an array that changes its `wa` in place (`mut wa`, by
                // value): each pass of its Jacobian must start from the argument (a bug that
                // hid here: tests/second_order.rs, `jacobians_of_functions_changing_..`).
                if in_place && returns && !by_ref && (wrt_array || building_block || n_wrt == 0) {
                    stmts.insert(
                        1,
                        Stmt::Store {
                            arr: WA_PARAM,
                            ix: Ix::Lit(at),
                            op: store_op,
                            value: stored,
                        },
                    );
                }
                let w = if n_wrt > 0 {
                    Expr::Var(0)
                } else {
                    Expr::Elem(0, Ix::Lit(0))
                };
                let reach = Expr::Bin(Arith::Mul, b(Expr::Latest), b(w));
                let ret = Expr::Bin(Arith::Add, b(reach), b(e));
                let outputs = if returns {
                    // The first result reaches the statements, the others read an element.
                    outputs[0] = Expr::Bin(Arith::Add, b(ret.clone()), b(outputs[0].clone()));
                    for (k, o) in outputs.iter_mut().enumerate().skip(1) {
                        let elem = Expr::Elem(0, Ix::Lit(k as u8));
                        *o = Expr::Bin(Arith::Mul, b(elem), b(o.clone()));
                    }
                    outputs
                        .into_iter()
                        .map(|o| guard(Domain::Bounded, o))
                        .collect()
                } else {
                    Vec::new()
                };
                Callee {
                    name: "h".into(),
                    place,
                    building_block,
                    body: Program {
                        n_wrt,
                        wrt_array,
                        n_data,
                        data_array,
                        stmts,
                        ret: guard(Domain::Bounded, ret),
                        callees: Vec::new(),
                    },
                    by_ref,
                    outputs,
                }
            },
        )
}

/// Fixed in the macro (issue 18); set to `true` to generate the workaround again. Was:
/// Reported (see the report of the ninth batch): `#[grad]` alone (a building block) differentiates
/// a function in its `f64` parameters only, not in its arrays of floats, so a building block
/// taking only an array is refused ("`h` has no parameter of its return type to differentiate:
/// a building block (`#[grad]` without `wrt`) is differentiated with respect to its float
/// parameters"), one returning an array too ("a building block must return one float"), and a
/// caller passing a differentiated array to one taking `w: f64, v: [f64; 2]` is refused by
/// rustc ("this array depends on a `wrt` parameter, but the `#[grad]` function it is passed to
/// is not differentiated with respect to it"), with a note that suggests annotating the
/// callee "with `#[grad]` alone, which differentiates it in every float parameter" (which it
/// is), and six more errors about `()`. While this is `true`, the helpers of arrays across
/// calls all list their `wrt` parameters (`#[grad(wrt = w0, wa)]`).
pub const WORK_AROUND_BUILDING_BLOCK_ARRAYS: bool = false;

/// Fixed in the macro (issue 18); set to `true` to generate the workaround again. Was:
/// Reported (see the report of the ninth batch): the result of an array-valued call on data
/// only (`let mut z: [f64; 3] = h(x);`, `x` data) is "an array of data": a store into it is
/// refused ("assigning to an element of an array of data (integers, ...) is not supported"), and
/// so is a whole assignment of a differentiated array to it ("`w` is an array of floats: ... it
/// cannot be used as a whole here"), where a copy of a data array (`let mut z = xs;`) takes
/// both since the eighth batch's fix. Minimal (`#[grad(wrt = a)] fn h(a: f64) -> [f64; 3] {
/// [a, a * a, 1.0] }`):
///
/// ```text
/// #[grad(wrt = w)]
/// fn f(w: [f64; 3], x: f64) -> f64 {
///     let mut z: [f64; 3] = h(x);
///     z[0] = 2.0 * z[1];
///     z[0] * w[0]
/// }
/// ```
///
/// and `z = w;` for the store. While this is `true`, the first scalar argument of every
/// array-valued call is `w0 · a`, as in loops (its array argument is mostly differentiated
/// already).
pub const WORK_AROUND_DATA_RESULT: bool = false;

/// Fixed in the macro (issue 18); set to `true` to generate the workaround again. Was:
/// Reported (see the report of the ninth batch): a compile error, "cannot find value
/// `__grad_unnamed_N` in this scope", for a loop that assigns a call's result whole and then
/// passes the result to another call (present at 71ec9b2 already). Minimal (`rhs(s: &[f64; 3])
/// -> [f64; 3] { [s[1].sin(), s[0] * s[1], s[2]] }` with `wrt = s`, `n(s: [f64; 3]) -> f64 {
/// s[0] * s[1] + s[2] }` with `wrt = s`):
///
/// ```text
/// #[grad(wrt = w)]
/// fn f(w: [f64; 3]) -> f64 {
///     let mut z1 = w;
///     let mut v = 0.0;
///     for _ in 0..2 {
///         let z2: [f64; 3] = rhs(&z1);
///         z1 = z2;
///         v += n(z2);
///     }
///     v + z1[0]
/// }
/// ```
///
/// The same with the other call first (`v += n(z1); let z2: [f64; 3] = rhs(&z1); z1 = z2;`).
/// While this is `true`, the loop of `z = h(z, ..)` (`WORK_AROUND_ASSIGN_CALL_RESULT`'s `let
/// mut r = h(z, ..); z = r;`) makes no other call (its accumulator stays 0).
pub const WORK_AROUND_RESULT_READ_AFTER_ASSIGN: bool = false;

/// Fixed in the macro (issue 18); set to `true` to generate the workaround again. Was:
/// Reported (see the report of the ninth batch): a compile error, "cannot find value
/// `__grad_unnamed_N` in this scope", for a `for` loop that passes an array to a call and
/// stores into it a value of the array alone (present at 71ec9b2 already). Minimal (`#[grad(wrt
/// = s)] fn n(s: &[f64; 3]) -> f64 { s[0] * s[1] }`, by value the same):
///
/// ```text
/// #[grad(wrt = w)]
/// fn g(w: [f64; 3]) -> f64 {
///     let mut z = w;
///     let mut v = 0.0;
///     for i in 1..3 {
///         v += n(&z);
///         z[i] = z[i - 1].tanh();
///     }
///     v
/// }
/// ```
///
/// (also with the store first, and with `z[i] = z[i].tanh()`; `z[i] = z[0] * 1.5 + v` compiles).
/// While this is `true`, the store of a loop that calls on the array it writes adds the
/// accumulator (`z[i] = f(z..) + s · ⅛`).
pub const WORK_AROUND_STORE_OF_ARRAY_ALONE: bool = false;

/// Known (TESTING.md, the calls batch's `c44`, left open): a value the reverse sweep needs,
/// computed by a call in the body of a `while` loop, is refused ("the reverse sweep of this
/// loop needs this value, computed inside a branch or an inner loop of it (the body of a
/// `while` is in one) by a call"), where a `for` loop with the same body compiles; the ninth
/// batch meets it with calls of differentiated arrays too (`while t0 < 2 { t0 += 1; v1 +=
/// h(&wa, k, flag) * (1.875 - z0[(t0 + 1) % 3]); }`). While this is `true`, the loops that call
/// are `for` loops (`call_header`).
pub const WORK_AROUND_CALL_IN_WHILE: bool = true;

/// Every `while` loop of `stmts` made `for` over `0..n` (see [`WORK_AROUND_CALL_IN_WHILE`]: a
/// caller at seed 1901 (`ac94`) was refused so for a `while` loop without a call in its body,
/// `while t0 < 1 { t0 += 1; for i1 in (0..2).rev() { z2[i1] -= ((z2[i1] + z2[i1]) + (match
/// flag { true => (w0 * x0), _ => (match t0 { .., 4 => z0[i1], _ => (k as f64) }) })).tanh()
/// * 1.2; } }`, `z0` and `z2` results of calls taking `&wa`; not reduced further).
fn no_while(stmts: &mut [Stmt]) {
    for s in stmts {
        match s {
            Stmt::Loop { header, body } => {
                if let Header::While { n, .. } = *header {
                    *header = range(0, n, false);
                }
                no_while(body);
            }
            Stmt::If { then, els, .. } => {
                no_while(then);
                no_while(els);
            }
            _ => {}
        }
    }
}

/// The head of a loop that calls: [`time_header`]'s, without `while` while
/// [`WORK_AROUND_CALL_IN_WHILE`] holds (a `for` over `0..n` instead).
fn call_header() -> impl Strategy<Value = Header> {
    time_header().prop_map(|h| match h {
        Header::While { n, .. } if WORK_AROUND_CALL_IN_WHILE => range(0, n, false),
        h => h,
    })
}

/// Which array a call passes: mostly the latest of the right length (the chunk's own), or any.
fn array_sel() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![3 => Just(LATEST), 1 => any::<u8>()].prop_map(|a| vec![a])
}

/// A call of a helper of arrays across calls, its arrays chosen by [`array_sel`]; in a loop
/// (`in_loop`), its first scalar argument `w0 · a`, as [`loop_call`]'s.
fn array_call(in_loop: bool) -> BoxedStrategy<Call> {
    let args = if in_loop {
        loop_arg().boxed()
    } else {
        first_arg().boxed()
    };
    (call_of(args, plain_data_expr()), array_sel())
        .prop_map(move |(mut call, arrays)| {
            call.arrays = arrays;
            if in_loop {
                let a = std::mem::replace(&mut call.args[0], Expr::Lit(0.0));
                call.args[0] = Expr::Bin(Arith::Mul, b(Expr::Var(0)), b(a));
            }
            call
        })
        .boxed()
}

/// `h(..) · e` (a float-valued helper's call), as an expression.
fn float_call(in_loop: bool) -> BoxedStrategy<Expr> {
    (array_call(in_loop), loop_expr())
        .prop_map(|(c, e)| Expr::Bin(Arith::Mul, b(Expr::Call(Box::new(c))), b(e)))
        .boxed()
}

/// `let mut z = h(..);` (typed one time in three), or `z = h(..);` into the latest array of
/// that length (`assign`).
fn result_call(in_loop: bool, assign: bool) -> BoxedStrategy<Stmt> {
    (
        array_call(in_loop || WORK_AROUND_DATA_RESULT),
        prop::bool::weighted(0.33),
    )
        .prop_map(move |(call, typed)| Stmt::ArrayCall {
            call,
            typed,
            assign: assign.then_some(0),
        })
        .boxed()
}

/// One use of calls with arrays (see [`array_call_program`]).
fn array_call_chunk() -> BoxedStrategy<Vec<Stmt>> {
    let accumulate = select(&[AssignOp::Add, AssignOp::Sub][..]);
    // A result, then array state on it (the eighth batch's uses of the latest array).
    let result_state = (
        result_call(false, false),
        prop::collection::vec(state_step(), 0..3),
    )
        .prop_map(|(call, steps)| {
            let mut out = vec![call];
            out.extend(steps.concat());
            out
        });
    // A copy (of `wa`, or another array) and a loop that calls on it while writing it: `s +=
    // h(z, ..) · e; z[i] = f(z[i - 1], z[i]);`.
    let write_while_calling = (
        prop_oneof![2 => Just(Some(0u8)), 1 => Just(Some(LATEST))],
        call_header(),
        accumulate.clone(),
        float_call(true),
        stencil(LATEST),
        any::<bool>(),
    )
        .prop_map(|(src, header, op, call, v, after)| {
            let add = Stmt::Assign {
                target: Target::Last,
                op,
                value: call,
            };
            // `z[i] = f(z..) + s · ⅛` (see [`WORK_AROUND_STORE_OF_ARRAY_ALONE`]).
            let v = if WORK_AROUND_STORE_OF_ARRAY_ALONE {
                let s = Expr::Bin(Arith::Mul, b(Expr::Latest), b(Expr::Lit(0.125)));
                Expr::Bin(Arith::Add, b(v), b(s))
            } else {
                v
            };
            let write = store_to(0, Ix::Loop(0), StoreOp::Set, v);
            let body = if after {
                vec![write, add]
            } else {
                vec![add, write]
            };
            vec![
                Stmt::ArrayCopy { src, len: 3 },
                Stmt::Let {
                    shadow: None,
                    value: Expr::Lit(0.0),
                },
                Stmt::Loop { header, body },
            ]
        });
    // Explicit Euler: `let mut z = wa; for .. { let mut r = h(z, ..); for i in 0..3 { z[i] +=
    // r[i] · e; } }` (the result read, written and passed on, or assigned whole).
    let euler = (
        call_header(),
        result_call(true, false),
        prop::collection::vec(state_step(), 0..2),
        loop_expr(),
        prop_oneof![3 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
    )
        .prop_map(|(header, call, steps, e, how)| {
            let mut body = vec![call];
            body.extend(steps.concat());
            match how {
                // `z[i] += r[i] · e`: the state is the array before the result.
                0 => body.push(Stmt::Loop {
                    header: range(0, 3, false),
                    body: vec![store_to(
                        1,
                        Ix::Loop(0),
                        StoreOp::Add,
                        guard(
                            Domain::Bounded,
                            Expr::Bin(Arith::Mul, b(Expr::Elem(LATEST, Ix::Loop(0))), b(e)),
                        ),
                    )],
                }),
                // `z = r;`
                1 => body.push(Stmt::ArrayAssign {
                    dst: 1,
                    src: Some(LATEST),
                }),
                _ => {}
            }
            vec![
                Stmt::ArrayCopy {
                    src: Some(0),
                    len: 3,
                },
                Stmt::Loop { header, body },
            ]
        });
    // `z = h(z, ..);` in a loop, maybe with a call reading it.
    let assign_loop = (
        call_header(),
        result_call(true, true),
        prop::option::weighted(0.5, float_call(true)),
    )
        .prop_map(|(header, call, read)| {
            let mut body = vec![call];
            let mut out = vec![Stmt::ArrayCopy {
                src: Some(LATEST),
                len: 3,
            }];
            if let Some(read) = read {
                out.push(Stmt::Let {
                    shadow: None,
                    value: Expr::Lit(0.0),
                });
                let read = Stmt::Assign {
                    target: Target::Last,
                    op: AssignOp::Add,
                    value: read,
                };
                if !WORK_AROUND_RESULT_READ_AFTER_ASSIGN {
                    body.push(read);
                }
            }
            out.push(Stmt::Loop { header, body });
            out
        });
    // Calls in the branches of an `if`: an array result assigned whole or bound, a float.
    let part = prop_oneof![
        2 => result_call(false, true).prop_map(|s| vec![s]),
        1 => (result_call(false, false), state_ix(), loop_expr()).prop_map(|(s, ix, e)| vec![s, store_to(0, ix, StoreOp::Add, e)]),
        2 => (any::<u8>(), select(AssignOp::ALL), float_call(false)).prop_map(|(t, op, value)| vec![Stmt::Assign { target: Target::Nth(t), op, value }]),
        1 => Just(Vec::new()),
    ];
    let branch = (loop_cond(cond_expr()), part.clone(), part).prop_map(|(cond, then, els)| {
        vec![
            Stmt::ArrayCopy {
                src: Some(LATEST),
                len: 3,
            },
            Stmt::If { cond, then, els },
        ]
    });
    // A float call at the top, on whatever arrays there are.
    let top = float_call(false).prop_map(|value| {
        vec![Stmt::Let {
            shadow: None,
            value,
        }]
    });
    prop_oneof![
        3 => result_state,
        3 => write_while_calling,
        3 => euler,
        2 => assign_loop,
        2 => branch,
        1 => top,
        1 => state_chunk(),
    ]
    .boxed()
}

/// Callers of helpers taking arrays and returning them (issue 18: arrays across calls): 1–2
/// scalar `wrt` parameters and `wa: [f64; 3]`, 0–2 float data parameters and maybe `xs: [f64;
/// 4]` (always when a helper takes a data array), 1–3 helpers ([`array_callee`]), each called
/// by the opening statements (`let mut v = h(..);`, `let mut z = h(..);` for one returning an
/// array: values and results fan out to later calls), then 1–3 uses
/// (`array_call_chunk`: array state on a result, calls in a loop writing the array they
/// pass, explicit Euler steps, `z = h(z, ..)` in a loop, calls in branches, the eighth
/// batch's chunks), and a result `latest · w0 + e` (compiled path only).
pub fn array_call_program() -> impl Strategy<Value = Program> {
    (
        (1usize..=2, 0usize..=2, any::<bool>()),
        prop::collection::vec(array_callee(), 1..=3),
        prop::collection::vec(array_call(false), 3),
        prop::collection::vec(array_call_chunk(), 1..4),
        loop_expr(),
    )
        .prop_map(
            |((n_wrt, n_data, data_array), mut callees, first, chunks, e)| {
                for (j, c) in callees.iter_mut().enumerate() {
                    c.name = format!("h{j}");
                }
                let data_array = data_array || callees.iter().any(|c| c.body.data_array);
                let mut stmts = Vec::new();
                let (mut floats, mut arrays) = (0u8, 0u8);
                for (c, mut call) in callees.iter().zip(first) {
                    if c.outputs.is_empty() {
                        call.callee = floats;
                        floats += 1;
                        stmts.push(Stmt::Let {
                            shadow: None,
                            value: Expr::Call(Box::new(call)),
                        });
                    } else {
                        call.callee = arrays;
                        arrays += 1;
                        if WORK_AROUND_DATA_RESULT {
                            let a = std::mem::replace(&mut call.args[0], Expr::Lit(0.0));
                            call.args[0] = Expr::Bin(Arith::Mul, b(Expr::Var(0)), b(a));
                        }
                        stmts.push(Stmt::ArrayCall {
                            call,
                            typed: false,
                            assign: None,
                        });
                    }
                }
                stmts.extend(chunks.concat());
                if WORK_AROUND_CALL_IN_WHILE {
                    no_while(&mut stmts);
                }
                let reach = Expr::Bin(Arith::Mul, b(Expr::Latest), b(Expr::Var(0)));
                // The array declared last (most often what a call returned) reaches the result
                // too, so that the callees' Jacobians are checked (a float where there is none).
                let array = Expr::Bin(
                    Arith::Mul,
                    b(Expr::Elem(LATEST, Ix::Lit(1))),
                    b(Expr::Var(0)),
                );
                let reach = Expr::Bin(Arith::Add, b(reach), b(array));
                Program {
                    n_wrt,
                    wrt_array: true,
                    n_data,
                    data_array,
                    stmts,
                    ret: Expr::Bin(Arith::Add, b(reach), b(e)),
                    callees,
                }
            },
        )
}

/// A caller of arrays across calls with a few points to evaluate it at.
pub fn array_call_case(points: usize) -> impl Strategy<Value = (Program, Vec<Point>)> {
    array_call_program().prop_flat_map(move |p| {
        let pts = prop::collection::vec(point(&p), points);
        (Just(p), pts)
    })
}
