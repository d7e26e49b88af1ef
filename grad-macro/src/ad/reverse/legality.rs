//! The reverse-mode legality check: what the reverse sweep cannot do, found on the lowered
//! body before the sweep is built.

use crate::ir::{Block, Header, Inst, Kind, Name, Operand, Var, VarInfo};
use proc_macro2::Span;
use rustc_hash::FxHashMap as HashMap;

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
        /// refused.
        from: HashMap<Var, usize>,
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
                    Inst::Load { arr, .. } => self.read(*arr),
                    Inst::Store { arr, span, .. } => self.stores.push((*arr, here, *span)),
                    Inst::If { then, els, .. } => {
                        self.block(then, vars);
                        self.block(els, vars);
                    }
                    Inst::Loop(l) => {
                        self.loops.push(here);
                        // Iterating an array reads it in every iteration.
                        if let Header::For { iter, .. } = &l.header {
                            for v in &iter.refs {
                                if vars[v.0 as usize].kind == Kind::Array {
                                    self.read(*v);
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
                                    self.read(*v);
                                }
                            }
                        });
                    }
                }
            }
        }

        /// A read of `arr` here: inside a loop that does not declare it, later writes are
        /// refused.
        fn read(&mut self, arr: Var) {
            let decl = self.decl.get(&arr).copied().unwrap_or(0);
            if let Some(&outer) = self.loops.iter().find(|&&s| s > decl) {
                let e = self.from.entry(arr).or_insert(outer);
                *e = (*e).min(outer);
            }
        }
    }
    let mut w = Walk::default();
    w.block(body, vars);
    // One error per write, at the write (syn's errors carry no secondary label, and a second
    // error at the loop's read would say the same mistake twice).
    for (arr, at, span) in &w.stores {
        if let Some(from) = w.from.get(arr) {
            if at >= from {
                let name = match &vars[arr.0 as usize].name {
                    Name::Source(s) => s.clone(),
                    _ => "this array".into(),
                };
                errors.push(syn::Error::new(
                    *span,
                    format!("`{name}` is written here after a loop has read it (or in the loop that reads it): the reverse sweep recomputes that loop's iterations once the function has run, and would read the new value. Write the new values to another array, or keep a value in a local before changing the element (`let v = {name}[i]; {name}[i] = v * 2.0;` outside a loop)"),
                ));
            }
        }
    }
    errors
}
