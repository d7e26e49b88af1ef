//! A caller's statements lending a float to a `#[grad]` function that writes it: `f(.., &mut
//! s, ..);` read as `s = f(.., s, ..);` ([`desugar_calls`]), before every scan of the body;
//! and, first, local `&mut` aliases of floats resolved (`super::alias`). What is a float is
//! read from the syntax: the parameters' types, and each `let`'s type or value ([`Lets`]).

use super::check::{array_of, float_of, Param};
use super::out_param::OUT_CALL;
use rustc_hash::FxHashSet as HashSet;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Pat};

/// The body with each statement `f(.., &mut s, ..);` that lends a float or an array of floats
/// (`s`, `a`, `a[i]`) to a function by its path written `s = f(.., s, ..);`, the call marked
/// ([`OUT_CALL`]). A name is a float or an array of floats when its parameter's type says so,
/// or its `let` (a float or array type, a float literal, an array of them, arithmetic on such
/// names, a copy of one): anything else is left as written (the escape analysis refuses it if
/// the value is one the macro tracks).
pub fn desugar_calls(block: &syn::Block, params: &[Param]) -> syn::Block {
    let mut floats: HashSet<String> = params
        .iter()
        .filter(|p| p.float.is_some() || p.array.as_ref().is_some_and(|(i, _)| fixed(i)))
        .filter_map(|p| p.ident.as_ref().map(ToString::to_string))
        .collect();
    // Parameters by reference (`u0: &[f64; 4]`): a copy `*u0` is an array of floats.
    let refs: HashSet<String> = params
        .iter()
        .filter(|p| p.array.as_ref().is_some_and(|(i, _)| i.by_ref))
        .filter_map(|p| p.ident.as_ref().map(ToString::to_string))
        .collect();
    let mut lets = Lets {
        floats: &mut floats,
        refs: &refs,
        other: HashSet::default(),
    };
    lets.visit_block(block);
    let Lets { other, .. } = lets;
    // A name bound as something else too is left alone.
    floats.retain(|n| !other.contains(n));
    let mut out = block.clone();
    Desugar {
        floats: &floats,
        depth: 0,
    }
    .visit_block_mut(&mut out);
    out
}

/// An array of floats held by value, of lengths fixed at compile time (not a slice or a `Vec`,
/// which a copy would move).
fn fixed(i: &crate::ir::ArrayInfo) -> bool {
    !i.by_ref && i.lens.iter().all(Option::is_some)
}

/// The names `let` binds to floats or arrays of floats (`floats`), and to anything else.
struct Lets<'a> {
    floats: &'a mut HashSet<String>,
    refs: &'a HashSet<String>,
    other: HashSet<String>,
}

/// Methods of floats that give something else than a float.
const NOT_FLOAT: &[&str] = &[
    "is_nan",
    "is_finite",
    "is_infinite",
    "is_normal",
    "is_subnormal",
    "is_sign_negative",
    "is_sign_positive",
    "to_bits",
    "partial_cmp",
    "total_cmp",
    "classify",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "iter",
    "to_string",
];

impl Lets<'_> {
    /// Whether `e` is a float or an array of floats, as far as its syntax tells.
    fn floaty(&self, e: &Expr) -> bool {
        let named = |e: &Expr, set: &HashSet<String>| matches!(e, Expr::Path(p) if p.path.get_ident().is_some_and(|i| set.contains(&i.to_string())));
        let float_type = |p: &syn::Path| {
            p.segments.iter().any(|s| {
                s.ident == "f64" || s.ident == "f32" || s.ident == crate::ir::GENERIC_FLOAT
            })
        };
        match e {
            Expr::Lit(l) => matches!(l.lit, syn::Lit::Float(_)),
            Expr::Paren(p) => self.floaty(&p.expr),
            Expr::Group(g) => self.floaty(&g.expr),
            Expr::Unary(u) => match u.op {
                syn::UnOp::Neg(_) => self.floaty(&u.expr),
                syn::UnOp::Deref(_) => named(&u.expr, self.refs),
                _ => false,
            },
            Expr::Binary(b) => {
                use syn::BinOp::*;
                matches!(b.op, Add(_) | Sub(_) | Mul(_) | Div(_) | Rem(_))
                    && (self.floaty(&b.left) || self.floaty(&b.right))
            }
            Expr::Path(p) => {
                named(e, self.floats) || (p.path.segments.len() > 1 && float_type(&p.path))
            }
            // An element of an array of floats.
            Expr::Index(ix) => {
                let mut base = &*ix.expr;
                while let Expr::Index(inner) = base {
                    base = &inner.expr;
                }
                named(base, self.floats) || named(base, self.refs)
            }
            Expr::Array(a) => a.elems.first().is_some_and(|x| self.floaty(x)),
            Expr::Repeat(r) => self.floaty(&r.expr),
            Expr::Cast(c) => float_of(&c.ty).is_some(),
            Expr::MethodCall(m) => {
                let turbofish = m.turbofish.as_ref().is_some_and(|t| {
                    t.args.iter().any(
                        |a| matches!(a, syn::GenericArgument::Type(t) if float_of(t).is_some()),
                    )
                });
                turbofish
                    || (self.floaty(&m.receiver)
                        && !NOT_FLOAT.contains(&m.method.to_string().as_str()))
            }
            // `f64::max(a, b)`, `f64::consts::PI`.
            Expr::Call(c) => matches!(&*c.func, Expr::Path(p) if float_type(&p.path)),
            Expr::If(i) => {
                let then = i.then_branch.stmts.last();
                matches!(then, Some(syn::Stmt::Expr(e, None)) if self.floaty(e))
                    || i.else_branch.as_ref().is_some_and(|(_, e)| self.floaty(e))
            }
            Expr::Block(b) => {
                matches!(b.block.stmts.last(), Some(syn::Stmt::Expr(e, None)) if self.floaty(e))
            }
            Expr::Match(m) => m.arms.iter().any(|a| self.floaty(&a.body)),
            _ => false,
        }
    }
}

impl<'ast> Visit<'ast> for Lets<'_> {
    fn visit_local(&mut self, l: &'ast syn::Local) {
        let (pat, ty) = match &l.pat {
            Pat::Type(t) => (&*t.pat, Some(&*t.ty)),
            other => (other, None),
        };
        if let Pat::Ident(pi) = pat {
            let name = pi.ident.to_string();
            let typed =
                ty.map(|t| float_of(t).is_some() || array_of(t).is_some_and(|(i, _)| fixed(&i)));
            let init = l.init.as_ref().map(|i| self.floaty(&i.expr));
            if typed.or(init) == Some(true) {
                self.floats.insert(name);
            } else {
                self.other.insert(name);
            }
        }
        syn::visit::visit_local(self, l);
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

struct Desugar<'a> {
    floats: &'a HashSet<String>,
    /// Blocks entered: the function's body is the first.
    depth: usize,
}

impl Desugar<'_> {
    /// `&mut s`, `&mut a[i]`: the place, if rooted in a float or an array of floats.
    fn lent<'e>(&self, e: &'e Expr) -> Option<&'e Expr> {
        let Expr::Reference(r) = e else { return None };
        r.mutability?;
        let mut root = &*r.expr;
        while let Expr::Index(ix) = root {
            root = &ix.expr;
        }
        match root {
            Expr::Path(p)
                if p.path
                    .get_ident()
                    .is_some_and(|i| self.floats.contains(&i.to_string())) =>
            {
                Some(&r.expr)
            }
            _ => None,
        }
    }

    /// `s = f(.., s, ..)` for a call `f(.., &mut s, ..)` lending one float place.
    fn assignment(&self, e: &Expr) -> Option<Expr> {
        let Expr::Call(c) = e else { return None };
        if !matches!(&*c.func, Expr::Path(_)) {
            return None;
        }
        let lent: Vec<usize> = (0..c.args.len())
            .filter(|&k| c.args.iter().nth(k).and_then(|a| self.lent(a)).is_some())
            .collect();
        let [k] = lent[..] else { return None };
        let mut call = c.clone();
        let place = self.lent(c.args.iter().nth(k)?)?.clone();
        if let Some(a) = call.args.iter_mut().nth(k) {
            *a = place.clone();
        }
        let marker = syn::Ident::new(OUT_CALL, proc_macro2::Span::call_site());
        let k = proc_macro2::Literal::usize_unsuffixed(k);
        call.attrs.push(syn::parse_quote!(#[#marker = #k]));
        Some(Expr::Assign(syn::ExprAssign {
            attrs: Vec::new(),
            left: Box::new(place),
            eq_token: Default::default(),
            right: Box::new(Expr::Call(call)),
        }))
    }
}

impl VisitMut for Desugar<'_> {
    fn visit_block_mut(&mut self, b: &mut syn::Block) {
        // `let a = &mut s; *a *= 2.0;`: `s *= 2.0;`.
        super::alias::resolve(&mut b.stmts, self.floats);
        let nested = self.depth > 0;
        self.depth += 1;
        for s in &mut b.stmts {
            if let syn::Stmt::Expr(e, semi) = s {
                // A statement, or the last expression of a block inside the body (a loop's
                // body: `()`), not the function's value.
                if semi.is_some() || nested {
                    if let Some(a) = self.assignment(e) {
                        *e = a;
                        *semi = Some(Default::default());
                        continue;
                    }
                }
            }
            self.visit_stmt_mut(s);
        }
        self.depth -= 1;
    }
    fn visit_expr_closure_mut(&mut self, _: &mut syn::ExprClosure) {}
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}
