//! The oracle: forward-mode dual numbers over the generated program's own tree.
//!
//! It shares nothing with the macro: not its lowering, not its IR, not its rule table. Each
//! derivative here is the textbook formula, written out again (no reuse of results), with the
//! conventions the `grad` documentation states at kinks and ties. One pass per `wrt` parameter
//! gives one gradient component.

use crate::ast::{
    Arith, AssignOp, CmpOp, Cond, Expr, IntExpr, Program, Scope, Stmt, F1, F2, USER_CONST,
};
use std::f64::consts::{LN_10, LN_2, PI};

/// A value and its derivative along one direction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual {
    pub v: f64,
    pub d: f64,
}

fn c(v: f64) -> Dual {
    Dual { v, d: 0.0 }
}

/// Arguments of a generated function.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub w: Vec<f64>,
    pub x: Vec<f64>,
    pub k: i32,
    pub flag: bool,
}

/// What the oracle says at a point.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    pub value: f64,
    /// The gradient with respect to every `w`.
    pub gradient: Vec<f64>,
    /// For each component, the largest derivative of any intermediate value along that `w`:
    /// where terms that large cancel, both modes keep only their rounding error (about
    /// `ε · scale`), so comparisons allow for it.
    pub scale: Vec<f64>,
}

/// The value and the gradient with respect to every `w`, one forward pass each; `None` where
/// some value the program computes on its way is not finite (an overflow, a division by 0):
/// there reverse mode may meet `0 · ∞` (documented), so the point is not a fair comparison.
pub fn value_and_gradient(p: &Program, pt: &Point) -> Option<Expected> {
    let finite = std::cell::Cell::new(true);
    let largest = std::cell::Cell::new(0.0);
    let value = eval_checked(p, pt, None, &finite, &largest).v;
    if !finite.get() {
        return None;
    }
    let (mut gradient, mut scale) = (Vec::new(), Vec::new());
    for i in 0..p.n_wrt {
        largest.set(0.0);
        gradient.push(eval_checked(p, pt, Some(i), &finite, &largest).d);
        scale.push(largest.get());
    }
    Some(Expected {
        value,
        gradient,
        scale,
    })
}

/// The program's value at `pt`, with the derivative along `w[seed]` (or none).
pub fn eval(p: &Program, pt: &Point, seed: Option<usize>) -> Dual {
    eval_checked(
        p,
        pt,
        seed,
        &std::cell::Cell::new(true),
        &std::cell::Cell::new(0.0),
    )
}

/// [`eval`], clearing `finite` if any value computed on the way is not finite, and keeping in
/// `largest` the largest derivative met.
fn eval_checked(
    p: &Program,
    pt: &Point,
    seed: Option<usize>,
    finite: &std::cell::Cell<bool>,
    largest: &std::cell::Cell<f64>,
) -> Dual {
    let mut scope = Scope::new(p);
    let mut slots: Vec<Dual> =
        pt.w.iter()
            .enumerate()
            .map(|(i, &v)| Dual {
                v,
                d: if seed == Some(i) { 1.0 } else { 0.0 },
            })
            .collect();
    slots.extend(pt.x.iter().map(|&v| c(v)));
    let mut e = Eval {
        pt,
        slots: &mut slots,
        finite,
        largest,
    };
    for s in &p.stmts {
        e.stmt(s, &mut scope);
    }
    e.expr(&p.ret, &scope)
}

struct Eval<'a> {
    pt: &'a Point,
    slots: &'a mut Vec<Dual>,
    finite: &'a std::cell::Cell<bool>,
    largest: &'a std::cell::Cell<f64>,
}

impl Eval<'_> {
    fn stmt(&mut self, s: &Stmt, scope: &mut Scope) {
        match s {
            Stmt::Let { shadow, value } => {
                let v = self.expr(value, scope);
                scope.bind(*shadow);
                self.slots.push(v);
            }
            Stmt::Assign { target, op, value } => {
                if let Some(slot) = scope.assign_target(*target) {
                    let r = self.expr(value, scope);
                    let l = self.slots[slot];
                    let new = match op {
                        AssignOp::Set => r,
                        AssignOp::Add => arith(Arith::Add, l, r),
                        AssignOp::Sub => arith(Arith::Sub, l, r),
                        AssignOp::Mul => arith(Arith::Mul, l, r),
                        AssignOp::Div => arith(Arith::Div, l, r),
                    };
                    if !new.v.is_finite() {
                        self.finite.set(false);
                    }
                    self.slots[slot] = new;
                }
            }
            Stmt::If { cond, then, els } => {
                let taken = if self.cond(cond, scope) { then } else { els };
                for t in taken {
                    self.stmt(t, scope);
                }
            }
        }
    }

    fn cond(&self, c: &Cond, scope: &Scope) -> bool {
        match c {
            Cond::Cmp(op, a, b) => {
                let (a, b) = (self.expr(a, scope).v, self.expr(b, scope).v);
                match op {
                    CmpOp::Lt => a < b,
                    CmpOp::Le => a <= b,
                    CmpOp::Gt => a > b,
                    CmpOp::Ge => a >= b,
                }
            }
            Cond::And(a, b) => self.cond(a, scope) && self.cond(b, scope),
            Cond::Or(a, b) => self.cond(a, scope) || self.cond(b, scope),
            Cond::Not(a) => !self.cond(a, scope),
            Cond::Flag => self.pt.flag,
        }
    }

    fn expr(&self, e: &Expr, scope: &Scope) -> Dual {
        let r = self.expr_inner(e, scope);
        if !r.v.is_finite() {
            self.finite.set(false);
        }
        self.largest.set(self.largest.get().max(r.d.abs()));
        r
    }

    fn expr_inner(&self, e: &Expr, scope: &Scope) -> Dual {
        match e {
            Expr::Var(i) => self.slots[scope.resolve(*i)],
            Expr::Lit(v) => c(*v),
            Expr::Pi => c(PI),
            Expr::UserConst => c(USER_CONST),
            Expr::IntAsFloat => c(f64::from(self.pt.k)),
            Expr::Latest => self.slots[scope.latest()],
            Expr::Neg(a) => {
                let a = self.expr(a, scope);
                Dual { v: -a.v, d: -a.d }
            }
            Expr::Bin(op, a, b) => arith(*op, self.expr(a, scope), self.expr(b, scope)),
            Expr::F1(f, a) => f1(*f, self.expr(a, scope)),
            Expr::F2(f, a, b) => f2(*f, self.expr(a, scope), self.expr(b, scope)),
            Expr::MulAdd(a, b, cc) => {
                let (a, b, cc) = (
                    self.expr(a, scope),
                    self.expr(b, scope),
                    self.expr(cc, scope),
                );
                Dual {
                    v: a.v.mul_add(b.v, cc.v),
                    d: a.d * b.v + a.v * b.d + cc.d,
                }
            }
            Expr::Powi(a, n) => {
                let n = match n {
                    IntExpr::Lit(n) => *n,
                    IntExpr::KPlus(c) => self.pt.k + c,
                };
                let a = self.expr(a, scope);
                let d = if n == 0 {
                    0.0
                } else {
                    f64::from(n) * a.v.powi(n - 1) * a.d
                };
                Dual { v: a.v.powi(n), d }
            }
            Expr::Clamp(x, lo, w) => {
                let (x, lo, w) = (
                    self.expr(x, scope),
                    self.expr(lo, scope),
                    self.expr(w, scope),
                );
                let width = arith(Arith::Add, arith(Arith::Mul, w, w), c(0.125));
                let hi = arith(Arith::Add, lo, width);
                if lo.v.is_nan() || hi.v.is_nan() {
                    // std's clamp panics here (and so would the program): not a fair point.
                    self.finite.set(false);
                    return c(f64::NAN);
                }
                // clamp(x, lo, hi) = max(lo, min(x, hi)), with ties split as for min and max.
                let m = x.v.min(hi.v);
                let up = win(m, lo.v, false);
                let dx = up * win(x.v, hi.v, true);
                let dlo = win(lo.v, m, false);
                let dhi = up * win(hi.v, x.v, true);
                let part = |slope: f64, t: f64| if t == 0.0 { 0.0 } else { slope * t };
                Dual {
                    v: x.v.clamp(lo.v, hi.v),
                    d: part(dx, x.d) + part(dlo, lo.d) + part(dhi, hi.d),
                }
            }
            Expr::If(cnd, a, b) => {
                if self.cond(cnd, scope) {
                    self.expr(a, scope)
                } else {
                    self.expr(b, scope)
                }
            }
        }
    }
}

fn arith(op: Arith, a: Dual, b: Dual) -> Dual {
    match op {
        Arith::Add => Dual {
            v: a.v + b.v,
            d: a.d + b.d,
        },
        Arith::Sub => Dual {
            v: a.v - b.v,
            d: a.d - b.d,
        },
        Arith::Mul => Dual {
            v: a.v * b.v,
            d: a.d * b.v + a.v * b.d,
        },
        Arith::Div => Dual {
            v: a.v / b.v,
            d: (a.d * b.v - a.v * b.d) / (b.v * b.v),
        },
    }
}

/// `sign(x)` with 0 at 0: the documented derivative of `abs`.
fn sign0(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn f1(f: F1, a: Dual) -> Dual {
    let x = a.v;
    let (v, slope) = match f {
        F1::Exp => (x.exp(), x.exp()),
        F1::Exp2 => (x.exp2(), x.exp2() * LN_2),
        F1::ExpM1 => (x.exp_m1(), x.exp()),
        F1::Ln => (x.ln(), 1.0 / x),
        F1::Log2 => (x.log2(), 1.0 / (x * LN_2)),
        F1::Log10 => (x.log10(), 1.0 / (x * LN_10)),
        F1::Ln1p => (x.ln_1p(), 1.0 / (1.0 + x)),
        F1::Sqrt => (x.sqrt(), 1.0 / (2.0 * x.sqrt())),
        F1::Cbrt => (x.cbrt(), 1.0 / (3.0 * x.cbrt().powi(2))),
        F1::Recip => (x.recip(), -1.0 / (x * x)),
        F1::Sin => (x.sin(), x.cos()),
        F1::Cos => (x.cos(), -x.sin()),
        F1::Tan => (x.tan(), 1.0 / (x.cos() * x.cos())),
        F1::Asin => (x.asin(), 1.0 / (1.0 - x * x).sqrt()),
        F1::Acos => (x.acos(), -1.0 / (1.0 - x * x).sqrt()),
        F1::Atan => (x.atan(), 1.0 / (1.0 + x * x)),
        F1::Sinh => (x.sinh(), x.cosh()),
        F1::Cosh => (x.cosh(), x.sinh()),
        F1::Tanh => (x.tanh(), 1.0 / (x.cosh() * x.cosh())),
        F1::Asinh => (x.asinh(), 1.0 / (x * x + 1.0).sqrt()),
        F1::Acosh => (x.acosh(), 1.0 / (x * x - 1.0).sqrt()),
        F1::Atanh => (x.atanh(), 1.0 / (1.0 - x * x)),
        F1::Abs => (x.abs(), sign0(x)),
        F1::Signum => (x.signum(), 0.0),
        F1::Floor => (x.floor(), 0.0),
        F1::Ceil => (x.ceil(), 0.0),
        F1::Round => (x.round(), 0.0),
        F1::RoundTiesEven => (x.round_ties_even(), 0.0),
        F1::Trunc => (x.trunc(), 0.0),
        F1::Fract => (x.fract(), 1.0),
        F1::ToRadians => (x.to_radians(), PI / 180.0),
        F1::ToDegrees => (x.to_degrees(), 180.0 / PI),
        F1::Sigmoid => {
            let e = (-x).exp();
            (grad_runtime::sigmoid(x), e / ((1.0 + e) * (1.0 + e)))
        }
        F1::Relu => (grad_runtime::relu(x), if x > 0.0 { 1.0 } else { 0.0 }),
        F1::Softplus => (grad_runtime::softplus(x), 1.0 / (1.0 + (-x).exp())),
        F1::LogSigmoid => (grad_runtime::log_sigmoid(x), 1.0 / (1.0 + x.exp())),
    };
    // A zero tangent stays zero, whatever the slope (a constant argument has no derivative).
    Dual {
        v,
        d: if a.d == 0.0 { 0.0 } else { slope * a.d },
    }
}

/// The share `a` gets in `min` (`less`) or `max`: 1 if it wins, ½ on a tie, 1 against a NaN.
fn win(a: f64, b: f64, less: bool) -> f64 {
    let wins = if less { a < b } else { a > b };
    if wins || b.is_nan() {
        1.0
    } else if a == b {
        0.5
    } else {
        0.0
    }
}

fn f2(f: F2, a: Dual, b: Dual) -> Dual {
    let (x, y) = (a.v, b.v);
    let (v, dx, dy) = match f {
        F2::Atan2 => {
            let r = x * x + y * y;
            // atan2(x, y) = angle of (y, x): ∂/∂x = y / r, ∂/∂y = −x / r; 0 at the origin
            // (the documented convention at the singular point).
            if r == 0.0 {
                (x.atan2(y), 0.0, 0.0)
            } else {
                (x.atan2(y), y / r, -x / r)
            }
        }
        F2::Hypot => {
            let h = x.hypot(y);
            if h == 0.0 {
                (h, 0.0, 0.0)
            } else {
                (h, x / h, y / h)
            }
        }
        F2::Min => (x.min(y), win(x, y, true), win(y, x, true)),
        F2::Max => (x.max(y), win(x, y, false), win(y, x, false)),
        F2::Powf => {
            let v = x.powf(y);
            (v, y * x.powf(y - 1.0), v * x.ln())
        }
        F2::Log => (
            x.log(y),
            1.0 / (x * y.ln()),
            -x.ln() / (y * y.ln() * y.ln()),
        ),
        F2::Copysign => (x.copysign(y), sign0(x) * 1.0_f64.copysign(y), 0.0),
        F2::Midpoint => (x.midpoint(y), 0.5, 0.5),
        F2::RemEuclid => (x.rem_euclid(y), 1.0, -x.div_euclid(y)),
        F2::DivEuclid => (x.div_euclid(y), 0.0, 0.0),
        F2::Rem => (x % y, 1.0, -(x / y).trunc()),
        F2::LeakyRelu => {
            let v = grad_runtime::leaky_relu(x, y);
            if x > 0.0 {
                (v, 1.0, 0.0)
            } else {
                (v, y, x)
            }
        }
    };
    let part = |slope: f64, t: f64| if t == 0.0 { 0.0 } else { slope * t };
    Dual {
        v,
        d: part(dx, a.d) + part(dy, b.d),
    }
}
