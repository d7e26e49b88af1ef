//! `wrt = p` for a struct of parameters (see `front::fields`): the function is analysed with
//! one parameter per field the body reads, and the companions, which keep the user's
//! signature, bind those parameters from the struct and give its gradient as a struct.

use crate::front::args::Args;
use crate::front::check::{array_of, float_of, Sig};
use crate::front::fields::{self, Split};
use crate::ir::ArrayInfo;
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

/// A slice or a `Vec` of floats (`&[f64]`, `Vec<f64>`, `&Vec<f64>`).
fn runtime_sized(ty: &Type) -> bool {
    let inner = match ty {
        Type::Reference(r) => &*r.elem,
        other => other,
    };
    matches!(inner, Type::Slice(_)) || crate::front::check::vec_of(inner).is_some()
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
    // Slices and `Vec`s, whose lengths are known at run time only, take the same way as a
    // struct for the companions that need a direction per parameter (`dynamic`).
    let several = !matches!(&f.sig.output, syn::ReturnType::Type(_, t) if float_of(t).is_some());
    let runtime_sized = wrt.iter().any(|w| {
        typed
            .iter()
            .find(|(id, _)| *id == w)
            .is_some_and(|(_, ty)| runtime_sized(ty))
    });
    let dynamic = (args.forward || args.hessian || several) && runtime_sized;
    if structs.is_empty() && (!dynamic || args.trace || args.graph) {
        return Ok(None);
    }
    if args.trace || args.graph {
        let (p, _) = structs[0];
        return Err(syn::Error::new(
            p.span(),
            format!("`{p}` is a struct of parameters: `trace` and `graph` are not supported with a struct `wrt` parameter yet; pass the fields it differentiates as parameters of their own"),
        ));
    }
    let float = match &f.sig.output {
        syn::ReturnType::Type(_, t) => float_of(t),
        syn::ReturnType::Default => None,
    };
    // A function returning several values has a Jacobian over them.
    let float = float.or_else(|| match &f.sig.output {
        syn::ReturnType::Type(_, t) => {
            crate::front::check::several_floats(t, &f.block).map(|(fl, _)| fl)
        }
        syn::ReturnType::Default => None,
    });
    // Otherwise the checks say what the function must return.
    let Some(float) = float else {
        return Ok(None);
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
        ordered_sums: args.ordered_sums,
        lanes_always: args.lanes_always,
        reverse: args.reverse,
        float: args.float.clone(),
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
                p.field = true;
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
                field: false,
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
            .map(|(s, _)| super::field_code::bindings(s, &float, krate))
            .collect()
    }

    /// The user's gradient components from the analysis's (`g`, one per analysed `wrt`
    /// parameter, in its order): each struct's fields gathered into the struct.
    pub(super) fn shape(&self, g: &[TokenStream], krate: &TokenStream) -> Vec<TokenStream> {
        let inner: Vec<Ident> = self.args.wrt.iter().flatten().cloned().collect();
        let of = |id: &Ident| {
            let k = inner.iter().position(|i| i == id).unwrap_or(0);
            g.get(k).cloned().unwrap_or_default()
        };
        self.user_wrt
            .iter()
            .map(|w| match self.splits.iter().find(|(s, _)| s.name == *w) {
                Some((s, _)) => {
                    let grads: Vec<TokenStream> = s
                        .fields
                        .iter()
                        .map(|fd| if fd.data { quote!(()) } else { of(&fd.ident) })
                        .collect();
                    super::field_code::assemble(s, &grads, krate)
                }
                None => of(w),
            })
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
        let n_inner = self.args.wrt.as_ref().map_or(0, Vec::len);
        let g: Vec<TokenStream> = (0..n_inner)
            .map(|k| format_ident!("grad_{}", k, span = Span::mixed_site()).to_token_stream())
            .collect();
        let v = format_ident!("value", span = Span::mixed_site());
        let pat = crate::emit::tokens::one_or_tuple(&g);
        let out = self.shape(&g, krate);
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
