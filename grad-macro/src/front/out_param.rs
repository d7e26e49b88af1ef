//! `&mut` out-parameters of floats: a `#[grad]` function that writes one (`fn update(acc: &mut
//! f64, x: f64)`) is differentiated as the function from the parameter's value before to its
//! value after (`fn update(mut acc: f64, x: f64) -> f64 { ..; acc }`: [`purify`]), so that its
//! pullback takes the value and gives the new one with its partials; and a caller's statement
//! `update(&mut s, w);` is read as `s = update(s, w);` ([`desugar_calls`]), a call like any
//! other whose value is assigned back. Both are rewrites of the syntax, before everything else
//! reads it: the function as written is emitted untouched.
//!
//! The rewrite is exact, and anything it cannot make exact is refused here: a second `&mut`
//! parameter of floats, a slice, a function that also returns a value, and any use of the
//! parameter other than `*acc`, `acc[i]` and a method call on it (a reference passed on as
//! it is, `acc` rebound). A `&mut` of data (`calls: &mut usize`) is not an output and is left
//! as it is.

use super::check::{array_of, float_of, Param};
use quote::ToTokens;
use rustc_hash::FxHashSet as HashSet;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, FnArg, ItemFn, Pat, Type};

/// The marker a caller's rewritten call carries (`#[__grad_out_call = k]`, `k` the argument
/// lent), so that the lowering calls the function as written on data (it takes a reference:
/// `{ let mut t = s; f(&mut t, ..); t }`). Never printed.
pub const OUT_CALL: &str = "__grad_out_call";

/// Whether the call is a caller's rewritten `f(&mut s, ..)` ([`OUT_CALL`]).
pub fn is_out_call(c: &syn::ExprCall) -> bool {
    out_arg(c).is_some()
}

/// Which argument of a caller's rewritten `f(&mut s, ..)` was lent (`#[__grad_out_call = k]`).
pub fn out_arg(c: &syn::ExprCall) -> Option<usize> {
    c.attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident(OUT_CALL) => match &nv.value {
            Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Int(k),
                ..
            }) => k.base10_parse().ok(),
            _ => None,
        },
        _ => None,
    })
}

/// `f` as the function of its `&mut` parameter of floats, if it has one: the parameter taken
/// by value (`mut acc: f64`), the body's writes through it made to it, and its value at the
/// end (or at a `return`) returned.
pub fn purify(f: &ItemFn) -> syn::Result<Option<ItemFn>> {
    let returns_unit = match &f.sig.output {
        syn::ReturnType::Default => true,
        syn::ReturnType::Type(_, t) => matches!(&**t, Type::Tuple(t) if t.elems.is_empty()),
    };
    let mut outs = Vec::new();
    for (k, arg) in f.sig.inputs.iter().enumerate() {
        let FnArg::Typed(pt) = arg else { continue };
        let Type::Reference(r) = &*pt.ty else {
            continue;
        };
        if r.mutability.is_none() {
            continue;
        }
        let elem = &*r.elem;
        if let Type::Slice(s) = elem {
            // (A function returning a value may take a slice of data to change: not an
            // output.)
            if returns_unit && (float_of(&s.elem).is_some() || array_of(&s.elem).is_some()) {
                return Err(syn::Error::new_spanned(
                    &pt.ty,
                    "a `&mut` slice of floats cannot be a #[grad] function's output (its length is known at run time only): take an array of a constant length, `&mut [f64; N]`",
                ));
            }
            continue;
        }
        if float_of(elem).is_none() && array_of(elem).is_none_or(|(i, _)| i.by_ref) {
            continue;
        }
        outs.push((k, pt));
    }
    let Some(&(k, pt)) = outs.first() else {
        return Ok(None);
    };
    if let Some((_, second)) = outs.get(1) {
        return Err(syn::Error::new_spanned(
            &second.pat,
            "a #[grad] function writes at most one `&mut` parameter of floats (its output): take the others by value and return their new values from #[grad] functions of their own",
        ));
    }
    let Pat::Ident(pi) = &*pt.pat else {
        return Err(syn::Error::new_spanned(
            &pt.pat,
            "name the `&mut` parameter (`acc: &mut f64`): #[grad] differentiates what the function writes through it",
        ));
    };
    let name = pi.ident.clone();
    if !returns_unit && !writes(&f.block, &name) {
        // Read only (or passed on as it is): as before, not an output.
        return Ok(None);
    }
    if !returns_unit {
        return Err(syn::Error::new_spanned(
            &f.sig.output,
            format!("`{}` both writes `{name}` and returns a value, and a #[grad] function has one output: return nothing and write `{name}`, or take `{name}` by value and return its new value (`fn {}({name}: f64, ..) -> f64`, called `s = {}(s, ..)`)", f.sig.ident, f.sig.ident, f.sig.ident),
        ));
    }
    let Type::Reference(r) = &*pt.ty else {
        return Ok(None);
    };
    let ty = (*r.elem).clone();
    // The body, reading and writing the value where it wrote through the reference.
    let mut body = (*f.block).clone();
    let mut rw = Rewrite {
        name: &name,
        error: None,
    };
    rw.visit_block_mut(&mut body);
    if let Some(e) = rw.error {
        return Err(e);
    }
    if let Some(syn::Stmt::Expr(_, semi @ None)) = body.stmts.last_mut() {
        *semi = Some(Default::default());
    }
    body.stmts.push(syn::Stmt::Expr(value(&name, &ty)?, None));
    let mut pure = f.clone();
    if let Some(FnArg::Typed(p)) = pure.sig.inputs.iter_mut().nth(k) {
        *p.pat = syn::parse_quote!(mut #name);
        *p.ty = ty.clone();
    }
    pure.sig.output = syn::parse_quote!(-> #ty);
    pure.block = Box::new(body);
    Ok(Some(pure))
}

/// What the function returns: the parameter's value, a float as it is and an array as the
/// literal of its elements (`[v[0], v[1], v[2]]`: a #[grad] function returning an array ends
/// with one), for an array of a length written as a number.
fn value(name: &syn::Ident, ty: &Type) -> syn::Result<Expr> {
    let Type::Array(a) = ty else {
        return Ok(syn::parse_quote!(#name));
    };
    let n = match &a.len {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(n),
            ..
        }) => n.base10_parse::<usize>().ok(),
        _ => None,
    };
    let (Some(n), Some(_)) = (n, float_of(&a.elem)) else {
        return Err(syn::Error::new_spanned(
            ty,
            "a #[grad] function's `&mut` array is an array of floats of a length written as a number (`&mut [f64; 3]`), whose elements are its outputs",
        ));
    };
    let elems = (0..n).map(|k| {
        let k = proc_macro2::Literal::usize_unsuffixed(k);
        quote::quote!(#name[#k])
    });
    Ok(syn::parse_quote!([#(#elems),*]))
}

/// Writes `*acc` as `acc`, `return;` as `return acc;`, and refuses any other use of `acc` than
/// `*acc`, `acc[i]` and `acc.method(..)`.
struct Rewrite<'a> {
    name: &'a syn::Ident,
    error: Option<syn::Error>,
}

impl Rewrite<'_> {
    fn is_name(&self, e: &Expr) -> bool {
        matches!(e, Expr::Path(p) if p.qself.is_none() && p.path.is_ident(self.name))
    }

    fn refuse(&mut self, at: &dyn ToTokens, msg: String) {
        if self.error.is_none() {
            self.error = Some(syn::Error::new_spanned(at, msg));
        }
    }
}

impl VisitMut for Rewrite<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        let name = self.name;
        match e {
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) && self.is_name(&u.expr) => {
                *e = (*u.expr).clone();
                return;
            }
            Expr::Index(ix) if self.is_name(&ix.expr) => {
                self.visit_expr_mut(&mut ix.index);
                return;
            }
            Expr::MethodCall(m) if self.is_name(&m.receiver) => {
                for a in &mut m.args {
                    self.visit_expr_mut(a);
                }
                return;
            }
            Expr::Return(r) if r.expr.is_none() => {
                r.expr = Some(Box::new(syn::parse_quote!(#name)));
                return;
            }
            Expr::Path(_) if self.is_name(e) => {
                let msg = format!("`{name}` is the function's output, written through its reference: read and write it as `*{name}` (an element as `{name}[i]`), and pass it on to a #[grad] function as `&mut *{name}`");
                self.refuse(e, msg);
                return;
            }
            Expr::Closure(c) if mentions(&c.body, name) => {
                let msg = format!("a closure cannot use `{name}`, the function's output: write through `*{name}` in the body itself");
                self.refuse(&*c, msg);
                return;
            }
            _ => {}
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }

    fn visit_local_mut(&mut self, l: &mut syn::Local) {
        if binds(&l.pat, self.name) {
            let msg = format!(
                "`{}` is the function's output: give this value another name",
                self.name
            );
            self.refuse(&l.pat, msg);
        }
        syn::visit_mut::visit_local_mut(self, l);
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// Whether the body assigns through `name` (`*name = ..`, `name[i] += ..`).
fn writes(body: &syn::Block, name: &syn::Ident) -> bool {
    struct Find<'a>(&'a syn::Ident, bool);
    impl Find<'_> {
        fn through(&self, e: &Expr) -> bool {
            match e {
                Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => {
                    matches!(&*u.expr, Expr::Path(p) if p.path.is_ident(self.0))
                }
                Expr::Index(ix) => {
                    matches!(&*ix.expr, Expr::Path(p) if p.path.is_ident(self.0))
                        || self.through(&ix.expr)
                }
                Expr::Paren(p) => self.through(&p.expr),
                _ => false,
            }
        }
    }
    impl<'ast> Visit<'ast> for Find<'_> {
        fn visit_expr(&mut self, e: &'ast Expr) {
            match e {
                Expr::Assign(a) => self.1 |= self.through(&a.left),
                Expr::Binary(b) => {
                    use syn::BinOp::*;
                    let compound = matches!(
                        b.op,
                        AddAssign(_) | SubAssign(_) | MulAssign(_) | DivAssign(_) | RemAssign(_)
                    );
                    self.1 |= compound && self.through(&b.left);
                }
                _ => {}
            }
            syn::visit::visit_expr(self, e);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut f = Find(name, false);
    f.visit_block(body);
    f.1
}

/// Whether `e` names `name`.
fn mentions(e: &Expr, name: &syn::Ident) -> bool {
    struct Find<'a>(&'a syn::Ident, bool);
    impl<'ast> Visit<'ast> for Find<'_> {
        fn visit_path(&mut self, p: &'ast syn::Path) {
            self.1 |= p.is_ident(self.0);
        }
    }
    let mut f = Find(name, false);
    f.visit_expr(e);
    f.1
}

/// Whether the pattern binds `name`.
fn binds(p: &Pat, name: &syn::Ident) -> bool {
    struct Find<'a>(&'a syn::Ident, bool);
    impl<'ast> Visit<'ast> for Find<'_> {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.1 |= p.ident == *self.0;
        }
    }
    let mut f = Find(name, false);
    f.visit_pat(p);
    f.1
}

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
