//! Scans of the syntax before lowering: which names a body assigns, which may carry a differentiated value.

use super::*;
use super::{RET, RETVAL};
use rustc_hash::FxHashSet as HashSet;
use syn::visit::Visit;
use syn::{Expr, Pat};

/// The names a block assigns (`x = ..`, `x += ..`), nested blocks and loops included; `#ret`
/// and `#retval` when it may `return`.
pub(super) fn assigned_names(stmts: &[syn::Stmt]) -> Vec<String> {
    let mut v = Assigned(Vec::new());
    for s in stmts {
        v.visit_stmt(s);
    }
    v.0
}

pub(super) fn assigned_in_expr(e: &Expr) -> Vec<String> {
    let mut v = Assigned(Vec::new());
    v.visit_expr(e);
    v.0
}

pub(super) struct Assigned(Vec<String>);

impl<'ast> Visit<'ast> for Assigned {
    fn visit_expr(&mut self, e: &'ast Expr) {
        match e {
            Expr::Assign(a) => {
                if let Some(n) = root_name(&a.left) {
                    self.0.push(n);
                }
            }
            Expr::Binary(b) if super::compound(&b.op).is_some() => {
                if let Some(n) = root_name(&b.left) {
                    self.0.push(n);
                }
            }
            Expr::Return(_) => {
                self.0.push(RET.into());
                self.0.push(RETVAL.into());
            }
            Expr::Closure(_) => return,
            _ => {}
        }
        syn::visit::visit_expr(self, e);
    }
    fn visit_item(&mut self, _: &'ast syn::Item) {}
}

pub(super) use crate::front::fields::indexed_depth;

/// The names whose elements the body assigns (`z[i] = ..`, `z[i][j] += ..`).
pub(super) fn element_stores(block: &syn::Block) -> HashSet<String> {
    struct V(HashSet<String>);
    impl<'ast> Visit<'ast> for V {
        fn visit_expr(&mut self, e: &'ast Expr) {
            let left = match e {
                Expr::Assign(a) => Some(&*a.left),
                Expr::Binary(b) if super::compound(&b.op).is_some() => Some(&*b.left),
                _ => None,
            };
            if let Some(l @ Expr::Index(_)) = left {
                if let Some(n) = place_root(l) {
                    self.0.insert(n);
                }
            }
            syn::visit::visit_expr(self, e);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut v = V(HashSet::default());
    v.visit_block(block);
    v.0
}

pub(super) fn root_name(e: &Expr) -> Option<String> {
    match e {
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        Expr::Paren(p) => root_name(&p.expr),
        _ => None,
    }
}

/// Whether a loop body has a `break` of this loop (not of a loop inside it).
pub(super) fn breaks(stmts: &[syn::Stmt]) -> bool {
    jumps_out(stmts, false)
}

/// Whether a loop body may leave the loop early (`break` of this loop, or `return`).
pub(super) fn leaves(stmts: &[syn::Stmt]) -> bool {
    jumps_out(stmts, true)
}

/// A `break` of this loop in `stmts`, or (with `returns`) a `return`.
fn jumps_out(stmts: &[syn::Stmt], returns: bool) -> bool {
    struct V {
        depth: usize,
        returns: bool,
        found: bool,
    }
    impl<'ast> Visit<'ast> for V {
        fn visit_expr(&mut self, e: &'ast Expr) {
            match e {
                Expr::Return(_) if self.returns => self.found = true,
                Expr::Break(_) if self.depth == 0 => self.found = true,
                Expr::ForLoop(_) | Expr::While(_) | Expr::Loop(_) => {
                    self.depth += 1;
                    syn::visit::visit_expr(self, e);
                    self.depth -= 1;
                    return;
                }
                Expr::Closure(_) => return,
                _ => {}
            }
            syn::visit::visit_expr(self, e);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut v = V {
        depth: 0,
        returns,
        found: false,
    };
    for s in stmts {
        v.visit_stmt(s);
    }
    v.found
}

/// The names that may hold a value depending on `seeds` (the `wrt` parameters) anywhere in the
/// body: a name is in if something assigned to it (a `let`, an assignment, a loop pattern, a
/// closure argument, an element store) mentions a name that is in. An over-approximation,
/// which is all the loops need: a variable wrongly thought differentiated only costs a zero
/// derivative.
pub(super) fn active_names(block: &syn::Block, seeds: &[String]) -> HashSet<String> {
    struct Edges(Vec<(Vec<String>, HashSet<String>)>);
    impl<'ast> Visit<'ast> for Edges {
        fn visit_local(&mut self, l: &'ast syn::Local) {
            if let Some(init) = &l.init {
                self.0.push((pat_names(&l.pat), idents(&init.expr)));
            }
            syn::visit::visit_local(self, l);
        }
        fn visit_expr(&mut self, e: &'ast Expr) {
            match e {
                Expr::Assign(a) => {
                    if let Some(n) = place_root(&a.left) {
                        self.0.push((vec![n], idents(&a.right)));
                    }
                }
                Expr::Binary(b) if super::compound(&b.op).is_some() => {
                    if let Some(n) = place_root(&b.left) {
                        self.0.push((vec![n], idents(&b.right)));
                    }
                }
                Expr::ForLoop(f) => {
                    // `for (i, x) in xs.iter().enumerate()`: `i` is a position, never a float.
                    let mut targets = pat_names(&f.pat);
                    if let (Expr::MethodCall(m), Pat::Tuple(t)) = (&*f.expr, strip_pat(&f.pat)) {
                        if m.method == "enumerate" && t.elems.len() == 2 {
                            let index = pat_names(&t.elems[0]);
                            targets.retain(|n| !index.contains(n));
                        }
                    }
                    self.0.push((targets, idents(&f.expr)));
                }
                Expr::Return(r) => {
                    if let Some(x) = &r.expr {
                        self.0.push((vec![RETVAL.into()], idents(x)));
                    }
                }
                // Only a closure argument is assigned to; looking for one first keeps a chain of
                // method calls linear (each call would otherwise gather its whole receiver).
                Expr::MethodCall(m) if m.args.iter().any(|a| matches!(a, Expr::Closure(_))) => {
                    let mut src = idents(&m.receiver);
                    for a in &m.args {
                        if !matches!(a, Expr::Closure(_)) {
                            src.extend(idents(a));
                        }
                    }
                    for a in &m.args {
                        if let Expr::Closure(c) = a {
                            let names = c.inputs.iter().flat_map(pat_names).collect();
                            self.0.push((names, src.clone()));
                        }
                    }
                }
                _ => {}
            }
            syn::visit::visit_expr(self, e);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut edges = Edges(Vec::new());
    edges.visit_block(block);
    let mut active: HashSet<String> = seeds.iter().cloned().collect();
    loop {
        let mut changed = false;
        for (targets, src) in &edges.0 {
            if src.iter().any(|s| active.contains(s)) {
                for t in targets {
                    changed |= active.insert(t.clone());
                }
            }
        }
        if !changed {
            return active;
        }
    }
}

pub(super) fn place_root(e: &Expr) -> Option<String> {
    match e {
        Expr::Index(ix) => place_root(&ix.expr),
        Expr::Field(f) => place_root(&f.base),
        Expr::Paren(p) => place_root(&p.expr),
        Expr::Unary(u) => place_root(&u.expr),
        Expr::Path(p) => p.path.get_ident().map(|i| i.to_string()),
        _ => None,
    }
}

pub(super) fn pat_names(p: &Pat) -> Vec<String> {
    struct V(Vec<String>);
    impl<'ast> Visit<'ast> for V {
        fn visit_pat_ident(&mut self, pi: &'ast syn::PatIdent) {
            self.0.push(pi.ident.to_string());
            syn::visit::visit_pat_ident(self, pi);
        }
    }
    let mut v = V(Vec::new());
    v.visit_pat(p);
    v.0
}

pub(super) fn idents(e: &Expr) -> HashSet<String> {
    struct V(HashSet<String>);
    impl<'ast> Visit<'ast> for V {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if let Some(id) = p.path.get_ident() {
                self.0.insert(id.to_string());
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut v = V(HashSet::default());
    v.visit_expr(e);
    v.0
}
