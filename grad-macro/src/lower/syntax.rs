//! Small questions about syntax: operators, spans, what is refused outright, what is known to be pure.

use crate::ir::{Float, Op};

use crate::rules::RULES;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{BinOp, Expr, Stmt};

/// Loops, jumps and `match` are lowered where they are statements or values of their own; inside
/// an expression that is passed through (a condition, an argument of a function on data) they
/// would escape the transformation.
pub(super) const NESTED: &str = "not supported inside a condition or an expression over data: compute it in a statement before (`let v = ...;`)";

/// Why a construct is refused wherever it appears, if it is, and the tokens to point at (the
/// keyword, not the whole construct).
pub(super) fn refused(e: &Expr) -> Option<(TokenStream, &'static str)> {
    let kw = |t: &dyn ToTokens| t.to_token_stream();
    Some(match e {
        Expr::Closure(c) => (kw(c), "a closure is supported bound to a name (`let f = |v: f64| ..;`, called `f(x)`) or as the argument of `.map(..)` followed by `.sum()` or `.product()`, or of `.fold(..)`: bind it to a name, write a `for` loop, or make it a `#[grad]` function"),
        Expr::Unsafe(u) => (kw(&u.unsafe_token), "`unsafe` is not supported in a #[grad] function: it differentiates safe scalar code only"),
        Expr::Macro(m) => (kw(m), macro_refused(&m.mac)),
        Expr::ForLoop(f) => (kw(&f.for_token), NESTED),
        Expr::While(w) => (kw(&w.while_token), NESTED),
        Expr::Loop(l) => (kw(&l.loop_token), NESTED),
        Expr::Break(b) => (kw(&b.break_token), NESTED),
        Expr::Continue(c) => (kw(&c.continue_token), NESTED),
        Expr::Return(r) => (kw(&r.return_token), NESTED),
        Expr::Match(m) => (kw(&m.match_token), NESTED),
        Expr::Try(t) => (kw(&t.question_token), "the `?` operator is not supported: a #[grad] function computes a plain float"),
        Expr::Async(a) => (kw(&a.async_token), "async code is not supported in a #[grad] function"),
        Expr::Await(a) => (kw(&a.await_token), "async code is not supported in a #[grad] function"),
        Expr::TryBlock(t) => (kw(&t.try_token), "`try` blocks are not supported in a #[grad] function"),
        Expr::Yield(y) => (kw(&y.yield_token), "`yield` is not supported in a #[grad] function"),
        Expr::Let(l) => (kw(&l.let_token), "`if let` and `let` expressions are not supported: compare values with `==`, `<`, ... instead"),
        Expr::Block(b) if b.label.is_some() => (kw(&b.label), "labelled blocks are not supported: use a plain block `{ ... }`"),
        _ => return None,
    })
}

/// A call of the standard library known to have no side effects (a conversion, a length, a
/// comparison): computed again where needed rather than kept. Any other call may have side
/// effects (a random draw, a counter), so it runs exactly as often as in the original.
pub(super) fn known_pure(e: &Expr) -> bool {
    // Besides the rule table's functions (`rule` below).
    const METHODS: &[&str] = &[
        "len",
        "is_empty",
        "pow",
        "is_nan",
        "is_finite",
        "get",
        "first",
        "last",
        "contains",
        "clone",
        "iter",
        "into",
        "try_into",
        "to_f64",
        "count_ones",
        "wrapping_add",
        "wrapping_sub",
        "saturating_sub",
        "checked_sub",
        "unwrap_or",
        "is_some",
        "is_none",
        "as_slice",
    ];
    const FUNCTIONS: &[&str] = &["from", "try_from", "min", "max"];
    // The functions of the rule table (float methods, the helpers) are pure too.
    let rule = |name: &str| RULES.iter().any(|r| r.name == name);
    match e {
        Expr::MethodCall(m) => {
            let name = m.method.to_string();
            METHODS.contains(&name.as_str())
                || crate::lower::escape::FLOAT_PREDICATES.contains(&name.as_str())
                || crate::lower::escape::BIT_CASTS.contains(&name.as_str())
                || rule(&name)
        }
        // A function is known by its path, never by its name alone: a function of the user's
        // own may be called `log` or `max` and have effects.
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) if p.qself.is_none() && p.path.segments.len() >= 2 => {
                let segs = crate::lower::escape::segments(&p.path);
                let (first, last) = (segs[0].as_str(), segs[segs.len() - 1].as_str());
                match first {
                    "backprop" => rule(last),
                    "f64" | "f32" | "Real" => rule(last) || FUNCTIONS.contains(&last),
                    // `T::from_f64(c)` too, for a generic float `T`.
                    crate::ir::GENERIC_FLOAT => {
                        rule(last) || FUNCTIONS.contains(&last) || last == "from_f64"
                    }
                    _ => FUNCTIONS.contains(&last),
                }
            }
            _ => false,
        },
        _ => false,
    }
}

/// The block's last statement is a `return`, `break` or `continue`.
pub(super) fn ends_with_jump(b: &syn::Block) -> bool {
    matches!(
        b.stmts.last(),
        Some(Stmt::Expr(
            Expr::Return(_) | Expr::Break(_) | Expr::Continue(_),
            _
        ))
    )
}

pub(super) fn arith_op(op: &BinOp) -> Option<Op> {
    Some(match op {
        BinOp::Add(_) => Op::Add,
        BinOp::Sub(_) => Op::Sub,
        BinOp::Mul(_) => Op::Mul,
        BinOp::Div(_) => Op::Div,
        BinOp::Rem(_) => Op::Rem,
        _ => return None,
    })
}

pub(super) fn compound(op: &BinOp) -> Option<Op> {
    Some(match op {
        BinOp::AddAssign(_) => Op::Add,
        BinOp::SubAssign(_) => Op::Sub,
        BinOp::MulAssign(_) => Op::Mul,
        BinOp::DivAssign(_) => Op::Div,
        BinOp::RemAssign(_) => Op::Rem,
        _ => return None,
    })
}

pub(super) fn is_cmp(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::Lt(_) | BinOp::Le(_) | BinOp::Gt(_) | BinOp::Ge(_) | BinOp::Eq(_) | BinOp::Ne(_)
    )
}

pub(super) fn is_logic(op: &BinOp) -> bool {
    is_cmp(op) || matches!(op, BinOp::And(_) | BinOp::Or(_))
}

pub(super) use crate::front::check::is_int_or_bool;

pub(super) fn float_suffix(s: &str) -> Option<Float> {
    match s {
        "f32" => Some(Float::F32),
        "f64" => Some(Float::F64),
        _ => None,
    }
}

/// `tokens` with every span set to `span`.
pub(super) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tt| {
            if let proc_macro2::TokenTree::Group(g) = &tt {
                let mut ng = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                ng.set_span(span);
                tt = proc_macro2::TokenTree::Group(ng);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// The span of an expression: from its first token to its last where the compiler can join
/// spans, its first token otherwise, which is what `syn::spanned::Spanned` gives, without
/// printing the whole expression to tokens (which made nested expressions quadratic).
pub(crate) fn span_of(e: &Expr) -> Span {
    let (first, last) = (first_span(e), last_span(e));
    first.join(last).unwrap_or(first)
}

pub(super) fn method_span(m: &syn::ExprMethodCall) -> Span {
    let first = first_span(&m.receiver);
    first.join(m.paren_token.span.close()).unwrap_or(first)
}

pub(super) fn call_span(c: &syn::ExprCall) -> Span {
    let first = first_span(&c.func);
    first.join(c.paren_token.span.close()).unwrap_or(first)
}

pub(super) fn first_span(mut e: &Expr) -> Span {
    loop {
        e = match e {
            Expr::MethodCall(m) => &m.receiver,
            Expr::Binary(b) => &b.left,
            Expr::Call(c) => &c.func,
            Expr::Index(i) => &i.expr,
            Expr::Field(f) => &f.base,
            Expr::Cast(c) => &c.expr,
            Expr::Try(t) => &t.expr,
            Expr::Await(a) => &a.base,
            Expr::Range(syn::ExprRange { start: Some(s), .. }) => s,
            Expr::Paren(p) if p.attrs.is_empty() => return p.paren_token.span.open(),
            Expr::Unary(u) if u.attrs.is_empty() => return u.op.span(),
            Expr::Lit(l) if l.attrs.is_empty() => return l.lit.span(),
            Expr::Path(p) if p.attrs.is_empty() && p.qself.is_none() => {
                return match (&p.path.leading_colon, p.path.segments.first()) {
                    (Some(c), _) => c.spans[0],
                    (None, Some(seg)) => seg.ident.span(),
                    (None, None) => e.span(),
                }
            }
            other => return other.span(),
        };
    }
}

pub(super) fn last_span(mut e: &Expr) -> Span {
    loop {
        e = match e {
            Expr::Binary(b) => &b.right,
            Expr::Unary(u) => &u.expr,
            Expr::MethodCall(m) => return m.paren_token.span.close(),
            Expr::Call(c) => return c.paren_token.span.close(),
            Expr::Paren(p) => return p.paren_token.span.close(),
            Expr::Index(i) => return i.bracket_token.span.close(),
            Expr::Field(f) => return f.member.span(),
            Expr::Lit(l) => return l.lit.span(),
            Expr::Path(p) if p.qself.is_none() => {
                return match p.path.segments.last() {
                    Some(seg) if seg.arguments.is_none() => seg.ident.span(),
                    _ => e.span(),
                }
            }
            other => return other.span(),
        };
    }
}

/// Why a macro in the body is refused: the macro cannot see what it expands to. Printing
/// (`println!`, `dbg!`, ...) has a better way: `trace`.
pub(super) fn macro_refused(m: &syn::Macro) -> &'static str {
    let printing = m.path.segments.last().is_some_and(|s| {
        matches!(
            s.ident.to_string().as_str(),
            "print" | "println" | "eprint" | "eprintln" | "dbg"
        )
    });
    if printing {
        "printing is not supported in a #[grad] function (the macro cannot see what a macro expands to): to see every intermediate value, add `trace` to the attribute (`#[grad(wrt = .., trace)]`) and print the table that `<name>_trace(..)` returns"
    } else {
        "macros are not supported in a #[grad] function: the macro cannot see what they expand to"
    }
}

/// The path of a pullback's tangent: `pullback` → `pullback_jvp` (`__grad_f::pullback_jvp`,
/// `Self::f_pullback_jvp`), the last identifier of `callee` renamed.
pub(super) fn jvp_path(callee: &TokenStream) -> TokenStream {
    let mut toks: Vec<proc_macro2::TokenTree> = callee.clone().into_iter().collect();
    if let Some(proc_macro2::TokenTree::Ident(id)) = toks
        .iter_mut()
        .rev()
        .find(|t| matches!(t, proc_macro2::TokenTree::Ident(_)))
    {
        *id = proc_macro2::Ident::new(&format!("{id}_jvp"), id.span());
    }
    toks.into_iter().collect()
}
