//! Small transformations and queries over blocks: substitution, renaming, folding of identities, reads, uses, placeholders.

use super::*;
use proc_macro2::TokenStream;
use rustc_hash::FxHashMap as HashMap;

impl Loop {
    /// Carries one more value: `c`, whose next value the body gives as `next` (before the exit
    /// flag, if the loop has one).
    pub fn carry(&mut self, c: Carry, next: Operand) {
        self.body.yields.insert(self.carried.len(), next);
        self.carried.push(c);
    }
}

/// Removes the carried variables the body did not change after all: their uses read the
/// initial value. A literal initial value is substituted only when `lits` (opaque code cannot
/// refer to a literal).
pub fn drop_unchanged(mut lp: Loop, lits: bool) -> Loop {
    let mut keep = Vec::new();
    let mut map: HashMap<Var, Operand> = HashMap::default();
    for (k, c) in lp.carried.iter().enumerate() {
        let unchanged = lp.body.yields[k] == Operand::Var(c.phi);
        if unchanged && (lits || c.init.as_var().is_some()) {
            map.insert(c.phi, c.init);
            map.insert(c.out, c.init);
        } else {
            keep.push(k);
        }
    }
    if map.is_empty() {
        return lp;
    }
    let n = lp.carried.len();
    let carried: Vec<Carry> = keep.iter().map(|&k| lp.carried[k]).collect();
    let mut yields: Vec<Operand> = keep.iter().map(|&k| lp.body.yields[k]).collect();
    yields.extend(lp.body.yields[n..].iter().copied());
    lp.carried = carried;
    lp.body.yields = yields;
    substitute(&mut lp.body, &map);
    lp
}

/// Replaces variables by operands throughout a block (code passed through as tokens can only
/// refer to variables: a literal is not substituted there).
pub fn substitute(block: &mut Block, map: &HashMap<Var, Operand>) {
    if map.is_empty() {
        return;
    }
    block.map_operands(&mut |o| {
        if let Operand::Var(v) = o {
            if let Some(n) = map.get(v) {
                *o = *n;
            }
        }
    });
}

/// Replaces an output of an `if` that both branches give as the same variable by that variable,
/// and a flag set only in `then` by the condition, nested blocks included.
pub fn fold_identities(block: &mut Block) {
    let mut map: HashMap<Var, Operand> = HashMap::default();
    fold_in(block, &mut map);
}

pub(super) fn fold_in(block: &mut Block, map: &mut HashMap<Var, Operand>) {
    for inst in &mut block.insts {
        inst.map_operands(&mut |o| {
            if let Operand::Var(v) = o {
                if let Some(n) = map.get(v) {
                    *o = *n;
                }
            }
        });
        if let Inst::If {
            cond,
            then,
            els,
            outs,
        } = inst
        {
            fold_in(then, map);
            fold_in(els, map);
            // An output both branches give the same variable is that variable; a flag set in
            // `then` only is the condition.
            for (k, out) in outs.iter().enumerate() {
                match (then.yields[k], els.yields[k]) {
                    (Operand::Var(a), Operand::Var(b)) if a == b => {
                        map.insert(*out, Operand::Var(a));
                    }
                    (Operand::Bool(true), Operand::Bool(false)) if cond.as_var().is_some() => {
                        map.insert(*out, *cond);
                    }
                    _ => {}
                }
            }
            continue;
        }
        if let Inst::Loop(l) = inst {
            fold_in(&mut l.body, map);
            continue;
        }
    }
    block.yields.iter_mut().for_each(|o| {
        if let Operand::Var(v) = o {
            if let Some(n) = map.get(v) {
                *o = *n;
            }
        }
    });
}

/// Every variable `inst` reads, nested blocks included (a loop's storage reads the values it
/// keeps).
pub fn inst_reads(inst: &Inst, out: &mut std::collections::BTreeSet<Var>) {
    own_reads(inst, out);
    for b in inst.blocks() {
        block_reads(b, out);
    }
}

/// What `inst` reads itself, not in the blocks it holds.
fn own_reads(inst: &Inst, out: &mut std::collections::BTreeSet<Var>) {
    inst.for_each_operand(&mut |o| {
        if let Operand::Var(v) = o {
            out.insert(*v);
        }
    });
    if let Inst::Loop(l) = inst {
        if let Some(s) = &l.save {
            out.extend(s.vals.iter().copied());
        }
    }
}

/// Every variable `block` reads, nested blocks included.
pub fn block_reads(block: &Block, out: &mut std::collections::BTreeSet<Var>) {
    walk_blocks(block, &mut |b| {
        for inst in &b.insts {
            own_reads(inst, out);
        }
        out.extend(b.yields.iter().filter_map(Operand::as_var));
    });
}

/// The variables code passed through as tokens refers to, in `block` and nested blocks.
pub fn opaque_refs(block: &Block, out: &mut rustc_hash::FxHashSet<Var>) {
    walk(block, &mut |i| match i {
        Inst::Opaque { expr, .. } => out.extend(expr.refs.iter().copied()),
        Inst::Cond { cond, .. } => cond.for_each_operand(&mut |o| {
            if let Operand::Var(v) = o {
                out.insert(*v);
            }
        }),
        Inst::Loop(l) => {
            if let Header::For { iter, .. } = &l.header {
                out.extend(iter.refs.iter().copied());
            }
        }
        _ => {}
    });
}

/// Renames the variables one instruction reads, nested blocks included.
pub fn rename_inst(inst: &mut Inst, map: &HashMap<Var, Var>) {
    if !map.is_empty() {
        inst.map_operands(&mut renamer(map));
    }
}

/// Renames variables throughout a block.
pub fn rename(block: &mut Block, map: &HashMap<Var, Var>) {
    if !map.is_empty() {
        block.map_operands(&mut renamer(map));
    }
}

/// Renames the variables a block yields (not its instructions).
pub fn rename_yields(block: &mut Block, map: &HashMap<Var, Var>) {
    if !map.is_empty() {
        block.yields.iter_mut().for_each(&mut renamer(map));
    }
}

pub(super) fn renamer(map: &HashMap<Var, Var>) -> impl FnMut(&mut Operand) + '_ {
    move |o| {
        if let Operand::Var(v) = o {
            if let Some(n) = map.get(v) {
                *v = *n;
            }
        }
    }
}

/// Renumbers the placeholders of `tokens` by `by`, so two operands' tokens can be joined.
pub(crate) fn shift_placeholders(tokens: TokenStream, by: usize) -> TokenStream {
    if by == 0 {
        return tokens;
    }
    tokens
        .into_iter()
        .map(|tt| match tt {
            proc_macro2::TokenTree::Ident(id) => {
                let s = id.to_string();
                match s
                    .strip_prefix("__grad_ref_")
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(n) => proc_macro2::TokenTree::Ident(proc_macro2::Ident::new(
                        &placeholder(n + by),
                        id.span(),
                    )),
                    None => proc_macro2::TokenTree::Ident(id),
                }
            }
            proc_macro2::TokenTree::Group(g) => {
                let mut ng =
                    proc_macro2::Group::new(g.delimiter(), shift_placeholders(g.stream(), by));
                ng.set_span(g.span());
                proc_macro2::TokenTree::Group(ng)
            }
            other => other,
        })
        .collect()
}

/// How many times each variable is read in `block`, nested blocks included.
pub(crate) fn count_uses(block: &Block, uses: &mut HashMap<Var, usize>) {
    walk_blocks(block, &mut |b| {
        for inst in &b.insts {
            inst.for_each_operand(&mut |o| {
                if let Operand::Var(v) = o {
                    *uses.entry(*v).or_default() += 1;
                }
            });
            if let Inst::Loop(l) = inst {
                if let Some(s) = &l.save {
                    for v in &s.vals {
                        *uses.entry(*v).or_default() += 1;
                    }
                }
            }
        }
        for y in &b.yields {
            if let Operand::Var(v) = y {
                *uses.entry(*v).or_default() += 1;
            }
        }
    });
}

/// The variable of `for i in a..b` (as written, no position bound): each iteration its own
/// `i`, so element `i` of an array is the iteration's own.
pub fn own_position(header: &Header) -> Option<Var> {
    let Header::For {
        pat,
        iter,
        walk: Walk::AsWritten,
        pos: None,
        ..
    } = header
    else {
        return None;
    };
    let own = match pat.refs.as_slice() {
        [p] if pat.tokens.to_string() == placeholder(0) => *p,
        _ => return None,
    };
    matches!(
        syn::parse2::<syn::Expr>(iter.tokens.clone()),
        Ok(syn::Expr::Range(syn::ExprRange {
            start: Some(_),
            end: Some(_),
            ..
        }))
    )
    .then_some(own)
}
