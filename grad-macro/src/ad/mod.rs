//! Automatic differentiation on the IR: reverse mode, forward mode, and the trace.

pub mod forward;
pub mod reverse;
pub mod trace;

/// `__private::<f>(&a, &b, 0.0)`: a runtime function of two arrays (a callee's gradient or
/// Jacobian block, and a tangent or adjoint array), as code over data whose value is `kind`
/// (`dot`, a float that carries a derivative; `jvp`, `vjp`, arrays).
pub(crate) fn runtime_call(
    b: &mut crate::build::Builder,
    f: &str,
    a: crate::ir::Operand,
    c: crate::ir::Operand,
    kind: crate::ir::Kind,
) -> crate::ir::Operand {
    use crate::ir::{Inst, Kind, Name, Opaque, Operand};
    let (at, mut refs) = b.operand_tokens(a);
    let (ct, crefs) = b.operand_tokens(c);
    let ct = crate::ir::shift_placeholders(ct, refs.len());
    refs.extend(crefs);
    let b_refs = refs.len();
    let f = proc_macro2::Ident::new(f, proc_macro2::Span::call_site());
    let zero = crate::emit::tokens::float_lit(0.0, b.float, true);
    let var = b.new_var(
        kind,
        Name::Anon,
        kind == Kind::Float,
        proc_macro2::Span::call_site(),
    );
    b.push(Inst::Opaque {
        var,
        expr: Opaque {
            tokens: quote::quote!(__grad_krate::__private::#f(&#at, &#ct, #zero)),
            refs,
            effectful: false,
            prec: crate::emit::tokens::PREC_ATOM,
        },
        ty: None,
    });
    // A product of its two references: forward mode applies the product rule to it.
    b.info_mut(var).bilinear =
        matches!(f.to_string().as_str(), "vjp" | "dot" | "jvp") && b_refs == 2;
    Operand::Var(var)
}
