//! The cost model: a rough operation count that decides whether `_grad` gets a body of its
//! own, and what the gradient keeps in memory, for the companions' documentation.

use crate::front::check::Sig;

/// A rough count of machine operations: arithmetic 1, a division 4, a transcendental function
/// 20, a loop's body as many times as it runs (16 if that is not a literal). Only ratios of it
/// are used.
pub(super) fn cost(b: &crate::ir::Block) -> u64 {
    use crate::ir::{Inst, Op};
    b.insts
        .iter()
        .map(|i| match i {
            Inst::Op { op, .. } => match op {
                Op::Div | Op::Rem => 4,
                Op::Call(r) => crate::rules::RULES[*r].cost,
                _ => 1,
            },
            Inst::If { then, els, .. } => 1 + cost(then).max(cost(els)),
            Inst::Loop(l) => {
                // A literal trip count, or 16 iterations.
                let trip = match &l.header {
                    crate::ir::Header::For { trip: Some(t), .. } => t.to_string().parse().ok(),
                    _ => None,
                };
                trip.unwrap_or(16) * (1 + cost(&l.body))
            }
            _ => 1,
        })
        .sum()
}

/// What the gradient costs in memory, for the companions' documentation.
pub(super) fn cost_note(body: &crate::ir::Block, sig: &Sig) -> String {
    let (mut heap, mut stack) = (false, false);
    crate::ir::walk(body, &mut |i| {
        if let crate::ir::Inst::Loop(l) = i {
            if let Some(s) = &l.save {
                if matches!(s.storage, crate::ir::Storage::Stack(_)) {
                    stack = true;
                } else {
                    heap = true;
                }
            }
        }
    });
    let slice = sig
        .wrt
        .iter()
        .any(|&i| matches!(&sig.params[i].ty, syn::Type::Reference(r) if matches!(&*r.elem, syn::Type::Slice(_))));
    let mut parts = Vec::new();
    if heap {
        parts.push("keeps the values its loops carry from one iteration to the next, one entry per iteration, in storage allocated once (before the outermost loop: every run of an inner loop reuses it)");
    } else if stack {
        parts.push("keeps the values its loops carry from one iteration to the next on the stack");
    }
    if slice {
        parts.push("returns the gradient of a slice as a new `Vec`");
    }
    if parts.is_empty() {
        "with no tape and no allocation.".into()
    } else {
        format!("with no tape; it {}.", parts.join(", and "))
    }
}
