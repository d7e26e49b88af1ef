//! Checks the signature of an annotated function and reads what later stages need from it.
//! Each check says why the input is refused; all of them run, so one build shows every error.

use crate::front::args::Args;
use crate::front::ctxt::Ctxt;
use crate::ir::{ArrayInfo, Float};
use quote::ToTokens;
use syn::{FnArg, Ident, ItemFn, Pat, ReturnType, Type};

#[derive(Clone)]
pub struct Param {
    /// `None` for a `_` pattern.
    pub ident: Option<Ident>,
    pub ty: Type,
    pub float: Option<Float>,
    /// An array or slice of floats (`[f64; N]`, `[[f64; M]; N]`, `&[f64]`), with its element
    /// type.
    pub array: Option<(ArrayInfo, Float)>,
    pub wrt: bool,
    /// Declared `mut`.
    pub mutable: bool,
    /// A struct of parameters differentiated field by field (`expand::structs`): its
    /// derivative has its type.
    pub structure: bool,
    /// A struct's field made a parameter (`expand::structs`): its type is the macro's guess,
    /// not written by the user.
    pub field: bool,
}

pub struct Sig {
    pub float: Float,
    /// A function returning several floats (`(f64, f64)`, `[f64; 3]`): how many. It gets a
    /// `_jacobian`.
    pub outputs: Option<usize>,
    pub params: Vec<Param>,
    /// Indices into `params`, in `wrt` order.
    pub wrt: Vec<usize>,
    /// A method whose receiver can change (`&mut self`, `mut self`): calls on it may change
    /// what the body reads of `self`.
    pub self_changes: bool,
    /// `checkpoint` (see `Args::checkpoint`).
    pub checkpoint: bool,
}

/// A type as a user writes it (`&mut f64`, not `& mut f64`), for messages.
pub fn type_str(ty: &Type) -> String {
    let mut s = ty.to_token_stream().to_string();
    for (from, to) in [
        ("& ", "&"),
        (" :: ", "::"),
        (":: ", "::"),
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ,", ","),
    ] {
        s = s.replace(from, to);
    }
    s
}

/// The shape of an array or slice of floats: `[F; N]`, `[[F; M]; N]`, `&[F; N]`, `&[F]`,
/// `&[[F; M]]`, with `F` its element type.
pub fn array_of(ty: &Type) -> Option<(ArrayInfo, Float)> {
    fn dims(ty: &Type, lens: &mut Vec<Option<proc_macro2::TokenStream>>) -> Option<Float> {
        match ty {
            Type::Paren(p) => dims(&p.elem, lens),
            Type::Group(g) => dims(&g.elem, lens),
            Type::Array(a) => {
                lens.push(Some(a.len.to_token_stream()));
                match float_of(&a.elem) {
                    Some(f) => Some(f),
                    None => dims(&a.elem, lens),
                }
            }
            _ => None,
        }
    }
    let (inner, by_ref) = match ty {
        Type::Reference(r) if r.mutability.is_none() => (&*r.elem, true),
        other => (other, false),
    };
    let mut lens = Vec::new();
    let float = match inner {
        Type::Slice(s) if by_ref => {
            lens.push(None);
            match float_of(&s.elem) {
                Some(f) => f,
                None => dims(&s.elem, &mut lens)?,
            }
        }
        // `Vec<F>` and `&Vec<F>`: a slice whose length is known at run time.
        other => match vec_of(other) {
            Some(elem) => {
                lens.push(None);
                float_of(elem)?
            }
            None => dims(other, &mut lens)?,
        },
    };
    Some((
        ArrayInfo {
            lens,
            by_ref,
            len_from_value: false,
        },
        float,
    ))
}

/// `T` of `Vec<T>` (`std::vec::Vec<T>`, `alloc::vec::Vec<T>`).
pub fn vec_of(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if p.qself.is_some() || last.ident != "Vec" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// Several floats, `(f64, f64, ..)` or `[f64; M]`: the float type and how many (for an array
/// whose length is a constant, the number of elements of the array literal the body ends with).
pub fn several_floats(ty: &Type, body: &syn::Block) -> Option<(Float, usize)> {
    match ty {
        Type::Paren(p) => several_floats(&p.elem, body),
        Type::Tuple(t) if t.elems.len() >= 2 => {
            let f = float_of(&t.elems[0])?;
            t.elems
                .iter()
                .all(|e| float_of(e) == Some(f))
                .then_some((f, t.elems.len()))
        }
        Type::Array(a) => {
            let f = float_of(&a.elem)?;
            match &a.len {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Int(n),
                    ..
                }) => Some((f, n.base10_parse().ok()?)),
                _ => match body.stmts.last() {
                    Some(syn::Stmt::Expr(syn::Expr::Array(a), None)) => Some((f, a.elems.len())),
                    _ => None,
                },
            }
        }
        _ => None,
    }
}

/// An integer or `bool` type: storing a differentiated value in one (`w as i32`, `w > 0.0`) is
/// a step function, whose derivative is 0 wherever it exists.
pub fn is_int_or_bool(ty: &Type) -> bool {
    const NAMES: &[&str] = &[
        "bool", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64", "u128",
        "usize",
    ];
    match ty {
        Type::Path(p) => p
            .path
            .get_ident()
            .is_some_and(|id| NAMES.iter().any(|n| id == n)),
        _ => false,
    }
}

/// `f32` or `f64`, written as such.
pub fn float_of(ty: &Type) -> Option<Float> {
    match ty {
        Type::Paren(p) => float_of(&p.elem),
        Type::Group(g) => float_of(&g.elem),
        Type::Path(p) if p.qself.is_none() => {
            let id = p.path.get_ident()?;
            if id == crate::ir::GENERIC_FLOAT {
                Some(Float::Generic)
            } else if id == "f64" {
                Some(Float::F64)
            } else if id == "f32" {
                Some(Float::F32)
            } else {
                None
            }
        }
        _ => None,
    }
}

pub fn check(cx: &Ctxt, args: &Args, f: &ItemFn) -> Option<Sig> {
    let sig = &f.sig;
    // The companions are ordinary functions computing on floats: these would change what the
    // function is, not just how it computes.
    if let Some(a) = &sig.asyncness {
        cx.error_spanned(
            a,
            "`async fn` is not supported: #[grad] differentiates plain functions",
        );
    }
    if let Some(u) = &sig.unsafety {
        cx.error_spanned(
            u,
            "`unsafe fn` is not supported: #[grad] generates safe code only",
        );
    }
    if let Some(v) = &sig.variadic {
        cx.error_spanned(v, "variadic functions are not supported");
    }
    let mut outputs = None;
    // `T` in `-> T` when it may be the enclosing `impl`'s float type: said once, at the return
    // type, and not again at each `wrt` parameter of that type.
    let mut outer_float = None;
    let float = match &sig.output {
        ReturnType::Type(_, ty) => {
            let fl = float_of(ty).or_else(|| {
                let (f, m) = several_floats(ty, &f.block)?;
                outputs = Some(m);
                Some(f)
            });
            if fl.is_none() {
                // `-> T`, `T` a type parameter the function does not declare: the `impl`'s.
                let outer = matches!(&**ty, Type::Path(p) if p.qself.is_none()
                && p.path.get_ident().is_some_and(|id| {
                    !sig.generics.type_params().any(|t| t.ident == *id)
                        && id.to_string().starts_with(|c: char| c.is_ascii_uppercase())
                }));
                let hint = if outer {
                    let t = ty.to_token_stream();
                    outer_float = Some(t.to_string());
                    format!("; if `{t}` is the float type parameter of the enclosing `impl` (`impl<{t}: Real>`), say so: `#[grad(float = {t}, ...)]`")
                } else if matches!(&**ty, Type::Reference(_)) {
                    "; a reference it returns (`-> &mut f64`) is not followed: write through a `&mut` parameter and return nothing (`fn set_at(v: &mut [f64; 3], i: usize, x: f64) { v[i] = x; }`), or return the value".to_string()
                } else {
                    String::new()
                };
                cx.error_spanned(
                    ty,
                    format!("a #[grad] function must return f32 or f64 (or several of them, `(f64, f64)` or `[f64; 3]`, for a Jacobian: an array of a constant length `[f64; M]` ends with its array literal), or a float type parameter `T: Real`{hint}"),
                );
            }
            fl
        }
        ReturnType::Default => {
            cx.error_spanned(
                &sig.ident,
                format!(
                    "`{}` must return f32 or f64 to be differentiated",
                    sig.ident
                ),
            );
            None
        }
    };

    let mut params = Vec::new();
    let mut self_changes = false;
    for input in &sig.inputs {
        match input {
            // `self` is data: the method's companions take it too.
            FnArg::Receiver(r) => {
                self_changes = r.mutability.is_some();
            }
            FnArg::Typed(pt) => {
                let ident = match &*pt.pat {
                    Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                        Some(pi.ident.clone())
                    }
                    Pat::Wild(_) => None,
                    other => {
                        cx.error_spanned(
                            other,
                            "patterns in parameters are not supported: use a plain name",
                        );
                        None
                    }
                };
                params.push(Param {
                    ident,
                    ty: (*pt.ty).clone(),
                    float: float_of(&pt.ty),
                    array: array_of(&pt.ty),
                    wrt: false,
                    mutable: matches!(&*pt.pat, Pat::Ident(pi) if pi.mutability.is_some()),
                    structure: false,
                    field: false,
                });
            }
        }
    }

    let mut wrt = Vec::new();
    // A building block (no `wrt`) is differentiated with respect to every float parameter, and
    // every array of floats of lengths written in its type.
    let all: Vec<Ident>;
    let names = match &args.wrt {
        Some(w) => w,
        None => {
            all = params
                .iter()
                .filter(|p| {
                    (p.float.is_some() && p.float == float)
                        || p.array.as_ref().is_some_and(|(info, f)| {
                            Some(*f) == float && info.lens.iter().all(Option::is_some)
                        })
                })
                .filter_map(|p| p.ident.clone())
                .collect();
            &all
        }
    };
    for name in names {
        let Some(i) = params.iter().position(|p| p.ident.as_ref() == Some(name)) else {
            // A parameter bound by a pattern is already refused at the pattern, which says to
            // give it a plain name: one mistake, one error.
            if params.iter().any(|p| p.ident.is_none()) {
                continue;
            }
            let wanted = name.to_string();
            let near = params
                .iter()
                .filter_map(|p| p.ident.as_ref().map(Ident::to_string))
                .map(|p| (edit_distance(&wanted, &p), p))
                .filter(|(d, p)| *d <= 1 + p.len() / 3)
                .min();
            let hint = match near {
                Some((_, p)) => format!(": did you mean `{p}`?"),
                None => String::new(),
            };
            cx.error_spanned(
                name,
                format!("`{name}` is not a parameter of `{}`{hint}", sig.ident),
            );
            continue;
        };
        if wrt.contains(&i) {
            cx.error_spanned(name, format!("`{name}` is listed twice in `wrt`"));
            continue;
        }
        let p = &mut params[i];
        // An array or slice of floats is differentiated elementwise.
        let elem = p.float.or(p.array.as_ref().map(|(_, f)| *f));
        match (&p.ty, elem) {
            // At the parameter's type: that is what to change.
            (Type::Reference(r), _) if r.mutability.is_some() => cx.error_spanned(
                r,
                format!(
                    "`{name}` is `&mut {}`: differentiate a value, not a mutable reference (`{name}: {}`)",
                    type_str(&r.elem),
                    type_str(&r.elem)
                ),
            ),
            (ty, None) if outer_float.as_deref() == Some(&*ty.to_token_stream().to_string()) => {}
            (_, None) => cx.error_spanned(
                name,
                format!(
                    "`{name}` has type `{}`; a `wrt` parameter must be f32 or f64, or an array, slice or `Vec` of them (`[f64; N]`, `[[f64; M]; N]`, `&[f64]`, `Vec<f64>`)",
                    type_str(&p.ty)
                ),
            ),
            (_, Some(pf)) if Some(pf) != float && float.is_some() => cx.error_spanned(
                name,
                format!(
                    "`{name}` has type `{}` but `{}` returns `{ret}`: a `wrt` parameter must be of the return type (or an array of it): take it as `{ret}` (the caller converts: `{ret}::from(v)`, `v as {ret}`), or make the function generic over its float type (`fn {}<F: backprop::Real>(..)`)",
                    type_str(&p.ty),
                    sig.ident,
                    sig.ident,
                    ret = match float {
                        Some(Float::F32) => "f32",
                        Some(Float::Generic) => crate::ir::GENERIC_FLOAT,
                        _ => "f64",
                    }
                ),
            ),
            _ => {
                p.wrt = true;
                wrt.push(i);
            }
        }
    }
    Some(Sig {
        float: float?,
        outputs,
        self_changes,
        checkpoint: args.checkpoint,
        params,
        wrt,
    })
}

/// The number of single-character insertions, deletions and substitutions from `a` to `b`.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (row[j + 1] + 1)
                .min(row[j] + 1)
                .min(diag + usize::from(ca != *cb));
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
