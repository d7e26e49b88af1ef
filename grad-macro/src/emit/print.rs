//! Printing operands, operations, conditions and places as Rust expressions, and the placeholders of code over data filled in.

use super::*;
use crate::ir::{Block, Cmp, Cond, Inst, Kind, Op, Opaque, Operand, Var};
use crate::rules::{Form, RULES};
use proc_macro2::{Delimiter, Group, Ident, Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
use tokens::*;

impl Emitter<'_> {
    /// `a[i] = a[i] op rest;` as `a[i] op= rest;`: the operator and `rest`, when `val` is an
    /// operation printed in place on the element itself, read in place.
    pub(super) fn element_update<'o>(
        &'o self,
        arr: Var,
        idx: &[Operand],
        val: &Operand,
    ) -> Option<(&'static str, &'o Operand)> {
        let Some(Inlined::Op(op, args)) = val.as_var().and_then(|v| self.inline.get(&v)) else {
            return None;
        };
        let same = |o: &Operand| {
            matches!(o.as_var().and_then(|v| self.inline.get(&v)),
                Some(Inlined::Load(a, i)) if *a == arr && i.as_slice() == idx)
        };
        match op {
            Op::Add if same(&args[0]) => Some(("+=", &args[1])),
            Op::Add if same(&args[1]) => Some(("+=", &args[0])),
            Op::Mul if same(&args[0]) => Some(("*=", &args[1])),
            Op::Mul if same(&args[1]) => Some(("*=", &args[0])),
            Op::Sub if same(&args[0]) => Some(("-=", &args[1])),
            Op::Div if same(&args[0]) => Some(("/=", &args[1])),
            _ => None,
        }
    }

    /// `phi = y;` as `phi op= rest;` when `y` is `phi op rest`.
    pub(super) fn assignment(&self, phi: Var, y: &Operand) -> Toks {
        let n = Toks::one(self.ident(phi));
        if let Some(Inlined::Op(op, args)) = y.as_var().and_then(|v| self.inline.get(&v)) {
            let me = Operand::Var(phi);
            let rest = match op {
                Op::Add | Op::Sub | Op::Mul | Op::Div if args[0] == me => Some(&args[1]),
                Op::Add | Op::Mul if args[1] == me => Some(&args[0]),
                _ => None,
            };
            if let Some(r) = rest {
                let r = self.operand(r).tokens();
                let op = match op {
                    Op::Add => "+=",
                    Op::Sub => "-=",
                    Op::Mul => "*=",
                    _ => "/=",
                };
                return Toks::assign(n, op, r);
            }
        }
        Toks::assign(n, "=", self.operand(y).tokens())
    }

    pub(super) fn ident(&self, v: Var) -> Ident {
        match self.names.get(&v) {
            Some(id) => id.clone(),
            // Every defined variable is named; an unnamed one would be a bug in a pass, and
            // rustc will report the unknown name.
            None => format_ident!("__grad_unnamed_{}", v.0, span = Span::mixed_site()),
        }
    }

    pub(super) fn operand(&self, o: &Operand) -> E {
        self.operand_in(o, false)
    }

    pub(super) fn operand_in(&self, o: &Operand, receiver: bool) -> E {
        let float = self.func.float;
        match o {
            Operand::Var(v) => match self.inline.get(v) {
                Some(Inlined::Op(op, args)) => self.op_expr(*op, args),
                Some(Inlined::Load(arr, idx)) => E::Atom(self.place(*arr, idx)),
                Some(Inlined::Opaque(o)) => E::Raw(self.opaque(o), o.prec),
                None => E::Atom(self.ident(*v).into()),
            },
            Operand::Lit(x) => {
                let t = float_lit_toks(x.abs(), float, receiver);
                if x.is_sign_negative() && !x.is_nan() {
                    E::Neg(Box::new(E::Atom(t)))
                } else {
                    E::Atom(t)
                }
            }
            Operand::Int(i) => {
                let l = Toks::one(Literal::i64_unsuffixed(i.abs()));
                if *i < 0 {
                    E::Neg(Box::new(E::Atom(l)))
                } else {
                    E::Atom(l)
                }
            }
            Operand::Bool(b) => E::Atom(Toks::one(Ident::new(
                if *b { "true" } else { "false" },
                Span::call_site(),
            ))),
            Operand::Const(c) => E::Atom(named_const(*c, float).into()),
            Operand::Extern(i) => E::Atom(self.externs[*i as usize].clone()),
        }
    }

    pub(super) fn op_expr(&self, op: Op, args: &[Operand]) -> E {
        let bin = |sym: &'static str, p: u8| {
            E::Bin(
                sym,
                p,
                Box::new(self.operand(&args[0])),
                Box::new(self.operand(&args[1])),
            )
        };
        match op {
            Op::Neg => E::Neg(Box::new(self.operand(&args[0]))),
            Op::Add => bin("+", PREC_ADD),
            Op::Sub => bin("-", PREC_ADD),
            Op::Mul => bin("*", PREC_MUL),
            Op::Div => bin("/", PREC_MUL),
            Op::Rem => bin("%", PREC_MUL),
            Op::Pulled(n) => self.operand(&args[2 * n]),
            Op::Call(i) => {
                let rule = &RULES[i];
                let name = Ident::new(rule.name, Span::call_site());
                match rule.form {
                    Form::Method => {
                        let recv = self.operand_in(&args[0], true);
                        E::Method(
                            Box::new(recv),
                            name,
                            args[1..].iter().map(|a| self.operand(a)).collect(),
                        )
                    }
                    Form::Helper => {
                        let mut path = self.krate.clone();
                        path.punct("::");
                        path.push(name);
                        E::Call(path, args.iter().map(|a| self.operand(a)).collect())
                    }
                }
            }
            Op::Select(cmp) => {
                let c = self.cmp(cmp, &args[0], &args[1]);
                E::If(
                    c,
                    Box::new(self.operand(&args[2])),
                    Box::new(self.operand(&args[3])),
                )
            }
        }
    }

    pub(super) fn cmp(&self, cmp: Cmp, a: &Operand, b: &Operand) -> Toks {
        if cmp == Cmp::Nan {
            let mut t = self.operand_in(a, true).wrap(PREC_ATOM);
            t.punct(".");
            t.push(Ident::new("is_nan", Span::call_site()));
            t.append(Toks::args([]));
            return t;
        }
        let sym = match cmp {
            Cmp::Lt => "<",
            Cmp::Gt => ">",
            Cmp::Eq => "==",
            // Handled above.
            Cmp::Nan => "==",
        };
        // `x as f64 < y` would read as the start of generic arguments: a cast on the left is
        // parenthesised.
        let a = self.operand(a);
        let min = if a.prec() == PREC_CAST {
            PREC_CAST + 1
        } else {
            PREC_CMP + 1
        };
        let mut t = a.wrap(min);
        t.punct(sym);
        t.append(self.operand(b).wrap(PREC_CMP + 1));
        t
    }

    pub(super) fn cond(&self, c: &Cond) -> (Toks, u8) {
        match c {
            Cond::And(a, b) | Cond::Or(a, b) => {
                let (sym, p) = if matches!(c, Cond::And(..)) {
                    ("&&", PREC_AND)
                } else {
                    ("||", PREC_OR)
                };
                let mut t = self.cond_wrapped(a, p);
                t.punct(sym);
                t.append(self.cond_wrapped(b, p + 1));
                (t, p)
            }
            Cond::Not(x) => {
                let mut t = Toks::default();
                t.punct("!");
                t.append(self.cond_wrapped(x, PREC_ATOM));
                (t, PREC_UNARY)
            }
            Cond::Val(o) => {
                let e = self.operand(o);
                let p = e.prec();
                (e.tokens(), p)
            }
            Cond::Opaque(o) => (self.opaque(o), o.prec),
        }
    }

    pub(super) fn cond_wrapped(&self, c: &Cond, min: u8) -> Toks {
        let (t, p) = self.cond(c);
        if p < min {
            t.group(Delimiter::Parenthesis)
        } else {
            t
        }
    }

    /// The user's tokens with each placeholder replaced by the variable it stands for.
    pub(super) fn opaque(&self, o: &Opaque) -> Toks {
        let subst: Vec<Subst> = o
            .refs
            .iter()
            .map(|v| {
                let e = self.operand(&Operand::Var(*v));
                if e.prec() == PREC_ATOM {
                    Subst::Same(e.tokens())
                } else {
                    Subst::Paren(e.tokens())
                }
            })
            .collect();
        replace_placeholders(o.tokens.clone(), &subst, &self.krate)
    }

    pub(super) fn place(&self, arr: Var, idx: &[Operand]) -> Toks {
        let mut t = Toks::one(self.ident(arr));
        for i in idx {
            t.append(self.operand(i).tokens().group(Delimiter::Bracket));
        }
        t
    }

    /// The array `arr` as a value (a copy): `u`, or `*u` for a parameter taken by reference.
    pub(super) fn whole(&self, arr: Var) -> TokenStream {
        if self.func.info(arr).kind != Kind::Array {
            // Data copied into an array of floats (`*base`).
            return self
                .operand(&Operand::Var(arr))
                .tokens()
                .into_token_stream();
        }
        let a = self.ident(arr);
        let by_ref =
            self.func.params.contains(&arr) && self.func.arrays.get(&arr).is_some_and(|i| i.by_ref);
        if by_ref {
            quote!(*#a)
        } else {
            quote!(#a)
        }
    }

    /// `[0.0; N]`, `[[0.0; M]; N]`, `vec![0.0; w.len()]`, ... for an array shaped like `like`.
    pub(super) fn zeros(&self, like: Var) -> TokenStream {
        let Some(info) = self.func.arrays.get(&like) else {
            return float_lit(0.0, self.func.float, true);
        };
        let a = self.ident(like);
        let k = &self.krate;
        if info.len_from_value {
            let zero = float_lit(0.0, self.func.float, true);
            // A struct's field, bound by reference (`expand::structs`); its tangents and
            // adjoints are values.
            let r = if info.by_ref && self.func.params.contains(&like) {
                quote!()
            } else {
                quote!(&)
            };
            return quote!(#k::__private::zeros_like(#r #a, #zero));
        }
        zero_array(
            info,
            self.func.float,
            &|t| quote!(#k::__private::vec![#t; #a.len()]),
        )
    }

    pub(super) fn tuple(&self, ops: &[Operand]) -> Toks {
        let mut parts: Vec<Toks> = ops.iter().map(|o| self.operand(o).tokens()).collect();
        if parts.len() == 1 {
            parts.swap_remove(0)
        } else {
            Toks::args(parts)
        }
    }

    /// `v` as a pattern binds it: `mut v` when something writes it later.
    pub(super) fn binding(&self, v: Var) -> TokenStream {
        let id = self.ident(v);
        if self.written.contains(&v) {
            quote!(mut #id)
        } else {
            quote!(#id)
        }
    }

    /// `name: f64` or `(a, b): (f64, bool)`: typed, because arms that are bare literals
    /// (`if c { 2.0 } else { -1.0 }`) give Rust no type to call methods on.
    pub(super) fn pattern(&self, outs: &[Var]) -> TokenStream {
        let ids: Vec<TokenStream> = outs.iter().map(|v| self.binding(*v)).collect();
        let float = float_type_tokens(self.func.float);
        let tys: Vec<TokenStream> = outs
            .iter()
            .map(|v| match self.func.info(*v).kind {
                Kind::Float => float.clone(),
                Kind::Bool => quote!(bool),
                Kind::Opaque | Kind::Array => quote!(_),
            })
            .collect();
        if ids.len() == 1 {
            let (id, ty) = (&ids[0], &tys[0]);
            quote!(#id: #ty)
        } else {
            quote!((#(#ids),*): (#(#tys),*))
        }
    }

    pub(super) fn branch(&self, block: &Block, with_value: bool) -> TokenStream {
        let (stmts, value) = self.block_parts(block, with_value);
        quote!({ #(#stmts)* #value })
    }

    /// `else { .. }`, or `else if ..` when the else branch is just another `if` yielding the
    /// same variables.
    pub(super) fn else_branch(&self, els: &Block, outs: &[Var]) -> TokenStream {
        if let [Inst::If {
            cond,
            then,
            els: inner_els,
            outs: inner_outs,
        }] = &els.insts[..]
        {
            let same = inner_outs.len() == els.yields.len()
                && inner_outs
                    .iter()
                    .zip(&els.yields)
                    .all(|(o, y)| *y == Operand::Var(*o) && self.uses.get(o) == Some(&1));
            if same {
                let c = self.operand(cond).tokens();
                let t = self.branch(then, !outs.is_empty());
                let e = self.else_branch(inner_els, inner_outs);
                return quote!(if #c #t else #e);
            }
        }
        self.branch(els, !outs.is_empty())
    }

    /// Statements of a block, and its value (`None` when it yields nothing).
    pub(super) fn block_parts(&self, block: &Block, with_value: bool) -> (Vec<Toks>, Option<Toks>) {
        let mut stmts = Vec::new();
        for inst in &block.insts {
            if let Some(s) = self.inst(inst) {
                stmts.push(s);
            }
        }
        let value = with_value.then(|| self.tuple(&block.yields));
        (stmts, value)
    }
}

/// What a placeholder in opaque code stands for: an atom, or an expression that needs
/// parentheses unless it is a whole argument or index (`f(a - b)`, `x[i + 1]`).
pub(super) enum Subst {
    Same(Toks),
    Paren(Toks),
}

pub(super) fn replace_placeholders(tokens: TokenStream, subst: &[Subst], krate: &Toks) -> Toks {
    replace_in(tokens, subst, krate, false)
}

/// `listed`: the tokens are the inside of `(..)` or `[..]`, where an item between commas needs
/// no parentheses of its own.
pub(super) fn replace_in(tokens: TokenStream, subst: &[Subst], krate: &Toks, listed: bool) -> Toks {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let comma = |t: Option<&TokenTree>| match t {
        None => true,
        Some(TokenTree::Punct(p)) => p.as_char() == ',',
        _ => false,
    };
    let mut out = Toks::default();
    for (i, tt) in trees.iter().enumerate() {
        match tt {
            TokenTree::Ident(id) if id == "__grad_krate" => {
                out.0.extend(krate.0.iter().cloned().map(|mut t| {
                    t.set_span(t.span().located_at(id.span()));
                    t
                }))
            }
            TokenTree::Ident(id) => {
                let s = id.to_string();
                match s
                    .strip_prefix("__grad_ref_")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    // A name keeps its own hygiene but is located where the user wrote it, so
                    // that rustc's errors about it point there.
                    Some(n) if n < subst.len() => {
                        let alone = listed
                            && comma(i.checked_sub(1).and_then(|j| trees.get(j)))
                            && comma(trees.get(i + 1));
                        let t = match &subst[n] {
                            Subst::Same(t) => t.clone(),
                            Subst::Paren(t) if alone => t.clone(),
                            Subst::Paren(t) => t.clone().group(Delimiter::Parenthesis),
                        };
                        out.0.extend(t.0.into_iter().map(|mut t| {
                            t.set_span(t.span().located_at(id.span()));
                            t
                        }))
                    }
                    _ => out.push(id.clone()),
                }
            }
            TokenTree::Group(g) => {
                let listed = matches!(g.delimiter(), Delimiter::Parenthesis | Delimiter::Bracket);
                let inner = replace_in(g.stream(), subst, krate, listed);
                let mut ng = Group::new(g.delimiter(), inner.0.into_iter().collect());
                ng.set_span(g.span());
                out.push(ng);
            }
            other => out.push(other.clone()),
        }
    }
    out
}
