//! proptest strategies for programs and the points to evaluate them at. A new construct of the
//! language is one more arm here, in `ast.rs`'s printer and in `oracle.rs`.

use crate::ast::{Arith, AssignOp, CmpOp, Cond, Domain, Expr, IntExpr, Program, Stmt, F1, F2};
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

/// Expressions of bounded depth over everything the generator knows.
pub fn expr() -> BoxedStrategy<Expr> {
    leaf()
        .prop_recursive(4, 24, 3, |inner| {
            let inner = inner.boxed();
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
                1 => (cond_of(inner.clone()), inner.clone(), inner).prop_map(|(c, x, y)| Expr::If(Box::new(c), b(x), b(y))),
            ]
        })
        .boxed()
}

fn assign() -> impl Strategy<Value = Stmt> {
    (any::<u8>(), select(AssignOp::ALL), expr()).prop_map(|(target, op, value)| Stmt::Assign {
        target,
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
                n_data,
                stmts,
                ret,
            }
        })
}

/// A point for `p`: floats in [−1.5, 1.5], `k` in −3..=3.
pub fn point(p: &Program) -> impl Strategy<Value = Point> {
    (
        prop::collection::vec(-1.5f64..1.5, p.n_wrt),
        prop::collection::vec(-1.5f64..1.5, p.n_data),
        -3i32..=3,
        any::<bool>(),
    )
        .prop_map(|(w, x, k, flag)| Point { w, x, k, flag })
}

/// A program with a few points to evaluate it at.
pub fn case(points: usize) -> impl Strategy<Value = (Program, Vec<Point>)> {
    program().prop_flat_map(move |p| {
        let pts = prop::collection::vec(point(&p), points);
        (Just(p), pts)
    })
}
