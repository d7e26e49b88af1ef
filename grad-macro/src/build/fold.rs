//! Folding as code is built: literals computed, identities (`x + 0`, `x · 1`, `−(−x)`) applied, the float type kept where a literal alone would lose it.

use super::*;
use crate::emit::tokens::float_type_tokens;
use crate::ir::{placeholder, Float, Kind, Name, Op, Operand};
use crate::rules::RULES;
use proc_macro2::Span;
use quote::quote;

impl Builder {
    /// Algebraic simplification of derivative code; `None` when nothing applies.
    pub(super) fn simplified(&mut self, op: Op, a: &[Operand], span: Span) -> Option<Operand> {
        let f = self.float;
        let lits: Option<Vec<f64>> = a.iter().map(Operand::lit).collect();
        let fold = |v: f64| -> Option<Operand> {
            let v = f.round(v);
            v.is_finite().then_some(Operand::Lit(v))
        };
        match op {
            Op::Neg => {
                if let Some(x) = a[0].lit() {
                    return Some(Operand::Lit(-x));
                }
                if let Some((Op::Neg, inner)) = self.def(&a[0]) {
                    return Some(inner[0]);
                }
                // −(a − b) = b − a (up to the sign of a zero), for a difference of derivative code.
                if let Some(v) = a[0].as_var().filter(|v| self.is_derivative(*v)) {
                    if let Some((Op::Sub, d)) = self.defs.get(&v).cloned() {
                        return Some(self.sub(d[1], d[0]));
                    }
                }
            }
            Op::Add | Op::Sub | Op::Mul | Op::Div => {
                let (x, y) = (a[0], a[1]);
                if let Some(l) = &lits {
                    let v32 = arith32(op, l[0] as f32, l[1] as f32) as f64;
                    let v = match f {
                        Float::F32 => Some(v32),
                        Float::F64 => Some(arith64(op, l[0], l[1])),
                        // Folded only where either instance of the function agrees.
                        Float::Generic => {
                            let v64 = arith64(op, l[0], l[1]);
                            let exact = l.iter().all(|&x| f.exact(x));
                            (exact && v64 == v32 && f.exact(v64)).then_some(v64)
                        }
                    };
                    if let Some(o) = v.and_then(fold) {
                        return Some(o);
                    }
                }
                return self.identities(op, x, y, span);
            }
            Op::Rem | Op::Pulled(_) => {}
            Op::Select(_) => {
                if a[2] == a[3] {
                    return Some(a[2]);
                }
            }
            Op::Call(i) => {
                // x.powi(1) = x and x.powi(0) = 1 appear in the derivative of x.powi(2) and x.powi(1).
                if RULES[i].name == "powi" {
                    match a[1] {
                        Operand::Int(0) => return Some(self.lit(1.0)),
                        Operand::Int(1) => return Some(a[0]),
                        _ => {}
                    }
                }
            }
        }
        None
    }

    /// `o` as a value of the float type: a data operand (a loop's `&f64` item, say) that an
    /// identity would hand on as it is goes through `val`, so it can stand where a float must.
    pub(super) fn keep_float(&mut self, o: Operand) -> Operand {
        match o {
            Operand::Var(v) if self.info(v).kind == Kind::Opaque => {
                let ty = float_type_tokens(self.float);
                let ph = proc_macro2::Ident::new(&placeholder(0), Span::call_site());
                self.opaque(
                    quote!(__grad_krate::__private::val::<#ty, _>(#ph)),
                    vec![v],
                    Kind::Float,
                )
            }
            other => other,
        }
    }

    pub(super) fn identities(
        &mut self,
        op: Op,
        x: Operand,
        y: Operand,
        span: Span,
    ) -> Option<Operand> {
        let r = self.identities_raw(op, x, y, span)?;
        Some(self.keep_float(r))
    }

    pub(super) fn identities_raw(
        &mut self,
        op: Op,
        x: Operand,
        y: Operand,
        span: Span,
    ) -> Option<Operand> {
        let neg_of = |b: &Self, o: &Operand| match b.def(o) {
            Some((Op::Neg, inner)) => Some(inner[0]),
            _ => None,
        };
        match op {
            Op::Add => {
                if x.is_lit(0.0) {
                    return Some(y);
                }
                if y.is_lit(0.0) {
                    return Some(x);
                }
                if let Some(n) = neg_of(self, &y) {
                    return Some(self.sub(x, n));
                }
                if let Some(n) = neg_of(self, &x) {
                    return Some(self.sub(y, n));
                }
                if let Some(v) = y.lit().filter(|v| *v < 0.0) {
                    return Some(self.sub(x, Operand::Lit(-v)));
                }
                // x + x = 2·x exactly, and `2.0 * (0.5 * t)` then folds to `t`.
                if x == y && x.lit().is_none() {
                    let two = self.lit(2.0);
                    return Some(self.mul(two, x));
                }
                if let Some(c) = self.collect(x, y, false) {
                    return Some(c);
                }
            }
            Op::Sub => {
                if y.is_lit(0.0) {
                    return Some(x);
                }
                if x.is_lit(0.0) {
                    return Some(self.neg(y));
                }
                if let Some(n) = neg_of(self, &y) {
                    return Some(self.add(x, n));
                }
                if let Some(c) = self.collect(x, y, true) {
                    return Some(c);
                }
            }
            Op::Mul => {
                if x.is_lit(0.0) || y.is_lit(0.0) {
                    return Some(Operand::Lit(0.0));
                }
                if let Some(c) = self.cancel(x, y, 1) {
                    return Some(c);
                }
                if x.is_lit(1.0) {
                    return Some(y);
                }
                if y.is_lit(1.0) {
                    return Some(x);
                }
                if x.is_lit(-1.0) {
                    return Some(self.neg(y));
                }
                if y.is_lit(-1.0) {
                    return Some(self.neg(x));
                }
                if let Some(n) = neg_of(self, &x) {
                    let m = self.mul(n, y);
                    return Some(self.neg(m));
                }
                if let Some(n) = neg_of(self, &y) {
                    let m = self.mul(x, n);
                    return Some(self.neg(m));
                }
                // d · (c / v)  →  c · d / v, so `d_x · (1 / x)` reads `d_x / x`; only for a
                // quotient of derivative code (a primal quotient is already computed).
                for (d, r) in [(x, y), (y, x)] {
                    let temp = r.as_var().is_some_and(|v| self.info(v).name == Name::Anon);
                    if let (true, Some((Op::Div, args))) = (temp, self.def(&r)) {
                        if let (Some(_), None) = (args[0].lit(), d.lit()) {
                            let (c, v) = (args[0], args[1]);
                            let n = self.mul(c, d);
                            return Some(self.div(n, v));
                        }
                    }
                }
                // d · (if .. { a } else { b }) with literal arms  →  if .. { d · a } else { d · b }
                for (d, r) in [(x, y), (y, x)] {
                    if let Some((Op::Select(cmp), args)) = self.def(&r).cloned() {
                        let lit_arm = |o: &Operand| {
                            o.lit().is_some() || matches!(self.def(o), Some((Op::Select(_), _)))
                        };
                        if lit_arm(&args[2]) && lit_arm(&args[3]) && d.lit().is_none() {
                            let t = self.mul(d, args[2]);
                            let e = self.mul(d, args[3]);
                            return Some(self.select(args[0], cmp, args[1], t, e));
                        }
                    }
                }
                // a · (b · u)  →  (a·b) · u for literals of which one is a power of two, so
                // that no rounding differs: `100.0 * (2.0 * t)` is `200.0 * t`.
                for (c, r) in [(x, y), (y, x)] {
                    let (Some(a), Some((Op::Mul, args))) = (c.lit(), self.def(&r)) else {
                        continue;
                    };
                    let (b, u) = match (args[0].lit(), args[1].lit()) {
                        (Some(b), None) => (b, args[1]),
                        (None, Some(b)) => (b, args[0]),
                        _ => continue,
                    };
                    let ab = self.float.round(a * b);
                    // (All normal: a subnormal product would round.)
                    let normal = a.is_normal() && b.is_normal() && ab.is_normal();
                    let normal = normal && self.float.exact(a) && self.float.exact(ab);
                    if (power_of_two(a) || power_of_two(b)) && normal {
                        return Some(self.mul(Operand::Lit(ab), u));
                    }
                }
                // Literals go first: `2.0 * x` reads like the math.
                if y.lit().is_some() && x.lit().is_none() {
                    return Some(self.op(Op::Mul, vec![y, x], span));
                }
            }
            Op::Div => {
                if x.is_lit(0.0) {
                    return Some(Operand::Lit(0.0));
                }
                if y.is_lit(1.0) {
                    return Some(x);
                }
                if y.is_lit(-1.0) {
                    return Some(self.neg(x));
                }
                if let Some(n) = neg_of(self, &x) {
                    let q = self.div(n, y);
                    return Some(self.neg(q));
                }
                if let Some(c) = self.cancel(x, y, -1) {
                    return Some(c);
                }
                // d / (1 / u)  →  d · u: the derivative of `ln(p)` for `p = 1 / (1 + e)`
                // needs no division.
                if let Some((Op::Div, args)) = self.def(&y) {
                    if args[0].is_lit(1.0) {
                        let u = args[1];
                        return Some(self.mul(x, u));
                    }
                }
            }
            _ => {}
        }
        None
    }
}

pub(super) fn arith64(op: Op, a: f64, b: f64) -> f64 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        _ => a / b,
    }
}

pub(super) fn arith32(op: Op, a: f32, b: f32) -> f32 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        _ => a / b,
    }
}
