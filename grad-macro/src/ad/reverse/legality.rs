//! The reverse-mode legality check: what the reverse sweep cannot do, found on the lowered
//! body before the sweep is built.

use crate::ir::{placeholder, Block, Header, Inst, Kind, Name, Operand, Var, VarInfo};
use proc_macro2::{Span, TokenStream};
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// Where the user wrote the variable that placeholder `k` of `tokens` stands for.
fn placeholder_span(tokens: &TokenStream, k: usize) -> Option<Span> {
    let name = placeholder(k);
    for t in tokens.clone() {
        match t {
            proc_macro2::TokenTree::Ident(i) if i == name => return Some(i.span()),
            proc_macro2::TokenTree::Group(g) => {
                if let Some(s) = placeholder_span(&g.stream(), k) {
                    return Some(s);
                }
            }
            _ => {}
        }
    }
    None
}

/// Refuses a store to an array that a loop before it reads: the reverse sweep recomputes the
/// loop's iterations after the whole function has run, so the loop would read what the array
/// holds at the end, not what it held then.
pub fn check_reads_after_writes(body: &Block, vars: &[VarInfo]) -> Vec<syn::Error> {
    let mut errors = Vec::new();
    #[derive(Default)]
    struct Walk {
        n: usize,
        /// Where each array is declared (parameters: before everything).
        decl: HashMap<Var, usize>,
        /// Loops around the current point: where each starts.
        loops: Vec<usize>,
        /// For each array read in a loop that does not declare it: from where on a store is
        /// refused, and the read's span.
        from: HashMap<Var, (usize, Span)>,
        stores: Vec<(Var, usize, Span)>,
    }
    impl Walk {
        fn block(&mut self, b: &Block, vars: &[VarInfo]) {
            for inst in &b.insts {
                self.n += 1;
                let here = self.n;
                match inst {
                    Inst::NewArray { var, .. } => {
                        self.decl.insert(*var, here);
                    }
                    Inst::Load { var, arr, .. } => self.read(*arr, vars[var.0 as usize].span),
                    Inst::Store { arr, span, .. } => self.stores.push((*arr, here, *span)),
                    Inst::If { then, els, .. } => {
                        self.block(then, vars);
                        self.block(els, vars);
                    }
                    Inst::Loop(l) => {
                        self.loops.push(here);
                        // Iterating an array reads it in every iteration.
                        if let Header::For { iter, .. } = &l.header {
                            for (k, v) in iter.refs.iter().enumerate() {
                                if vars[v.0 as usize].kind == Kind::Array {
                                    let at = placeholder_span(&iter.tokens, k)
                                        .unwrap_or(vars[v.0 as usize].span);
                                    self.read(*v, at);
                                }
                            }
                        }
                        self.block(&l.body, vars);
                        self.loops.pop();
                    }
                    other => {
                        // Code over data that is handed an array (`my_norm(&z)`) reads it.
                        other.for_each_operand(&mut |o| {
                            if let Operand::Var(v) = o {
                                if vars[v.0 as usize].kind == Kind::Array {
                                    self.read(*v, vars[v.0 as usize].span);
                                }
                            }
                        });
                    }
                }
            }
        }

        /// A read of `arr` here: inside a loop that does not declare it, later writes are
        /// refused.
        fn read(&mut self, arr: Var, span: Span) {
            let decl = self.decl.get(&arr).copied().unwrap_or(0);
            if let Some(&outer) = self.loops.iter().find(|&&s| s > decl) {
                let e = self.from.entry(arr).or_insert((outer, span));
                if outer < e.0 {
                    *e = (outer, span);
                }
            }
        }
    }
    let mut w = Walk::default();
    w.block(body, vars);
    let mut told = HashSet::default();
    for (arr, at, span) in &w.stores {
        if let Some((from, read)) = w.from.get(arr) {
            if at >= from {
                let name = match &vars[arr.0 as usize].name {
                    Name::Source(s) => s.clone(),
                    _ => "this array".into(),
                };
                errors.push(syn::Error::new(
                    *span,
                    format!("`{name}` is written here after a loop has read it (or in the loop that reads it): the reverse sweep recomputes that loop's iterations once the function has run, and would read the new value. Write the new values to another array, or keep a value in a local before changing the element (`let v = {name}[i]; {name}[i] = v * 2.0;` outside a loop)"),
                ));
                if told.insert(*arr) {
                    errors.push(syn::Error::new(
                        *read,
                        format!("the loop reads `{name}` here"),
                    ));
                }
            }
        }
    }
    errors
}
