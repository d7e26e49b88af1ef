//! Arrays: element reads and stores, local arrays, array methods.

use super::Lowerer;
use super::*;
use crate::ir::{placeholder, ArrayInfo, ArrayInit, Inst, Kind, Name, Op, Operand, StoreOp, Var};
use proc_macro2::Span;
use quote::{quote, ToTokens};
use syn::spanned::Spanned;
use syn::{Expr, Ident};

impl Lowerer<'_> {
    /// The array of floats `e` names, with the indices applied to it (`w`, `w[k]`): the array,
    /// the positions a row being iterated stands for, and the indices written.
    pub(super) fn array_place(&mut self, e: &Expr) -> Option<(Var, Vec<Operand>, Vec<Expr>)> {
        let mut idxs = Vec::new();
        let mut cur = e;
        loop {
            match cur {
                Expr::Index(ix) => {
                    idxs.push((*ix.index).clone());
                    cur = &ix.expr;
                }
                Expr::Paren(p) => cur = &p.expr,
                _ => break,
            }
        }
        let Expr::Path(p) = cur else { return None };
        let id = p.path.get_ident()?;
        let v = self.lookup(&id.to_string())?.as_var()?;
        idxs.reverse();
        if let Some((base, pre)) = self.aliases.get(&v) {
            return Some((*base, pre.clone(), idxs));
        }
        (self.b.info(v).kind == Kind::Array).then_some((v, Vec::new(), idxs))
    }

    pub(super) fn index_operands(&mut self, idxs: &[Expr]) -> Vec<Operand> {
        idxs.iter()
            .map(|i| {
                if matches!(i, Expr::Range(_)) {
                    return self.error(i, SLICING);
                }
                let o = self.expr(i);
                if self.is_floatish(&o) {
                    return self.type_error(i, "an index must be an integer, not a float");
                }
                // An index held in a variable that calls change in place (`bump(&mut i)`):
                // read into a value of its own here, which the sweep then reads (see
                // `effects.rs`), not the variable it would find changed.
                match o {
                    Operand::Var(v) if self.b.info(v).mutable => {
                        let ph = Ident::new(&placeholder(0), Span::call_site());
                        self.opaque_from(quote!(#ph), vec![v], Kind::Opaque, false)
                    }
                    other => other,
                }
            })
            .collect()
    }

    pub(super) fn index_expr(&mut self, ix: &syn::ExprIndex) -> Operand {
        let whole = Expr::Index(ix.clone());
        let Some((arr, pre, idxs)) = self.array_place(&whole) else {
            return self.opaque(&whole, "indexing");
        };
        if let Some(r) = idxs.iter().find(|i| matches!(i, Expr::Range(_))) {
            return self.error(r, SLICING);
        }
        let dims = self.b.arrays.get(&arr).map_or(1, ArrayInfo::dims) - pre.len();
        if idxs.len() != dims {
            let name = place_root(&whole).unwrap_or_default();
            let example: String = ["[i]", "[j]", "[k]", "[l]"]
                .iter()
                .take(dims)
                .copied()
                .collect();
            let what = if dims == 1 {
                "1 dimension".to_string()
            } else {
                format!("{dims} dimensions")
            };
            return self.error(
                ix,
                format!("`{name}` has {what}: index it down to a number (`{name}{example}`)"),
            );
        }
        let mut idx = pre;
        idx.extend(self.index_operands(&idxs));
        let active = self.b.info(arr).active;
        let var = self.b.new_var(Kind::Float, Name::Temp, active, ix.span());
        self.b.push(Inst::Load { var, arr, idx });
        Operand::Var(var)
    }

    /// `a[i] = val` or `a[i] op= val` for an array of floats; `false` if `target` is not one.
    pub(super) fn store_element(
        &mut self,
        target: &syn::ExprIndex,
        val: Operand,
        op: Option<Op>,
    ) -> bool {
        let whole = Expr::Index(target.clone());
        let Some((arr, pre, idxs)) = self.array_place(&whole) else {
            return false;
        };
        if !pre.is_empty() {
            self.error(
                target,
                "assigning to an element of a row being iterated is not supported: index the array itself (`w[i][j] = ...`)",
            );
            return true;
        }
        let dims = self.b.arrays.get(&arr).map_or(1, ArrayInfo::dims);
        if idxs.len() != dims {
            self.error(
                target,
                "assign one element at a time: index the array down to a number",
            );
            return true;
        }
        if matches!(self.b.kind(&val), Kind::Bool | Kind::Array) {
            self.error(target, "only floats can be stored in an array of floats");
            return true;
        }
        if let Operand::Int(i) = val {
            self.type_error(
                target,
                format!("`{i}` is an integer: write `{i}.0` in float arithmetic"),
            );
            return true;
        }
        if self.b.is_active(&val) && !self.b.info(arr).active {
            self.error(target, "internal error: #[grad] did not foresee that this array holds differentiated values; please report it");
            return true;
        }
        let idx = self.index_operands(&idxs);
        let span = target.span();
        let (val, sop) = match op {
            None => (val, StoreOp::Set),
            Some(Op::Add) => (val, StoreOp::Add),
            Some(Op::Sub) => (val, StoreOp::Sub),
            Some(other) => {
                let active = self.b.info(arr).active;
                let cur = self.b.new_var(Kind::Float, Name::Temp, active, span);
                self.b.push(Inst::Load {
                    var: cur,
                    arr,
                    idx: idx.clone(),
                });
                (
                    self.b.op(other, vec![Operand::Var(cur), val], span),
                    StoreOp::Set,
                )
            }
        };
        self.b.push(Inst::Store {
            arr,
            idx,
            val,
            op: sop,
            span,
        });
        true
    }

    /// The array of floats `e` names as a whole (`u`, `*u0`, `(u)`), to be copied: the variable
    /// and its shape. A parameter of data (`target: &[f64; 4]`) counts when `into_active`: its
    /// copy is to hold differentiated values. `None` when `e` is not such an array.
    pub(super) fn whole_array(&mut self, e: &Expr, into_active: bool) -> Option<(Var, ArrayInfo)> {
        match e {
            Expr::Paren(p) => return self.whole_array(&p.expr, into_active),
            Expr::Group(g) => return self.whole_array(&g.expr, into_active),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => {
                return self.whole_array(&u.expr, into_active)
            }
            _ => {}
        }
        let Expr::Path(p) = e else { return None };
        let id = p.path.get_ident()?;
        let v = self.lookup(&id.to_string())?.as_var()?;
        let info = if self.b.info(v).kind == Kind::Array {
            self.b.arrays.get(&v).cloned()?
        } else if into_active {
            self.data_arrays.get(&v).cloned()?
        } else {
            return None;
        };
        if info.lens.iter().any(Option::is_none) && !info.len_from_value {
            self.error(
                e,
                format!("`{id}` is a slice, whose length is known only at run time: it cannot be copied as a whole in a #[grad] function. Declare an array of a fixed length (`let mut v = [0.0; N];`) and copy the elements in a loop"),
            );
            // Reported once: the copy stands, and the build fails with this error.
            return Some((v, info));
        }
        let src = if self.b.info(v).kind == Kind::Array {
            v
        } else if info.by_ref {
            // Data taken by reference: the copy reads `*target`.
            let ph = Ident::new(&placeholder(0), Span::call_site());
            self.opaque_from(quote!(*#ph), vec![v], Kind::Opaque, false)
                .as_var()?
        } else {
            v
        };
        Some((
            src,
            ArrayInfo {
                lens: info.lens,
                by_ref: false,
                len_from_value: info.len_from_value,
            },
        ))
    }

    /// The variable `e` names when it holds data (not an array of the macro's, not
    /// differentiated).
    fn local_data(&mut self, e: &Expr) -> Option<Var> {
        let Expr::Path(p) = e else { return None };
        let id = p.path.get_ident()?;
        let v = self.lookup(&id.to_string())?.as_var()?;
        let info = self.b.info(v);
        (info.kind == Kind::Opaque && !info.active).then_some(v)
    }

    /// `arr = rhs;` for an array of floats: a copy of another array (`u = un;`) or of an array
    /// literal (`u = [0.0; 4];`), written whole.
    pub(super) fn assign_array(&mut self, arr: Var, name: &str, rhs: &Expr, at: &Expr) {
        let src = match self.whole_array(rhs, true) {
            Some((src, info)) => {
                // Lengths are checked by rustc on the function as written.
                let dims = self.b.arrays.get(&arr).map_or(0, ArrayInfo::dims);
                if dims != info.dims() {
                    self.error(
                        rhs,
                        format!("`{name}` has {dims} dimension(s), this array {}: assign an array of the same shape", info.dims()),
                    );
                    return;
                }
                Some(src)
            }
            None if matches!(rhs, Expr::Array(_) | Expr::Repeat(_)) => self
                .local_array(name, rhs)
                .and_then(|o| o.as_var())
                .filter(|v| self.b.info(*v).kind == Kind::Array),
            // `z = d;` with `d` data the body computed (what a `#[grad]` function returned for
            // data arguments): a copy of data, no derivative; rustc checks the types.
            None if self.local_data(rhs).is_some() => self.local_data(rhs),
            // `z = rhs(z);`: what a `#[grad]` function returned, of `z`'s shape.
            None => {
                let shape = self.b.arrays.get(&arr).cloned();
                self.array_call(name, rhs, None, shape)
                    .and_then(|o| o.as_var())
                    .filter(|v| self.b.info(*v).kind == Kind::Array)
            }
        };
        let Some(src) = src else {
            self.error(
                at,
                format!("`{name}` is an array of floats: assign it another array of its shape (`{name} = v;`, `{name} = [0.0; N];`, `{name} = f(..);` for a #[grad] function `f` returning one) or its elements (`{name}[i] = ...`)"),
            );
            return;
        };
        if self.b.info(src).active && !self.b.info(arr).active {
            self.error(at, "internal error: #[grad] did not foresee that this array holds differentiated values; please report it");
            return;
        }
        self.b.push(Inst::Assign {
            arr,
            src: Operand::Var(src),
            op: StoreOp::Set,
            span: at.span(),
            scale: None,
        });
    }

    /// `arr = e` where `e` is the value of an arm of an `if` (or of a block) the array is assigned
    /// from: an array (`u`, `*u0`, a literal), written whole; the first one gives `arr` its
    /// shape (`Lowerer::array_shape`).
    pub(super) fn array_into(&mut self, arr: Var, e: &Expr) {
        let src = match self.whole_array(e, true) {
            Some((src, info)) => Some((src, info)),
            None if matches!(e, Expr::Array(_) | Expr::Repeat(_)) => {
                let name = match &self.b.info(arr).name {
                    Name::Source(s) => s.clone(),
                    _ => String::new(),
                };
                self.local_array(&name, e)
                    .and_then(|o| o.as_var())
                    .filter(|v| self.b.info(*v).kind == Kind::Array)
                    .and_then(|v| self.b.arrays.get(&v).cloned().map(|i| (v, i)))
            }
            None => None,
        };
        let Some((src, info)) = src else {
            self.error(
                e,
                "the value of this branch or block is assigned to an array, so it must be an array of floats: a variable (`u`, `*r`) or an array literal (`[a, b]`); bind anything else to a variable first (`let a = g(x);`, then `a` as the value)",
            );
            return;
        };
        if self.b.info(src).active && !self.b.info(arr).active {
            self.b.info_mut(arr).active = true;
        }
        match self.b.arrays.get(&arr) {
            Some(shape) if shape.dims() != info.dims() => {
                self.error(e, "the branches give arrays of different shapes");
                return;
            }
            Some(_) => {}
            None => {
                self.b.arrays.insert(arr, info);
            }
        }
        self.b.push(Inst::Assign {
            arr,
            src: Operand::Var(src),
            op: StoreOp::Set,
            span: e.span(),
            scale: None,
        });
    }

    /// `let name = if c { u } else { v };` or `let name = { ..; u };` with arrays as values:
    /// an array declared first, then written by each arm. `None` (nothing lowered) when `init`
    /// is not such an expression (its arms end in floats).
    pub(super) fn array_valued(&mut self, name: &str, init: &Expr) -> Option<Operand> {
        if !matches!(init, Expr::If(_) | Expr::Block(_)) || !self.ends_in_array(init) {
            return None;
        }
        let active = self.active_names.contains(name);
        let var = self.b.new_var(
            Kind::Array,
            Name::Source(name.to_string()),
            active,
            init.span(),
        );
        // Declared with zeros once its shape is known (from the first arm's array).
        let at = self.b.mark();
        let saved = self.array_target.replace(var);
        match init {
            Expr::If(i) => {
                self.if_expr(i);
            }
            Expr::Block(b) => {
                self.block(&b.block);
            }
            _ => {}
        }
        self.array_target = saved;
        match self.b.arrays.get(&var).cloned() {
            Some(info) if info.lens.iter().all(Option::is_some) => {
                let lens = info.lens.iter().flatten().cloned().collect();
                self.b.insert_at(
                    at,
                    Inst::NewArray {
                        var,
                        init: ArrayInit::Repeat {
                            elem: Operand::Lit(0.0),
                            lens,
                        },
                    },
                );
            }
            _ => {
                self.error(
                    init,
                    "an array whose lengths are not written (a slice, or an array a #[grad] function returned) cannot be the value of an `if` or a block yet: write its type where it is made (`let r: [f64; 2] = f(..);`), or declare the result first and assign it in the branches (`let mut z = w; if c {{ z = r; }}`)",
                );
            }
        }
        Some(Operand::Var(var))
    }

    /// Whether the value of `e` (an `if`, a block) is an array of floats: an arm ends in an
    /// array variable or an array literal of floats.
    fn ends_in_array(&self, e: &Expr) -> bool {
        let tail = |b: &syn::Block| match b.stmts.last() {
            Some(syn::Stmt::Expr(t, None)) => Some(t.clone()),
            _ => None,
        };
        match e {
            Expr::If(i) => {
                tail(&i.then_branch).is_some_and(|t| self.ends_in_array(&t))
                    || i.else_branch
                        .as_ref()
                        .is_some_and(|(_, e)| self.ends_in_array(e))
            }
            Expr::Block(b) => tail(&b.block).is_some_and(|t| {
                if self.ends_in_array(&t) {
                    return true;
                }
                // `{ let mut t = u; ..; t }`: a name the block itself binds to an array.
                let Expr::Path(p) = &t else { return false };
                let Some(id) = p.path.get_ident() else {
                    return false;
                };
                b.block.stmts.iter().rev().any(|s| match s {
                    syn::Stmt::Local(l) => {
                        let binds = match &l.pat {
                            syn::Pat::Ident(pi) => pi.ident == *id,
                            syn::Pat::Type(pt) => {
                                matches!(&*pt.pat, syn::Pat::Ident(pi) if pi.ident == *id)
                            }
                            _ => false,
                        };
                        binds && l.init.as_ref().is_some_and(|i| self.ends_in_array(&i.expr))
                    }
                    _ => false,
                })
            }),
            Expr::Paren(p) => self.ends_in_array(&p.expr),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Deref(_)) => self.ends_in_array(&u.expr),
            Expr::Path(p) => p
                .path
                .get_ident()
                .and_then(|id| self.lookup(&id.to_string()))
                .and_then(|o| o.as_var())
                .is_some_and(|v| {
                    self.b.info(v).kind == Kind::Array || self.data_arrays.contains_key(&v)
                }),
            Expr::Array(a) => !a.elems.is_empty() && a.elems.iter().all(float_like),
            Expr::Repeat(r) => float_like(&r.expr),
            _ => false,
        }
    }

    /// `let name = [0.0; N];`, `[[0.0; M]; N]` or `[a, b, c]` with float elements, or a copy of
    /// an array (`let mut u = u0;`): an array variable. `None` (nothing lowered) when `init` is
    /// not such an array.
    pub(super) fn local_array(&mut self, name: &str, init: &Expr) -> Option<Operand> {
        if matches!(init, Expr::Path(_) | Expr::Paren(_) | Expr::Unary(_)) {
            let into_active = self.active_names.contains(name);
            // Data copied under a name whose elements or whole value the body writes is an
            // array of floats of the macro's (its writes are modelled), not data passed through.
            let as_floats = into_active
                || self.element_stores.contains(name)
                || self.assigned_anywhere.contains(name);
            if !into_active && self.data_slice_copy(name, init) {
                return None;
            }
            let (src, info) = self.whole_array(init, as_floats)?;
            let active = into_active || self.b.info(src).active;
            let var = self.b.new_var(
                Kind::Array,
                Name::Source(name.to_string()),
                active,
                init.span(),
            );
            self.b.arrays.insert(var, info);
            self.b.push(Inst::NewArray {
                var,
                init: ArrayInit::Copy(src),
            });
            return Some(Operand::Var(var));
        }
        let (init, lens) = match init {
            Expr::Repeat(_) => {
                let mut lens = Vec::new();
                let mut cur = init;
                while let Expr::Repeat(r) = cur {
                    lens.push(r.len.to_token_stream());
                    cur = &r.expr;
                }
                if !float_like(cur) {
                    return None;
                }
                let elem = self.expr(cur);
                if !self.is_floatish(&elem) {
                    return None;
                }
                if self.b.is_active(&elem) {
                    self.error(
                        cur,
                        "an array filled with a differentiated value is not supported: fill it in a loop (`for i in 0..N { a[i] = w; }`)",
                    );
                }
                (
                    ArrayInit::Repeat {
                        elem,
                        lens: lens.clone(),
                    },
                    lens.into_iter().map(Some).collect(),
                )
            }
            Expr::Array(a) => {
                if a.elems.is_empty() || !a.elems.iter().all(float_like) {
                    return None;
                }
                let elems: Vec<Operand> = a.elems.iter().map(|e| self.expr(e)).collect();
                if !elems.iter().all(|e| self.is_floatish(e)) {
                    return None;
                }
                if !self.active_names.contains(name) && elems.iter().any(|e| self.b.is_active(e)) {
                    self.error(a, "internal error: #[grad] did not foresee that this array holds differentiated values; please report it");
                }
                let n = proc_macro2::Literal::usize_unsuffixed(elems.len());
                (ArrayInit::List(elems), vec![Some(quote!(#n))])
            }
            // `{ ..; [a, b] }`: an array of differentiated values the block computes.
            Expr::Block(b) => {
                if let Some(syn::Stmt::Expr(tail @ (Expr::Array(_) | Expr::Repeat(_)), None)) =
                    b.block.stmts.last()
                {
                    let elems: Vec<&Expr> = match tail {
                        Expr::Array(a) => a.elems.iter().collect(),
                        Expr::Repeat(r) => vec![&*r.expr],
                        _ => Vec::new(),
                    };
                    // Of data only, it passes through as written.
                    let differentiated = self.active_names.contains(name);
                    if differentiated && !elems.is_empty() && elems.iter().all(|e| float_like(e)) {
                        self.error(
                            tail,
                            "an array of floats as the value of a block is not supported: declare the array with `let` (`let mut v = [0.0; N];` before the block) and assign its elements",
                        );
                        return Some(Operand::Lit(0.0));
                    }
                }
                return None;
            }
            _ => return None,
        };
        let active = self.active_names.contains(name);
        let var = self.b.new_var(
            Kind::Array,
            Name::Source(name.to_string()),
            active,
            Span::call_site(),
        );
        self.b.arrays.insert(
            var,
            ArrayInfo {
                lens,
                by_ref: false,
                len_from_value: false,
            },
        );
        self.b.push(Inst::NewArray { var, init });
        Some(Operand::Var(var))
    }

    /// `w.len()` of an array of floats, and the iterator sums (`.sum()`, `.product()`,
    /// `.fold(..)`) this module lowers to loops; `None` for any other method call.
    pub(super) fn array_method(&mut self, m: &syn::ExprMethodCall) -> Option<Operand> {
        let name = m.method.to_string();
        if (name == "len" || name == "is_empty") && m.args.is_empty() {
            if let Some((base, pre, idxs)) = self.array_place(&m.receiver) {
                // The variable written (a row being iterated is one too).
                let named = place_root(&m.receiver)
                    .and_then(|n| self.lookup(&n))
                    .and_then(|o| o.as_var())
                    .unwrap_or(base);
                let _ = pre;
                let idx = self.index_operands(&idxs);
                let mut refs = vec![named];
                let mut t = {
                    let ph = Ident::new(&placeholder(0), Span::call_site());
                    quote!(#ph)
                };
                for i in idx {
                    let (it, r) = self.b.operand_tokens(i);
                    let it = crate::ir::shift_placeholders(it, refs.len());
                    refs.extend(r);
                    t = quote!(#t[#it]);
                }
                let method = &m.method;
                return Some(self.opaque_from(quote!(#t.#method()), refs, Kind::Opaque, false));
            }
        }
        let reduce = matches!(
            (name.as_str(), m.args.len()),
            ("sum", 0) | ("product", 0) | ("fold", 2)
        );
        if !reduce {
            return None;
        }
        // Over data only, without a closure, the call is passed through as written.
        let mapped = matches!(&*m.receiver, Expr::MethodCall(r) if r.method == "map");
        let active = self.first_active(&m.receiver).is_some();
        let fold_closure = name == "fold" && matches!(m.args[1], Expr::Closure(_));
        if !fold_closure && !mapped && !active {
            return None;
        }
        if let Some(tf) = &m.turbofish {
            let float = crate::emit::tokens::float_type_tokens(self.b.float).to_string();
            if tf.args.len() != 1 || tf.args[0].to_token_stream().to_string() != float {
                self.type_error(
                    tf,
                    format!("a sum in a #[grad] function is `{float}`: `.{name}::<{float}>()`"),
                );
                return Some(Operand::Lit(0.0));
            }
        }
        Some(self.reduce(m, &name))
    }
}
