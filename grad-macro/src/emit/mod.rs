//! Prints IR as Rust.
//!
//! The output is meant to be read in `cargo expand`: the primal as the user wrote it, with a
//! `let` for each intermediate the reverse sweep reads again (named after the source, `p`, and
//! its adjoint `d_p`, or `t0, t1, ...` like the ξ tables of the lecture notes); a value used
//! once in the same block, primal or derivative, is printed where it is used, up to a depth
//! that keeps expressions short. Parentheses appear only where precedence needs them.
//!
//! Every local the macro introduces is spanned with `Span::mixed_site()`, so it can neither
//! capture nor shadow a name of the user's; the names are also kept textually distinct from
//! every identifier in the user's function, so the expansion reads unambiguously.

mod lanes;
mod plan;
mod print;
mod stmt;
pub mod tokens;

use plan::*;
use print::*;

use crate::ir::count_uses;
use crate::ir::{Func, Name, Op, Opaque, Operand, Var};
use proc_macro2::{Delimiter, Ident, TokenStream};
use quote::{quote, ToTokens};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use tokens::*;

/// An expression being printed, with enough structure to place parentheses.
enum E {
    Atom(Toks),
    Neg(Box<E>),
    Bin(&'static str, u8, Box<E>, Box<E>),
    Method(Box<E>, Ident, Vec<E>),
    Call(Toks, Vec<E>),
    If(Toks, Box<E>, Box<E>),
    /// Tokens of the given binding strength.
    Raw(Toks, u8),
}

impl E {
    fn prec(&self) -> u8 {
        match self {
            E::Atom(_) | E::Method(..) | E::Call(..) => PREC_ATOM,
            E::Neg(_) => PREC_UNARY,
            E::Bin(_, p, _, _) => *p,
            E::If(..) => PREC_LOWEST,
            E::Raw(_, p) => *p,
        }
    }

    fn wrap(self, min: u8) -> Toks {
        if self.prec() < min {
            self.tokens().group(Delimiter::Parenthesis)
        } else {
            self.tokens()
        }
    }

    fn tokens(self) -> Toks {
        match self {
            E::Atom(t) | E::Raw(t, _) => t,
            E::Neg(x) => {
                let mut t = Toks::default();
                t.punct("-");
                t.append(x.wrap(PREC_ATOM));
                t
            }
            E::Bin(op, p, l, r) => {
                let mut t = l.wrap(p);
                t.punct(op);
                t.append(r.wrap(p + 1));
                t
            }
            E::Method(recv, name, args) => {
                let mut t = recv.wrap(PREC_ATOM);
                t.punct(".");
                t.push(name);
                t.append(Toks::args(args.into_iter().map(E::tokens)));
                t
            }
            E::Call(mut path, args) => {
                path.append(Toks::args(args.into_iter().map(E::tokens)));
                path
            }
            E::If(c, then, els) => {
                let mut t = Toks::default();
                t.ident("if");
                t.append(c);
                t.append(then.tokens().group(Delimiter::Brace));
                t.ident("else");
                t.append(match *els {
                    nested @ E::If(..) => nested.tokens(),
                    other => other.tokens().group(Delimiter::Brace),
                });
                t
            }
        }
    }
}

/// A value built from literals alone (or an `if` choosing between literals) has no type until
/// used: its `let` says the type, so methods can be called on it.
fn untyped(op: Op, args: &[Operand]) -> bool {
    match op {
        Op::Select(_) => args[2..].iter().all(|a| a.lit().is_some()),
        _ => args
            .iter()
            .all(|a| matches!(a, Operand::Lit(_) | Operand::Int(_))),
    }
}

/// The deepest expression inlining builds before a `let` is written.
const MAX_INLINE_DEPTH: u32 = 16;

/// What a variable printed in place of its name stands for.
#[derive(Clone)]
enum Inlined {
    Op(Op, Vec<Operand>),
    /// An array element, read where it is used (nothing between writes memory).
    Load(Var, Vec<Operand>),
    /// An expression on data without side effects (`x[0]`, `n as f64`), likewise.
    Opaque(Opaque),
}

pub struct Emitter<'a> {
    func: &'a Func,
    krate: Toks,
    /// `Func::externs`, as trees.
    externs: Vec<Toks>,
    names: HashMap<Var, Ident>,
    inline: HashMap<Var, Inlined>,
    /// How deep the expression printed for an inlined variable is.
    depth: HashMap<Var, u32>,
    uses: HashMap<Var, usize>,
    /// Arrays written after their declaration, and loop storage (declared `let mut`).
    written: HashSet<Var>,
    /// How many loops the statement being printed is in.
    loop_depth: std::cell::Cell<u32>,
    /// Storage of inner loops, declared before the outermost loop being printed.
    hoisted: std::cell::RefCell<Vec<TokenStream>>,
    /// Whether a loop's adjoint sums are written in lanes (`lanes`).
    lanes: bool,
    /// Lanes for short loops too (the attribute's `__lanes_always`, for tests).
    lanes_always: bool,
    /// Parameters a loop in lanes may walk in chunks, each with whether it is a reference
    /// (`lanes::slice_params`).
    slices: HashMap<String, bool>,
}

impl<'a> Emitter<'a> {
    /// `reserved`: every identifier of the user's function; `params`: the identifiers of its
    /// parameters, as they appear in the companion's signature.
    pub fn new(
        func: &'a Func,
        krate: &'a TokenStream,
        reserved: &HashSet<String>,
        params: &[Ident],
    ) -> Self {
        let krate_toks: Toks = krate.clone().into();
        let mut e = Emitter {
            func,
            // Externs are written as they are, but for the runtime's path (`__grad_krate`).
            externs: func
                .externs
                .iter()
                .map(|t| replace_placeholders(t.clone(), &[], &krate_toks))
                .collect(),
            krate: krate_toks,
            names: HashMap::default(),
            inline: HashMap::default(),
            depth: HashMap::default(),
            uses: HashMap::default(),
            written: HashSet::default(),
            loop_depth: std::cell::Cell::new(0),
            hoisted: std::cell::RefCell::new(Vec::new()),
            lanes: false,
            lanes_always: false,
            slices: HashMap::default(),
        };
        count_uses(&func.body, &mut e.uses);
        written(&func.body, &mut e.written);
        // Storage carried out of an `if` is still popped from.
        let mut grew = true;
        while grew {
            grew = false;
            for (i, info) in func.vars.iter().enumerate() {
                if let Name::Export(inner) = info.name {
                    if e.written.contains(&inner) && e.written.insert(Var(i as u32)) {
                        grew = true;
                    }
                }
            }
        }
        e.plan_inlining(&func.body);
        let mut namer = Namer {
            reserved,
            taken: HashSet::default(),
            temps: 0,
            conds: 0,
        };
        for (v, id) in func.params.iter().zip(params) {
            namer.taken.insert(id.to_string());
            e.names.insert(*v, id.clone());
        }
        e.name_block(&func.body, &mut namer);
        e
    }

    /// Writes the adjoint sums of loops in lanes (see `lanes`), unless `ordered` (the
    /// attribute's `ordered_sums`), in short loops too if `always` (`__lanes_always`); `f` is
    /// the user's function (its slice parameters).
    pub fn sums_in_lanes(mut self, ordered: bool, always: bool, f: &syn::ItemFn) -> Self {
        self.lanes = !ordered;
        self.lanes_always = always;
        self.slices = lanes::slice_params(f);
        self
    }

    /// The statements and final expression of the companion's body.
    pub fn body(&self, value_and_grad: bool) -> TokenStream {
        self.body_with(|mut ys| {
            let value = ys.remove(0);
            let grad = one_or_tuple(&ys);
            if value_and_grad {
                quote!((#value, #grad))
            } else {
                grad
            }
        })
    }

    /// The statements of the companion's body, and its final expression made by `shape` from
    /// the body's yields.
    pub fn body_with(&self, shape: impl FnOnce(Vec<TokenStream>) -> TokenStream) -> TokenStream {
        let (stmts, _) = self.block_parts(&self.func.body, false);
        let ys: Vec<TokenStream> = self
            .func
            .body
            .yields
            .iter()
            .map(|y| self.operand(y).tokens().into_token_stream())
            .collect();
        let unused = self
            .func
            .params
            .iter()
            .filter(|p| self.uses.get(p).copied().unwrap_or(0) == 0)
            .filter_map(|p| self.names.get(p))
            .filter(|id| !id.to_string().starts_with('_'));
        let result = shape(ys);
        quote! {
            #(let _ = &#unused;)*
            #(#stmts)*
            #result
        }
    }
}
