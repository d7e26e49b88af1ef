//! `&mut` out-parameters of floats: a `#[grad]` function that writes one (`fn update(acc: &mut
//! f64, x: f64)`) is differentiated as the function from the parameter's value before to its
//! value after (`fn update(mut acc: f64, x: f64) -> f64 { ..; acc }`: [`purify`]), so that its
//! pullback takes the value and gives the new one with its partials; and a caller's statement
//! `update(&mut s, w);` is read as `s = update(s, w);` (`super::lend::desugar_calls`), a call like any
//! other whose value is assigned back. Both are rewrites of the syntax, before everything else
//! reads it: the function as written is emitted untouched.
//!
//! The rewrite is exact, and anything it cannot make exact is refused here: a second `&mut`
//! parameter of floats, a slice, a function that also returns a value, and any use of the
//! parameter other than `*acc`, `acc[i]` and a method call on it (a reference passed on as
//! it is, `acc` rebound). A `&mut` of data (`calls: &mut usize`) is not an output and is left
//! as it is.

use super::check::{array_of, float_of};
use quote::ToTokens;
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
        shared: false,
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

/// `f` with each `wrt` parameter that is a shared reference to a float (`x: &f64`) taken by
/// value (`x: f64`): `*x` read as `x`, `x` in arithmetic as it is, `x` passed on as `&x`. Its
/// companions take the value.
pub fn by_value(f: &ItemFn, wrt: &[syn::Ident]) -> syn::Result<Option<ItemFn>> {
    let mut pure = f.clone();
    let mut any = false;
    for arg in pure.sig.inputs.iter_mut() {
        let FnArg::Typed(pt) = arg else { continue };
        let Type::Reference(r) = &*pt.ty else {
            continue;
        };
        if r.mutability.is_some() || float_of(&r.elem).is_none() {
            continue;
        }
        let Pat::Ident(pi) = &*pt.pat else { continue };
        if !wrt.contains(&pi.ident) {
            continue;
        }
        let name = pi.ident.clone();
        let mut rw = Rewrite {
            name: &name,
            error: None,
            shared: true,
        };
        rw.visit_block_mut(&mut pure.block);
        if let Some(e) = rw.error {
            return Err(e);
        }
        *pt.ty = (*r.elem).clone();
        any = true;
    }
    Ok(any.then_some(pure))
}

/// What the function returns: the parameter's value, a float as it is and an array as the
/// literal of its elements (`[v[0], v[1], v[2]]`: a `#[grad]` function returning an array ends
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
    /// A shared reference to a float differentiated as its value (`x: &f64`): read, never
    /// written, and used bare in arithmetic (`x * y`) or passed on (`g(x)`, as `&x`).
    shared: bool,
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
            Expr::Return(r) if r.expr.is_none() && !self.shared => {
                r.expr = Some(Box::new(syn::parse_quote!(#name)));
                return;
            }
            // `x * y`, `x > y`: the value (`&f64` has the operators of `f64`).
            Expr::Binary(b) if self.shared => {
                if !self.is_name(&b.left) {
                    self.visit_expr_mut(&mut b.left);
                }
                if !self.is_name(&b.right) {
                    self.visit_expr_mut(&mut b.right);
                }
                return;
            }
            // `g(x)`: passed on as a reference to the value.
            Expr::Call(c) if self.shared => {
                self.visit_expr_mut(&mut c.func);
                for a in &mut c.args {
                    if self.is_name(a) {
                        *a = syn::parse_quote!(&#name);
                    } else {
                        self.visit_expr_mut(a);
                    }
                }
                return;
            }
            Expr::Path(_) if self.is_name(e) => {
                let msg = if self.shared {
                    format!("`{name}` is a reference to a float the function is differentiated in: read it as `*{name}` (or bare in arithmetic, `{name} * y`, and passed on to a function, `g({name})`)")
                } else {
                    format!("`{name}` is the function's output, written through its reference: read and write it as `*{name}` (an element as `{name}[i]`), and pass it on to a #[grad] function as `&mut *{name}`")
                };
                self.refuse(e, msg);
                return;
            }
            // A closure reading a shared reference's value (`.map(|v| v * *x)`): read the same
            // way inside; one whose own parameter takes the name does not read it.
            Expr::Closure(c) if self.shared && c.inputs.iter().any(|p| binds(p, name)) => {
                return;
            }
            Expr::Closure(_) if self.shared => {}
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
            let what = if self.shared {
                "a reference the function is differentiated in"
            } else {
                "the function's output"
            };
            let msg = format!("`{}` is {what}: give this value another name", self.name);
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
pub(super) fn binds(p: &Pat, name: &syn::Ident) -> bool {
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
