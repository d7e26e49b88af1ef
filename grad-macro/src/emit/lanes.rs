//! Gradient sums in lanes: a loop's adjoint accumulations (`d_w += r * x`) written so that
//! the optimiser can overlap them.
//!
//! An accumulation one term at a time is a chain: each addition waits for the one before, and
//! the optimiser may not reorder floating-point additions to break it. The derivative code is
//! ours to associate (the manual says a gradient may differ from a term-by-term sum in the
//! last bits), so an innermost `for` loop whose adjoints only accumulate takes its items
//! [`LANES`] at a time: item `j` adds into lane `j % LANES` of each sum, and the lanes are added
//! once after the loop, in a fixed order, `(l0 + l1) + (l2 + l3)`. Everything else the loop
//! does runs in the order written, and the same inputs give the same bits on every run and
//! machine. `#[grad(ordered_sums)]` keeps every sum in the order of its terms.

use super::*;
use crate::ir::{Header, Inst, Kind, Loop};
use proc_macro2::Span;

/// How many partial sums each accumulation keeps: four independent chains are enough to keep
/// the floating-point adders busy, and each lane's code is a copy of the loop's body.
pub(super) const LANES: usize = 4;

/// The largest loop body (instructions, those of its `if`s included) copied into lanes.
const MAX_BODY: usize = 48;

/// An adjoint the loop only accumulates into: `phi op= term`, the loop's carried value `k`.
pub(super) struct Lane {
    pub phi: Var,
    pub sub: bool,
    pub term: Operand,
}

impl Emitter<'_> {
    /// The accumulations of `l` to write in lanes; empty when the loop is kept as it is: sums
    /// in order asked for, a `loop`, a loop of fewer than `2 · LANES` iterations written as a
    /// number, a loop with a loop inside, a long body, an adjoint carried otherwise than added
    /// to, or none that is only added to.
    pub(super) fn lanes_of(&self, l: &Loop) -> Vec<Lane> {
        let Header::For { trip, .. } = &l.header else {
            return Vec::new();
        };
        // A short loop of a known length (`for k in 0..3`) gains nothing: its few additions
        // would become more.
        let short = trip
            .as_ref()
            .and_then(|t| t.to_string().parse::<usize>().ok())
            .is_some_and(|n| n < 2 * LANES)
            && !self.lanes_always;
        if !self.lanes || l.exit || short {
            return Vec::new();
        }
        let mut size = 0;
        let mut nested = false;
        crate::ir::walk_blocks(&l.body, &mut |b| {
            size += b.insts.len();
            nested |= b.insts.iter().any(|i| matches!(i, Inst::Loop(_)));
        });
        if nested || size > MAX_BODY {
            return Vec::new();
        }
        let uses = |v: Var| self.uses.get(&v).copied().unwrap_or(0);
        let lanes: Vec<Lane> = l
            .carried
            .iter()
            .zip(&l.body.yields)
            .filter_map(|(c, y)| {
                let info = self.func.info(c.phi);
                if info.kind != Kind::Float || !matches!(info.name, Name::Adjoint(_)) {
                    return None;
                }
                let t = y.as_var()?;
                // `t = phi + term` (or `term + phi`, `phi - term`), read only as the next value,
                // at the top of the body, and printed as `phi += term`.
                let Some(Inlined::Op(op, args)) = self.inline.get(&t) else {
                    return None;
                };
                let defined_here = l
                    .body
                    .insts
                    .iter()
                    .any(|i| matches!(i, Inst::Op { var, .. } if *var == t));
                if !defined_here || uses(c.phi) != 1 || uses(t) != 1 {
                    return None;
                }
                let me = Operand::Var(c.phi);
                let (sub, term) = match op {
                    Op::Add if args[0] == me => (false, args[1]),
                    Op::Add if args[1] == me => (false, args[0]),
                    Op::Sub if args[0] == me => (true, args[1]),
                    _ => return None,
                };
                Some(Lane {
                    phi: c.phi,
                    sub,
                    term,
                })
            })
            .collect();
        // An adjoint carried otherwise (`d_h = d_h · w · ..`, a recurrence's sweep) is a chain
        // the lanes would not shorten: the loop is kept as it is. (A primal value carried,
        // the loss `_value_and_grad` adds up, does not stop them, so that `_grad` and
        // `_value_and_grad` give the same bits.)
        let chained = l.carried.iter().any(|c| {
            matches!(self.func.info(c.phi).name, Name::Adjoint(_))
                && !lanes.iter().any(|a| a.phi == c.phi)
        });
        if chained {
            return Vec::new();
        }
        lanes
    }

    /// The loop `for item in iter { body }` with `lanes`' sums in lanes: `body(adds)` is the
    /// loop's body followed by `adds`, one lane's additions (none: the body alone).
    ///
    /// `plain`: the loop walks the iterable item by item (no position), written as the
    /// second, forwards, or backwards if the first is `true`. When that iterable walks slices
    /// of the function's parameters (`xs.iter()`, `&xs`, `xs.iter().zip(ys)`), the items are
    /// taken four at a time from `chunks_exact(4)` (`rchunks_exact(4)` backwards: the same
    /// items in the same lanes), so that each lane's code is straight-line and the optimiser
    /// can run the four lanes as vector operations.
    pub(super) fn loop_in_lanes(
        &self,
        lanes: &[Lane],
        item: &TokenStream,
        iter: &TokenStream,
        plain: Option<(bool, TokenStream)>,
        body: impl Fn(&[Toks]) -> Vec<Toks>,
    ) -> TokenStream {
        let zero = self.operand(&Operand::Lit(0.0)).tokens();
        let names: Vec<Ident> = lanes
            .iter()
            .map(|a| {
                Ident::new(
                    &format!("__grad_lanes_{}", self.ident(a.phi)),
                    Span::mixed_site(),
                )
            })
            .collect();
        let items = Ident::new("__grad_items", Span::mixed_site());
        // The body with lane `l`'s additions.
        let lane = |l: usize| {
            let l = proc_macro2::Literal::usize_unsuffixed(l);
            let adds: Vec<Toks> = lanes
                .iter()
                .zip(&names)
                .map(|(a, name)| {
                    // (A difference's lanes add its terms; the sum is subtracted.)
                    let term = self.operand(&a.term).tokens();
                    quote!(#name[#l] += #term;).into()
                })
                .collect();
            body(&adds)
        };
        // Item by item from `items`, into lanes 0 to 3 in turn.
        let one_by_one = |items: &Ident| -> Vec<TokenStream> {
            (0..LANES)
                .map(|l| {
                    let stmts = lane(l);
                    quote! {
                        let ::core::option::Option::Some(#item) = ::core::iter::Iterator::next(&mut #items) else {
                            break;
                        };
                        #(#stmts)*
                    }
                })
                .collect()
        };
        // The lanes summed pairwise, in a fixed order.
        let combined: Vec<TokenStream> = lanes
            .iter()
            .zip(&names)
            .map(|(a, name)| {
                let phi = self.ident(a.phi);
                let sum = pairwise(name, 0, LANES, true);
                if a.sub {
                    quote!(#phi -= #sum;)
                } else {
                    quote!(#phi += #sum;)
                }
            })
            .collect();
        let n = proc_macro2::Literal::usize_unsuffixed(LANES);
        let float = float_type_tokens(self.func.float);
        let sources = plain.and_then(|(back, written)| Some((back, self.slices_walked(&written)?)));
        let walk = match sources {
            Some((back, sources)) => {
                // `chunks_exact` of each slice (cut to the shortest), item `l` of a chunk into
                // lane `l`, then the remainder (fewer than four) one by one from lane 0.
                let ids = |what: &str| -> Vec<Ident> {
                    (0..sources.len())
                        .map(|k| Ident::new(&format!("__grad_{what}{k}"), Span::mixed_site()))
                        .collect()
                };
                let (slices, chunks, chunk, rests) =
                    (ids("slice"), ids("chunks"), ids("chunk"), ids("rest"));
                let len = Ident::new("__grad_len", Span::mixed_site());
                let first = &slices[0];
                let shortest = slices[1..].iter().map(|s| quote!(.min(#s.len())));
                let zip_all = |parts: &[TokenStream]| {
                    let mut it = parts[0].clone();
                    for p in &parts[1..] {
                        it = quote!(::core::iter::Iterator::zip(#it, #p));
                    }
                    it
                };
                let chunk_iters: Vec<TokenStream> = chunks.iter().map(|c| quote!(#c)).collect();
                let rest_iters: Vec<TokenStream> = rests
                    .iter()
                    .map(|r| {
                        if back {
                            quote!(::core::iter::Iterator::rev(#r.iter()))
                        } else {
                            quote!(#r.iter())
                        }
                    })
                    .collect();
                let (all_chunks, all_rests) = (zip_all(&chunk_iters), zip_all(&rest_iters));
                let chunk_pat = if chunk.len() == 1 {
                    quote!(#(#chunk)*)
                } else {
                    quote!((#(#chunk),*))
                };
                // Each item's terms first (`let (t0_0, t0_1) = { ..; (r * x, r) };`), then
                // each sum's four lanes, one after the other: the optimiser sees four
                // additions into consecutive lanes of one array, of terms computed alike.
                let terms = |l: usize| -> Vec<Ident> {
                    (0..lanes.len())
                        .map(|k| Ident::new(&format!("__grad_term{l}_{k}"), Span::mixed_site()))
                        .collect()
                };
                let mut in_lanes: Vec<TokenStream> = (0..LANES)
                    .map(|l| {
                        // Backwards, a chunk's last item comes first.
                        let at = if back { LANES - 1 - l } else { l };
                        let at = proc_macro2::Literal::usize_unsuffixed(at);
                        let parts = chunk.iter().map(|c| quote!(&#c[#at]));
                        let value = if chunk.len() == 1 {
                            quote!(#(#parts)*)
                        } else {
                            quote!((#(#parts),*))
                        };
                        let stmts = body(&[]);
                        let values = lanes.iter().map(|a| self.operand(&a.term).tokens());
                        let ts = terms(l);
                        quote! {
                            let (#(#ts,)*) = {
                                let #item = #value;
                                #(#stmts)*
                                (#(#values,)*)
                            };
                        }
                    })
                    .collect();
                for (k, name) in names.iter().enumerate() {
                    for l in 0..LANES {
                        let l_lit = proc_macro2::Literal::usize_unsuffixed(l);
                        let t = &terms(l)[k];
                        in_lanes.push(quote!(#name[#l_lit] += #t;));
                    }
                }
                let rest = one_by_one(&items);
                let chunked = if back {
                    quote!(rchunks_exact)
                } else {
                    quote!(chunks_exact)
                };
                // Kept in memory (`black_box`): the optimiser's SLP vectoriser then groups the
                // sums lane by lane, where it would otherwise pair each item's sums.
                quote! {
                    #(let _ = ::core::hint::black_box(&mut #names);)*
                    #(let #slices = &#sources[..];)*
                    let #len = #first.len() #(#shortest)*;
                    #(let #chunks = #slices[..#len].#chunked(#n);)*
                    #(let #rests = #chunks.remainder();)*
                    for #chunk_pat in #all_chunks {
                        #(#in_lanes)*
                    }
                    let mut #items = #all_rests;
                    loop {
                        #(#rest)*
                    }
                }
            }
            None => {
                let copies = one_by_one(&items);
                quote! {
                    // (As `for` is desugared: the iterable's temporaries live as long as the
                    // loop.)
                    match ::core::iter::IntoIterator::into_iter(#iter) {
                        mut #items => loop {
                            #(#copies)*
                        },
                    }
                }
            }
        };
        quote! {
            {
                #(let mut #names: [#float; #n] = [#zero; #n];)*
                #walk
                #(#combined)*
            }
        }
    }
}

impl Emitter<'_> {
    /// The slices `iter` walks, when it is `xs.iter()`, `&xs`, `xs` (a reference), or
    /// `xs.iter().zip(ys)` (`ys` a reference, `&ys` or `ys.iter()`), each a parameter of a slice, array or `Vec` type that the body
    /// does not bind again (`Emitter::slices`).
    fn slices_walked(&self, iter: &TokenStream) -> Option<Vec<Ident>> {
        let e: syn::Expr = syn::parse2(iter.clone()).ok()?;
        // A parameter walked by reference: `&xs`, `xs.iter()`, or `xs` itself when it is a
        // reference (an array or a `Vec` by value gives its items by value).
        let walked = |e: &syn::Expr| -> Option<Ident> {
            let (e, by_value_ok) = match e {
                syn::Expr::Reference(r) if r.mutability.is_none() => (&*r.expr, true),
                syn::Expr::MethodCall(m) if m.method == "iter" && m.args.is_empty() => {
                    (&*m.receiver, true)
                }
                other => (other, false),
            };
            let syn::Expr::Path(p) = e else { return None };
            let id = p.path.get_ident().filter(|_| p.qself.is_none())?;
            let by_ref = *self.slices.get(&id.to_string())?;
            (by_ref || by_value_ok).then(|| id.clone())
        };
        match &e {
            syn::Expr::MethodCall(m) if m.method == "zip" && m.args.len() == 1 => {
                let a = walked(&m.receiver).filter(
                    |_| matches!(&*m.receiver, syn::Expr::MethodCall(r) if r.method == "iter"),
                )?;
                Some(vec![a, walked(&m.args[0])?])
            }
            _ => walked(&e).map(|a| vec![a]),
        }
    }
}

/// The parameters of `f` whose type is a slice, an array or a `Vec` (or a reference to one),
/// and that its body never binds again (a `let`, a closure's or a loop's pattern): a loop over
/// them can be walked in chunks (`Emitter::slices`); each with whether it is a reference.
pub fn slice_params(f: &syn::ItemFn) -> rustc_hash::FxHashMap<String, bool> {
    use syn::visit::Visit;
    fn sliceable(ty: &syn::Type) -> bool {
        match ty {
            syn::Type::Reference(r) => sliceable(&r.elem),
            syn::Type::Slice(_) | syn::Type::Array(_) => true,
            syn::Type::Path(p) => {
                p.qself.is_none() && p.path.segments.last().is_some_and(|s| s.ident == "Vec")
            }
            _ => false,
        }
    }
    struct Bound(rustc_hash::FxHashSet<String>);
    impl<'ast> Visit<'ast> for Bound {
        fn visit_pat_ident(&mut self, p: &'ast syn::PatIdent) {
            self.0.insert(p.ident.to_string());
            syn::visit::visit_pat_ident(self, p);
        }
    }
    let mut bound = Bound(Default::default());
    bound.visit_block(&f.block);
    f.sig
        .inputs
        .iter()
        .filter_map(|a| match a {
            syn::FnArg::Typed(t) if sliceable(&t.ty) => match &*t.pat {
                syn::Pat::Ident(id) if id.by_ref.is_none() => Some((
                    id.ident.to_string(),
                    matches!(&*t.ty, syn::Type::Reference(_)),
                )),
                _ => None,
            },
            _ => None,
        })
        .filter(|(n, _)| !bound.0.contains(n))
        .collect()
}

/// `(a[lo] + ..) + (.. + a[hi - 1])`, halved down to single lanes (`outer`: not in
/// parentheses itself).
fn pairwise(name: &Ident, lo: usize, hi: usize, outer: bool) -> TokenStream {
    if hi - lo == 1 {
        let lo = proc_macro2::Literal::usize_unsuffixed(lo);
        return quote!(#name[#lo]);
    }
    let mid = (lo + hi) / 2;
    let (a, b) = (
        pairwise(name, lo, mid, false),
        pairwise(name, mid, hi, false),
    );
    if outer {
        quote!(#a + #b)
    } else {
        quote!((#a + #b))
    }
}
