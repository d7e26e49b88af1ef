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

mod algebra;
mod fold;

use algebra::*;

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
            call: None,
            pulled_part: None,
            bilinear: false,
        });
        v
    }

    pub fn add_extern(&mut self, tokens: TokenStream) -> Operand {
        self.externs.push(tokens);
        Operand::Extern(self.externs.len() as u32 - 1)
    }

    /// Zeros of `info`'s shape (an empty `Vec` for a slice): what a branch that does not
    /// compute an array gives in its place. An array whose lengths the source does not write
    /// (a `#[grad]` function's result, a struct's field) gets its type's default.
    pub fn zeros_of(&mut self, info: &ArrayInfo) -> Operand {
        if info.len_from_value {
            return self.add_extern(quote::quote!(::core::default::Default::default()));
        }
        let z = crate::emit::tokens::zero_array(info, self.float, &|_| {
            quote::quote!(__grad_krate::__private::Vec::new())
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

    /// Where the next instruction of the current block goes, for [`insert_at`](Self::insert_at).
    pub fn mark(&self) -> usize {
        self.frames.last().map_or(0, |f| f.insts.len())
    }

    /// Inserts `inst` in the current block at `at` (a [`mark`](Self::mark) of this block).
    pub fn insert_at(&mut self, at: usize, inst: Inst) {
        let top = self.top();
        let at = at.min(top.insts.len());
        top.insts.insert(at, inst);
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
        let cast = match self.float {
            crate::ir::Float::Generic => {
                quote!(<#ty as __grad_krate::Real>::from_f64(#t as f64))
            }
            _ => quote!((#t as #ty)),
        };
        let as_float = self.opaque(cast, refs.clone(), Kind::Float);
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
