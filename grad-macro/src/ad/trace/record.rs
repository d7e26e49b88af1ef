//! The code by which a `_trace` companion records its run in the runtime's `Recorder`
//! (`__grad_trace`, declared by the companion): each node's value and local derivatives where
//! the function computes it (`value`), its adjoint where the reverse sweep completes it
//! (`adjoint`), each loop's number of iterations (`trips`), and where a reverse sweep over a
//! loop starts (`last`). A node is identified by its number in the table and the iteration of
//! each loop it is in, so that the two halves meet whatever order the sweep visits them in.

use crate::build::Builder;
use crate::emit::tokens::{float_lit_typed, named_const, PREC_ATOM};
use crate::ir::{placeholder, Carry, Float, Inst, Kind, Loop, Name, Opaque, Operand, Var};
use proc_macro2::{Ident, Literal, Span, TokenStream};
use quote::quote;

/// An argument of a recording call.
pub enum Arg<'a> {
    /// A number the macro knows (a node's or a loop's).
    Num(usize),
    /// The iteration counters of the loops around (`&[i0, i1]`).
    Path(&'a [Var]),
    /// A value of the function's float type, as `f64`.
    Float(Operand),
    /// Several, as a slice of `f64`.
    Floats(&'a [Operand]),
    /// A counter.
    Count(Var),
    /// Rows' numbers (`usize`), as a slice.
    Rows(&'a [Operand]),
    /// A row's number.
    Row(Operand),
    /// A parameter's name, as a string.
    Str(&'a str),
    /// An array, by reference.
    Array(Var),
    /// An element's indices (`usize`), as a slice.
    Index(&'a [Operand]),
    /// Arrays passed to a call: each array (its number, name and elements) and the callee's
    /// partial in it, as `&[(usize, &str, &dyn Elements, &dyn Elements)]`.
    Arrays(&'a [(Var, Operand, String)]),
}

/// `__grad_trace.<method>(args..)`, run for its effect (never removed, never run again by a
/// recomputation).
pub fn record(b: &mut Builder, method: &str, args: &[Arg]) -> Inst {
    effect(b, method, args, "recorded").0
}

/// `__grad_trace.value(args..)`, run for its effect and giving the row's number.
pub fn row(b: &mut Builder, args: &[Arg]) -> (Inst, Var) {
    effect(b, "value", args, "row")
}

/// `__grad_trace.<method>(args..)` (`input`, `load`), run for its effect and giving a row's
/// number.
pub fn row_of(b: &mut Builder, method: &str, args: &[Arg]) -> (Inst, Var) {
    effect(b, method, args, "row")
}

fn effect(b: &mut Builder, method: &str, args: &[Arg], name: &'static str) -> (Inst, Var) {
    let (tokens, refs) = call(b, method, args);
    let var = b.new_var(Kind::Opaque, Name::Fixed(name), false, Span::call_site());
    let inst = Inst::Opaque {
        var,
        expr: Opaque {
            tokens,
            refs,
            effectful: true,
            prec: PREC_ATOM,
        },
        ty: None,
    };
    (inst, var)
}

/// `__grad_trace.<method>(args..)` as a value (a counter), pushed in the builder's block.
pub fn query(b: &mut Builder, method: &str, args: &[Arg]) -> Operand {
    let (tokens, refs) = call(b, method, args);
    b.opaque(tokens, refs, Kind::Opaque)
}

/// A loop's iteration counter.
pub fn counter(b: &mut Builder, span: Span) -> Var {
    b.new_var(Kind::Opaque, Name::Fixed("iteration"), false, span)
}

pub fn zero(b: &mut Builder) -> Operand {
    b.add_extern(quote!(0usize))
}

/// Makes `counter` a value `lp` carries, from `init`, one more each iteration (`up`) or one
/// less (a sweep walking backwards, wrapping below the first iteration). Returns its value
/// after the loop.
pub fn count(b: &mut Builder, lp: &mut Loop, counter: Var, init: Operand, up: bool) -> Var {
    let (next, var) = step(b, counter, up);
    let out = self::counter(b, b.info(counter).span);
    lp.body.insts.push(next);
    lp.carry(
        Carry {
            phi: counter,
            init,
            out,
        },
        Operand::Var(var),
    );
    out
}

/// The counter's next value (`c + 1`, or `c - 1` wrapping): an instruction and the variable it
/// defines.
fn step(b: &mut Builder, c: Var, up: bool) -> (Inst, Var) {
    let p = Ident::new(&placeholder(0), Span::call_site());
    let tokens = if up {
        quote!(#p + 1usize)
    } else {
        quote!(#p.wrapping_sub(1usize))
    };
    let var = b.new_var(
        Kind::Opaque,
        Name::Fixed("iteration"),
        false,
        b.info(c).span,
    );
    let inst = Inst::Opaque {
        var,
        expr: Opaque {
            tokens,
            refs: vec![c],
            effectful: false,
            prec: if up { 4 } else { PREC_ATOM },
        },
        ty: None,
    };
    (inst, var)
}

fn call(b: &Builder, method: &str, args: &[Arg]) -> (TokenStream, Vec<Var>) {
    let mut refs = Vec::new();
    let mut var = |v: Var, refs: &mut Vec<Var>| {
        let id = Ident::new(&placeholder(refs.len()), Span::call_site());
        refs.push(v);
        quote!(#id)
    };
    let float = |o: Operand,
                 refs: &mut Vec<Var>,
                 var: &mut dyn FnMut(Var, &mut Vec<Var>) -> TokenStream| {
        let t = match o {
            Operand::Var(v) => var(v, refs),
            Operand::Lit(x) => return float_lit_typed(x, Float::F64),
            Operand::Const(c) => named_const(c, b.float),
            Operand::Extern(e) => b.externs[e as usize].clone(),
            Operand::Int(_) | Operand::Bool(_) => return float_lit_typed(0.0, Float::F64),
        };
        quote!(__grad_krate::__private::to_f64(#t))
    };
    let row = |o: Operand, refs: &mut Vec<Var>| match o {
        Operand::Var(v) => {
            let id = Ident::new(&placeholder(refs.len()), Span::call_site());
            refs.push(v);
            quote!(#id)
        }
        Operand::Extern(e) => b.externs[e as usize].clone(),
        _ => quote!(usize::MAX),
    };
    let mut parts = Vec::new();
    for a in args {
        parts.push(match a {
            Arg::Num(n) => {
                let n = Literal::usize_suffixed(*n);
                quote!(#n)
            }
            Arg::Path(vs) => {
                let xs: Vec<TokenStream> = vs.iter().map(|v| var(*v, &mut refs)).collect();
                quote!(&[#(#xs),*])
            }
            Arg::Float(o) => float(*o, &mut refs, &mut var),
            Arg::Floats(os) => {
                let xs: Vec<TokenStream> =
                    os.iter().map(|o| float(*o, &mut refs, &mut var)).collect();
                quote!(&[#(#xs),*])
            }
            Arg::Count(v) => var(*v, &mut refs),
            Arg::Rows(os) => {
                let xs: Vec<TokenStream> = os.iter().map(|o| row(*o, &mut refs)).collect();
                quote!(&[#(#xs),*])
            }
            Arg::Row(o) => row(*o, &mut refs),
            Arg::Str(s) => {
                let s = Literal::string(s);
                quote!(#s)
            }
            Arg::Array(v) => {
                let a = var(*v, &mut refs);
                quote!(&#a)
            }
            Arg::Arrays(list) => {
                let xs: Vec<TokenStream> = list
                    .iter()
                    .map(|(arr, partial, name)| {
                        let n = Literal::usize_suffixed(arr.0 as usize);
                        let name = Literal::string(name);
                        let a = var(*arr, &mut refs);
                        let p = match partial {
                            Operand::Var(v) => var(*v, &mut refs),
                            Operand::Extern(e) => b.externs[*e as usize].clone(),
                            _ => quote!(0.0_f64),
                        };
                        quote!((#n, #name, &#p as &dyn __grad_krate::__private::Elements, &#a as &dyn __grad_krate::__private::Elements))
                    })
                    .collect();
                quote!(&[#(#xs),*])
            }
            Arg::Index(os) => {
                let xs: Vec<TokenStream> = os
                    .iter()
                    .map(|o| match o {
                        Operand::Var(v) => var(*v, &mut refs),
                        Operand::Extern(e) => b.externs[*e as usize].clone(),
                        Operand::Int(i) => {
                            let i = Literal::usize_suffixed(usize::try_from(*i).unwrap_or(0));
                            quote!(#i)
                        }
                        _ => quote!(usize::MAX),
                    })
                    .collect();
                quote!(&[#(#xs),*])
            }
        });
    }
    let m = Ident::new(method, Span::call_site());
    (quote!(__grad_trace.#m(#(#parts),*)), refs)
}
