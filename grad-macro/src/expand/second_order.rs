//! Second order: `_hessian`, `_hvp` and `_jvp`, by forward mode over the reverse sweep (or over the function for `_jvp`).

use super::pipeline;
use super::*;
use crate::emit::tokens::one_or_tuple;
use crate::emit::Emitter;
use crate::front::args::Args;
use crate::front::check::Sig;
use crate::ir::Var;
use per_element::Layout;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use rustc_hash::FxHashSet as HashSet;
use syn::{Ident, ItemFn};

/// A unit tangent for each `wrt` parameter: `n` directions at once.
pub(crate) fn unit_seeds(wrt: &[Var]) -> crate::ad::forward::Seeds {
    let n = wrt.len();
    crate::ad::forward::Seeds {
        n,
        of: wrt
            .iter()
            .enumerate()
            .map(|(j, &v)| {
                let t = (0..n)
                    .map(|k| crate::ir::Operand::Lit(if k == j { 1.0 } else { 0.0 }))
                    .collect();
                (v, t)
            })
            .collect(),
        through_hessians: false,
    }
}

/// `func` with a new parameter per `wrt` parameter, of its kind and shape (a tangent or a
/// vector component: a float, or an array), and those parameters as one direction of seeds.
pub(super) fn with_direction(
    func: &crate::ir::Func,
    wrt: &[Var],
) -> (crate::ir::Func, crate::ad::forward::Seeds) {
    let mut func = func.clone();
    let mut of = Vec::new();
    for &w in wrt {
        let v = Var(func.vars.len() as u32);
        let (span, kind) = (func.info(w).span, func.info(w).kind);
        func.vars.push(crate::ir::VarInfo {
            kind,
            name: crate::ir::Name::Temp,
            active: false,
            span,
            mutable: false,
            float_checked: false,
            call: None,
            pulled_part: None,
            bilinear: false,
        });
        // An array's tangent is an array of its shape.
        if let Some(info) = func.arrays.get(&w).cloned() {
            func.arrays.insert(v, info);
        }
        func.params.push(v);
        of.push((w, vec![crate::ir::Operand::Var(v)]));
    }
    let seeds = crate::ad::forward::Seeds {
        n: 1,
        of,
        through_hessians: false,
    };
    (func, seeds)
}

/// The programs of `_jvp`, `_hessian` and `_hvp`, when asked for.
pub(super) struct Second {
    pub(super) jvp: Option<crate::ir::Func>,
    /// The Hessian in one pass (every `wrt` parameter a scalar: `None` with an array, where
    /// `_hessian` calls `_hvp` once per element), and the Hessian-vector product.
    pub(super) hessian: Option<(Option<crate::ir::Func>, crate::ir::Func)>,
    pub(super) layout: Layout,
}

pub(super) fn second_order(
    args: &Args,
    sig: &Sig,
    primal: &crate::ir::Func,
    wrt: &[Var],
    reversed: Option<&super::pipeline::Gradient>,
) -> syn::Result<Option<Second>> {
    if !args.forward && !args.hessian {
        return Ok(None);
    }
    let mut errors = Vec::new();
    let what = match (args.forward, args.hessian) {
        (true, true) => "`mode = forward` and `hessian` need its length at compile time",
        (true, false) => "`mode = forward` needs its length at compile time",
        _ => "`hessian` needs its length at compile time",
    };
    let layout = layout(args, sig, what);
    if args.hessian {
        errors.extend(super::through::refused_calls(primal));
    }
    let layout = match layout {
        Ok(l) => l,
        Err(e) => return Err(after(errors, e)),
    };
    combine(errors)?;
    let jvp = if args.forward {
        let (func, seeds) = with_direction(primal, wrt);
        let t = pipeline::forward(&func, &seeds)?;
        let picks = vec![t.primal(0), t.tangent(0, 0)];
        Some(t.select(picks))
    } else {
        None
    };
    let hessian = if let (true, Some(reversed)) = (args.hessian, reversed) {
        let n = wrt.len();
        // Forward over reverse: the tangents of the gradient, one direction per parameter.
        let matrix = if layout.arrays {
            None
        } else {
            let seeds = crate::ad::forward::Seeds {
                through_hessians: true,
                ..unit_seeds(wrt)
            };
            let t = pipeline::forward(&reversed.func, &seeds)?;
            // The upper triangle, row by row: ∂gᵢ/∂wⱼ for i ≤ j (the lower one mirrors it, so
            // the matrix is exactly symmetric). Yield 1 + i of the sweep is gᵢ.
            let picks = (0..n)
                .flat_map(|i| (i..n).map(move |j| (i, j)))
                .map(|(i, j)| t.tangent(1 + i, j))
                .collect();
            Some(t.select(picks))
        };
        let (func, seeds) = with_direction(&reversed.func, wrt);
        let t = pipeline::forward(&func, &seeds)?;
        let picks = (0..n).map(|i| t.tangent(1 + i, 0)).collect();
        Some((matrix, t.select(picks)))
    } else {
        None
    };
    Ok(Some(Second {
        jvp,
        hessian,
        layout,
    }))
}

/// The flat layout of the `wrt` parameters, or an error at a slice among them, which `what`
/// needs the length of.
pub(super) fn layout(args: &Args, sig: &Sig, what: &str) -> syn::Result<Layout> {
    Layout::of(sig).map_err(|i| {
        let name = sig.params[i]
            .ident
            .as_ref()
            .map(|i| i.to_string())
            .unwrap_or_default();
        let at = args
            .wrt
            .iter()
            .flatten()
            .find(|w| **w == name)
            .map_or(Span::call_site(), |w| w.span());
        let kind = if crate::front::check::type_str(&sig.params[i].ty).contains("Vec<") {
            "a `Vec`"
        } else {
            "a slice"
        };
        syn::Error::new(
            at,
            format!("`{name}` is {kind}: {what} (use an array, `[f64; N]` or `&[f64; N]`)"),
        )
    })
}

impl Second {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit(
        &self,
        f: &ItemFn,
        krate: &TokenStream,
        reserved: &HashSet<String>,
        param_ids: &[Ident],
        params: &[(Ident, syn::Type, bool)],
        sig: &Sig,
        assertions: &[TokenStream],
        items: &[syn::Item],
    ) -> TokenStream {
        let name = &f.sig.ident;
        let ty = crate::emit::tokens::float_type_tokens(sig.float);
        let n = sig.wrt.len();
        let kept = companion_attrs(&f.attrs);
        let decl = declared(params);
        let wrt_ids: Vec<&Ident> = sig.wrt.iter().map(|&i| &param_ids[i]).collect();
        // A tangent or a vector has the type of its parameter; an array's derivative is an
        // array of its shape.
        let wrt_tys: Vec<&syn::Type> = sig.wrt.iter().map(|&i| &sig.params[i].ty).collect();
        // A direction is written where its parameter is (an array the body changes in place).
        let muts: Vec<Option<TokenStream>> = sig
            .wrt
            .iter()
            .map(|&i| params[i].2.then(|| quote!(mut)))
            .collect();
        let d_tys = derivative_types(sig, &ty, krate);
        let shaped = if self.layout.arrays {
            ", each shaped like its parameter"
        } else {
            ""
        };
        let listed = wrt_ids
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let with = |suffix: &str| -> Vec<Ident> {
            wrt_ids
                .iter()
                .map(|w| format_ident!("{}{}", w, suffix, span = Span::mixed_site()))
                .collect()
        };
        let prelude = quote! {
            #(#items)*
            #(#assertions)*
        };
        // A companion: the function's parameters, then `extra` ones.
        let item = |fname: &Ident,
                    doc: &str,
                    extra: TokenStream,
                    ret: TokenStream,
                    body: TokenStream,
                    runs_body: bool| {
            let (decl, prelude) = if runs_body {
                (decl.clone(), prelude.clone())
            } else {
                let plain = params.iter().map(|(id, t, _)| quote!(#id: #t)).collect();
                (plain, quote!())
            };
            companion_item(
                f,
                &kept,
                (fname, doc),
                (&decl, extra),
                (ret, quote!(#prelude #body)),
            )
        };
        let mut out = TokenStream::new();
        if let Some(jp) = &self.jvp {
            let dots = with("_dot");
            let mut ids = param_ids.to_vec();
            ids.extend(dots.iter().cloned());
            let body = Emitter::new(jp, krate, reserved, &ids).body(true);
            let jvp_name = format_ident!("{}_jvp", name);
            let doc = format!(
                " Value and directional derivative of [`{name}()`] along a tangent of {listed} (`{}`{shaped}), from one forward pass: returns `({name}(..), Σ ∂{name}/∂w · w_dot)`.\n\n Generated by `#[grad(mode = forward)]`: the tangents are carried alongside the values, with no tape and no storage.",
                dots.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("`, `")
            );
            out.extend(item(
                &jvp_name,
                &doc,
                quote!(#(#muts #dots: #wrt_tys),*),
                quote!((#ty, #ty)),
                body,
                true,
            ));
        }
        if let Some((hp, vp)) = &self.hessian {
            let h_name = format_ident!("{}_hessian", name);
            let v_name = format_ident!("{}_hvp", name);
            let len = self.layout.total.tokens();
            let (body, cost, runs_body) = match hp {
                Some(hp) => {
                    let body = Emitter::new(hp, krate, reserved, param_ids).body_with(|ys| {
                        // `ys` is the upper triangle, row by row.
                        let at = |i: usize, j: usize| {
                            let (i, j) = if i <= j { (i, j) } else { (j, i) };
                            i * n - i * (i + 1) / 2 + j
                        };
                        let rows = (0..n).map(|i| {
                            let row = (0..n).map(|j| &ys[at(i, j)]);
                            quote!([#(#row),*])
                        });
                        quote!([#(#rows),*])
                    });
                    let cost = format!("forward mode over the reverse-mode gradient, one tangent per parameter, so it costs about {n} gradients' worth of arithmetic, in one pass. Each entry above the diagonal is computed once and mirrored: the matrix is exactly symmetric.");
                    (body, cost, true)
                }
                None => {
                    let body = per_element::hessian_body(
                        &self.layout,
                        (fn_path(f, &v_name), &passed(f, param_ids)),
                        &by_ref(sig),
                        &ty,
                        krate,
                    );
                    let cost = format!("one call of [`{v_name}()`] per row, with the unit vector of that row's element ({listed} flattened in `wrt` order, each array row-major: N = {}), so it costs N Hessian-vector products. The entries above the diagonal are mirrored onto those below it: the matrix is exactly symmetric.", self.layout.total.tokens());
                    (body, cost, false)
                }
            };
            let doc = format!(
                " Hessian of [`{name}()`] with respect to {listed}: `h[i][j] = ∂²{name}/∂wᵢ∂wⱼ`, in `wrt` order{}.\n\n Generated by `#[grad(hessian)]`: {cost}",
                if self.layout.arrays {
                    " (arrays flattened row-major)"
                } else {
                    ""
                }
            );
            out.extend(item(
                &h_name,
                &doc,
                quote!(),
                quote!([[#ty; #len]; #len]),
                body,
                runs_body,
            ));
            let vs = with("_v");
            let mut ids = param_ids.to_vec();
            ids.extend(vs.iter().cloned());
            let body = Emitter::new(vp, krate, reserved, &ids).body_with(|ys| one_or_tuple(&ys));
            let shape = one_or_tuple(&d_tys);
            let doc = format!(
                " Hessian-vector product of [`{name}()`]: `H·v` for the vector `v` with a component per `wrt` parameter ({listed}: `{}`{shaped}), in the shape of the gradient, without forming `H`.\n\n Generated by `#[grad(hessian)]`: one forward direction over the reverse-mode gradient, about the cost of two gradients.",
                vs.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("`, `")
            );
            out.extend(item(
                &v_name,
                &doc,
                quote!(#(#muts #vs: #wrt_tys),*),
                shape,
                body,
                true,
            ));
        }
        out
    }
}

/// A parameter's type without its reference (`&[f64; 3]` → `[f64; 3]`): its tangent's and its
/// partial's. (A slice has neither here: its length is known at run time only, and second
/// order does not go through it; the stand-ins that refuse it show `()`.)
pub(super) fn owned_type(ty: &syn::Type) -> syn::Type {
    match ty {
        syn::Type::Reference(r) => match &*r.elem {
            syn::Type::Slice(_) => syn::parse_quote!(()),
            other => other.clone(),
        },
        other => other.clone(),
    }
}
