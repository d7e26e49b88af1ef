//! `wrt = p` with `p` a struct of parameters (`p: Params`, `p: &Params`, `Params` deriving
//! `Differentiable`): the body is differentiated as if each field it reads were a parameter.
//!
//! The macro cannot see the struct's definition, so it learns the fields from how the body
//! reads them: a field path (`p.b`, `p.layer.w`) indexed (`p.w[i]`, `p.layer.w[i][j]`) or
//! iterated (`p.w.iter()`) is an array (or `Vec`) of floats with as many indices as the body
//! uses; any other is a float. Each path becomes a parameter of its own (`__grad_p_w`), bound
//! at the top of the companions to the field (`&p.w`, `p.b`), and the gradient is a value of
//! the struct's type: `zero_like(p)` with each field the body read set to its derivative.
//! rustc checks the rest: a field that is not what the body's use says is a type error at the
//! field in the user's code.
//!
//! Refused, each with a spanned error: `p` used other than through its fields (passed whole,
//! a method called on it, matched), a field written, a field used both whole and through its
//! own fields, `p` mentioned in a macro's tokens (which the macro cannot follow), and a name
//! `p` bound again in the body.

use proc_macro2::{Span, TokenStream, TokenTree};

use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Expr, Ident, Member};

/// How the body uses one field path.
#[derive(Clone)]
pub struct Field {
    /// The members after the parameter: `[layer, w]` for `p.layer.w`.
    pub path: Vec<Member>,
    /// The parameter standing for it in the analysed body.
    pub ident: Ident,
    /// `None`: a float; `Some(d)`: an array read with `d` indices.
    pub dims: Option<usize>,
    /// Where the body first reads it.
    pub span: Span,
    /// Read as data only (an index, a cast's operand, a range bound): not a parameter, left
    /// as written; the companions check that its type is an integer's, `bool` or `char`.
    pub data: bool,
    /// An array whose elements the body reads (indexed, iterated), so it must have exactly
    /// `dims` dimensions (the companions check it): a row of a nested array taken as an element
    /// would be read as a number. An array only passed whole to a function may have more.
    pub exact: bool,
}

/// A struct parameter differentiated field by field.
#[derive(Clone)]
pub struct Split {
    /// The parameter's name (`p`).
    pub name: Ident,
    pub fields: Vec<Field>,
    /// The parameter is a reference (`p: &Params`, `&self`).
    pub by_ref: bool,
}

/// Methods that read an array whole: a path they are called on is an array.
const ARRAY_METHODS: &[&str] = &[
    "iter", "len", "is_empty", "first", "last", "get", "windows", "chunks", "as_slice",
];

/// The fields of `name` that `block` reads, and `block` with each replaced by its parameter.
pub fn split(name: &Ident, by_ref: bool, block: &mut syn::Block) -> syn::Result<Split> {
    let mut shadow = Shadow {
        name,
        at: None,
        macro_at: None,
    };
    shadow.visit_block(block);
    if let Some(at) = shadow.at {
        return Err(syn::Error::new(
            at,
            format!("`{name}` is bound again here, inside a function differentiated with respect to the struct `{name}`: choose another name"),
        ));
    }
    if let Some(at) = shadow.macro_at {
        return Err(syn::Error::new(
            at,
            format!("`{name}` appears in a macro's arguments, which #[grad] cannot follow through the struct's fields: take the macro out of the differentiated function (check the struct before the call)"),
        ));
    }
    let mut r = Rewriter {
        name,
        fields: Vec::new(),
        error: None,
        data_depth: 0,
        indexed: array_names(block),
        whole_arg: false,
    };
    r.visit_block_mut(block);
    if let Some(e) = r.error {
        return Err(e);
    }
    // A path read whole and through its own fields (`p.layer` and `p.layer.w`).
    for a in r.fields.iter().filter(|f| !f.path.is_empty()) {
        if let Some(b) = r
            .fields
            .iter()
            .find(|b| b.path.len() > a.path.len() && b.path.starts_with(&a.path))
        {
            return Err(syn::Error::new(
                a.span,
                format!(
                    "`{}` is used whole here and through its fields elsewhere (`{}`): read its fields only",
                    show(name, &a.path),
                    show(name, &b.path)
                ),
            ));
        }
    }
    Ok(Split {
        name: name.clone(),
        fields: r.fields,
        by_ref,
    })
}

/// `p.layer.w`.
pub fn show(name: &Ident, path: &[Member]) -> String {
    let mut s = name.to_string();
    for m in path {
        s.push('.');
        match m {
            Member::Named(id) => s.push_str(&id.to_string()),
            Member::Unnamed(i) => s.push_str(&i.index.to_string()),
        }
    }
    s
}

/// The members of `e` when it is `name.a.b..` (at least one member).
fn field_path(e: &Expr, name: &Ident) -> Option<Vec<Member>> {
    let mut path = Vec::new();
    let mut at = e;
    loop {
        match at {
            Expr::Field(f) => {
                path.push(f.member.clone());
                at = &f.base;
            }
            Expr::Paren(p) => at = &p.expr,
            Expr::Path(p) if p.qself.is_none() && p.path.is_ident(name) && !path.is_empty() => {
                path.reverse();
                return Some(path);
            }
            _ => return None,
        }
    }
}

struct Rewriter<'a> {
    name: &'a Ident,
    fields: Vec<Field>,
    error: Option<syn::Error>,
    /// Inside an index, a cast's operand or a range: what is read there is data.
    data_depth: usize,
    /// The names the body indexes, with the most indices each is given.
    indexed: rustc_hash::FxHashMap<String, usize>,
    /// Inside an argument of a call that is a field path or a reference to one (`h(&p.w)`):
    /// the array is passed whole.
    whole_arg: bool,
}

impl Rewriter<'_> {
    /// The parameter standing for `path`, noting a use with `dims` indices (`None`: not an
    /// array use).
    fn param(&mut self, path: Vec<Member>, dims: Option<usize>, span: Span) -> Ident {
        let data = self.data_depth > 0;
        let exact = dims.is_some() && !self.whole_arg;
        if let Some(f) = self.fields.iter_mut().find(|f| f.path == path) {
            f.dims = match (f.dims, dims) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            f.exact |= exact;
            if f.data != data {
                let (shown, ident) = (show(self.name, &f.path), f.ident.clone());
                self.fail(
                    span,
                    format!("`{shown}` is read as data in one place (an index, a cast, a range bound) and as a number to differentiate in another: copy it into a local first (`let v = {shown};`) and use that in both"),
                );
                return ident;
            }
            return f.ident.clone();
        }
        let mut s = format!("__grad_{}", self.name);
        for m in &path {
            match m {
                Member::Named(id) => s.push_str(&format!("_{id}")),
                Member::Unnamed(i) => s.push_str(&format!("_{}", i.index)),
            }
        }
        let ident = Ident::new(&s, Span::call_site());
        self.fields.push(Field {
            path,
            ident: ident.clone(),
            dims,
            span,
            data,
            exact,
        });
        ident
    }

    fn fail(&mut self, at: Span, msg: String) {
        if self.error.is_none() {
            self.error = Some(syn::Error::new(at, msg));
        }
    }

    /// `e` replaced by the parameter's name, at `e`'s span (data is left as written).
    fn replace(&self, e: &mut Expr, id: &Ident, span: Span) {
        if self.data_depth > 0 {
            return;
        }
        let id = Ident::new(&id.to_string(), span);
        *e = syn::parse_quote_spanned!(span=> #id);
    }
}

/// A field path, indexed or not (`p.k`, `p.w[i]`): where its value only decides (a
/// comparison's or a logical operator's operand, a `match` scrutinee, an `if` or `while`
/// condition, a length) it needs
/// no derivative, whatever its type, and is left as written (`p.mode == 0`, `match p.k`,
/// `if p.on`, `p.w[r].len()`).
fn decides(e: &Expr, name: &Ident) -> bool {
    let mut at = e;
    while let Expr::Index(syn::ExprIndex { expr, .. }) | Expr::Paren(syn::ExprParen { expr, .. }) =
        at
    {
        at = expr;
    }
    field_path(at, name).is_some()
}

impl VisitMut for Rewriter<'_> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        let name = self.name;
        // Reads that only decide (see `decides`): left as written.
        match e {
            Expr::Binary(b)
                if matches!(
                    b.op,
                    syn::BinOp::Eq(_)
                        | syn::BinOp::Ne(_)
                        | syn::BinOp::Lt(_)
                        | syn::BinOp::Le(_)
                        | syn::BinOp::Gt(_)
                        | syn::BinOp::Ge(_)
                        | syn::BinOp::And(_)
                        | syn::BinOp::Or(_)
                ) =>
            {
                for side in [&mut b.left, &mut b.right] {
                    if !decides(side, name) {
                        self.visit_expr_mut(side);
                    }
                }
                return;
            }
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Not(_)) && decides(&u.expr, name) => {
                return;
            }
            Expr::Match(m) if decides(&m.expr, name) => {
                for arm in &mut m.arms {
                    self.visit_arm_mut(arm);
                }
                return;
            }
            Expr::If(i) if decides(&i.cond, name) => {
                self.visit_block_mut(&mut i.then_branch);
                if let Some((_, els)) = &mut i.else_branch {
                    self.visit_expr_mut(els);
                }
                return;
            }
            Expr::While(w) if decides(&w.cond, name) => {
                self.visit_block_mut(&mut w.body);
                return;
            }
            Expr::MethodCall(m)
                if (m.method == "len" || m.method == "is_empty") && decides(&m.receiver, name) =>
            {
                return;
            }
            _ => {}
        }
        // `p.w[i][j]`: an array read with as many indices.
        if let Expr::Index(_) = e {
            let mut depth = 0;
            let mut base: &mut Expr = e;
            while let Expr::Index(ix) = base {
                depth += 1;
                self.data_depth += 1;
                self.visit_expr_mut(&mut ix.index);
                self.data_depth -= 1;
                base = &mut ix.expr;
            }
            match field_path(base, name) {
                Some(path) => {
                    let span = base.span();
                    let id = self.param(path, Some(depth), span);
                    self.replace(base, &id, span);
                }
                None => self.visit_expr_mut(base),
            }
            return;
        }
        // A cast's operand and a range's bounds are data (`p.n as f64`, `0..p.n`).
        if let Expr::Cast(c) = e {
            self.data_depth += 1;
            self.visit_expr_mut(&mut c.expr);
            self.data_depth -= 1;
            return;
        }
        if let Expr::Range(r) = e {
            self.data_depth += 1;
            for b in r.start.iter_mut().chain(r.end.iter_mut()) {
                self.visit_expr_mut(b);
            }
            self.data_depth -= 1;
            return;
        }
        // The struct passed whole to a function (`inner(p)`, `inner(&p)`): a parameter of its
        // own (`__grad_p`, bound to the reference), whose derivative the callee's pullback
        // gives as a struct, added into the gradient.
        if let Expr::Call(c) = e {
            self.visit_expr_mut(&mut c.func);
            for a in &mut c.args {
                let whole = match &*a {
                    Expr::Reference(r) if r.mutability.is_none() => is_name(&r.expr, name),
                    other => is_name(other, name),
                };
                if whole && self.data_depth == 0 {
                    let span = a.span();
                    let id = self.param(Vec::new(), Some(1), span);
                    self.replace(a, &id, span);
                } else {
                    let field = match &*a {
                        Expr::Reference(r) if r.mutability.is_none() => field_path(&r.expr, name),
                        other => field_path(other, name),
                    };
                    self.whole_arg = field.is_some();
                    self.visit_expr_mut(a);
                    self.whole_arg = false;
                }
            }
            return;
        }
        // `x.powi(p.n)`: an integer exponent is data.
        if let Expr::MethodCall(m) = e {
            if m.method == "powi" {
                self.visit_expr_mut(&mut m.receiver);
                self.data_depth += 1;
                for a in &mut m.args {
                    self.visit_expr_mut(a);
                }
                self.data_depth -= 1;
                return;
            }
        }
        if let Expr::MethodCall(m) = e {
            if let Some(path) = field_path(&m.receiver, name) {
                // Its length: a read of the shape only, data wherever it stands (`0..p.w.len()`,
                // `p.w.len() as f64`), left as written.
                if m.method == "len" || m.method == "is_empty" {
                    return;
                }
                let array = ARRAY_METHODS.iter().any(|a| m.method == a);
                let span = m.receiver.span();
                let id = self.param(path, array.then_some(1), span);
                self.replace(&mut m.receiver, &id, span);
                for a in &mut m.args {
                    self.visit_expr_mut(a);
                }
                return;
            }
        }
        // `&p.w`: the field's parameter is bound by reference already (`let __grad_p_w =
        // &p.w;`), so it stands for the whole reference; an array (`for &x in &p.w`, `h(&p.w)`).
        if let Expr::Reference(r) = e {
            if r.mutability.is_none() && self.data_depth == 0 {
                if let Some(path) = field_path(&r.expr, name) {
                    let span = r.expr.span();
                    let id = self.param(path, Some(1), span);
                    self.replace(e, &id, span);
                    return;
                }
            }
        }
        // `p.layers[l].w`: a field of an element of a field.
        if let Expr::Field(f) = e {
            let mut base = &*f.base;
            let mut indexed = false;
            while let Expr::Index(ix) = base {
                indexed = true;
                base = &ix.expr;
            }
            if indexed {
                if let Some(path) = field_path(base, name) {
                    let at = f.base.span();
                    let shown = show(name, &path);
                    self.fail(
                        at,
                        format!("`{shown}` holds structs: a field of one of its elements cannot be differentiated yet; hold each in a field of its own (`{name}.l1`, `{name}.l2`), or their parameters in arrays (`w: [[[f64; N]; M]; L]`)"),
                    );
                    return;
                }
            }
        }
        // A field written: `p.b = ..`, `p.w[0] += ..`.
        let written = match e {
            Expr::Assign(a) => Some(&*a.left),
            Expr::Binary(b) if is_compound(&b.op) => Some(&*b.left),
            _ => None,
        };
        if let Some(mut place) = written {
            while let Expr::Index(ix) = place {
                place = &ix.expr;
            }
            if field_path(place, name).is_some() || is_name(place, name) {
                let at = place.span();
                self.fail(
                    at,
                    format!("`{name}` is differentiated field by field, so it is read, not written: copy the field into a local (`let mut w = {name}.w;`) and change that"),
                );
                return;
            }
        }
        if let Some(path) = field_path(e, name) {
            let span = e.span();
            let id = self.param(path, None, span);
            self.replace(e, &id, span);
            return;
        }
        if is_name(e, name) {
            let at = e.span();
            self.fail(
                at,
                format!("`{name}` is differentiated field by field: here it is used whole (a method called on it, matched, copied), which #[grad] cannot follow; read the fields it needs (`{name}.w[i]`, `{name}.b`), or pass it to a `#[grad(wrt = ..)]` function (`inner(&{name})`)"),
            );
            return;
        }
        syn::visit_mut::visit_expr_mut(self, e);
    }

    // An array field read whole into a local: `let u: [f64; N] = p.u0;` (its type written),
    // or `let mut u = p.u0;` with `u` indexed later (`u[i]`).
    fn visit_local_mut(&mut self, l: &mut syn::Local) {
        let dims = match &l.pat {
            syn::Pat::Type(pt) => {
                let (mut dims, mut ty) = (0, &*pt.ty);
                while let syn::Type::Array(a) = ty {
                    dims += 1;
                    ty = &a.elem;
                }
                dims
            }
            syn::Pat::Ident(pi) => self
                .indexed
                .get(&pi.ident.to_string())
                .copied()
                .unwrap_or(0),
            _ => 0,
        };
        if let Some(init) = l.init.as_mut() {
            if let Expr::Reference(r) = &*init.expr {
                if let Some(path) = field_path(&r.expr, self.name) {
                    let shown = show(self.name, &path);
                    let at = init.expr.span();
                    self.fail(
                        at,
                        format!("a reference to `{shown}` bound to a name cannot be followed: read the field where it is used (`{shown}[i]`), or copy an array field (`let v: [f64; N] = {shown};`)"),
                    );
                    return;
                }
            }
            if dims > 0 && self.data_depth == 0 {
                if let Some(path) = field_path(&init.expr, self.name) {
                    let span = init.expr.span();
                    let id = self.param(path, Some(dims), span);
                    self.replace(&mut init.expr, &id, span);
                    if let Some((_, e)) = &mut init.diverge {
                        self.visit_expr_mut(e);
                    }
                    return;
                }
            }
        }
        syn::visit_mut::visit_local_mut(self, l);
    }

    // Items nested in the body do not see the function's parameters.
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

fn is_name(e: &Expr, name: &Ident) -> bool {
    matches!(e, Expr::Path(p) if p.qself.is_none() && p.path.is_ident(name))
}

fn is_compound(op: &syn::BinOp) -> bool {
    use syn::BinOp::*;
    matches!(
        op,
        AddAssign(_)
            | SubAssign(_)
            | MulAssign(_)
            | DivAssign(_)
            | RemAssign(_)
            | BitXorAssign(_)
            | BitAndAssign(_)
            | BitOrAssign(_)
            | ShlAssign(_)
            | ShrAssign(_)
    )
}

/// Where `name` is bound again (a `let`, a closure's or a `for` loop's pattern, a `match` arm)
/// or mentioned in a macro's tokens.
struct Shadow<'a> {
    name: &'a Ident,
    at: Option<Span>,
    macro_at: Option<Span>,
}

impl<'ast> Visit<'ast> for Shadow<'_> {
    fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
        if p.ident == *self.name && self.at.is_none() {
            self.at = Some(p.ident.span());
        }
        syn::visit::visit_pat_ident(self, p);
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        fn find(ts: TokenStream, name: &Ident) -> Option<Span> {
            ts.into_iter().find_map(|t| match t {
                TokenTree::Ident(id) if id == *name => Some(id.span()),
                TokenTree::Group(g) => find(g.stream(), name),
                _ => None,
            })
        }
        if self.macro_at.is_none() {
            self.macro_at = find(m.tokens.clone(), self.name);
        }
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

/// The names the body uses as arrays: indexed (with the most indices given at once), or
/// iterated (`u.iter()`, `u.len()`: one index at least).
fn array_names(block: &syn::Block) -> rustc_hash::FxHashMap<String, usize> {
    struct V(rustc_hash::FxHashMap<String, usize>);
    impl<'ast> Visit<'ast> for V {
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            if let Expr::Path(p) = &*m.receiver {
                if let Some(id) = p.path.get_ident() {
                    if ARRAY_METHODS.iter().any(|a| m.method == a) {
                        self.0.entry(id.to_string()).or_insert(1);
                    }
                }
            }
            syn::visit::visit_expr_method_call(self, m);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut v = V(indexed_depth(block));
    v.visit_block(block);
    v.0
}

/// For each name the body indexes (`z[i]`, `m[i][j]`), the most indices it is given at once.
pub fn indexed_depth(block: &syn::Block) -> rustc_hash::FxHashMap<String, usize> {
    struct V(rustc_hash::FxHashMap<String, usize>);
    impl<'ast> Visit<'ast> for V {
        fn visit_expr(&mut self, e: &'ast Expr) {
            if let Expr::Index(_) = e {
                let (mut depth, mut cur) = (0, e);
                while let Expr::Index(ix) = cur {
                    depth += 1;
                    cur = &ix.expr;
                }
                if let Expr::Path(p) = cur {
                    if let Some(id) = p.path.get_ident() {
                        let d = self.0.entry(id.to_string()).or_default();
                        *d = (*d).max(depth);
                    }
                }
            }
            syn::visit::visit_expr(self, e);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut v = V(Default::default());
    v.visit_block(block);
    v.0
}
