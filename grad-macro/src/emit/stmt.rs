//! Printing instructions as statements: `let`s, stores, `if`s and loops.

use super::*;
use crate::ir::{ArrayInit, Header, Inst, Kind, Operand, StoreOp, Var};
use proc_macro2::{Delimiter, Ident, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use rustc_hash::FxHashSet as HashSet;
use tokens::*;

impl Emitter<'_> {
    pub(super) fn loop_stmt(&self, l: &crate::ir::Loop) -> TokenStream {
        let mut before = Vec::new();
        let outermost = self.loop_depth.get() == 0;
        if let Some(s) = &l.save {
            let buf = self.ident(s.buf);
            let (make, empty) = storage_tokens(&s.storage);
            match (empty, outermost) {
                // Inside another loop: storage made once, before the outermost loop, and
                // emptied here, so that every run of this loop shares one allocation.
                (Some(empty), false) => {
                    let new = replace_placeholders(
                        quote!(__grad_krate::__private::Saved::new()),
                        &[],
                        &self.krate,
                    );
                    self.hoisted.borrow_mut().push(quote!(let mut #buf = #new;));
                    let r = self.opaque(&empty);
                    before.push(quote!(#buf #r;));
                }
                _ => {
                    let cap = self.opaque(&make);
                    before.push(quote!(let mut #buf = #cap;));
                }
            }
        }
        self.loop_depth.set(self.loop_depth.get() + 1);
        let float = float_type_tokens(self.func.float);
        for c in &l.carried {
            let name = self.ident(c.phi);
            let init = self.operand(&c.init).tokens();
            if self.func.info(c.phi).kind == Kind::Float && c.init.lit().is_some() {
                before.push(quote!(let mut #name: #float = #init;));
            } else {
                before.push(quote!(let mut #name = #init;));
            }
        }
        let mut inner: Vec<Toks> = Vec::new();
        if let Some(r) = &l.restore {
            let buf = self.ident(r.buf);
            // An array kept whole is written by the iteration's recomputation.
            let vars: Vec<TokenStream> = r.vars.iter().map(|v| self.binding(*v)).collect();
            let pat = one_or_tuple(&vars);
            inner.push(quote!(let #pat = #buf.pop();).into());
        }
        let (stmts, _) = self.block_parts(&l.body, false);
        self.loop_depth.set(self.loop_depth.get() - 1);
        if outermost {
            let hoisted = std::mem::take(&mut *self.hoisted.borrow_mut());
            before.splice(0..0, hoisted);
        }
        inner.extend(stmts);
        // What the reverse sweep reads back of this iteration: its carried values as they
        // entered it, and what calls on data gave.
        if let Some(s) = &l.save {
            let buf = self.ident(s.buf);
            let vals: Vec<Ident> = s.vals.iter().map(|v| self.ident(*v)).collect();
            let vals = one_or_tuple(&vals);
            inner.push(quote!(#buf.push(#vals);).into());
        }
        // Adjoint sums in lanes (`lanes`): each lane's additions go after the body.
        let mut lanes = self.lanes_of(l);
        let changed: Vec<(Var, Operand)> = l
            .carried
            .iter()
            .zip(&l.body.yields)
            .filter(|(c, y)| **y != Operand::Var(c.phi))
            .map(|(c, y)| (c.phi, *y))
            .collect();
        // One assignment after another, unless a new value reads a variable assigned before
        // it (then all at once).
        let mut assigned = HashSet::default();
        let mut sequential = true;
        for (phi, y) in &changed {
            let mut r = HashSet::default();
            self.reads(y, &mut r);
            if r.iter().any(|v| assigned.contains(v)) {
                sequential = false;
            }
            assigned.insert(*phi);
        }
        // The lanes' additions go after the other carried values' assignments: none may read
        // a value those assign.
        let late = lanes.iter().any(|a| {
            let mut r = HashSet::default();
            self.reads(&a.term, &mut r);
            changed.iter().any(|(phi, _)| r.contains(phi))
        });
        if !sequential || late {
            lanes.clear();
        }
        let in_lanes = |v: &Var| lanes.iter().any(|a| a.phi == *v);
        if sequential {
            for (phi, y) in changed.iter().filter(|(phi, _)| !in_lanes(phi)) {
                inner.push(self.assignment(*phi, y));
            }
        } else {
            let ns = changed.iter().map(|c| self.ident(c.0));
            let ys = changed.iter().map(|c| self.operand(&c.1).tokens());
            inner.push(quote!((#(#ns),*) = (#(#ys),*);).into());
        }
        if l.exit {
            if let Some(flag) = l.body.yields.get(l.carried.len()) {
                let f = self.operand(flag).wrap(PREC_OR);
                inner.push(quote!(if #f { break; }).into());
            }
        }
        let head = match &l.header {
            Header::For {
                pat,
                iter,
                walk,
                pos,
                ..
            } => {
                // A name the body does not read is bound as `_`.
                let subst: Vec<Toks> = pat
                    .refs
                    .iter()
                    .map(|v| {
                        if self.uses.get(v).copied().unwrap_or(0) == 0 {
                            Toks::one(Ident::new("_", Span::call_site()))
                        } else {
                            self.ident(*v).into()
                        }
                    })
                    .collect();
                let subst: Vec<Subst> = subst.into_iter().map(Subst::Same).collect();
                let p = replace_placeholders(pat.tokens.clone(), &subst, &self.krate);
                let mut it = self.opaque(&walked(iter, *walk));
                // A struct literal cannot stand bare before the loop's block.
                let brace = it
                    .0
                    .iter()
                    .any(|t| matches!(t, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace));
                if brace {
                    it = it.group(Delimiter::Parenthesis);
                }
                let (item, it) = match pos {
                    Some(v) => {
                        let v = self.ident(*v);
                        let krate = &self.krate;
                        (quote!((#v, #p)), quote!(#krate::__private::enumerate(#it)))
                    }
                    None => (p.into_token_stream(), it.into_token_stream()),
                };
                if !lanes.is_empty() {
                    // Walked forwards or backwards, item by item: the iterable as written,
                    // and whether backwards.
                    let plain = match walk {
                        _ if pos.is_some() => None,
                        crate::ir::Walk::AsWritten => Some(false),
                        crate::ir::Walk::Sweep {
                            reverse,
                            enumerate: false,
                            count: None,
                        } => Some(*reverse),
                        _ => None,
                    }
                    .map(|back| (back, self.opaque(iter).into_token_stream()));
                    let lanes_loop = self.loop_in_lanes(&lanes, &item, &it, plain, |adds| {
                        let mut body = inner.clone();
                        body.extend(adds.iter().cloned());
                        body
                    });
                    return quote! {
                        #(#before)*
                        #lanes_loop
                    };
                }
                quote!(for #item in #it)
            }
            Header::Loop => quote!(loop),
        };
        quote! {
            #(#before)*
            #head {
                #(#inner)*
            }
        }
    }

    pub(super) fn inst(&self, inst: &Inst) -> Option<Toks> {
        Some(match inst {
            Inst::Op { var, op, args } => {
                if self.inline.contains_key(var) {
                    return None;
                }
                let ty = untyped(*op, args).then(|| float_type_tokens(self.func.float));
                Toks::let_stmt(self.ident(*var), ty, self.op_expr(*op, args).tokens())
            }
            Inst::Opaque { var, expr, ty } => {
                if self.inline.contains_key(var) {
                    return None;
                }
                let e = self.opaque(expr);
                let info = self.func.info(*var);
                // A float of a type the macro does not know (see `VarInfo::float_checked`):
                // `&f64` takes a float or a reference to one, and nothing else.
                // Every token at the user's expression, where rustc reports a wrong type.
                let at = info.span;
                let float: TokenStream = crate::emit::tokens::float_type_tokens(self.func.float)
                    .into_iter()
                    .map(|mut t| {
                        t.set_span(at);
                        t
                    })
                    .collect();
                let float = quote::quote_spanned!(at=> &#float);
                if self.uses.get(var).copied().unwrap_or(0) == 0 {
                    // Unused, but run for its effects; its type still checked, as written.
                    match ty {
                        Some(ty) => quote!(let _: #ty = #e;).into(),
                        None if info.float_checked => {
                            // `&` binds tighter than the expression may: `&(v0 - t3)`.
                            let e = if expr.prec < PREC_UNARY {
                                e.group(Delimiter::Parenthesis)
                            } else {
                                e
                            };
                            quote::quote_spanned!(at=> let _: #float = &#e;).into()
                        }
                        None => quote!(let _ = #e;).into(),
                    }
                } else {
                    let ident = self.ident(*var);
                    let name = if info.mutable {
                        quote!(mut #ident)
                    } else {
                        quote!(#ident)
                    };
                    let check = info.float_checked.then(|| {
                        let mut at = ident.clone();
                        // The variable's own hygiene, at the user's expression.
                        at.set_span(at.span().located_at(info.span));
                        quote::quote_spanned!(info.span=> let _: #float = &#at;)
                    });
                    match ty {
                        Some(ty) => quote!(let #name: #ty = #e; #check).into(),
                        None => quote!(let #name = #e; #check).into(),
                    }
                }
            }
            Inst::Cond { var, cond } => Toks::let_stmt(self.ident(*var), None, self.cond(cond).0),
            Inst::Load { var, arr, idx } => {
                if self.inline.contains_key(var) {
                    return None;
                }
                Toks::let_stmt(self.ident(*var), None, self.place(*arr, idx))
            }
            Inst::Store {
                arr, idx, val, op, ..
            } => {
                let op = match op {
                    StoreOp::Set => "=",
                    StoreOp::Add => "+=",
                    StoreOp::Sub => "-=",
                };
                if op == "=" {
                    if let Some((op, rest)) = self.element_update(*arr, idx, val) {
                        return Some(Toks::assign(
                            self.place(*arr, idx),
                            op,
                            self.operand(rest).tokens(),
                        ));
                    }
                }
                Toks::assign(self.place(*arr, idx), op, self.operand(val).tokens())
            }
            Inst::Assign {
                arr,
                src,
                op,
                scale,
                ..
            } => {
                let a = self.ident(*arr);
                let k = &self.krate;
                if let (Some(s), Operand::Var(v)) = (scale, src) {
                    let s = self.operand(s).tokens();
                    let v = self.whole(*v);
                    return Some(quote!(#k::__private::add_scaled(&mut #a, &#v, #s);).into());
                }
                match (src, op) {
                    (Operand::Var(s), StoreOp::Set) => {
                        let s = self.whole(*s);
                        quote!(#a = #s;).into()
                    }
                    (Operand::Var(s), _) => {
                        let s = self.whole(*s);
                        let f = if *op == StoreOp::Add {
                            quote!(add_assign)
                        } else {
                            quote!(sub_assign)
                        };
                        quote!(#k::__private::#f(&mut #a, &#s);).into()
                    }
                    (other, _) => {
                        let v = self.operand(other).tokens();
                        quote!(#k::__private::fill(&mut #a, #v);).into()
                    }
                }
            }
            Inst::NewArray { var, init } => {
                let name = self.ident(*var);
                let e = match init {
                    ArrayInit::Zero { like } => self.zeros(*like),
                    ArrayInit::Repeat { elem, lens } => {
                        let mut t = self.operand_in(elem, true).tokens().into_token_stream();
                        for n in lens.iter().rev() {
                            t = quote!([#t; #n]);
                        }
                        t
                    }
                    ArrayInit::List(xs) => {
                        let xs = xs.iter().map(|x| self.operand(x).tokens());
                        quote!([#(#xs),*])
                    }
                    ArrayInit::Copy(src) => self.whole(*src),
                    ArrayInit::ZeroOf(of) => self.zeros(*of),
                    ArrayInit::Pulled { value, .. } => {
                        self.operand(value).tokens().into_token_stream()
                    }
                };
                if self.written.contains(var) {
                    quote!(let mut #name = #e;).into()
                } else {
                    quote!(let #name = #e;).into()
                }
            }
            Inst::Loop(l) => self.loop_stmt(l).into(),
            Inst::If {
                cond,
                then,
                els,
                outs,
            } => {
                let c = self.operand(cond).tokens();
                // A loop in a branch keeps its own storage (it may be carried out of the `if`):
                // it counts as outermost.
                let depth = self.loop_depth.replace(0);
                let hoisted = self.hoisted.take();
                let t = self.branch(then, !outs.is_empty());
                let e = self.else_branch(els, outs);
                self.loop_depth.set(depth);
                self.hoisted.replace(hoisted);
                if outs.is_empty() && els.insts.is_empty() {
                    quote!(if #c #t).into()
                } else if outs.is_empty() {
                    quote!(if #c #t else #e).into()
                } else {
                    let pat = self.pattern(outs);
                    quote!(let #pat = if #c #t else #e;).into()
                }
            }
        })
    }
}

/// The runtime's storage for `s`: what makes it before the loop, and, on the heap, the method
/// call that empties it for another run of the loop (printed after the storage's name).
fn storage_tokens(s: &crate::ir::Storage) -> (crate::ir::Opaque, Option<crate::ir::Opaque>) {
    use crate::ir::{Opaque, Storage};
    let opaque = |tokens, refs| Opaque {
        tokens,
        refs,
        effectful: false,
        prec: PREC_ATOM,
    };
    match s {
        Storage::Stack(n) => (
            opaque(
                quote!(__grad_krate::__private::SavedN::<_, #n>::new()),
                Vec::new(),
            ),
            None,
        ),
        Storage::Heap(n) => (
            opaque(
                quote!(__grad_krate::__private::Saved::with_capacity(#n)),
                Vec::new(),
            ),
            Some(opaque(quote!(.restart_with_capacity(#n)), Vec::new())),
        ),
        Storage::Iter(iter) => {
            let it = &iter.tokens;
            (
                opaque(
                    quote!(__grad_krate::__private::Saved::for_iter(#it)),
                    iter.refs.clone(),
                ),
                Some(opaque(quote!(.restart(#it)), iter.refs.clone())),
            )
        }
        Storage::Growing => (
            opaque(
                quote!(__grad_krate::__private::Saved::default()),
                Vec::new(),
            ),
            Some(opaque(quote!(.restart_with_capacity(0)), Vec::new())),
        ),
    }
}

/// The iterable `iter` walked as `walk` says, with the runtime's adapters: `rev(it)`,
/// `enumerate_rev(it)`, `rev_prefix(it, n)`, ... (`n` the count of iterations that ran).
fn walked(iter: &crate::ir::Opaque, walk: crate::ir::Walk) -> crate::ir::Opaque {
    let crate::ir::Walk::Sweep {
        reverse,
        enumerate,
        count,
    } = walk
    else {
        return iter.clone();
    };
    let it = iter.tokens.clone();
    let mut refs = iter.refs.clone();
    let n = count.map(|n| {
        let ph = Ident::new(&crate::ir::placeholder(refs.len()), Span::call_site());
        refs.push(n);
        ph
    });
    let tokens = match (!reverse, enumerate, n) {
        (true, false, None) => it,
        (true, true, None) => quote!(__grad_krate::__private::enumerate(#it)),
        (true, false, Some(n)) => quote!(__grad_krate::__private::take(#it, #n)),
        (true, true, Some(n)) => quote!(__grad_krate::__private::take(
            __grad_krate::__private::enumerate(#it),
            #n
        )),
        (false, false, None) => quote!(__grad_krate::__private::rev(#it)),
        (false, true, None) => quote!(__grad_krate::__private::enumerate_rev(#it)),
        (false, false, Some(n)) => quote!(__grad_krate::__private::rev_prefix(#it, #n)),
        (false, true, Some(n)) => quote!(__grad_krate::__private::enumerate_rev_prefix(#it, #n)),
    };
    crate::ir::Opaque {
        tokens,
        refs,
        effectful: false,
        prec: PREC_ATOM,
    }
}
