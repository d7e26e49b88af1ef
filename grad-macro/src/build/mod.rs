//! Builds IR instructions, simplifying as it goes.
//!
//! Every pass creates code through a [`Builder`], so the rules that keep generated code small
//! live here once: a symbolic zero (`0 · x` is never emitted), identities (`x · 1`, `x + 0`),
//! folding of literal arithmetic in the function's own float type, a few peepholes that make
//! the chain rule read naturally (`d · (1 / x)` becomes `d / x`), and value numbering, so that a
//! subexpression is computed once however many partials need it.
//!
//! User (primal) code is only value-numbered, never rewritten: `x + 0.0` stays as written, so a
//! companion's value equals the original function's bit for bit.

use crate::emit::tokens::float_type_tokens;
use crate::ir::{
    placeholder, ArrayInfo, Block, Cmp, Float, Inst, Kind, Name, Op, Opaque, Operand, OperandKey,
    Var, VarInfo,
};
use crate::rules::RULES;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use rustc_hash::FxHashMap as HashMap;

type CseKey = (Op, Vec<OperandKey>);

#[derive(Default)]
struct Frame {
    insts: Vec<Inst>,
    cse: HashMap<CseKey, Var>,
}

pub struct Builder {
    pub float: Float,
    pub vars: Vec<VarInfo>,
    pub externs: Vec<TokenStream>,
    pub arrays: HashMap<Var, ArrayInfo>,
    /// Apply algebraic simplification to derivative code (off only to test that it is sound).
    pub simplify: bool,
    /// Rewrite what is built (derivative code) rather than keep it as written (primal code).
    pub derivative: bool,
    frames: Vec<Frame>,
    defs: HashMap<Var, (Op, Vec<Operand>)>,
    /// How deep the cancellation of factors (`cancel`) has recursed.
    cancelling: u8,
}

impl Builder {
    pub fn new(float: Float) -> Self {
        Builder {
            float,
            vars: Vec::new(),
            externs: Vec::new(),
            arrays: HashMap::default(),
            simplify: true,
            derivative: false,
            frames: vec![Frame::default()],
            defs: HashMap::default(),
            cancelling: 0,
        }
    }

    pub fn info(&self, v: Var) -> &VarInfo {
        &self.vars[v.0 as usize]
    }

    pub fn info_mut(&mut self, v: Var) -> &mut VarInfo {
        &mut self.vars[v.0 as usize]
    }

    pub fn is_active(&self, o: &Operand) -> bool {
        o.as_var().is_some_and(|v| self.info(v).active)
    }

    pub fn kind(&self, o: &Operand) -> Kind {
        match o {
            Operand::Var(v) => self.info(*v).kind,
            Operand::Lit(_) | Operand::Const(_) => Kind::Float,
            Operand::Bool(_) => Kind::Bool,
            Operand::Int(_) | Operand::Extern(_) => Kind::Opaque,
        }
    }

    pub fn new_var(&mut self, kind: Kind, name: Name, active: bool, span: Span) -> Var {
        let v = Var(self.vars.len() as u32);
        self.vars.push(VarInfo {
            kind,
            name,
            active,
            span,
            mutable: false,
            float_checked: false,
        });
        v
    }

    pub fn add_extern(&mut self, tokens: TokenStream) -> Operand {
        self.externs.push(tokens);
        Operand::Extern(self.externs.len() as u32 - 1)
    }

    /// Zeros of `info`'s shape (an empty `Vec` for a slice): what a branch that does not
    /// compute an array gives in its place.
    pub fn zeros_of(&mut self, info: &ArrayInfo) -> Operand {
        let z = crate::emit::tokens::zero_array(info, self.float, &|_| {
            quote::quote!(::std::vec::Vec::new())
        });
        self.add_extern(z)
    }

    pub fn push(&mut self, inst: Inst) {
        self.top().insts.push(inst);
    }

    fn top(&mut self) -> &mut Frame {
        let last = self.frames.len() - 1;
        &mut self.frames[last]
    }

    /// Inserts instructions at the start of the current block.
    pub fn prepend(&mut self, insts: Vec<Inst>) {
        let top = self.top();
        let rest = std::mem::take(&mut top.insts);
        top.insts = insts;
        top.insts.extend(rest);
    }

    /// Starts a nested block (a branch).
    pub fn enter(&mut self) {
        self.frames.push(Frame::default());
    }

    /// Ends the nested block started by [`enter`](Self::enter).
    pub fn exit(&mut self, yields: Vec<Operand>) -> Block {
        let frame = self.frames.pop().unwrap_or_default();
        // What the block defines is out of scope after it: the algebra must not reach for it.
        for inst in &frame.insts {
            for v in inst.defs() {
                self.defs.remove(&v);
            }
        }
        Block {
            insts: frame.insts,
            yields,
        }
    }

    /// The instructions of the outermost block, leaving it empty.
    pub fn take_root(&mut self) -> Vec<Inst> {
        std::mem::take(&mut self.frames[0].insts)
    }

    /// Makes the operations of `insts` (top level only) available for reuse in the current
    /// block, so derivative code uses a value the primal code already computed.
    pub fn seed_cse(&mut self, insts: &[Inst]) {
        for inst in insts {
            if let Inst::Op { var, op, args } = inst {
                let key = (*op, args.iter().map(Operand::key).collect());
                self.top().cse.entry(key).or_insert(*var);
                self.defs.insert(*var, (*op, args.clone()));
            }
        }
    }

    pub fn lit(&self, v: f64) -> Operand {
        Operand::Lit(self.float.round(v))
    }

    /// How `v` was built, if the builder built it (or was shown it).
    pub fn definition(&self, v: Var) -> Option<&(Op, Vec<Operand>)> {
        self.defs.get(&v)
    }

    fn def(&self, o: &Operand) -> Option<&(Op, Vec<Operand>)> {
        o.as_var().and_then(|v| self.defs.get(&v))
    }

    /// Builds `op(args)`, simplified and value-numbered.
    pub fn op(&mut self, op: Op, args: Vec<Operand>, span: Span) -> Operand {
        if self.derivative && self.simplify {
            if let Some(o) = self.simplified(op, &args, span) {
                return o;
            }
        }
        // Negating a literal is exact: `-5.0` is a literal in primal code too.
        if let (Op::Neg, Some(x)) = (op, args[0].lit()) {
            return Operand::Lit(-x);
        }
        let key: CseKey = (op, args.iter().map(Operand::key).collect());
        for frame in self.frames.iter().rev() {
            if let Some(v) = frame.cse.get(&key) {
                return Operand::Var(*v);
            }
        }
        // Derivative code also reuses `b + a` (or `b · a`) for `a + b`: the primal's `1.0 + e`
        // for a `e + 1.0` the algebra produced.
        if self.derivative && matches!(op, Op::Add | Op::Mul) {
            let swapped: CseKey = (op, vec![key.1[1], key.1[0]]);
            for frame in self.frames.iter().rev() {
                if let Some(v) = frame.cse.get(&swapped) {
                    return Operand::Var(*v);
                }
            }
        }
        let active = args.iter().any(|a| self.is_active(a));
        let name = if self.derivative {
            Name::Anon
        } else {
            Name::Temp
        };
        let var = self.new_var(Kind::Float, name, active, span);
        self.defs.insert(var, (op, args.clone()));
        self.top().cse.insert(key, var);
        self.push(Inst::Op { var, op, args });
        Operand::Var(var)
    }

    /// Algebraic simplification of derivative code; `None` when nothing applies.
    fn simplified(&mut self, op: Op, a: &[Operand], span: Span) -> Option<Operand> {
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
                    let v = match f {
                        Float::F32 => arith32(op, l[0] as f32, l[1] as f32) as f64,
                        Float::F64 => arith64(op, l[0], l[1]),
                    };
                    if let Some(o) = fold(v) {
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
    fn keep_float(&mut self, o: Operand) -> Operand {
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

    fn identities(&mut self, op: Op, x: Operand, y: Operand, span: Span) -> Option<Operand> {
        let r = self.identities_raw(op, x, y, span)?;
        Some(self.keep_float(r))
    }

    fn identities_raw(&mut self, op: Op, x: Operand, y: Operand, span: Span) -> Option<Operand> {
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

    pub fn add(&mut self, a: Operand, b: Operand) -> Operand {
        self.op(Op::Add, vec![a, b], Span::call_site())
    }
    pub fn sub(&mut self, a: Operand, b: Operand) -> Operand {
        self.op(Op::Sub, vec![a, b], Span::call_site())
    }
    pub fn mul(&mut self, a: Operand, b: Operand) -> Operand {
        self.op(Op::Mul, vec![a, b], Span::call_site())
    }
    pub fn div(&mut self, a: Operand, b: Operand) -> Operand {
        self.op(Op::Div, vec![a, b], Span::call_site())
    }
    pub fn neg(&mut self, a: Operand) -> Operand {
        self.op(Op::Neg, vec![a], Span::call_site())
    }
    pub fn sq(&mut self, a: Operand) -> Operand {
        self.mul(a, a)
    }
    pub fn recip(&mut self, a: Operand) -> Operand {
        let one = self.lit(1.0);
        self.div(one, a)
    }
    /// `if l cmp r { t } else { e }`.
    pub fn select(&mut self, l: Operand, cmp: Cmp, r: Operand, t: Operand, e: Operand) -> Operand {
        self.op(Op::Select(cmp), vec![l, r, t, e], Span::call_site())
    }
    /// `(n as float, n - 1)` for an integer operand `n` (`powi`'s exponent).
    pub fn int_and_pred(&mut self, n: Operand) -> (Operand, Operand) {
        if let Operand::Int(k) = n {
            return (self.lit(k as f64), Operand::Int(k - 1));
        }
        let ty = float_type_tokens(self.float);
        let (t, refs) = self.operand_tokens(n);
        let as_float = self.opaque(quote!((#t as #ty)), refs.clone(), Kind::Float);
        // Wrapping: `i32::MIN - 1` must not panic where the original function does not.
        let pred = self.opaque(quote!(i32::wrapping_sub(#t, 1)), refs, Kind::Opaque);
        (as_float, pred)
    }

    /// `x.powi(n)`.
    pub fn powi(&mut self, x: Operand, n: Operand) -> Operand {
        self.call("powi", vec![x, n])
    }

    /// Tokens for `o` inside opaque code: a placeholder for a variable.
    pub fn operand_tokens(&self, o: Operand) -> (TokenStream, Vec<Var>) {
        match o {
            Operand::Var(v) => {
                let id = proc_macro2::Ident::new(&placeholder(0), Span::call_site());
                (quote!(#id), vec![v])
            }
            // Suffixed: in code passed through, nothing else may fix the literal's type.
            Operand::Lit(x) => (
                crate::emit::tokens::float_lit_typed(x, self.float),
                Vec::new(),
            ),
            Operand::Int(i) => {
                let l = proc_macro2::Literal::i64_unsuffixed(i.abs());
                if i < 0 {
                    (quote!((-#l)), Vec::new())
                } else {
                    (quote!(#l), Vec::new())
                }
            }
            Operand::Bool(b) => (quote!(#b), Vec::new()),
            Operand::Const(c) => (crate::emit::tokens::named_const(c, self.float), Vec::new()),
            Operand::Extern(e) => (self.externs[e as usize].clone(), Vec::new()),
        }
    }

    /// Gives the opaque code defining `v` (in the current block) a type annotation.
    pub fn annotate_opaque(&mut self, v: Var, ty: TokenStream, kind: Kind) {
        let top = self.top();
        for inst in top.insts.iter_mut().rev() {
            if let Inst::Opaque { var, ty: slot, .. } = inst {
                if *var == v {
                    *slot = Some(ty);
                    self.vars[v.0 as usize].kind = kind;
                    return;
                }
            }
        }
    }

    /// Binds opaque code to a new variable.
    pub fn opaque(&mut self, tokens: TokenStream, refs: Vec<Var>, kind: Kind) -> Operand {
        let active = refs.iter().any(|v| self.info(*v).active);
        let name = if self.derivative {
            Name::Anon
        } else {
            Name::Temp
        };
        let var = self.new_var(kind, name, active && kind == Kind::Float, Span::call_site());
        let effectful = false;
        self.push(Inst::Opaque {
            var,
            expr: Opaque {
                tokens,
                refs,
                effectful,
                prec: crate::emit::tokens::PREC_ATOM,
            },
            ty: None,
        });
        Operand::Var(var)
    }

    /// A function of the rule table, by name.
    pub fn call(&mut self, name: &str, args: Vec<Operand>) -> Operand {
        match RULES.iter().position(|r| r.name == name) {
            Some(i) => self.op(Op::Call(i), args, Span::call_site()),
            // Rules only call rules that exist; the table's tests check every name.
            None => Operand::Lit(f64::NAN),
        }
    }
}

impl crate::rules::Algebra for Builder {
    fn lit(&self, v: f64) -> Operand {
        Builder::lit(self, v)
    }
    fn add(&mut self, a: Operand, b: Operand) -> Operand {
        Builder::add(self, a, b)
    }
    fn sub(&mut self, a: Operand, b: Operand) -> Operand {
        Builder::sub(self, a, b)
    }
    fn mul(&mut self, a: Operand, b: Operand) -> Operand {
        Builder::mul(self, a, b)
    }
    fn div(&mut self, a: Operand, b: Operand) -> Operand {
        Builder::div(self, a, b)
    }
    fn neg(&mut self, a: Operand) -> Operand {
        Builder::neg(self, a)
    }
    fn sq(&mut self, a: Operand) -> Operand {
        Builder::sq(self, a)
    }
    fn recip(&mut self, a: Operand) -> Operand {
        Builder::recip(self, a)
    }
    fn select(&mut self, l: Operand, cmp: Cmp, r: Operand, t: Operand, e: Operand) -> Operand {
        Builder::select(self, l, cmp, r, t, e)
    }
    fn call(&mut self, name: &str, args: Vec<Operand>) -> Operand {
        Builder::call(self, name, args)
    }
    fn powi(&mut self, x: Operand, n: Operand) -> Operand {
        Builder::powi(self, x, n)
    }
    fn int_and_pred(&mut self, n: Operand) -> (Operand, Operand) {
        Builder::int_and_pred(self, n)
    }
}

fn arith64(op: Op, a: f64, b: f64) -> f64 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        _ => a / b,
    }
}

fn arith32(op: Op, a: f32, b: f32) -> f32 {
    match op {
        Op::Add => a + b,
        Op::Sub => a - b,
        Op::Mul => a * b,
        _ => a / b,
    }
}

/// A product of derivative code as factors with exponents ±1 and a sign (see
/// `Builder::cancel`).
#[derive(Default)]
struct Product {
    negative: bool,
    factors: Vec<(Operand, i32)>,
    /// Definitions looked through so far: a long chain is not followed to its end.
    visited: usize,
}

/// At most this many factors are gathered from a product: longer chains are left as they are.
const MAX_FACTORS: usize = 12;

/// At most this many terms are gathered from a sum.
const MAX_TERMS: usize = 6;

impl Builder {
    /// Whether `v` was built by derivative code (a temporary or an adjoint), so that its
    /// definition may be rewritten; primal values are left as computed.
    fn is_derivative(&self, v: Var) -> bool {
        matches!(
            self.info(v).name,
            Name::Anon | Name::Adjoint(_) | Name::Tangent(_)
        )
    }

    /// The factors of `o` raised to `exp`, through the products, quotients and negations of
    /// derivative code.
    fn gather(&self, o: Operand, exp: i32, out: &mut Product) {
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
    fn reciprocal_of(&self, o: &Operand) -> Option<Operand> {
        match self.def(o) {
            Some((Op::Div, a)) if a[0].is_lit(1.0) => Some(a[1]),
            Some((Op::Call(i), a)) if RULES[*i].name == "recip" => Some(a[0]),
            _ => None,
        }
    }

    /// Whether `a` and `b` are the same value: the same variable, or sums of the same terms
    /// in another order (`(e0 + e1) + e2` and `(e2 + e1) + e0`).
    fn same_sum(&self, a: Operand, b: Operand) -> bool {
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
    fn cancel_pairs(&self, p: &mut Product) -> usize {
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
    fn rebuild(&mut self, mut p: Product) -> Operand {
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
    fn cancel(&mut self, x: Operand, y: Operand, exp: i32) -> Option<Operand> {
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
    fn terms(&self, o: Operand, negative: bool, out: &mut Vec<(bool, Operand)>) {
        let mut budget = 2 * MAX_TERMS;
        self.terms_within(o, negative, out, &mut budget);
    }

    fn terms_within(
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
    fn collect(&mut self, x: Operand, y: Operand, sub: bool) -> Option<Operand> {
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
    fn sum_of(&mut self, terms: &[(bool, Operand)]) -> Operand {
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
    fn logistic_parts(&self, o: Operand) -> Option<(Operand, Operand)> {
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
    fn logistic_e(&self, p: Operand) -> Option<Operand> {
        let s = self.reciprocal_of(&p)?;
        match self.def(&s)? {
            (Op::Add, b) if b[0].is_lit(1.0) && b[1].lit().is_none() => Some(b[1]),
            (Op::Add, b) if b[1].is_lit(1.0) && b[0].lit().is_none() => Some(b[0]),
            _ => None,
        }
    }

    /// Whether `p` is a logistic `1 / (1 + e)` of this `e`.
    fn logistic_of(&self, p: Operand, e: Operand) -> bool {
        self.logistic_e(p) == Some(e)
    }
}

/// `±2^k` for a normal `k`: multiplying by it only moves the exponent.
fn power_of_two(v: f64) -> bool {
    v.is_normal() && v.abs().to_bits() & ((1u64 << 52) - 1) == 0
}

#[cfg(test)]
mod tests {
    //! The builder's rewrites, one per line: what is built ⇒ what the code computes, printed
    //! as an s-expression over the variables `x`, `y` and the anonymous derivative temporary `d`.
    use super::*;

    fn show(b: &Builder, o: Operand) -> String {
        match o {
            Operand::Lit(v) => format!("{v}"),
            Operand::Var(v) => match b.defs.get(&v) {
                Some((op, args)) => {
                    let head = match op {
                        Op::Neg => "neg".to_string(),
                        Op::Add => "+".into(),
                        Op::Sub => "-".into(),
                        Op::Mul => "*".into(),
                        Op::Div => "/".into(),
                        Op::Rem => "%".into(),
                        Op::Call(i) => RULES[*i].name.into(),
                        Op::Select(c) => format!("if{c:?}"),
                        Op::Pulled(n) => format!("pulled{n}"),
                    };
                    let args: Vec<String> = args.iter().map(|a| show(b, *a)).collect();
                    format!("({head} {})", args.join(" "))
                }
                None => ["x", "y", "d"][v.0 as usize].to_string(),
            },
            other => format!("{other:?}"),
        }
    }

    type Build = fn(&mut Builder, Operand, Operand, Operand) -> Operand;

    #[test]
    #[rustfmt::skip]
    fn rewrites() {
        let cases: &[(&str, Build, &str)] = &[
            ("x * 1",            |b, x, _, _| { let one = b.lit(1.0); b.mul(x, one) },   "x"),
            ("0 * x",            |b, x, _, _| { let z = b.lit(0.0); b.mul(z, x) },       "0"),
            ("x * -1",           |b, x, _, _| { let m = b.lit(-1.0); b.mul(x, m) },      "(neg x)"),
            ("x + 0",            |b, x, _, _| { let z = b.lit(0.0); b.add(x, z) },       "x"),
            ("x + -y",           |b, x, y, _| { let n = b.neg(y); b.add(x, n) },         "(- x y)"),
            ("x - -y",           |b, x, y, _| { let n = b.neg(y); b.sub(x, n) },         "(+ x y)"),
            ("--x",              |b, x, _, _| { let n = b.neg(x); b.neg(n) },            "x"),
            ("x * 3",            |b, x, _, _| { let t = b.lit(3.0); b.mul(x, t) },       "(* 3 x)"),
            ("2 * 3",            |b, _, _, _| { let (p, q) = (b.lit(2.0), b.lit(3.0)); b.mul(p, q) }, "6"),
            ("1 / 0 is kept",    |b, _, _, _| { let (p, q) = (b.lit(1.0), b.lit(0.0)); b.div(p, q) }, "(/ 1 0)"),
            ("x * (1 / d)",      |b, x, _, d| { let r = b.recip(d); b.mul(x, r) },       "(/ x d)"),
            ("x * p, p = 1 / y primal", |b, x, y, _| { b.derivative = false; let r = b.recip(y); b.derivative = true; b.mul(x, r) }, "(* x (/ 1 y))"),
            ("x * (if ..{1} else {0})", |b, x, y, _| { let (z, one) = (b.lit(0.0), b.lit(1.0)); let s = b.select(y, Cmp::Gt, z, one, z); b.mul(x, s) }, "(ifGt y 0 x 0)"),
            ("same twice",       |b, x, y, _| { let p = b.mul(x, y); let q = b.mul(x, y); b.sub(p, q) }, "(- (* x y) (* x y))"),
            ("powi(x, 1)",       |b, x, _, _| b.powi(x, Operand::Int(1)),                 "x"),
        ];
        for (name, build, want) in cases {
            let mut b = Builder::new(Float::F64);
            let x = Operand::Var(b.new_var(Kind::Float, Name::Source("x".into()), true, Span::call_site()));
            let y = Operand::Var(b.new_var(Kind::Float, Name::Source("y".into()), true, Span::call_site()));
            let d = Operand::Var(b.new_var(Kind::Float, Name::Anon, true, Span::call_site()));
            b.derivative = true;
            let got = build(&mut b, x, y, d);
            assert_eq!(show(&b, got), *want, "{name}");
        }
    }

    #[test]
    fn value_numbering_reuses_one_variable() {
        let mut b = Builder::new(Float::F64);
        let x = Operand::Var(b.new_var(
            Kind::Float,
            Name::Source("x".into()),
            true,
            Span::call_site(),
        ));
        let p = b.call("exp", vec![x]);
        let q = b.call("exp", vec![x]);
        assert_eq!(p, q);
    }
}
