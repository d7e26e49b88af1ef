//! Identities exact in exact arithmetic, applied to products, quotients and sums as they are built: factors that cancel, like terms collected, the logistic `1 − p` counted as `p·e`.

use super::*;
use crate::ir::{Name, Op, Operand, Var};
use crate::rules::RULES;
use proc_macro2::Span;

impl Builder {
    /// Whether `v` was built by derivative code (a temporary or an adjoint), so that its
    /// definition may be rewritten; primal values are left as computed.
    pub(super) fn is_derivative(&self, v: Var) -> bool {
        matches!(
            self.info(v).name,
            Name::Anon | Name::Adjoint(_) | Name::Tangent(_)
        )
    }

    /// The factors of `o` raised to `exp`, through the products, quotients and negations of
    /// derivative code.
    pub(super) fn gather(&self, o: Operand, exp: i32, out: &mut Product) {
        if out.factors.len() < MAX_FACTORS && out.visited < 2 * MAX_FACTORS {
            out.visited += 1;
            if let Some(v) = o.as_var().filter(|v| self.is_derivative(*v)) {
                match self.defs.get(&v) {
                    Some((Op::Mul, a)) => {
                        let (a0, a1) = (a[0], a[1]);
                        self.gather(a0, exp, out);
                        self.gather(a1, exp, out);
                        return;
                    }
                    Some((Op::Div, a)) => {
                        let (a0, a1) = (a[0], a[1]);
                        self.gather(a0, exp, out);
                        self.gather(a1, -exp, out);
                        return;
                    }
                    Some((Op::Neg, a)) => {
                        out.negative = !out.negative;
                        let a0 = a[0];
                        self.gather(a0, exp, out);
                        return;
                    }
                    _ => {}
                }
            }
        }
        // `1 − p` of a logistic `p = 1 / (1 + e)` is `p · e`: as factors, so that they cancel
        // against the chain rule's `p` and `e` (`rebuild` puts back `1 − p` for the pair when
        // they do not: `p · e` is NaN where `e` overflows).
        if let Some((p, e)) = self.logistic_parts(o) {
            out.factors.push((p, exp));
            out.factors.push((e, exp));
            return;
        }
        out.factors.push((o, exp));
    }

    /// `s` when `o` is the reciprocal `1 / s` or `s.recip()` (computed by primal or derivative
    /// code).
    pub(super) fn reciprocal_of(&self, o: &Operand) -> Option<Operand> {
        match self.def(o) {
            Some((Op::Div, a)) if a[0].is_lit(1.0) => Some(a[1]),
            Some((Op::Call(i), a)) if RULES[*i].name == "recip" => Some(a[0]),
            _ => None,
        }
    }

    /// Whether `a` and `b` are the same value: the same variable, or sums of the same terms
    /// in another order (`(e0 + e1) + e2` and `(e2 + e1) + e0`).
    pub(super) fn same_sum(&self, a: Operand, b: Operand) -> bool {
        if a == b {
            return true;
        }
        let is_sum = |o: &Operand| matches!(self.def(o), Some((Op::Add | Op::Sub, _)));
        if !is_sum(&a) || !is_sum(&b) {
            return false;
        }
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        self.terms(a, false, &mut ta);
        self.terms(b, false, &mut tb);
        if ta.len() != tb.len() || ta.len() >= MAX_TERMS {
            return false;
        }
        // The same terms, each matched once.
        for t in ta {
            match tb.iter().position(|u| *u == t) {
                Some(k) => {
                    tb.swap_remove(k);
                }
                None => return false,
            }
        }
        true
    }

    /// Removes factor pairs that cancel: `a` and `a⁻¹`, and a reciprocal `p = 1 / s` with `s`
    /// at the same exponent. Returns how many pairs went.
    pub(super) fn cancel_pairs(&self, p: &mut Product) -> usize {
        let mut n = 0;
        let mut i = 0;
        while i < p.factors.len() {
            let (a, ea) = p.factors[i];
            let partner = (i + 1..p.factors.len()).find(|&j| {
                let (b, eb) = p.factors[j];
                (ea == -eb && self.same_sum(a, b))
                    || (ea == eb
                        && (self.reciprocal_of(&a).is_some_and(|s| self.same_sum(s, b))
                            || self.reciprocal_of(&b).is_some_and(|s| self.same_sum(s, a))))
            });
            match partner {
                Some(j) if a.lit().is_none() => {
                    p.factors.remove(j);
                    p.factors.remove(i);
                    n += 1;
                }
                _ => i += 1,
            }
        }
        n
    }

    /// The product as code: numerator factors in order, divided by the denominator's. A
    /// logistic's `p` and `e` left at the same exponent are `1 − p` again (`1 + 1/e` for its
    /// reciprocal).
    pub(super) fn rebuild(&mut self, mut p: Product) -> Operand {
        let b_of = |p: &Product, j: usize| p.factors[j].0;
        let mut k = 0;
        while k < p.factors.len() {
            let (a, ea) = p.factors[k];
            let partner = (0..p.factors.len()).find(|&j| {
                let (b, eb) = p.factors[j];
                j != k && ea == eb && self.logistic_of(a, b)
            });
            if let Some(j) = partner {
                let one = self.lit(1.0);
                // 1 / (1 − p) as 1 + 1/e: exact where p rounds to 1 and where e overflows;
                // 1 − p itself in a numerator.
                p.factors[k] = if ea < 0 {
                    let r = self.recip(b_of(&p, j));
                    (self.add(one, r), 1)
                } else {
                    (self.sub(one, a), ea)
                };
                p.factors.remove(j);
            }
            k += 1;
        }
        let mut num: Option<Operand> = None;
        let mut den: Option<Operand> = None;
        for (f, e) in p.factors {
            let acc = if e > 0 { &mut num } else { &mut den };
            *acc = Some(match *acc {
                None => f,
                Some(a) => self.mul(a, f),
            });
        }
        let num = num.unwrap_or(Operand::Lit(1.0));
        let q = match den {
            Some(d) => self.div(num, d),
            None => num,
        };
        if p.negative {
            self.neg(q)
        } else {
            q
        }
    }

    /// Simplifies `x · y` (`exp` 1) or `x / y` (`exp` −1) in derivative code by cancelling
    /// factors, distributing over a sum when that lets one of its terms cancel:
    /// `(a / b − c) · b` is `a − c · b`, and `s · (1 / s)` is 1. Exact in exact arithmetic; it
    /// saves divisions (a cross-entropy of a logistic gives `(1 − y) · p − y · p · e` instead of
    /// two quotients). `None` when nothing cancels.
    pub(super) fn cancel(&mut self, x: Operand, y: Operand, exp: i32) -> Option<Operand> {
        if self.cancelling > 4 || x.lit().is_some() && y.lit().is_some() {
            return None;
        }
        let mut p = Product::default();
        self.gather(x, 1, &mut p);
        self.gather(y, exp, &mut p);
        // Only a quotient or a reciprocal can cancel (most products have neither), here or in
        // a sum that is one of the factors.
        let divides = |b: &Self, f: &(Operand, i32)| f.1 < 0 || b.reciprocal_of(&f.0).is_some();
        if p.factors.iter().any(|f| divides(self, f)) && self.cancel_pairs(&mut p) > 0 {
            self.cancelling += 1;
            let r = self.rebuild(p);
            self.cancelling -= 1;
            return Some(r);
        }
        // A factor that is a sum of derivative code, some term of which cancels against the
        // other factors: the product is distributed over it.
        for k in 0..p.factors.len() {
            let (f, e) = p.factors[k];
            let Some(v) = f.as_var().filter(|v| e == 1 && self.is_derivative(*v)) else {
                continue;
            };
            let Some((op @ (Op::Add | Op::Sub), terms)) = self.defs.get(&v).cloned() else {
                continue;
            };
            // Something must divide: another factor, or a term of the sum.
            let term_divides = |b: &Self, t: Operand| {
                let mut q = Product::default();
                b.gather(t, 1, &mut q);
                q.factors.iter().any(|f| divides(b, f))
            };
            if !p
                .factors
                .iter()
                .enumerate()
                .any(|(j, g)| j != k && divides(self, g))
                && !term_divides(self, terms[0])
                && !term_divides(self, terms[1])
            {
                continue;
            }
            let rest = Product {
                visited: 0,
                negative: p.negative,
                factors: p
                    .factors
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != k)
                    .map(|(_, f)| *f)
                    .collect(),
            };
            let cancels = |b: &Self, t: Operand| {
                let mut q = Product {
                    negative: false,
                    factors: rest.factors.clone(),
                    visited: 0,
                };
                b.gather(t, 1, &mut q);
                b.cancel_pairs(&mut q) > 0
            };
            if !(cancels(self, terms[0]) || cancels(self, terms[1])) {
                continue;
            }
            self.cancelling += 1;
            let r = self.rebuild(rest);
            let a = self.mul(terms[0], r);
            let b = self.mul(terms[1], r);
            let out = self.op(op, vec![a, b], Span::call_site());
            self.cancelling -= 1;
            return Some(out);
        }
        None
    }

    /// The terms of a sum, with their signs, through the additions, subtractions and
    /// negations that define it (at most `MAX_TERMS`, looking through at most twice as many
    /// definitions: a long chain of sums is not followed to its end).
    pub(super) fn terms(&self, o: Operand, negative: bool, out: &mut Vec<(bool, Operand)>) {
        let mut budget = 2 * MAX_TERMS;
        self.terms_within(o, negative, out, &mut budget);
    }

    pub(super) fn terms_within(
        &self,
        o: Operand,
        negative: bool,
        out: &mut Vec<(bool, Operand)>,
        budget: &mut usize,
    ) {
        if out.len() < MAX_TERMS && *budget > 0 {
            *budget -= 1;
            if let Some(v) = o.as_var() {
                match self.defs.get(&v) {
                    Some((Op::Add, a)) => {
                        let (a0, a1) = (a[0], a[1]);
                        self.terms_within(a0, negative, out, budget);
                        self.terms_within(a1, negative, out, budget);
                        return;
                    }
                    Some((Op::Sub, a)) => {
                        let (a0, a1) = (a[0], a[1]);
                        self.terms_within(a0, negative, out, budget);
                        self.terms_within(a1, !negative, out, budget);
                        return;
                    }
                    Some((Op::Neg, a)) if self.is_derivative(v) => {
                        let a0 = a[0];
                        self.terms_within(a0, !negative, out, budget);
                        return;
                    }
                    _ => {}
                }
            }
        }
        out.push((negative, o));
    }

    /// Collects like terms of `x + y` (`x − y` when `sub`) in derivative code: two terms with
    /// a factor in common become one, `f · (a ± b)` (or `(a ± b) / f` for a common divisor), a
    /// term that is the factor itself counting as `f · 1`. `y·p + y·p·e` is `y·p·(1 + e)`, where `1 + e` may be a value already
    /// computed (and cancel against a `1 / (1 + e)` next to it). `None` when no two terms
    /// share a factor.
    pub(super) fn collect(&mut self, x: Operand, y: Operand, sub: bool) -> Option<Operand> {
        let derivative = |b: &Self, o: &Operand| o.as_var().is_some_and(|v| b.is_derivative(v));
        if self.cancelling > 4 || !(derivative(self, &x) || derivative(self, &y)) {
            return None;
        }
        let mut ts = Vec::new();
        self.terms(x, false, &mut ts);
        self.terms(y, sub, &mut ts);
        let factors: Vec<Product> = ts
            .iter()
            .map(|&(_, t)| {
                let mut p = Product::default();
                self.gather(t, 1, &mut p);
                p
            })
            .collect();
        // Short products only: rewriting long ones would recompute what exists already.
        let short = |k: usize| {
            factors[k]
                .factors
                .iter()
                .filter(|f| f.0.lit().is_none())
                .count()
                <= 3
        };
        // The same term twice with the same sign is twice the term (`−t − t` is `−2t`).
        for i in 0..ts.len() {
            if let Some(j) = (i + 1..ts.len()).find(|&j| ts[j] == ts[i]) {
                let two = self.lit(2.0);
                self.cancelling += 1;
                let twice = self.mul(two, ts[i].1);
                let mut rest = ts.clone();
                rest[i].1 = twice;
                rest.remove(j);
                let out = self.sum_of(&rest);
                self.cancelling -= 1;
                return Some(out);
            }
        }
        for i in (0..ts.len()).filter(|&i| short(i)) {
            for j in (i + 1..ts.len()).filter(|&j| short(j) && ts[j].1 != ts[i].1) {
                // A common factor: a value, or the same literal in both (`2a + 2b`).
                let common = factors[i]
                    .factors
                    .iter()
                    .find(|(f, e)| factors[j].factors.iter().any(|(g, d)| g == f && d == e));
                let Some(&(f, fe)) = common else {
                    continue;
                };
                self.cancelling += 1;
                let rest = |b: &mut Self, k: usize| {
                    let mut p = Product {
                        negative: factors[k].negative,
                        factors: factors[k].factors.clone(),
                        visited: 0,
                    };
                    if let Some(at) = p.factors.iter().position(|(g, d)| *g == f && *d == fe) {
                        p.factors.remove(at);
                    }
                    b.rebuild(p)
                };
                let (ri, rj) = (rest(self, i), rest(self, j));
                // f · (±ri ± rj), written with as few negations as the signs allow.
                let (inner, negative) = match (ts[i].0, ts[j].0) {
                    (false, false) => (self.add(ri, rj), false),
                    (false, true) => (self.sub(ri, rj), false),
                    (true, false) => (self.sub(rj, ri), false),
                    (true, true) => (self.add(ri, rj), true),
                };
                let combined = if fe > 0 {
                    self.mul(f, inner)
                } else {
                    self.div(inner, f)
                };
                let mut rest = ts.clone();
                rest[i] = (negative, combined);
                rest.remove(j);
                let out = self.sum_of(&rest);
                self.cancelling -= 1;
                return Some(out);
            }
        }
        None
    }

    /// The signed terms added up, with as few negations as the signs allow.
    pub(super) fn sum_of(&mut self, terms: &[(bool, Operand)]) -> Operand {
        let mut sum: Option<(bool, Operand)> = None;
        for &term in terms {
            sum = Some(match sum {
                None => term,
                Some((false, acc)) if term.0 => (false, self.sub(acc, term.1)),
                Some((false, acc)) => (false, self.add(acc, term.1)),
                Some((true, acc)) if term.0 => (true, self.add(acc, term.1)),
                Some((true, acc)) => (false, self.sub(term.1, acc)),
            });
        }
        match sum {
            Some((true, s)) => self.neg(s),
            Some((false, s)) => s,
            None => Operand::Lit(0.0),
        }
    }

    /// `(p, e)` when `o` is `1 − p` for a logistic `p = 1 / (1 + e)` (so `1 − p` is `p · e`).
    pub(super) fn logistic_parts(&self, o: Operand) -> Option<(Operand, Operand)> {
        let (Op::Sub, a) = self.def(&o)? else {
            return None;
        };
        if !a[0].is_lit(1.0) {
            return None;
        }
        let p = a[1];
        let e = self.logistic_e(p)?;
        Some((p, e))
    }

    /// `e` when `p` is `1 / (1 + e)`.
    pub(super) fn logistic_e(&self, p: Operand) -> Option<Operand> {
        let s = self.reciprocal_of(&p)?;
        match self.def(&s)? {
            (Op::Add, b) if b[0].is_lit(1.0) && b[1].lit().is_none() => Some(b[1]),
            (Op::Add, b) if b[1].is_lit(1.0) && b[0].lit().is_none() => Some(b[0]),
            _ => None,
        }
    }

    /// Whether `p` is a logistic `1 / (1 + e)` of this `e`.
    pub(super) fn logistic_of(&self, p: Operand, e: Operand) -> bool {
        self.logistic_e(p) == Some(e)
    }
}

/// A product of derivative code as factors with exponents ±1 and a sign (see
/// `Builder::cancel`).
#[derive(Default)]
pub(super) struct Product {
    negative: bool,
    factors: Vec<(Operand, i32)>,
    /// Definitions looked through so far: a long chain is not followed to its end.
    visited: usize,
}

/// At most this many factors are gathered from a product: longer chains are left as they are.
pub(super) const MAX_FACTORS: usize = 12;

/// At most this many terms are gathered from a sum.
pub(super) const MAX_TERMS: usize = 6;

/// `±2^k` for a normal `k`: multiplying by it only moves the exponent.
pub(super) fn power_of_two(v: f64) -> bool {
    v.is_normal() && v.abs().to_bits() & ((1u64 << 52) - 1) == 0
}
