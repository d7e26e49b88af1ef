//! The oracle: forward-mode dual numbers over the generated program's own tree.
//!
//! It shares nothing with the macro: not its lowering, not its IR, not its rule table. Each
//! derivative here is the textbook formula, written out again (no reuse of results), with the
//! conventions the `backprop` documentation states at kinks and ties. One pass per gradient
//! component (each scalar `wrt` parameter, each element of the `wrt` array) gives that
//! component. Loops run as written (a `while` re-tests its condition, `break`, `continue` and
//! `return` leave as in Rust), so the derivative of a loop is that of its unrolled iterations.
//! A call runs the callee's body on the arguments' dual numbers (the callee inlined), so the
//! derivative of a composition is the chain rule applied by the forward pass itself, not by
//! anything like the macro's pullbacks. A dual of duals runs the same rules once more for
//! second derivatives ([`hessian`]).

use crate::ast::{
    Arith, AssignOp, Call, Callee, CalleeSig, CmpOp, Cond, Expr, FlagArg, IntArg, IntExpr, Jump,
    MatchOn, Multi, Program, ReduceKind, Scope, ShapeKind, Stmt, StoreOp, F1, F2, USER_CONST,
};
use crate::ast::{ArrayKind, Index, WA_LEN, WORK_AROUND_ASSIGN_CALL_RESULT, XS_LEN};
use std::f64::consts::{LN_10, LN_2, PI};

/// A value and its derivative along one direction. `Dual<Dual>` nests: a dual of duals
/// carries a second derivative (see [`hessian`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dual<T = f64> {
    pub v: T,
    pub d: T,
}

/// What the oracle computes with: `f64` (values), and a [`Dual`] of one of those. Every
/// operation on a `Dual<T>` is written once, over `T`: with `T = f64` it is the first-order
/// rule as the textbook writes it, with `T = Dual` the same rule differentiated once more.
pub trait Num:
    Copy
    + std::fmt::Debug
    + PartialEq
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
{
    /// A constant (all derivatives 0).
    fn cst(v: f64) -> Self;
    /// The value.
    fn re(self) -> f64;
    /// Whether the value and every derivative are 0.
    fn is_zero(self) -> bool;
    fn f1(self, f: F1) -> Self;
    fn f2(self, f: F2, b: Self) -> Self;
    fn powi(self, n: i32) -> Self;
    fn mul_add(self, b: Self, c: Self) -> Self;
    /// `clamp(lo, hi)`, with ties split as for `min` and `max`.
    fn clamp(self, lo: Self, hi: Self) -> Self;
    /// The largest magnitude of a derivative (0 for a plain value).
    fn deriv_mag(self) -> f64;
    /// The largest magnitude of the value and every derivative.
    fn mag(self) -> f64;
    /// For `self / b`: the largest magnitude of the quotient rule's two terms, `a'/b` and
    /// `a·b'/b²`, and of their derivatives (0 for plain values): what may cancel exactly in
    /// the oracle where derivative code computing `−(a/b)/b` rounds.
    fn quotient_terms(self, b: Self) -> f64;
}

impl Num for f64 {
    fn cst(v: f64) -> Self {
        v
    }
    fn re(self) -> f64 {
        self
    }
    fn is_zero(self) -> bool {
        self == 0.0
    }
    fn f1(self, f: F1) -> Self {
        let x = self;
        match f {
            F1::Exp => x.exp(),
            F1::Exp2 => x.exp2(),
            F1::ExpM1 => x.exp_m1(),
            F1::Ln => x.ln(),
            F1::Log2 => x.log2(),
            F1::Log10 => x.log10(),
            F1::Ln1p => x.ln_1p(),
            F1::Sqrt => x.sqrt(),
            F1::Cbrt => x.cbrt(),
            F1::Recip => x.recip(),
            F1::Sin => x.sin(),
            F1::Cos => x.cos(),
            F1::Tan => x.tan(),
            F1::Asin => x.asin(),
            F1::Acos => x.acos(),
            F1::Atan => x.atan(),
            F1::Sinh => x.sinh(),
            F1::Cosh => x.cosh(),
            F1::Tanh => x.tanh(),
            F1::Asinh => x.asinh(),
            F1::Acosh => x.acosh(),
            F1::Atanh => x.atanh(),
            F1::Abs => x.abs(),
            F1::Signum => x.signum(),
            F1::Floor => x.floor(),
            F1::Ceil => x.ceil(),
            F1::Round => x.round(),
            F1::RoundTiesEven => x.round_ties_even(),
            F1::Trunc => x.trunc(),
            F1::Fract => x.fract(),
            F1::ToRadians => x.to_radians(),
            F1::ToDegrees => x.to_degrees(),
            F1::Sigmoid => grad_runtime::sigmoid(x),
            F1::Relu => grad_runtime::relu(x),
            F1::Softplus => grad_runtime::softplus(x),
            F1::LogSigmoid => grad_runtime::log_sigmoid(x),
        }
    }
    fn f2(self, f: F2, y: Self) -> Self {
        let x = self;
        match f {
            F2::Atan2 => x.atan2(y),
            F2::Hypot => x.hypot(y),
            F2::Min => x.min(y),
            F2::Max => x.max(y),
            F2::Powf => x.powf(y),
            F2::Log => x.log(y),
            F2::Copysign => x.copysign(y),
            F2::Midpoint => x.midpoint(y),
            F2::RemEuclid => x.rem_euclid(y),
            F2::DivEuclid => x.div_euclid(y),
            F2::Rem => x % y,
            F2::LeakyRelu => grad_runtime::leaky_relu(x, y),
        }
    }
    fn powi(self, n: i32) -> Self {
        f64::powi(self, n)
    }
    fn mul_add(self, b: Self, c: Self) -> Self {
        f64::mul_add(self, b, c)
    }
    fn clamp(self, lo: Self, hi: Self) -> Self {
        f64::clamp(self, lo, hi)
    }
    fn deriv_mag(self) -> f64 {
        0.0
    }
    fn mag(self) -> f64 {
        self.abs()
    }
    fn quotient_terms(self, _: Self) -> f64 {
        0.0
    }
}

impl<T: Num> Num for Dual<T> {
    fn cst(v: f64) -> Self {
        Dual {
            v: T::cst(v),
            d: T::cst(0.0),
        }
    }
    fn re(self) -> f64 {
        self.v.re()
    }
    fn is_zero(self) -> bool {
        self.v.is_zero() && self.d.is_zero()
    }
    fn f1(self, f: F1) -> Self {
        f1(f, self)
    }
    fn f2(self, f: F2, b: Self) -> Self {
        f2(f, self, b)
    }
    fn powi(self, n: i32) -> Self {
        let d = if n == 0 {
            T::cst(0.0)
        } else {
            T::cst(f64::from(n)) * self.v.powi(n - 1) * self.d
        };
        Dual {
            v: self.v.powi(n),
            d,
        }
    }
    fn mul_add(self, b: Self, c: Self) -> Self {
        Dual {
            v: self.v.mul_add(b.v, c.v),
            d: self.d * b.v + self.v * b.d + c.d,
        }
    }
    fn clamp(self, lo: Self, hi: Self) -> Self {
        let x = self;
        // clamp(x, lo, hi) = max(lo, min(x, hi)), with ties split as for min and max.
        let m = x.v.re().min(hi.v.re());
        let up = win(m, lo.v.re(), false);
        let dx = up * win(x.v.re(), hi.v.re(), true);
        let dlo = win(lo.v.re(), m, false);
        let dhi = up * win(hi.v.re(), x.v.re(), true);
        Dual {
            v: x.v.clamp(lo.v, hi.v),
            d: part(T::cst(dx), x.d) + part(T::cst(dlo), lo.d) + part(T::cst(dhi), hi.d),
        }
    }
    fn deriv_mag(self) -> f64 {
        self.v.deriv_mag().max(self.d.mag())
    }
    fn mag(self) -> f64 {
        self.v.mag().max(self.d.mag())
    }
    fn quotient_terms(self, b: Self) -> f64 {
        let first = (self.d / b.v).mag();
        let second = (self.v * b.d / (b.v * b.v)).mag();
        first.max(second).max(self.v.quotient_terms(b.v))
    }
}

/// `slope · t`, but 0 for a zero tangent whatever the slope (a constant argument has no
/// derivative).
fn part<T: Num>(slope: T, t: T) -> T {
    if t.is_zero() {
        T::cst(0.0)
    } else {
        slope * t
    }
}

impl<T: Num> std::ops::Add for Dual<T> {
    type Output = Self;
    fn add(self, b: Self) -> Self {
        Dual {
            v: self.v + b.v,
            d: self.d + b.d,
        }
    }
}

impl<T: Num> std::ops::Sub for Dual<T> {
    type Output = Self;
    fn sub(self, b: Self) -> Self {
        Dual {
            v: self.v - b.v,
            d: self.d - b.d,
        }
    }
}

impl<T: Num> std::ops::Mul for Dual<T> {
    type Output = Self;
    fn mul(self, b: Self) -> Self {
        Dual {
            v: self.v * b.v,
            d: self.d * b.v + self.v * b.d,
        }
    }
}

impl<T: Num> std::ops::Div for Dual<T> {
    type Output = Self;
    fn div(self, b: Self) -> Self {
        Dual {
            v: self.v / b.v,
            d: (self.d * b.v - self.v * b.d) / (b.v * b.v),
        }
    }
}

impl<T: Num> std::ops::Neg for Dual<T> {
    type Output = Self;
    fn neg(self) -> Self {
        Dual {
            v: -self.v,
            d: -self.d,
        }
    }
}

fn c<N: Num>(v: f64) -> N {
    N::cst(v)
}

/// Arguments of a generated function.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub w: Vec<f64>,
    /// The `wrt` array `wa` (empty when the program has none).
    pub wa: Vec<f64>,
    pub x: Vec<f64>,
    /// The data array `xs` (empty when the program has none).
    pub xs: Vec<f64>,
    pub k: i32,
    pub flag: bool,
}

/// What the oracle says at a point.
#[derive(Clone, Debug, PartialEq)]
pub struct Expected {
    pub value: f64,
    /// The gradient: with respect to every scalar `w`, then every element of `wa`.
    pub gradient: Vec<f64>,
    /// For each component, the largest derivative of any intermediate value along that `w`:
    /// where terms that large cancel, both modes keep only their rounding error (about
    /// `ε · scale`), so comparisons allow for it.
    pub scale: Vec<f64>,
}

/// The value and the gradient (see [`Expected`]), one forward pass per component; `None`
/// where some value the program computes on its way is not finite (an overflow, a division by
/// 0): there reverse mode may meet `0 · ∞` (documented), so the point is not a fair comparison.
pub fn value_and_gradient(p: &Program, pt: &Point) -> Option<Expected> {
    let finite = std::cell::Cell::new(true);
    let largest = std::cell::Cell::new(0.0);
    let value = eval_checked(p, pt, None, &finite, &largest).v;
    if !finite.get() {
        return None;
    }
    let (mut gradient, mut scale) = (Vec::new(), Vec::new());
    for i in 0..p.n_grad() {
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

/// What the oracle says about a function returning several floats ([`Multi`]) at a point:
/// for each result, its value, its gradient (that row of the Jacobian) and the scales, from
/// [`value_and_gradient`] of the program ending with that result ([`Multi::output`]), so
/// nothing of the oracle is written again. `None` where a value computed on the way to any
/// result is not finite, as for [`value_and_gradient`].
pub fn jacobian(p: &Multi, pt: &Point) -> Option<Vec<Expected>> {
    (0..p.outputs.len())
        .map(|i| value_and_gradient(&p.output(i), pt))
        .collect()
}

/// The program's value at `pt`, with the derivative along gradient component `seed` (or
/// none).
pub fn eval(p: &Program, pt: &Point, seed: Option<usize>) -> Dual {
    eval_checked(
        p,
        pt,
        seed,
        &std::cell::Cell::new(true),
        &std::cell::Cell::new(0.0),
    )
}

/// What the oracle says about second derivatives at a point.
#[derive(Clone, Debug, PartialEq)]
pub struct Second {
    /// `hessian[i][j] = ∂²f/∂gᵢ∂gⱼ`, over the gradient components `g` (every scalar `wrt`
    /// parameter, then every element of `wa`: the order of [`Expected::gradient`], which is
    /// the macro's flattened `wrt` order).
    pub hessian: Vec<Vec<f64>>,
    /// For each entry, the largest first or second derivative of any intermediate value in
    /// its pass (the cancellation scale, as [`Expected::scale`]).
    pub scale: Vec<Vec<f64>>,
}

/// The Hessian over the gradient components (the scalar `wrt` parameters, then the elements
/// of the `wrt` array `wa`, as [`Expected::gradient`]), one pass of a dual of duals per entry:
/// component `i` seeds the inner derivative, component `j` the outer one, and the outer
/// derivative of the inner one is `∂²f/∂gᵢ∂gⱼ`. The run is the same generic one as the
/// gradient's (loops, jumps, arrays, local arrays: whatever the program holds, with `N =
/// Dual<Dual>`). Every rule is the first-order one run on dual numbers (nothing second-order
/// is written out), so it is only as right as those, and `ℝ`'s mixed partials come out equal
/// up to rounding. `None` where a value is not finite, as for [`value_and_gradient`].
pub fn hessian(p: &Program, pt: &Point) -> Option<Second> {
    let n = p.n_grad();
    let (mut hessian, mut scale) = (vec![vec![0.0; n]; n], vec![vec![0.0; n]; n]);
    for i in 0..n {
        for j in 0..n {
            let cells = Cells {
                finite: &std::cell::Cell::new(true),
                largest: &std::cell::Cell::new(0.0),
                calls: &std::cell::Cell::new(0),
            };
            let one = |on: bool| if on { 1.0 } else { 0.0 };
            let r: Dual<Dual> = run(
                p,
                pt,
                |k, v| Dual {
                    v: Dual { v, d: one(k == i) },
                    d: Dual {
                        v: one(k == j),
                        d: 0.0,
                    },
                },
                &cells,
            );
            if !cells.finite.get() {
                return None;
            }
            hessian[i][j] = r.d.d;
            scale[i][j] = cells.largest.get();
        }
    }
    Some(Second { hessian, scale })
}

/// How many calls (of the program's callees) running `p` at `pt` makes.
pub fn calls_run(p: &Program, pt: &Point) -> usize {
    let cells = Cells {
        finite: &std::cell::Cell::new(true),
        largest: &std::cell::Cell::new(0.0),
        calls: &std::cell::Cell::new(0),
    };
    run(p, pt, |_, v| Dual { v, d: 0.0 }, &cells);
    cells.calls.get()
}

/// What a run notes on its way, through calls too.
struct Cells<'a> {
    /// Cleared if any value computed is not finite.
    finite: &'a std::cell::Cell<bool>,
    /// The largest derivative met.
    largest: &'a std::cell::Cell<f64>,
    /// Calls made.
    calls: &'a std::cell::Cell<usize>,
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
    let calls = std::cell::Cell::new(0);
    run(
        p,
        pt,
        |i, v| Dual {
            v,
            d: if seed == Some(i) { 1.0 } else { 0.0 },
        },
        &Cells {
            finite,
            largest,
            calls: &calls,
        },
    )
}

/// Runs `p` at `pt`, gradient component `i` of value `v` entering as `seeded(i, v)`.
fn run<N: Num>(p: &Program, pt: &Point, seeded: impl Fn(usize, f64) -> N, cells: &Cells<'_>) -> N {
    let mut slots: Vec<N> =
        pt.w.iter()
            .enumerate()
            .map(|(i, &v)| seeded(i, v))
            .collect();
    slots.extend(pt.x.iter().map(|&v| N::cst(v)));
    let arrays = |scope: &Scope| {
        let mut arrays = Vec::new();
        for a in &scope.arrays {
            arrays.push(match a.kind {
                ArrayKind::Wrt => pt
                    .wa
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| seeded(p.n_wrt + j, v))
                    .collect(),
                _ => pt.xs.iter().map(|&v| c(v)).collect(),
            });
        }
        arrays
    };
    body(p, slots, arrays, (pt.k, pt.flag), cells)
}

/// Runs the body of `p` as [`body`] does, but ends with `outputs` (an array-valued helper's
/// results) instead of its `ret`.
fn body_outputs<N: Num>(
    p: &Program,
    outputs: &[Expr],
    slots: Vec<N>,
    arrays: impl FnOnce(&Scope) -> Vec<Vec<N>>,
    (k, flag): (i32, bool),
    cells: &Cells<'_>,
) -> Vec<N> {
    let mut scope = Scope::new(p);
    let mut e = Eval {
        k,
        flag,
        arrays: arrays(&scope),
        slots,
        ints: Vec::new(),
        finite: cells.finite,
        largest: cells.largest,
        calls: cells.calls,
        callees: &p.callees,
        this: p,
    };
    let top = scope.mark();
    for s in &p.stmts {
        if let Flow::Return(_) = e.stmt(s, &mut scope) {
            // The generator writes no `return` in an array-valued helper (it would need an
            // array).
            unreachable!("an array-valued helper returned early");
        }
        scope.settle(&top, s);
    }
    outputs.iter().map(|o| e.expr(o, &scope)).collect()
}

/// Runs the body of `p` with its float parameters `slots`, its arrays (from its scope) and
/// its `k` and `flag`.
fn body<N: Num>(
    p: &Program,
    slots: Vec<N>,
    arrays: impl FnOnce(&Scope) -> Vec<Vec<N>>,
    (k, flag): (i32, bool),
    cells: &Cells<'_>,
) -> N {
    let mut scope = Scope::new(p);
    let mut e = Eval {
        k,
        flag,
        arrays: arrays(&scope),
        slots,
        ints: Vec::new(),
        finite: cells.finite,
        largest: cells.largest,
        calls: cells.calls,
        callees: &p.callees,
        this: p,
    };
    let top = scope.mark();
    for s in &p.stmts {
        if let Flow::Return(v) = e.stmt(s, &mut scope) {
            return v;
        }
        scope.settle(&top, s);
    }
    e.expr(&p.ret, &scope)
}

/// How a statement ends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flow<N> {
    Normal,
    Break,
    Continue,
    Return(N),
}

/// The state of a run: values parallel to the scope's floats, arrays and loop variables.
struct Eval<'a, N> {
    /// The integer and `bool` data parameters.
    k: i32,
    flag: bool,
    slots: Vec<N>,
    arrays: Vec<Vec<N>>,
    ints: Vec<i64>,
    finite: &'a std::cell::Cell<bool>,
    largest: &'a std::cell::Cell<f64>,
    calls: &'a std::cell::Cell<usize>,
    callees: &'a [Callee],
    /// The function running, for its recursive calls.
    this: &'a Program,
}

impl<N: Num> Eval<'_, N> {
    /// Drops the values of what went out of scope.
    fn sync(&mut self, scope: &Scope) {
        self.slots.truncate(scope.names.len());
        self.arrays.truncate(scope.arrays.len());
        self.ints.truncate(scope.loops.len());
    }

    fn block(&mut self, stmts: &[Stmt], scope: &mut Scope) -> Flow<N> {
        let m = scope.mark();
        let mut flow = Flow::Normal;
        for s in stmts {
            flow = self.stmt(s, scope);
            if flow != Flow::Normal {
                break;
            }
            scope.settle(&m, s);
        }
        scope.leave(m);
        self.sync(scope);
        flow
    }

    fn index(&self, i: Index) -> usize {
        match i {
            Index::Lit(c) => c,
            Index::Var { var, modulo, map } => {
                let v = usize::try_from(self.ints[var]).expect("loop variables are not negative");
                map.apply(modulo.map_or(v, |m| v % m))
            }
        }
    }

    fn int(&self, scope: &Scope, i: u8) -> i64 {
        scope
            .loop_var(i)
            .map_or(i64::from(self.k), |v| self.ints[v])
    }

    fn stmt(&mut self, s: &Stmt, scope: &mut Scope) -> Flow<N> {
        match s {
            Stmt::Let { shadow, value } => {
                let v = self.expr(value, scope);
                scope.bind(*shadow);
                self.slots.push(v);
            }
            Stmt::Assign { target, op, value } => {
                if let Some(slot) = scope.target(*target) {
                    let r = self.expr(value, scope);
                    let l = self.slots[slot];
                    let new = match op {
                        AssignOp::Set => r,
                        AssignOp::Add => arith(Arith::Add, l, r),
                        AssignOp::Sub => arith(Arith::Sub, l, r),
                        AssignOp::Mul => arith(Arith::Mul, l, r),
                        AssignOp::Div => arith(Arith::Div, l, r),
                    };
                    self.note(new);
                    self.slots[slot] = new;
                }
            }
            Stmt::If { cond, then, els } => {
                let taken = if self.cond(cond, scope) { then } else { els };
                scope.branches += 1;
                let flow = self.block(taken, scope);
                scope.branches -= 1;
                return flow;
            }
            Stmt::Loop { header, body } => {
                let m = scope.mark();
                let shape = scope.enter_loop(header);
                let flow = self.run_loop(&shape.kind, body, scope);
                scope.leave(m);
                self.sync(scope);
                if let Flow::Return(_) = flow {
                    return flow;
                }
            }
            Stmt::Jump(j) => match j {
                Jump::Break | Jump::Continue if scope.depth == 0 => {}
                Jump::Break => return Flow::Break,
                Jump::Continue => return Flow::Continue,
                Jump::Return(e) => return Flow::Return(self.expr(e, scope)),
            },
            Stmt::ArrayDecl { len } => {
                if scope.can_declare_array() {
                    scope.declare_array((*len).max(1) as usize);
                    self.arrays.push(vec![c(0.0); (*len).max(1) as usize]);
                }
            }
            Stmt::ArrayCopy { src, len } => {
                let (from, n) = scope.copy_source(*src, *len);
                let values = match from {
                    Some(a) => self.arrays[a].clone(),
                    None => vec![c(0.0); n],
                };
                scope.declare_copy(from, n);
                self.arrays.push(values);
            }
            Stmt::ArrayAssign { dst, src } => {
                let plan = scope
                    .state_array(*dst)
                    .and_then(|d| Some((d, scope.assign_plan(d, *src)?)));
                if let Some((d, source)) = plan {
                    self.arrays[d] = match source {
                        Some(a) => self.arrays[a].clone(),
                        None => vec![c(0.0); scope.arrays[d].len],
                    };
                }
            }
            Stmt::ArrayCall { call, assign, .. } => {
                if let Some(f) = scope.array_callee(call.callee) {
                    let callees = self.callees;
                    let values = self.call_array(&callees[f], call, scope);
                    let m = values.len();
                    for v in &values {
                        self.note(*v);
                    }
                    let target = scope.call_target(*assign, m);
                    match target {
                        Some(d) if !WORK_AROUND_ASSIGN_CALL_RESULT => self.arrays[d] = values,
                        _ => {
                            // `let mut r = h(..);`, then (the work-around) `z = r;`.
                            let (slot, _) = scope.declare_state_array(m);
                            scope.arrays[slot].from_call = true;
                            self.arrays.push(values.clone());
                            if let Some(d) = target {
                                self.arrays[d] = values;
                            }
                        }
                    }
                }
            }
            Stmt::Store { arr, ix, op, value } => {
                if let Some(a) = scope.writable(*arr) {
                    let r = self.expr(value, scope);
                    let i = self.index(scope.index(*ix, scope.arrays[a].len));
                    let l = self.arrays[a][i];
                    let new = match op {
                        StoreOp::Set => r,
                        StoreOp::Add => arith(Arith::Add, l, r),
                        StoreOp::Sub => arith(Arith::Sub, l, r),
                    };
                    self.note(new);
                    self.arrays[a][i] = new;
                }
            }
        }
        Flow::Normal
    }

    /// Runs a loop whose variables `scope` has bound (the last loop variable and the last one
    /// or two floats, as `kind` says).
    fn run_loop(&mut self, kind: &ShapeKind, body: &[Stmt], scope: &mut Scope) -> Flow<N> {
        let (n_ints, n_slots) = (scope.loops.len(), scope.names.len());
        // One iteration with the loop's variables set: the loop variable (if any), then the
        // floats.
        let iterate = |e: &mut Self, scope: &mut Scope, int: Option<i64>, floats: &[N]| {
            e.ints
                .truncate(n_ints.saturating_sub(usize::from(int.is_some())));
            e.ints.extend(int);
            e.slots.truncate(n_slots - floats.len());
            e.slots.extend_from_slice(floats);
            e.block(body, scope)
        };
        match kind {
            ShapeKind::Ints(vals) => {
                for &v in vals {
                    match iterate(self, scope, Some(v), &[]) {
                        Flow::Break => break,
                        r @ Flow::Return(_) => return r,
                        _ => {}
                    }
                }
            }
            ShapeKind::KRange => {
                for v in 0..i64::from(self.k.unsigned_abs()) {
                    match iterate(self, scope, Some(v), &[]) {
                        Flow::Break => break,
                        r @ Flow::Return(_) => return r,
                        _ => {}
                    }
                }
            }
            ShapeKind::Arrays { a, b, rev, index } => {
                let n = b.map_or(self.arrays[*a].len(), |b| {
                    self.arrays[*a].len().min(self.arrays[b].len())
                });
                let mut order: Vec<usize> = (0..n).collect();
                if *rev {
                    order.reverse();
                }
                // The elements as the loop began: a loop by value walks a copy (its body may
                // write the array), one by reference borrows it (its body cannot).
                let (first, second) = (self.arrays[*a].clone(), b.map(|b| self.arrays[b].clone()));
                for (pos, j) in order.into_iter().enumerate() {
                    let mut floats = vec![first[j]];
                    if let Some(second) = &second {
                        floats.push(second[j]);
                    }
                    let int = index.then_some(pos as i64);
                    match iterate(self, scope, int, &floats) {
                        Flow::Break => break,
                        r @ Flow::Return(_) => return r,
                        _ => {}
                    }
                }
            }
            ShapeKind::While { n, cond } => {
                self.ints.truncate(n_ints - 1);
                self.ints.push(0);
                loop {
                    let t = self.ints[n_ints - 1];
                    if !(t < *n && cond.as_ref().is_none_or(|c| self.cond(c, scope))) {
                        break;
                    }
                    match iterate(self, scope, Some(t + 1), &[]) {
                        Flow::Break => break,
                        r @ Flow::Return(_) => return r,
                        _ => {}
                    }
                }
            }
        }
        Flow::Normal
    }

    /// The value of `f` called with `call`'s arguments and `k`.
    fn call(&mut self, f: &Program, call: &Call, k: i32, scope: &Scope) -> N {
        let (args, arrays, flag) = self.call_args(f, 0, call, scope);
        let cells = Cells {
            finite: self.finite,
            largest: self.largest,
            calls: self.calls,
        };
        body(f, args, |_| arrays, (k, flag), &cells)
    }

    /// The results of `f`, returning the array `outputs`, called with `call`'s arguments.
    fn call_array(&mut self, f: &Callee, call: &Call, scope: &Scope) -> Vec<N> {
        let (args, arrays, flag) = self.call_args(&f.body, f.outputs.len(), call, scope);
        let k = match call.k {
            IntArg::K => self.k,
            IntArg::Lit(n) => i32::from(n),
        };
        let cells = Cells {
            finite: self.finite,
            largest: self.largest,
            calls: self.calls,
        };
        body_outputs(&f.body, &f.outputs, args, |_| arrays, (k, flag), &cells)
    }

    /// A call's float arguments, arrays (copies of the caller's, in the order of the callee's
    /// scope: its `wrt` array, then its data array) and `flag`; counts the call.
    fn call_args(
        &mut self,
        f: &Program,
        outputs: usize,
        call: &Call,
        scope: &Scope,
    ) -> (Vec<N>, Vec<Vec<N>>, bool) {
        let sig = CalleeSig {
            path: String::new(),
            n_wrt: f.n_wrt,
            n_data: f.n_data,
            wrt_array: f.wrt_array,
            data_array: f.data_array,
            by_ref: false,
            outputs,
        };
        let args: Vec<N> = Scope::call_args(&sig, call)
            .into_iter()
            .map(|a| a.map_or(c(0.0), |a| self.expr(a, scope)))
            .collect();
        let arrays = scope
            .call_arrays(&sig, call)
            .into_iter()
            .zip(
                [(f.wrt_array, WA_LEN), (f.data_array, XS_LEN)]
                    .into_iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, n)| n),
            )
            .map(|(a, n)| a.map_or_else(|| vec![c(0.0); n], |a| self.arrays[a].clone()))
            .collect();
        let flag = match call.flag {
            FlagArg::Flag => self.flag,
            FlagArg::NotFlag => !self.flag,
            FlagArg::Lit(b) => b,
        };
        self.calls.set(self.calls.get() + 1);
        (args, arrays, flag)
    }

    fn note(&self, v: N) {
        if !v.re().is_finite() {
            self.finite.set(false);
        }
    }

    fn cond(&mut self, c: &Cond, scope: &Scope) -> bool {
        match c {
            Cond::Cmp(op, a, b) => {
                let inner = scope.branch();
                let (a, b) = (self.expr(a, &inner).re(), self.expr(b, &inner).re());
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
            Cond::Flag => self.flag,
            Cond::Int(atom, op, lit) => {
                let (var, op, lit) = scope.int_test(*atom, *op, *lit);
                let a = var.map_or(i64::from(self.k), |v| self.ints[v]);
                op.holds(a, i64::from(lit))
            }
        }
    }

    fn expr(&mut self, e: &Expr, scope: &Scope) -> N {
        let r = self.expr_inner(e, scope);
        if !r.re().is_finite() {
            self.finite.set(false);
        }
        self.largest.set(self.largest.get().max(r.deriv_mag()));
        r
    }

    fn expr_inner(&mut self, e: &Expr, scope: &Scope) -> N {
        match e {
            Expr::Var(i) => self.slots[scope.resolve(*i)],
            Expr::Lit(v) => c(*v),
            Expr::Pi => c(PI),
            Expr::UserConst => c(USER_CONST),
            Expr::IntAsFloat => c(f64::from(self.k)),
            Expr::Latest => self.slots[scope.latest()],
            Expr::Neg(a) => {
                let a = self.expr(a, scope);
                -a
            }
            Expr::Bin(op, a, b) => {
                let a = self.expr(a, scope);
                let b = self.expr(b, scope);
                // The quotient rule's two terms, `a'/b` and `a·b'/b²`, may cancel exactly here
                // (`(w1·w0)/w1`) where the derivative code, computing `−(a/b)/b`, rounds: they
                // count for the cancellation scale.
                if *op == Arith::Div {
                    let terms = a.quotient_terms(b);
                    if terms.is_finite() {
                        self.largest.set(self.largest.get().max(terms));
                    }
                }
                arith(*op, a, b)
            }
            Expr::F1(f, a) => self.expr(a, scope).f1(*f),
            Expr::F2(f, a, b) => {
                let a = self.expr(a, scope);
                a.f2(*f, self.expr(b, scope))
            }
            Expr::MulAdd(a, b, cc) => {
                let (a, b, cc) = (
                    self.expr(a, scope),
                    self.expr(b, scope),
                    self.expr(cc, scope),
                );
                a.mul_add(b, cc)
            }
            Expr::Powi(a, n) => {
                let n = match n {
                    IntExpr::Lit(n) => *n,
                    IntExpr::KPlus(c) => self.k + c,
                };
                self.expr(a, scope).powi(n)
            }
            Expr::Clamp(x, lo, w) => {
                let (x, lo, w) = (
                    self.expr(x, scope),
                    self.expr(lo, scope),
                    self.expr(w, scope),
                );
                let width = arith(Arith::Add, arith(Arith::Mul, w, w), c(0.125));
                let hi = arith(Arith::Add, lo, width);
                if lo.re().is_nan() || hi.re().is_nan() {
                    // std's clamp panics here (and so would the program): not a fair point.
                    self.finite.set(false);
                    return c(f64::NAN);
                }
                x.clamp(lo, hi)
            }
            Expr::If(cnd, a, b) => {
                if self.cond(cnd, scope) {
                    self.expr(a, &scope.branch())
                } else {
                    self.expr(b, &scope.branch())
                }
            }
            Expr::LoopIdx(i) => c(self.int(scope, *i) as f64),
            Expr::Elem(a, ix) => match scope.readable(*a) {
                Some(a) => {
                    let i = self.index(scope.index(*ix, scope.arrays[a].len));
                    self.arrays[a][i]
                }
                None => self.slots[scope.resolve(*a)],
            },
            Expr::Match { on, arms, default } => {
                let v = match on {
                    MatchOn::K => i64::from(self.k),
                    MatchOn::Loop(i) => self.int(scope, *i),
                    MatchOn::Flag => i64::from(self.flag),
                };
                let arm = scope
                    .match_arms(*on, arms)
                    .into_iter()
                    .find(|(pats, _)| pats.contains(&v))
                    .map_or(&**default, |(_, e)| e);
                self.expr(arm, &scope.branch())
            }
            Expr::Reduce { kind, src, body } => match scope.reduce_shape(*src) {
                Some(r) => {
                    let n = r.b.map_or(self.arrays[r.a].len(), |b| {
                        self.arrays[r.a].len().min(self.arrays[b].len())
                    });
                    // `Sum for f64` starts from -0.0 (so that a sum of -0.0 is -0.0).
                    let mut acc = match kind {
                        ReduceKind::Sum => c(-0.0),
                        ReduceKind::Product => c(1.0),
                    };
                    let base = self.slots.len();
                    for j in 0..n {
                        self.slots.push(self.arrays[r.a][j]);
                        if let Some(b) = r.b {
                            self.slots.push(self.arrays[b][j]);
                        }
                        let t = self.expr(body, &r.scope);
                        self.slots.truncate(base);
                        acc = match kind {
                            ReduceKind::Sum => arith(Arith::Add, acc, t),
                            ReduceKind::Product => arith(Arith::Mul, acc, t),
                        };
                        self.note(acc);
                    }
                    acc
                }
                None => self.slots[scope.resolve(0)],
            },
            Expr::DataVar(i) => scope
                .data_var(*i)
                .map_or_else(|| c(f64::from(self.k)), |s| self.slots[s]),
            // The callee inlined: its body runs on the arguments' dual numbers, so the
            // derivative of the whole composition comes out of the same forward pass, with no
            // notion of a pullback.
            Expr::Call(call) => match scope.callee(call.callee) {
                Some(f) => {
                    let k = match call.k {
                        IntArg::K => self.k,
                        IntArg::Lit(n) => i32::from(n),
                    };
                    self.call(&self.callees[f].body, call, k, scope)
                }
                None => call.args.first().map_or(c(0.0), |a| self.expr(a, scope)),
            },
            Expr::Recur(call) => self.call(self.this, call, self.k - 1, scope),
        }
    }
}

fn arith<N: Num>(op: Arith, a: N, b: N) -> N {
    match op {
        Arith::Add => a + b,
        Arith::Sub => a - b,
        Arith::Mul => a * b,
        Arith::Div => a / b,
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

fn f1<T: Num>(f: F1, a: Dual<T>) -> Dual<T> {
    let x = a.v;
    let k = T::cst;
    let (v, slope) = match f {
        F1::Exp => (x.f1(F1::Exp), x.f1(F1::Exp)),
        F1::Exp2 => (x.f1(F1::Exp2), x.f1(F1::Exp2) * k(LN_2)),
        F1::ExpM1 => (x.f1(F1::ExpM1), x.f1(F1::Exp)),
        F1::Ln => (x.f1(F1::Ln), k(1.0) / x),
        F1::Log2 => (x.f1(F1::Log2), k(1.0) / (x * k(LN_2))),
        F1::Log10 => (x.f1(F1::Log10), k(1.0) / (x * k(LN_10))),
        F1::Ln1p => (x.f1(F1::Ln1p), k(1.0) / (k(1.0) + x)),
        F1::Sqrt => (x.f1(F1::Sqrt), k(1.0) / (k(2.0) * x.f1(F1::Sqrt))),
        F1::Cbrt => (x.f1(F1::Cbrt), k(1.0) / (k(3.0) * x.f1(F1::Cbrt).powi(2))),
        F1::Recip => (x.f1(F1::Recip), k(-1.0) / (x * x)),
        F1::Sin => (x.f1(F1::Sin), x.f1(F1::Cos)),
        F1::Cos => (x.f1(F1::Cos), -x.f1(F1::Sin)),
        F1::Tan => (x.f1(F1::Tan), k(1.0) / (x.f1(F1::Cos) * x.f1(F1::Cos))),
        F1::Asin => (x.f1(F1::Asin), k(1.0) / (k(1.0) - x * x).f1(F1::Sqrt)),
        F1::Acos => (x.f1(F1::Acos), k(-1.0) / (k(1.0) - x * x).f1(F1::Sqrt)),
        F1::Atan => (x.f1(F1::Atan), k(1.0) / (k(1.0) + x * x)),
        F1::Sinh => (x.f1(F1::Sinh), x.f1(F1::Cosh)),
        F1::Cosh => (x.f1(F1::Cosh), x.f1(F1::Sinh)),
        F1::Tanh => (x.f1(F1::Tanh), k(1.0) / (x.f1(F1::Cosh) * x.f1(F1::Cosh))),
        F1::Asinh => (x.f1(F1::Asinh), k(1.0) / (x * x + k(1.0)).f1(F1::Sqrt)),
        F1::Acosh => (x.f1(F1::Acosh), k(1.0) / (x * x - k(1.0)).f1(F1::Sqrt)),
        F1::Atanh => (x.f1(F1::Atanh), k(1.0) / (k(1.0) - x * x)),
        F1::Abs => (x.f1(F1::Abs), k(sign0(x.re()))),
        F1::Signum | F1::Floor | F1::Ceil | F1::Round | F1::RoundTiesEven | F1::Trunc => {
            (x.f1(f), k(0.0))
        }
        F1::Fract => (x.f1(F1::Fract), k(1.0)),
        F1::ToRadians => (x.f1(F1::ToRadians), k(PI / 180.0)),
        F1::ToDegrees => (x.f1(F1::ToDegrees), k(180.0 / PI)),
        F1::Sigmoid => {
            let e = (-x).f1(F1::Exp);
            (x.f1(F1::Sigmoid), e / ((k(1.0) + e) * (k(1.0) + e)))
        }
        F1::Relu => (x.f1(F1::Relu), k(if x.re() > 0.0 { 1.0 } else { 0.0 })),
        F1::Softplus => (x.f1(F1::Softplus), k(1.0) / (k(1.0) + (-x).f1(F1::Exp))),
        F1::LogSigmoid => (x.f1(F1::LogSigmoid), k(1.0) / (k(1.0) + x.f1(F1::Exp))),
    };
    // A zero tangent stays zero, whatever the slope (a constant argument has no derivative).
    Dual {
        v,
        d: part(slope, a.d),
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

fn f2<T: Num>(f: F2, a: Dual<T>, b: Dual<T>) -> Dual<T> {
    let (x, y) = (a.v, b.v);
    let k = T::cst;
    let v = x.f2(f, y);
    let (dx, dy) = match f {
        F2::Atan2 => {
            let r = x * x + y * y;
            // atan2(x, y) = angle of (y, x): ∂/∂x = y / r, ∂/∂y = −x / r; 0 at the origin
            // (the documented convention at the singular point).
            if r.re() == 0.0 {
                (k(0.0), k(0.0))
            } else {
                (y / r, -x / r)
            }
        }
        F2::Hypot => {
            if v.re() == 0.0 {
                (k(0.0), k(0.0))
            } else {
                (x / v, y / v)
            }
        }
        F2::Min => (k(win(x.re(), y.re(), true)), k(win(y.re(), x.re(), true))),
        F2::Max => (k(win(x.re(), y.re(), false)), k(win(y.re(), x.re(), false))),
        F2::Powf => (y * x.f2(F2::Powf, y - k(1.0)), v * x.f1(F1::Ln)),
        F2::Log => (
            k(1.0) / (x * y.f1(F1::Ln)),
            -x.f1(F1::Ln) / (y * y.f1(F1::Ln) * y.f1(F1::Ln)),
        ),
        F2::Copysign => (k(sign0(x.re()) * 1.0_f64.copysign(y.re())), k(0.0)),
        F2::Midpoint => (k(0.5), k(0.5)),
        F2::RemEuclid => (k(1.0), -x.f2(F2::DivEuclid, y)),
        F2::DivEuclid => (k(0.0), k(0.0)),
        F2::Rem => (k(1.0), -(x / y).f1(F1::Trunc)),
        F2::LeakyRelu => {
            if x.re() > 0.0 {
                (k(1.0), k(0.0))
            } else {
                (y, x)
            }
        }
    };
    Dual {
        v,
        d: part(dx, a.d) + part(dy, b.d),
    }
}
