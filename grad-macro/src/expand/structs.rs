//! `wrt = p` for a struct of parameters (see `front::fields`): the function is analysed with
//! one parameter per field the body reads, and the companions, which keep the user's
//! signature, bind those parameters from the struct and give its gradient as a struct.

use crate::front::args::Args;
use crate::front::check::{array_of, float_of, Sig};
use crate::front::fields::{self, Split};
use crate::ir::{ArrayInfo, Func, Var};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::{FnArg, Ident, ItemFn, Pat, Type};

/// The function as it is analysed, and how to map back.
pub(super) struct Prepared {
    pub(super) args: Args,
    pub(super) func: ItemFn,
    /// Each struct parameter's fields, and whether it is a reference.
    pub(super) splits: Vec<(Split, bool)>,
    /// The user's `wrt`, in order.
    pub(super) user_wrt: Vec<Ident>,
    /// The number of the user's parameters (the fields' come after).
    pub(super) n_params: usize,
    /// The type of `self` when `wrt` lists it.
    pub(super) receiver: Option<Type>,
}

/// A type that can only be a struct of parameters here: a path that is not a float, an
/// integer, `bool`, or a container the macro knows (`Params`, `model::Params`, `&Params`).
fn struct_type(ty: &Type) -> Option<bool> {
    // `&mut Params` too: the body may only read it (a write is refused at the field).
    let (inner, by_ref) = match ty {
        Type::Reference(r) => (&*r.elem, true),
        other => (other, false),
    };
    let Type::Path(p) = inner else { return None };
    let last = p.path.segments.last()?;
    let known = [
        "f32", "f64", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64",
        "u128", "usize", "bool", "char", "str", "String", "Vec", "Option", "Box", "Rc", "Arc",
        "Cell", "RefCell", "HashMap", "BTreeMap",
    ];
    (p.qself.is_none() && !known.iter().any(|k| last.ident == k)).then_some(by_ref)
}

/// `Some` when `wrt` names a struct parameter: the analysed function and the mapping back.
pub(super) fn prepare(args: &Args, f: &ItemFn) -> syn::Result<Option<Prepared>> {
    let Some(wrt) = &args.wrt else {
        return Ok(None);
    };
    let typed: Vec<(&Ident, &Type)> = f
        .sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) => Some((&pi.ident, &*pt.ty)),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect();
    let structs: Vec<(&Ident, bool)> = wrt
        .iter()
        .filter_map(|w| {
            // `wrt = self` on a method taking `&self` (or `self`).
            if w == "self" {
                let r = f.sig.receiver()?;
                return Some((w, matches!(&*r.ty, Type::Reference(_))));
            }
            let (_, ty) = typed.iter().find(|(id, _)| *id == w)?;
            if float_of(ty).is_some() || array_of(ty).is_some() {
                return None;
            }
            struct_type(ty).map(|r| (w, r))
        })
        .collect();
    if let Some(r) = f.sig.receiver() {
        let changes = r.mutability.is_some()
            || matches!(&*r.ty, Type::Reference(t) if t.mutability.is_some());
        if let Some((w, _)) = structs
            .iter()
            .find(|(w, _)| *w == "self")
            .filter(|_| changes)
        {
            return Err(syn::Error::new(
                w.span(),
                "`wrt = self` differentiates a method that reads `self`: take `&self` (a method that changes `self` is not supported)",
            ));
        }
    }
    if structs.is_empty() {
        return Ok(None);
    }
    let refuse = |what: &str| {
        let (p, _) = structs[0];
        Err(syn::Error::new(
            p.span(),
            format!("`{p}` is a struct of parameters: {what} is not supported with a struct `wrt` parameter yet; pass the fields it differentiates as parameters of their own{}", if what.contains("beside") { ", or differentiate with respect to the struct alone" } else { "" }),
        ))
    };
    if (args.forward || args.hessian) && (wrt.len() != 1 || structs.len() != 1) {
        return refuse("`mode = forward` or `hessian` with other `wrt` parameters beside it");
    }
    if args.trace || args.graph {
        return refuse("`trace` and `graph`");
    }
    let float = match &f.sig.output {
        syn::ReturnType::Type(_, t) => float_of(t),
        syn::ReturnType::Default => None,
    };
    let Some(float) = float else {
        return refuse("a function returning several values (a Jacobian)");
    };
    let float_ty = crate::emit::tokens::float_type_tokens(float);
    let mut func = f.clone();
    let mut splits = Vec::new();
    let mut inner_wrt = Vec::new();
    for w in wrt {
        match structs.iter().find(|(p, _)| *p == w) {
            Some(&(p, by_ref)) => {
                let s = fields::split(p, by_ref, &mut func.block)?;
                if s.fields.iter().all(|fd| fd.data) {
                    return Err(syn::Error::new(
                        p.span(),
                        format!("the body reads no field of `{p}` as a number: there is nothing to differentiate with respect to it"),
                    ));
                }
                for fd in s.fields.iter().filter(|fd| !fd.data) {
                    let id = &fd.ident;
                    let ty: Type = match fd.dims {
                        None => syn::parse_quote!(#float_ty),
                        Some(_) => syn::parse_quote!(&[#float_ty]),
                    };
                    func.sig.inputs.push(syn::parse_quote!(#id: #ty));
                    inner_wrt.push(id.clone());
                }
                splits.push((s, by_ref));
            }
            None => inner_wrt.push(w.clone()),
        }
    }
    let inner = Args {
        wrt: Some(inner_wrt),
        krate: args.krate.clone(),
        forward: args.forward,
        hessian: args.hessian,
        trace: args.trace,
        graph: args.graph,
        checkpoint: args.checkpoint,
        reverse: args.reverse,
    };
    Ok(Some(Prepared {
        args: inner,
        func,
        splits,
        user_wrt: wrt.clone(),
        receiver: wrt
            .iter()
            .any(|w| w == "self")
            .then(|| f.sig.receiver().map(|r| (*r.ty).clone()))
            .flatten(),
        n_params: f
            .sig
            .inputs
            .iter()
            .filter(|a| matches!(a, FnArg::Typed(_)))
            .count(),
    }))
}

impl Prepared {
    /// The fields' parameters as the analysis needs them: arrays of lengths the source does
    /// not write (zeros made from the field itself), bound by reference.
    pub(super) fn patch(&self, sig: &mut Sig) {
        for (s, _) in &self.splits {
            for fd in &s.fields {
                let Some(p) = sig
                    .params
                    .iter_mut()
                    .find(|p| p.ident.as_ref() == Some(&fd.ident))
                else {
                    continue;
                };
                if let (Some(d), Some((_, f))) = (fd.dims, p.array.clone()) {
                    p.array = Some((
                        ArrayInfo {
                            lens: vec![None; d],
                            by_ref: true,
                            len_from_value: true,
                        },
                        f,
                    ));
                }
            }
        }
    }

    /// The signature as the companions show it: the user's parameters, differentiated in the
    /// user's order (a struct's gradient is a struct).
    pub(super) fn user_sig(&self, sig: &Sig) -> Sig {
        let mut params: Vec<_> = sig.params[..self.n_params].to_vec();
        let mut wrt = Vec::new();
        if let Some(r) = self.receiver.as_ref() {
            // `self` in `wrt`: shown as a parameter of type `Self` (`&Self`).
            params.push(crate::front::check::Param {
                ident: Some(
                    self.user_wrt
                        .iter()
                        .find(|w| *w == "self")
                        .cloned()
                        .unwrap_or_else(|| Ident::new("self", Span::call_site())),
                ),
                ty: r.clone(),
                float: None,
                array: None,
                wrt: false,
                mutable: false,
                structure: false,
            });
        }
        for w in &self.user_wrt {
            if let Some(i) = params.iter().position(|p| p.ident.as_ref() == Some(w)) {
                params[i].wrt = true;
                if self.splits.iter().any(|(s, _)| s.name == *w) {
                    params[i].structure = true;
                }
                wrt.push(i);
            }
        }
        Sig {
            float: sig.float,
            outputs: sig.outputs,
            params,
            wrt,
            self_changes: sig.self_changes,
            checkpoint: sig.checkpoint,
        }
    }

    /// The statements binding the fields' parameters, for the top of a companion.
    pub(super) fn bindings(&self, sig: &Sig, krate: &TokenStream) -> TokenStream {
        let float = crate::emit::tokens::float_type_tokens(sig.float);
        self.splits
            .iter()
            .map(|(s, _)| fields::bindings(s, &float, krate))
            .collect()
    }

    /// `body` (yielding the gradient in the analysed order: `(value, grads)` when `value`)
    /// made to yield the user's: each struct's fields gathered into the struct.
    pub(super) fn wrap(
        &self,
        body: TokenStream,
        value: bool,
        sig: &Sig,
        krate: &TokenStream,
    ) -> TokenStream {
        let inner: Vec<Ident> = self.args.wrt.iter().flatten().cloned().collect();
        let g: Vec<Ident> = (0..inner.len())
            .map(|k| format_ident!("grad_{}", k, span = Span::mixed_site()))
            .collect();
        let v = format_ident!("value", span = Span::mixed_site());
        let pat = crate::emit::tokens::one_or_tuple(
            &g.iter().map(ToTokens::to_token_stream).collect::<Vec<_>>(),
        );
        let of = |id: &Ident| {
            let k = inner.iter().position(|i| i == id).unwrap_or(0);
            g[k].to_token_stream()
        };
        let out: Vec<TokenStream> = self
            .user_wrt
            .iter()
            .map(|w| match self.splits.iter().find(|(s, _)| s.name == *w) {
                Some((s, _)) => {
                    let grads: Vec<TokenStream> = s
                        .fields
                        .iter()
                        .map(|fd| if fd.data { quote!(()) } else { of(&fd.ident) })
                        .collect();
                    fields::assemble(s, &grads, krate)
                }
                None => of(w),
            })
            .collect();
        let out = crate::emit::tokens::one_or_tuple(&out);
        let bind = self.bindings(sig, krate);
        if value {
            quote! {
                let (#v, #pat) = { #bind #body };
                (#v, #out)
            }
        } else {
            quote! {
                let #pat = { #bind #body };
                #out
            }
        }
    }
}

/// Forward mode and second order over a struct (the only `wrt` parameter): the programs of
/// `_jvp` (a tangent struct) and `_hvp` (a direction struct).
pub(super) struct StructSecond {
    jvp: Func,
    hvp: Option<Func>,
}

pub(super) fn second(
    args: &Args,
    f: &ItemFn,
    primal: &Func,
    wrt: &[Var],
    reversed: Option<&super::pipeline::Gradient>,
) -> syn::Result<Option<StructSecond>> {
    if !args.forward && !args.hessian {
        return Ok(None);
    }
    if args.hessian && super::second_order::calls_pullbacks(&primal.body) {
        return Err(syn::Error::new_spanned(
            &f.sig.ident,
            "`hessian` is not supported for a function that calls other #[grad] or #[backprop::rule] functions: their pullbacks give first derivatives only",
        ));
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

impl Prepared {
    /// The one struct differentiated (forward mode and second order have no other `wrt`).
    fn only(&self) -> &Split {
        &self.splits[0].0
    }

    /// `name` with `suffix`, at the struct's name (`p_dot`, `self_v`).
    fn named(&self, suffix: &str) -> Ident {
        format_ident!("{}_{}", self.only().name, suffix)
    }

    /// The fields' parameters for a direction struct `dir`: the analysis's names with `suffix`,
    /// and their bindings from `dir`'s fields.
    fn direction(
        &self,
        dir: &Ident,
        suffix: &str,
        sig: &Sig,
        krate: &TokenStream,
    ) -> (Vec<Ident>, TokenStream) {
        let float = crate::emit::tokens::float_type_tokens(sig.float);
        let s = self.only();
        let fields: Vec<_> = s.fields.iter().filter(|f| !f.data).collect();
        let ids: Vec<Ident> = fields
            .iter()
            .map(|f| format_ident!("{}_{}", f.ident, suffix))
            .collect();
        // A field marked `#[backprop(skip)]` is not a parameter: its direction is zero, whatever
        // the direction struct holds there (`zero_like` clones it).
        let binds = fields.iter().zip(&ids).map(|(f, id)| {
            let path = &f.path;
            let skipped = fields::skipped(&dir.to_token_stream(), path, krate);
            match f.dims {
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

    /// `_jvp`, `_hvp` and `_hessian` over the struct, and, with `mode = forward`, the bodies of
    /// `_value_and_grad` and `_grad` (one `_jvp` per parameter, along unit tangents).
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
        let vis = &f.vis;
        let (generics, where_clause) = (&f.sig.generics, &f.sig.generics.where_clause);
        let ty = crate::emit::tokens::float_type_tokens(sig.float);
        let allows = super::companions::allows();
        let kept = super::companions::companion_attrs(&f.attrs);
        let (recv_decl, recv_pass) = super::companions::receiver(f);
        let decl: Vec<TokenStream> = params.iter().map(|(id, t, _)| quote!(#id: #t)).collect();
        let s = self.only();
        let p = &s.name;
        // Called once per parameter: the struct, if taken by value, is cloned for each call.
        let pass: Vec<TokenStream> = params
            .iter()
            .map(|(id, _, _)| {
                if id == p && !s.by_ref {
                    quote!(::core::clone::Clone::clone(&#id))
                } else {
                    quote!(#id)
                }
            })
            .collect();
        // The struct's type, for a direction of its shape.
        let user = self.user_sig(sig);
        let sty = super::companions::derivative_types(&user, &ty, krate)
            .into_iter()
            .next()
            .unwrap_or_default();
        let dir_ty = if s.by_ref {
            quote!(&#sty)
        } else {
            quote!(#sty)
        };
        let p_ref = if s.by_ref { quote!(#p) } else { quote!(&#p) };
        let path = |suffix: &str| super::fn_path(f, &format_ident!("{}_{}", name, suffix));
        let binds = self.bindings(sig, krate);
        let mut out = TokenStream::new();
        let item =
            |fname: Ident, doc: String, extra: TokenStream, ret: TokenStream, body: TokenStream| {
                quote! {
                    #(#kept)*
                    #[doc = #doc]
                    #[must_use]
                    #[inline]
                    #allows
                    #vis fn #fname #generics (#recv_decl #(#decl,)* #extra) -> #ret #where_clause {
                        #body
                    }
                }
            };
        // `_jvp`: the value and the derivative along a tangent struct.
        let dot = self.named("dot");
        let (dot_ids, dot_binds) = self.direction(&dot, "dot", sig, krate);
        let mut ids = param_ids.to_vec();
        ids.extend(dot_ids);
        let body = crate::emit::Emitter::new(&second.jvp, krate, reserved, &ids).body(true);
        out.extend(item(
            format_ident!("{}_jvp", name),
            format!(" Value and directional derivative of [`{name}()`] along a tangent `{dot}` of `{p}` (a value of its type), from one forward pass: returns `({name}(..), Σ ∂{name}/∂w · w_dot)` over the fields `{name}` reads.\n\n Generated by `#[grad(mode = forward)]`."),
            quote!(#dot: #dir_ty),
            quote!((#ty, #ty)),
            quote!(#prelude #binds #dot_binds #body),
        ));
        // One `_jvp` per parameter, along unit tangents, in the flattened order.
        let jvp = path("jvp");
        let n = format_ident!("n", span = Span::mixed_site());
        let unit = format_ident!("unit", span = Span::mixed_site());
        let flat = format_ident!("flat", span = Span::mixed_site());
        let k = format_ident!("k", span = Span::mixed_site());
        let units = quote! {
            let #n = #krate::Differentiable::num_params(#p_ref);
            let mut #unit = #krate::Differentiable::zero_like(#p_ref);
            let mut #flat = #krate::__private::vec![<#ty as #krate::Real>::ZERO; #n];
        };
        let set_unit = quote! {
            #flat[#k] = <#ty as #krate::Real>::ONE;
            #krate::Differentiable::set_flat(&mut #unit, &#flat);
            #flat[#k] = <#ty as #krate::Real>::ZERO;
        };
        let dir_arg = if s.by_ref {
            quote!(&#unit)
        } else {
            quote!(::core::clone::Clone::clone(&#unit))
        };
        let bodies = self.args.forward.then(|| {
            let g = format_ident!("g", span = Span::mixed_site());
            let v = format_ident!("value", span = Span::mixed_site());
            let d = format_ident!("d", span = Span::mixed_site());
            let grad = format_ident!("grad", span = Span::mixed_site());
            let body = quote! {
                #units
                let mut #g = #krate::__private::vec![<#ty as #krate::Real>::ZERO; #n];
                let mut #v = <#ty as #krate::Real>::ZERO;
                for #k in 0..#n {
                    #set_unit
                    let (value, #d) = #jvp(#recv_pass #(#pass,)* #dir_arg);
                    #v = value;
                    #g[#k] = #d;
                }
                if #n == 0 {
                    #v = #jvp(#recv_pass #(#pass,)* #dir_arg).0;
                }
                let mut #grad = #unit;
                #krate::Differentiable::set_flat(&mut #grad, &#g);
                (#v, #grad)
            };
            super::companions::Bodies {
                value_and_grad: body,
                grad: None,
            }
        });
        if let Some(hp) = &second.hvp {
            let vdir = self.named("v");
            let (v_ids, v_binds) = self.direction(&vdir, "v", sig, krate);
            let mut ids = param_ids.to_vec();
            ids.extend(v_ids);
            let inner = crate::emit::Emitter::new(hp, krate, reserved, &ids)
                .body_with(|ys| crate::emit::tokens::one_or_tuple(&ys));
            let grads: Vec<TokenStream> = (0..s.fields.iter().filter(|f| !f.data).count())
                .map(|k| format_ident!("hv_{}", k, span = Span::mixed_site()).to_token_stream())
                .collect();
            let pat = crate::emit::tokens::one_or_tuple(&grads);
            let mut it = grads.iter();
            let all: Vec<TokenStream> = s
                .fields
                .iter()
                .map(|f| {
                    if f.data {
                        quote!(())
                    } else {
                        it.next().cloned().unwrap_or_default()
                    }
                })
                .collect();
            let shaped = fields::assemble(s, &all, krate);
            out.extend(item(
                format_ident!("{}_hvp", name),
                format!(" Hessian-vector product of [`{name}()`] with respect to `{p}`: `H·v` for a direction `{vdir}` of `{p}`'s type, as a value of that type, without forming `H`.\n\n Generated by `#[grad(hessian)]`: one forward direction over the reverse-mode gradient."),
                quote!(#vdir: #dir_ty),
                quote!(#sty),
                quote! {
                    #prelude
                    let #pat = { #binds #v_binds #inner };
                    #shaped
                },
            ));
            let hvp = path("hvp");
            let h = format_ident!("h", span = Span::mixed_site());
            let (i, j) = (
                format_ident!("i", span = Span::mixed_site()),
                format_ident!("j", span = Span::mixed_site()),
            );
            out.extend(item(
                format_ident!("{}_hessian", name),
                format!(" Hessian of [`{name}()`] with respect to `{p}`: `h[i][j] = ∂²{name}/∂wᵢ∂wⱼ` over `{p}`'s parameters in the flattened order of `Differentiable` (fields in declaration order, arrays row-major), `Differentiable::num_params` rows.\n\n Generated by `#[grad(hessian)]`: one call of [`{name}_hvp()`] per row, with that parameter's unit vector; the entries above the diagonal are mirrored below it, so the matrix is exactly symmetric."),
                quote!(),
                quote!(#krate::__private::Vec<#krate::__private::Vec<#ty>>),
                quote! {
                    #units
                    let mut #h = #krate::__private::Vec::with_capacity(#n);
                    for #k in 0..#n {
                        #set_unit
                        #h.push(#krate::Differentiable::to_flat(&#hvp(#recv_pass #(#pass,)* #dir_arg)));
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
