//! Forward mode, second order and Jacobians over `wrt` parameters whose sizes are known at
//! run time only: structs of parameters (`structs`), slices and `Vec`s. A direction of each
//! parameter is a value of its type; the companions that need one direction per parameter
//! (`_hessian`, a forward-mode `_grad`, `_jacobian`) loop over the flattened parameters
//! (`Differentiable`'s order, one `wrt` parameter after the other), the runtime making each
//! unit direction (`unit_along`), and give `Vec`s of rows.

use super::structs::Prepared;
use crate::front::args::Args;
use crate::front::check::{float_of, Sig};
use crate::front::fields::Split;
use crate::ir::{Func, Var};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::{Ident, ItemFn, Type};

/// Forward mode and second order over a struct (the only `wrt` parameter): the programs of
/// `_jvp` (a tangent struct) and `_hvp` (a direction struct).
pub(super) struct StructSecond {
    jvp: Func,
    hvp: Option<Func>,
}

pub(super) fn second(
    args: &Args,
    primal: &Func,
    wrt: &[Var],
    reversed: Option<&super::pipeline::Gradient>,
) -> syn::Result<Option<StructSecond>> {
    if !args.forward && !args.hessian {
        return Ok(None);
    }
    if args.hessian {
        if let Some(e) = super::through::refused_calls(primal) {
            return Err(e);
        }
    }
    let (func, seeds) = super::second_order::with_direction(primal, wrt);
    let t = super::pipeline::forward(&func, &seeds)?;
    let picks = vec![t.primal(0), t.tangent(0, 0)];
    let jvp = t.select(picks);
    let hvp = match (args.hessian, reversed) {
        (true, Some(r)) => {
            let (func, seeds) = super::second_order::with_direction(&r.func, wrt);
            let t = super::pipeline::forward(&func, &seeds)?;
            let picks = (0..wrt.len()).map(|i| t.tangent(1 + i, 0)).collect();
            Some(t.select(picks))
        }
        _ => None,
    };
    Ok(Some(StructSecond { jvp, hvp }))
}

/// One `wrt` parameter as forward mode and second order take it, in the user's order: a
/// struct (its fields are the analysis's parameters) or a parameter of its own.
pub(super) struct Dir {
    /// Its name (`p`, `x`, `self`).
    pub(super) name: Ident,
    /// The struct, if it is one (an index into `splits`).
    pub(super) split: Option<usize>,
    /// A direction's type: the parameter's (`&Self` for `self`).
    pub(super) ty: TokenStream,
    /// Whether a direction is passed by reference.
    pub(super) by_ref: bool,
    /// Whether a direction passed by value is cloned (a struct, a `Vec`).
    pub(super) clone: bool,
    /// A slice (`&[f64]`): its directions are `Vec`s, passed as slices.
    pub(super) slice: bool,
    /// Whether its parameter is declared `mut` (an array the body changes in place).
    pub(super) mutable: bool,
}

impl Prepared {
    /// The `wrt` parameters in the user's order, with their kinds.
    pub(super) fn dirs(&self, params: &[(Ident, Type, bool)]) -> Vec<Dir> {
        self.user_wrt
            .iter()
            .map(|w| {
                if let Some(k) = self.splits.iter().position(|(s, _)| s.name == *w) {
                    let by_ref = self.splits[k].0.by_ref;
                    let ty = if *w == "self" && by_ref {
                        quote!(&Self)
                    } else if *w == "self" {
                        quote!(Self)
                    } else {
                        params
                            .iter()
                            .find(|(id, _, _)| id == w)
                            .map(|(_, t, _)| t.to_token_stream())
                            .unwrap_or_default()
                    };
                    return Dir {
                        name: w.clone(),
                        split: Some(k),
                        ty,
                        by_ref,
                        clone: !by_ref,
                        slice: false,
                        mutable: false,
                    };
                }
                let (ty, mutable) = params
                    .iter()
                    .find(|(id, _, _)| id == w)
                    .map(|(_, t, m)| (t.clone(), *m))
                    .unwrap_or((syn::parse_quote!(()), false));
                let (by_ref, slice) = match &ty {
                    Type::Reference(r) => (true, matches!(&*r.elem, Type::Slice(_))),
                    _ => (false, false),
                };
                let copy = matches!(&ty, Type::Array(_)) || float_of(&ty).is_some();
                Dir {
                    name: w.clone(),
                    split: None,
                    ty: ty.to_token_stream(),
                    by_ref,
                    clone: !by_ref && !copy,
                    slice,
                    mutable,
                }
            })
            .collect()
    }

    /// The directions' parameters of a companion (`p_dot: &Params, x_dot: f64`), the analysis's
    /// direction names in its `wrt` order, and the statements binding a struct's fields' from
    /// its direction.
    pub(super) fn direction_params(
        &self,
        dirs: &[Dir],
        suffix: &str,
        sig: &Sig,
        krate: &TokenStream,
    ) -> (Vec<Ident>, TokenStream, Vec<Ident>, TokenStream) {
        let named: Vec<Ident> = dirs
            .iter()
            .map(|d| format_ident!("{}_{}", d.name, suffix, span = Span::mixed_site()))
            .collect();
        let decl: Vec<TokenStream> = dirs
            .iter()
            .zip(&named)
            .map(|(d, id)| {
                let (m, ty) = (d.mutable.then(|| quote!(mut)), &d.ty);
                quote!(#m #id: #ty)
            })
            .collect();
        let mut ids = Vec::new();
        let mut binds = TokenStream::new();
        for (d, id) in dirs.iter().zip(&named) {
            // A direction sized at run time has its parameter's size (a shorter one would be
            // indexed out of bounds, a longer one's rest ignored).
            let p = &d.name;
            let (p_ref, id_ref) = if d.by_ref {
                (quote!(#p), quote!(#id))
            } else {
                (quote!(&#p), quote!(&#id))
            };
            let said = format!("a direction has the shape of its parameter: `{p}` has {{}} parameters, its direction {{}}");
            let n_p = format_ident!("n_p", span = Span::mixed_site());
            let n_d = format_ident!("n_d", span = Span::mixed_site());
            if d.split.is_some() {
                binds.extend(quote! {
                    let (#n_p, #n_d) = (
                        #krate::Differentiable::num_params(#p_ref),
                        #krate::Differentiable::num_params(#id_ref),
                    );
                    ::core::assert!(#n_p == #n_d, #said, #n_p, #n_d);
                });
            } else if d.slice || d.clone {
                binds.extend(quote! {
                    ::core::assert!(#p.len() == #id.len(), #said, #p.len(), #id.len());
                });
            }
            match d.split {
                Some(k) => {
                    let (fids, b) = self.direction(&self.splits[k].0, id, suffix, sig, krate);
                    ids.extend(fids);
                    binds.extend(b);
                }
                None => ids.push(id.clone()),
            }
        }
        (named, quote!(#(#decl,)*), ids, binds)
    }

    /// The fields' parameters of struct `s` for a direction struct `dir`: the analysis's
    /// names with `suffix`, and their bindings from `dir`'s fields.
    fn direction(
        &self,
        s: &Split,
        dir: &Ident,
        suffix: &str,
        sig: &Sig,
        krate: &TokenStream,
    ) -> (Vec<Ident>, TokenStream) {
        let float = crate::emit::tokens::float_type_tokens(sig.float);
        let fields: Vec<_> = s.fields.iter().filter(|f| !f.data).collect();
        let ids: Vec<Ident> = fields
            .iter()
            .map(|f| format_ident!("{}_{}", f.ident, suffix))
            .collect();
        // A field marked `#[backprop(skip)]` is not a parameter: its direction is zero, whatever
        // the direction struct holds there (`zero_like` clones it).
        let binds = fields.iter().zip(&ids).map(|(f, id)| {
            let path = &f.path;
            let skipped = super::field_code::skipped(&dir.to_token_stream(), path, krate);
            match f.dims {
                // The struct itself (passed whole to a callee): a reference, as its value's is.
                Some(_) if path.is_empty() && s.by_ref => quote!(let #id = &*#dir;),
                Some(_) if path.is_empty() => quote!(let #id = &#dir;),
                Some(_) => {
                    let zeros = format_ident!("{}_zeros", id);
                    quote! {
                        let #zeros;
                        let #id = if #skipped {
                            #zeros = #krate::__private::zeros_like(&#dir #(.#path)*, <#float as #krate::Real>::ZERO);
                            &#zeros
                        } else {
                            &#dir #(.#path)*
                        };
                    }
                }
                None => quote! {
                    let #id: #float = if #skipped {
                        <#float as #krate::Real>::ZERO
                    } else {
                        #krate::__private::float_field(&#dir #(.#path)*)
                    };
                },
            }
        });
        let binds = quote!(#(#binds)*);
        (ids, binds)
    }

    /// `_jvp`, `_hvp` and `_hessian` over the `wrt` parameters, a struct among them, and, with
    /// `mode = forward`, the bodies of `_value_and_grad` and `_grad` (one `_jvp` per parameter,
    /// along unit tangents). Their sizes are known at run time only (`Differentiable::
    /// num_params`), so the Hessian is a `Vec` of rows, and the unit directions are made by
    /// the runtime (`unit_along`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn emit_second(
        &self,
        second: &StructSecond,
        f: &ItemFn,
        sig: &Sig,
        (krate, reserved, param_ids): (&TokenStream, &rustc_hash::FxHashSet<String>, &[Ident]),
        params: &[(Ident, Type, bool)],
        prelude: &TokenStream,
    ) -> (TokenStream, Option<super::companions::Bodies>) {
        let name = &f.sig.ident;
        let ty = crate::emit::tokens::float_type_tokens(sig.float);
        let kept = super::companions::companion_attrs(&f.attrs);
        let (_, recv_pass) = super::companions::receiver(f);
        // `self` taken by value is cloned for each call, as a struct parameter is.
        let recv_pass = match f.sig.receiver() {
            Some(r) if r.reference.is_none() && r.colon_token.is_none() => {
                quote!(::core::clone::Clone::clone(&self),)
            }
            _ => recv_pass,
        };
        let decl = super::companions::declared(params);
        let dirs = self.dirs(params);
        let listed = dirs
            .iter()
            .map(|d| format!("`{}`", d.name))
            .collect::<Vec<_>>()
            .join(", ");
        // Called once per parameter: a struct or `Vec` in `wrt` taken by value is cloned for
        // each call; any other argument must be `Copy` (a message says so).
        let struct_by_value = |id: &Ident| dirs.iter().any(|d| d.clone && d.name == *id);
        let pass: Vec<TokenStream> = params
            .iter()
            .map(|(id, _, _)| {
                if struct_by_value(id) {
                    quote!(::core::clone::Clone::clone(&#id))
                } else {
                    quote!(#id)
                }
            })
            .collect();
        let again: Vec<TokenStream> = params
            .iter()
            .filter(|(id, _, _)| !struct_by_value(id))
            .map(|(id, _, _)| quote!(#id))
            .collect();
        let checks = super::per_element::passed_again(&again, krate);
        let user = self.user_sig(sig);
        let d_tys = super::companions::derivative_types(&user, &ty, krate);
        let grad_ty = crate::emit::tokens::one_or_tuple(&d_tys);
        let path = |suffix: &str| super::fn_path(f, &format_ident!("{}_{}", name, suffix));
        let binds = self.bindings(sig, krate);
        let mut out = TokenStream::new();
        let item = |fname: Ident,
                    doc: String,
                    extra: TokenStream,
                    ret: TokenStream,
                    body: TokenStream| {
            super::companions::companion_item(f, &kept, (&fname, &doc), (&decl, extra), (ret, body))
        };
        // `_jvp`: the value and the derivative along a tangent of each `wrt` parameter.
        let (dot_named, dot_decl, dot_ids, dot_binds) =
            self.direction_params(&dirs, "dot", sig, krate);
        let mut ids = param_ids.to_vec();
        ids.extend(dot_ids);
        let body = crate::emit::Emitter::new(&second.jvp, krate, reserved, &ids).body(true);
        let dots_shown = dot_named
            .iter()
            .map(|d| format!("`{d}`"))
            .collect::<Vec<_>>()
            .join(", ");
        out.extend(item(
            format_ident!("{}_jvp", name),
            format!(" Value and directional derivative of [`{name}()`] along a tangent of {listed} ({dots_shown}, each a value of its parameter's type), from one forward pass: returns `({name}(..), Σ ∂{name}/∂w · w_dot)` over the parameters `{name}` reads.\n\n Generated by `#[grad(mode = forward)]`."),
            dot_decl,
            quote!((#ty, #ty)),
            quote!(#prelude #binds #dot_binds #body),
        ));
        let Units {
            setup,
            set: set_units,
            units,
            offs,
            lens,
            n,
            k,
        } = units(&dirs, &ty, krate);
        let dir_args = dir_args(&dirs, &units);
        let local = |s: &str| format_ident!("{}", s, span = Span::mixed_site());
        let jvp = path("jvp");
        let bodies = self.args.forward.then(|| {
            let g = local("g");
            let v = local("value");
            let d = local("d");
            let val = local("val");
            let grad = local("grad");
            let shaped = units.iter().zip(offs.iter().zip(&lens)).map(|(u, (off, l))| {
                quote!(#krate::__private::shaped_from_flat(&#u, &#g[#off..#off + #l]))
            });
            let shaped = crate::emit::tokens::one_or_tuple(&shaped.collect::<Vec<_>>());
            let body = quote! {
                #checks
                #setup
                let mut #g = #krate::__private::vec![<#ty as #krate::Real>::ZERO; #n];
                let mut #v = <#ty as #krate::Real>::ZERO;
                for #k in 0..#n {
                    #set_units
                    let (#val, #d) = #jvp(#recv_pass #(#pass,)* #(#dir_args),*);
                    #v = #val;
                    #g[#k] = #d;
                }
                if #n == 0 {
                    #v = #jvp(#recv_pass #(#pass,)* #(#dir_args),*).0;
                }
                let #grad: #grad_ty = #shaped;
                (#v, #grad)
            };
            super::companions::Bodies {
                value_and_grad: body,
                grad: None,
            }
        });
        if let Some(hp) = &second.hvp {
            let (v_named, v_decl, v_ids, v_binds) = self.direction_params(&dirs, "v", sig, krate);
            let mut ids = param_ids.to_vec();
            ids.extend(v_ids);
            let inner = crate::emit::Emitter::new(hp, krate, reserved, &ids)
                .body_with(|ys| crate::emit::tokens::one_or_tuple(&ys));
            // One component per analysed parameter, gathered per `wrt` parameter.
            let n_inner = self.args.wrt.as_ref().map_or(0, |w| w.len());
            let hv: Vec<TokenStream> = (0..n_inner)
                .map(|k| local(&format!("hv_{k}")).to_token_stream())
                .collect();
            let pat = crate::emit::tokens::one_or_tuple(&hv);
            let shaped = self.shape(&hv, krate);
            let shaped = crate::emit::tokens::one_or_tuple(&shaped);
            let vs_shown = v_named
                .iter()
                .map(|d| format!("`{d}`"))
                .collect::<Vec<_>>()
                .join(", ");
            out.extend(item(
                format_ident!("{}_hvp", name),
                format!(" Hessian-vector product of [`{name}()`] with respect to {listed}: `H·v` for a direction ({vs_shown}, each a value of its parameter's type), in the shape of the gradient, without forming `H`.\n\n Generated by `#[grad(hessian)]`: one forward direction over the reverse-mode gradient."),
                v_decl,
                grad_ty.clone(),
                quote! {
                    #prelude
                    let #pat = { #binds #v_binds #inner };
                    #shaped
                },
            ));
            let hvp = path("hvp");
            let (h, row, hvr) = (local("h"), local("row"), local("hv"));
            let parts = super::per_element::components(&hvr, dirs.len());
            let (i, j) = (local("i"), local("j"));
            out.extend(item(
                format_ident!("{}_hessian", name),
                format!(" Hessian of [`{name}()`] with respect to {listed}: `h[i][j] = ∂²{name}/∂wᵢ∂wⱼ` over the parameters in the flattened order (in `wrt` order, each in the order of `Differentiable`: a struct's fields in declaration order, arrays row-major), `N` rows of `N`, `N` known at run time.\n\n Generated by `#[grad(hessian)]`: one call of [`{name}_hvp()`] per row, with that parameter's unit vector; the entries above the diagonal are mirrored below it, so the matrix is exactly symmetric."),
                quote!(),
                quote!(#krate::__private::Vec<#krate::__private::Vec<#ty>>),
                quote! {
                    #checks
                    #setup
                    let mut #h = #krate::__private::Vec::with_capacity(#n);
                    for #k in 0..#n {
                        #set_units
                        let #hvr = #hvp(#recv_pass #(#pass,)* #(#dir_args),*);
                        let mut #row = #krate::__private::Vec::with_capacity(#n);
                        #(#krate::__private::extend_flat(&mut #row, &#parts);)*
                        #h.push(#row);
                    }
                    for #i in 0..#n {
                        for #j in 0..#i {
                            #h[#i][#j] = #h[#j][#i];
                        }
                    }
                    #h
                },
            ));
        }
        (out, bodies)
    }
}

/// The unit directions of a companion that runs one per parameter: `unit_j` for each `wrt`
/// parameter (a value of its shape: its own type, a `Vec` for a slice), `len_j` its number of
/// parameters, `offs[j]` where it starts in the flattened order, `n` their sum, and `set`
/// making each `unit_j` its part of the unit vector along flat index `k`.
pub(super) struct Units {
    pub(super) setup: TokenStream,
    pub(super) set: TokenStream,
    pub(super) units: Vec<Ident>,
    pub(super) offs: Vec<TokenStream>,
    pub(super) lens: Vec<Ident>,
    pub(super) n: Ident,
    pub(super) k: Ident,
}

/// The unit directions (see [`Units`]).
pub(super) fn units(dirs: &[Dir], ty: &TokenStream, krate: &TokenStream) -> Units {
    units_of(dirs, ty, krate, true)
}

/// [`Units`], made unit vectors in turn (`set`) when `mutable`; otherwise they stay zeros of
/// each parameter's shape, and `setup` does not count them (no `n`).
pub(super) fn units_of(
    dirs: &[Dir],
    ty: &TokenStream,
    krate: &TokenStream,
    mutable: bool,
) -> Units {
    let local = |s: &str| format_ident!("{}", s, span = Span::mixed_site());
    let (n, k) = (local("n"), local("k"));
    let units: Vec<Ident> = (0..dirs.len())
        .map(|j| local(&format!("unit_{j}")))
        .collect();
    let lens: Vec<Ident> = (0..dirs.len())
        .map(|j| local(&format!("len_{j}")))
        .collect();
    let offs: Vec<TokenStream> = (0..dirs.len())
        .map(|j| {
            let before = &lens[..j];
            if j == 0 {
                quote!(0)
            } else {
                quote!(#(#before)+*)
            }
        })
        .collect();
    let setup: Vec<TokenStream> = dirs
        .iter()
        .zip(units.iter().zip(&lens))
        .map(|(d, (u, l))| {
            let p = &d.name;
            let zero = if d.slice {
                quote!(<[#ty]>::to_vec(#p))
            } else if d.by_ref {
                quote!(#krate::Differentiable::zero_like(#p))
            } else {
                quote!(#krate::Differentiable::zero_like(&#p))
            };
            let m = mutable.then(|| quote!(mut));
            quote! {
                let #m #u = #zero;
                let #l = #krate::Differentiable::num_params(&#u);
            }
        })
        .collect();
    let count = mutable.then(|| quote!(let #n = 0 #(+ #lens)*;));
    let setup = quote! {
        #(#setup)*
        #count
    };
    let set = units
        .iter()
        .zip(&offs)
        .map(|(u, off)| quote!(#krate::__private::unit_along(&mut #u, #k.wrapping_sub(#off));));
    let set = quote!(#(#set)*);
    Units {
        setup,
        set,
        units,
        offs,
        lens,
        n,
        k,
    }
}

/// The unit directions as arguments: by reference, cloned, or copied, as each parameter is
/// passed.
pub(super) fn dir_args(dirs: &[Dir], units: &[Ident]) -> Vec<TokenStream> {
    dirs.iter()
        .zip(units)
        .map(|(d, u)| {
            if d.by_ref {
                quote!(&#u)
            } else if d.clone {
                quote!(::core::clone::Clone::clone(&#u))
            } else {
                quote!(#u)
            }
        })
        .collect()
}
