//! What loops iterate (ranges, arrays, zips, enumerations), the patterns that bind each element, and the iterator reductions (`sum`, `fold`, ...).

use super::Lowerer;
use super::*;
use crate::ir::{placeholder, ArrayInfo, Elem, Kind, Name, Op, Operand, Var};
use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::spanned::Spanned;
use syn::{Expr, Ident, Pat};

impl Lowerer<'_> {
    pub(super) fn reduce(&mut self, m: &syn::ExprMethodCall, name: &str) -> Operand {
        // `iter.map(f).map(g)...`: the closures, first applied first.
        let mut closures: Vec<&syn::ExprClosure> = Vec::new();
        let mut iter: &Expr = &m.receiver;
        while let Expr::MethodCall(r) = iter {
            if r.method != "map" || r.args.len() != 1 {
                break;
            }
            match &r.args[0] {
                Expr::Closure(c) => closures.push(c),
                other => {
                    self.error(other, "`.map(..)` takes a closure here: `.map(|x| ...)`");
                    return Operand::Lit(0.0);
                }
            }
            iter = &r.receiver;
        }
        closures.reverse();
        for c in &closures {
            if c.inputs.len() != 1 {
                self.error(&c.inputs, "the closure of `.map(..)` takes one argument");
                return Operand::Lit(0.0);
            }
        }
        let (init, fold) = match name {
            // Exactly what `Sum` starts from (the sign of an empty sum's zero).
            "sum" => {
                let ty = crate::emit::tokens::float_type_tokens(self.b.float);
                let zero = self
                    .b
                    .add_extern(quote!(<#ty as ::core::iter::Sum>::sum(::core::iter::empty())));
                (zero, None)
            }
            "product" => (Operand::Lit(1.0), None),
            _ => {
                let Expr::Closure(c) = &m.args[1] else {
                    return self.error(
                        &m.args[1],
                        "`.fold(..)` takes a closure here: `.fold(init, |acc, x| acc.max(x))`",
                    );
                };
                let init = self.expr(&m.args[0]);
                if let Operand::Int(_) = init {
                    self.check_float_operands(&[(init, &m.args[0])]);
                }
                if c.inputs.len() != 2 {
                    self.error(
                        &c.inputs,
                        "the closure of `.fold(..)` takes two arguments: `|acc, x|`",
                    );
                    return Operand::Lit(0.0);
                }
                (init, Some(c))
            }
        };
        self.hidden += 1;
        let acc = format!("#acc{}", self.hidden);
        if idents(&Expr::MethodCall(m.clone()))
            .iter()
            .any(|n| self.active_names.contains(n))
        {
            self.active_names.insert(acc.clone());
        }
        self.bind(acc.clone(), init);
        let item_pat: Pat = match (closures.first(), fold) {
            (Some(c), _) => c.inputs[0].clone(),
            (None, Some(f)) => f.inputs[1].clone(),
            (None, None) => syn::parse_quote!(__grad_item),
        };
        let acc_name = acc.clone();
        let op = if name == "product" { Op::Mul } else { Op::Add };
        let span = m.method.span();
        let synth = closures.is_empty() && fold.is_none();
        let mut body = |l: &mut Self| {
            let cur = l.lookup(&acc_name).unwrap_or(Operand::Lit(0.0));
            // The mapped value: each closure's body, its argument bound to the value before.
            let mut value = None;
            for (k, c) in closures.iter().enumerate() {
                if k > 0 {
                    let prev = value.unwrap_or(Operand::Lit(0.0));
                    l.bind_value_pat(&c.inputs[0], prev);
                }
                l.closure_depth += 1;
                let floor = l.closure_floor.replace(l.env.len());
                value = Some(l.expr(&c.body));
                l.closure_floor = floor;
                l.closure_depth -= 1;
            }
            if let Some(f) = fold {
                l.bind_value_pat(&f.inputs[0], cur);
                if let Some(v) = value {
                    l.bind_value_pat(&f.inputs[1], v);
                }
                l.closure_depth += 1;
                let floor = l.closure_floor.replace(l.env.len());
                let v = l.expr(&f.body);
                l.closure_floor = floor;
                l.closure_depth -= 1;
                l.assign(&acc_name, v);
                return;
            }
            let value = match value {
                Some(v) => v,
                None => l.lookup("__grad_item").unwrap_or(Operand::Lit(0.0)),
            };
            if matches!(l.b.kind(&value), Kind::Bool | Kind::Array) && !l.diverged() {
                let what = if op == Op::Mul { "multiply" } else { "add up" };
                l.error(
                    &m.method,
                    format!("`.{}()` here must {what} floats", m.method),
                );
                return;
            }
            let new = l.b.op(op, vec![cur, value], span);
            l.assign(&acc_name, new);
        };
        let first_var = self.b.vars.len();
        self.run_loop(
            span,
            vec![acc.clone()],
            Some((&item_pat, iter)),
            false,
            &mut body,
        );
        if synth {
            // The synthesized item is the code's own: numbered like other temporaries.
            for v in first_var..self.b.vars.len() {
                let info = &mut self.b.vars[v];
                if info.name == Name::Source("__grad_item".into()) {
                    info.name = Name::Temp;
                }
            }
        }
        self.lookup(&acc).unwrap_or(Operand::Lit(0.0))
    }

    /// Binds a closure argument that receives a computed value: a name, or `_`.
    pub(super) fn bind_value_pat(&mut self, pat: &Pat, v: Operand) {
        match strip_pat(pat) {
            Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                self.bind(pi.ident.to_string(), v);
            }
            Pat::Wild(_) => {}
            other => {
                self.error(
                    other,
                    "this closure argument receives a computed value: give it a plain name",
                );
            }
        }
    }

    /// What the macro knows of an iterable expression.
    pub(super) fn src_of(&mut self, e: &Expr) -> Src {
        match e {
            Expr::Paren(p) => self.src_of(&p.expr),
            Expr::Group(g) => self.src_of(&g.expr),
            Expr::MethodCall(m) if m.turbofish.is_none() => {
                let name = m.method.to_string();
                match (name.as_str(), m.args.len()) {
                    ("iter", 0) => self.collection(&m.receiver, Some(true)),
                    ("into_iter", 0) => self.collection(&m.receiver, None),
                    ("zip", 1) => Src::Zip(
                        Box::new(self.src_of(&m.receiver)),
                        Box::new(self.src_of(&m.args[0])),
                    ),
                    ("enumerate", 0) => Src::Enumerate(Box::new(self.src_of(&m.receiver))),
                    ("rev", 0) => {
                        let inner = self.src_of(&m.receiver);
                        if inner.has_active(self) {
                            self.error(
                                &m.method,
                                "iterating a differentiated array in reverse is not supported: loop over its indices in reverse (`for i in (0..n).rev()`)",
                            );
                            return Src::Refused;
                        }
                        Src::Rev(Box::new(inner))
                    }
                    ("copied", 0) | ("cloned", 0) => {
                        Src::Copied(Box::new(self.src_of(&m.receiver)))
                    }
                    _ => {
                        let inner = self.src_of(&m.receiver);
                        if inner.has_array() {
                            self.error(
                                &m.method,
                                format!("`.{name}()` over an array of floats is not supported in a #[grad] loop: use `.iter()`, `.zip(..)`, `.enumerate()`, or index the array"),
                            );
                        }
                        Src::Data(None)
                    }
                }
            }
            Expr::Reference(r) if r.mutability.is_none() => self.collection(&r.expr, Some(true)),
            Expr::Path(_) | Expr::Index(_) => self.collection(e, None),
            Expr::Range(r) => {
                let lit = |e: &Option<Box<Expr>>| match e.as_deref() {
                    Some(Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Int(i),
                        ..
                    })) => i.base10_parse::<u64>().ok(),
                    _ => None,
                };
                let n = match (lit(&r.start), lit(&r.end), &r.limits) {
                    (Some(a), Some(b), syn::RangeLimits::HalfOpen(_)) => Some(b.saturating_sub(a)),
                    (Some(a), Some(b), syn::RangeLimits::Closed(_)) => {
                        Some((b + 1).saturating_sub(a))
                    }
                    _ => None,
                };
                Src::Data(n.map(|n| {
                    let l = proc_macro2::Literal::u64_unsuffixed(n);
                    quote!(#l)
                }))
            }
            _ => Src::Data(None),
        }
    }

    /// The items of iterating `e` (`&e`, `e.iter()` when `by_ref`, else `e` by value).
    pub(super) fn collection(&mut self, e: &Expr, by_ref: Option<bool>) -> Src {
        // A row bound by an outer loop (`for row in w.iter()`) is a reference or not as that
        // loop bound it.
        let row_by_ref = match e {
            Expr::Path(p) => p
                .path
                .get_ident()
                .and_then(|id| self.lookup(&id.to_string()))
                .and_then(|o| o.as_var())
                .filter(|v| self.aliases.contains_key(v))
                .and_then(|v| self.b.arrays.get(&v))
                .map(|i| i.by_ref),
            _ => None,
        };
        if let Some((arr, pre, idxs)) = self.array_place(e) {
            if let Some(r) = idxs.iter().find(|i| matches!(i, Expr::Range(_))) {
                self.error(r, SLICING);
                return Src::Refused;
            }
            let info = self.b.arrays.get(&arr).cloned();
            let dims = info.as_ref().map_or(1, ArrayInfo::dims);
            if pre.len() + idxs.len() >= dims {
                return Src::Data(None);
            }
            let mut prefix = pre;
            prefix.extend(self.index_operands(&idxs));
            let by_ref = by_ref.unwrap_or_else(|| {
                // By value: a reference (a slice parameter, a row the outer loop bound by
                // reference) yields references, an array its elements.
                row_by_ref.unwrap_or_else(|| {
                    info.as_ref()
                        .is_some_and(|i| i.by_ref && prefix.is_empty() && idxs.is_empty())
                })
            });
            return Src::Arr {
                arr,
                prefix,
                by_ref,
            };
        }
        // Data: the trip count of a data array parameter of constant length.
        if let Expr::Path(p) = e {
            if let Some(v) = p
                .path
                .get_ident()
                .and_then(|id| self.lookup(&id.to_string()))
                .and_then(|o| o.as_var())
            {
                if let Some(len) = self.data_arrays.get(&v).and_then(|i| i.lens[0].clone()) {
                    return Src::Data(Some(len));
                }
            }
        }
        Src::Data(None)
    }

    /// Binds the variables of a loop pattern matched against `src`; returns the pattern to emit
    /// (with placeholders for the bound variables, in `refs`).
    pub(super) fn bind_pat(
        &mut self,
        pat: &Pat,
        src: &Src,
        refs: &mut Vec<Var>,
        elems: &mut Vec<Elem>,
    ) -> TokenStream {
        let pat = strip_pat(pat);
        match (pat, src) {
            (Pat::Tuple(t), Src::Zip(a, b)) if t.elems.len() == 2 => {
                let x = self.bind_pat(&t.elems[0], a, refs, elems);
                let y = self.bind_pat(&t.elems[1], b, refs, elems);
                quote!((#x, #y))
            }
            (Pat::Tuple(t), Src::Enumerate(a)) if t.elems.len() == 2 => {
                let i = self.bind_pat(&t.elems[0], &Src::Data(None), refs, elems);
                let x = self.bind_pat(&t.elems[1], a, refs, elems);
                quote!((#i, #x))
            }
            (_, Src::Rev(a)) => match &**a {
                Src::Arr { arr, prefix, .. }
                    if prefix.len() + 1 < self.b.arrays.get(arr).map_or(1, ArrayInfo::dims) =>
                {
                    self.error(
                        pat,
                        "iterating the rows of an array of floats in reverse is not supported: loop over its indices in reverse (`for i in (0..n).rev()`)",
                    );
                    quote!(_)
                }
                // An array of data reversed: its elements are plain values.
                Src::Arr {
                    arr,
                    prefix,
                    by_ref,
                } => {
                    let data = Src::Arr {
                        arr: *arr,
                        prefix: prefix.clone(),
                        by_ref: *by_ref,
                    };
                    self.bind_pat(pat, &data, refs, elems)
                }
                other => self.bind_pat(pat, other, refs, elems),
            },
            (_, Src::Refused) => {
                // Already reported: bind the names so their uses say nothing more.
                for n in pat_names(pat) {
                    self.bind(n, Operand::Lit(0.0));
                }
                quote!(_)
            }
            (_, Src::Copied(a)) => match &**a {
                Src::Arr { arr, prefix, .. } => {
                    let by_value = Src::Arr {
                        arr: *arr,
                        prefix: prefix.clone(),
                        by_ref: false,
                    };
                    self.bind_pat(pat, &by_value, refs, elems)
                }
                other => self.bind_pat(pat, other, refs, elems),
            },
            (
                _,
                Src::Arr {
                    arr,
                    prefix,
                    by_ref,
                },
            ) => {
                let dims = self.b.arrays.get(arr).map_or(1, ArrayInfo::dims);
                if prefix.len() + 1 < dims {
                    return self.bind_row(pat, *arr, prefix, *by_ref, refs);
                }
                let (id, deref) = match pat {
                    Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                        (Some(&pi.ident), *by_ref)
                    }
                    Pat::Reference(r) if *by_ref => match strip_pat(&r.pat) {
                        Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                            (Some(&pi.ident), true)
                        }
                        other => {
                            self.error(other, "bind the element to a name: `for &x in ...`");
                            return quote!(_);
                        }
                    },
                    Pat::Wild(_) => return quote!(_),
                    other => {
                        self.error(other, "bind each element to a name: `for x in ...`");
                        return quote!(_);
                    }
                };
                let Some(id) = id else { return quote!(_) };
                let active = self.b.info(*arr).active;
                let v =
                    self.b
                        .new_var(Kind::Float, Name::Source(id.to_string()), active, id.span());
                self.bind(id.to_string(), Operand::Var(v));
                if active {
                    elems.push(Elem {
                        item: v,
                        arr: *arr,
                        prefix: prefix.clone(),
                        at: None,
                    });
                }
                refs.push(v);
                let ph = Ident::new(&placeholder(refs.len() - 1), Span::call_site());
                if deref {
                    quote!(&#ph)
                } else {
                    quote!(#ph)
                }
            }
            (_, src) if src.has_array() => {
                self.error(
                    pat,
                    "destructure the items of a loop over an array of floats: `for (a, b) in x.iter().zip(y)`, `for (i, x) in w.iter().enumerate()`",
                );
                quote!(_)
            }
            (p, _) => self.data_pat(p, refs),
        }
    }

    /// A row of an array of floats being iterated (`for row in w.iter()`): the name stands for
    /// `w[pos]`, so that `row[j]` reads (and its derivative goes to) `w[pos][j]`.
    pub(super) fn bind_row(
        &mut self,
        pat: &Pat,
        arr: Var,
        prefix: &[Operand],
        by_ref: bool,
        refs: &mut Vec<Var>,
    ) -> TokenStream {
        let id = match strip_pat(pat) {
            Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => &pi.ident,
            Pat::Wild(_) => return quote!(_),
            other => {
                self.error(other, "bind each row to a name: `for row in w.iter()`");
                return quote!(_);
            }
        };
        let span = id.span();
        let pos = match self.pos_slot {
            Some(p) => p,
            None => {
                let p = self
                    .b
                    .new_var(Kind::Opaque, Name::Fixed("pos"), false, span);
                self.pos_slot = Some(p);
                p
            }
        };
        let info = self.b.arrays.get(&arr).cloned();
        let active = self.b.info(arr).active;
        let v = self
            .b
            .new_var(Kind::Array, Name::Source(id.to_string()), active, span);
        if let Some(info) = info {
            self.b.arrays.insert(
                v,
                ArrayInfo {
                    lens: info.lens[prefix.len() + 1..].to_vec(),
                    by_ref,
                    len_from_value: info.len_from_value,
                },
            );
        }
        let mut at = prefix.to_vec();
        at.push(Operand::Var(pos));
        self.aliases.insert(v, (arr, at));
        self.bind(id.to_string(), Operand::Var(v));
        refs.push(v);
        let ph = Ident::new(&placeholder(refs.len() - 1), Span::call_site());
        quote!(#ph)
    }

    /// A pattern over data: each name bound to an opaque variable.
    pub(super) fn data_pat(&mut self, pat: &Pat, refs: &mut Vec<Var>) -> TokenStream {
        match strip_pat(pat) {
            Pat::Ident(pi) if pi.subpat.is_none() && pi.by_ref.is_none() => {
                let id = &pi.ident;
                let v =
                    self.b
                        .new_var(Kind::Opaque, Name::Source(id.to_string()), false, id.span());
                self.bind(id.to_string(), Operand::Var(v));
                refs.push(v);
                let ph = Ident::new(&placeholder(refs.len() - 1), Span::call_site());
                quote!(#ph)
            }
            Pat::Tuple(t) => {
                let parts: Vec<TokenStream> =
                    t.elems.iter().map(|p| self.data_pat(p, refs)).collect();
                quote!((#(#parts,)*))
            }
            Pat::Reference(r) if r.mutability.is_none() => {
                let inner = self.data_pat(&r.pat, refs);
                quote!(&#inner)
            }
            Pat::Wild(_) => quote!(_),
            other => {
                self.error(
                    other,
                    "use a name, `_`, `&name` or a tuple of them in a loop pattern",
                );
                quote!(_)
            }
        }
    }
}

/// Where the items of a `for` loop come from, as far as the macro needs to know: which are
/// elements of an array of floats, and how many iterations there are when that is a constant.
pub(super) enum Src {
    /// Elements of `arr[prefix..]`, by reference or by value.
    Arr {
        arr: Var,
        prefix: Vec<Operand>,
        by_ref: bool,
    },
    Zip(Box<Src>, Box<Src>),
    Enumerate(Box<Src>),
    Rev(Box<Src>),
    Copied(Box<Src>),
    /// Anything else (ranges, data): the constant trip count, when known.
    Data(Option<TokenStream>),
    /// Refused (an error was reported).
    Refused,
}

impl Src {
    /// Whether some array this source iterates satisfies `f`.
    fn any_array(&self, f: &dyn Fn(Var) -> bool) -> bool {
        match self {
            Src::Arr { arr, .. } => f(*arr),
            Src::Zip(a, b) => a.any_array(f) || b.any_array(f),
            Src::Enumerate(a) | Src::Rev(a) | Src::Copied(a) => a.any_array(f),
            Src::Data(_) | Src::Refused => false,
        }
    }

    fn has_array(&self) -> bool {
        self.any_array(&|_| true)
    }

    fn has_active(&self, l: &Lowerer) -> bool {
        self.any_array(&|arr| l.b.info(arr).active)
    }
}

/// Could this be an element of an array of floats (as opposed to integers, strings, ...)?
pub(super) fn float_like(e: &Expr) -> bool {
    match e {
        Expr::Lit(l) => matches!(&l.lit, syn::Lit::Float(_)),
        Expr::Unary(u) => float_like(&u.expr),
        Expr::Paren(p) => float_like(&p.expr),
        Expr::Array(_) | Expr::Repeat(_) => false,
        _ => true,
    }
}

/// The constant trip count of a loop over `src`, when known (an upper bound suffices).
pub(super) fn trip_count(src: &Src, l: &Lowerer) -> Option<TokenStream> {
    match src {
        Src::Arr { arr, prefix, .. } => {
            l.b.arrays
                .get(arr)
                .and_then(|i| i.lens.get(prefix.len()).cloned().flatten())
        }
        Src::Zip(a, b) => trip_count(a, l).or_else(|| trip_count(b, l)),
        Src::Enumerate(a) | Src::Rev(a) | Src::Copied(a) => trip_count(a, l),
        Src::Data(n) => n.clone(),
        Src::Refused => None,
    }
}

/// The iterable with the float literals of its array literals suffixed with the function's float
/// type (`[1.0f64, 2.0f64]`): the loop's element is then a float of that type, as the original's
/// use of it (`f64::sin(v)`) makes it, and not an ambiguous `{float}` in the companions, where
/// its uses are written as methods (`v.sin()`).
pub(super) fn typed_float_literals(iter: &Expr, float: crate::ir::Float) -> Expr {
    struct Suffix(&'static str);
    impl syn::visit_mut::VisitMut for Suffix {
        fn visit_expr_array_mut(&mut self, a: &mut syn::ExprArray) {
            for e in a.elems.iter_mut() {
                if let Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Float(f),
                    ..
                }) = e
                {
                    if f.suffix().is_empty() {
                        let text = format!("{}{}", f.base10_digits(), self.0);
                        *f = syn::LitFloat::new(&text, f.span());
                    }
                }
            }
            syn::visit_mut::visit_expr_array_mut(self, a);
        }
        fn visit_item_mut(&mut self, _: &mut syn::Item) {}
    }
    let mut e = iter.clone();
    let suffix = match float {
        crate::ir::Float::F32 => "f32",
        crate::ir::Float::F64 => "f64",
        crate::ir::Float::Generic => return iter.clone(), // `T::from_f64(..)` already
    };
    syn::visit_mut::VisitMut::visit_expr_mut(&mut Suffix(suffix), &mut e);
    e
}
