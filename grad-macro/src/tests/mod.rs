//! Unit tests of the whole pipeline on token streams: what the expansion says, and that bad
//! input gives errors rather than panics.

mod diff;
mod escape;
mod fuzz;
pub mod interp;
mod layout;

use crate::expand;
use quote::quote;

pub(crate) fn pretty(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
    let out = expand::grad(args, item);
    match syn::parse2::<syn::File>(out.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => out.to_string(),
    }
}

/// The expansion of the issue's `bce` example, kept in `tests/expand/bce.rs` and shown in the
/// `backprop` crate's documentation: a change to the generated code shows up as a diff to review.
/// `GRAD_BLESS=1 cargo test -p grad-macro` rewrites the file.
#[test]
fn bce_expansion_is_the_documented_one() {
    let got = pretty(
        quote!(wrt = b0, b1),
        quote! {
            fn bce(b0: f64, b1: f64, x: f64, y: f64) -> f64 {
                let p = 1.0 / (1.0 + (-(b0 + b1 * x)).exp());
                -y * p.ln() - (1.0 - y) * (1.0 - p).ln()
            }
        },
    );
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/expand/bce.rs");
    if std::env::var_os("GRAD_BLESS").is_some() {
        std::fs::write(path, &got).unwrap();
    }
    let want = std::fs::read_to_string(path).unwrap_or_default();
    assert_eq!(
        got, want,
        "expansion changed: rerun with GRAD_BLESS=1 and review the diff"
    );
    // What the expansion must never contain, whatever else changes.
    for bad in ["0.0 *", "* 1.0", "* 0.0", "unsafe", "Vec"] {
        assert!(!got.contains(bad), "expansion contains `{bad}`");
    }
}

/// The expansion of every model of the lecture notes' worked examples
/// (`examples/seed_models/mod.rs`), one snapshot each under `src/tests/snapshots/`: a change to the
/// generated code is a diff to review (`cargo insta review`), as with golden files.
#[test]
fn seed_expansions() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/seed_models/mod.rs"
    );
    let source = std::fs::read_to_string(path).expect("the seed models are there");
    let file = syn::parse_file(&source).expect("the seed models parse");
    let mut seen = 0;
    for item in file.items {
        let syn::Item::Fn(mut f) = item else {
            continue;
        };
        let Some(at) = f.attrs.iter().position(|a| a.path().is_ident("grad")) else {
            continue;
        };
        let attr = f.attrs.remove(at);
        let args = match &attr.meta {
            syn::Meta::List(l) => l.tokens.clone(),
            _ => proc_macro2::TokenStream::new(),
        };
        f.attrs.retain(|a| !a.path().is_ident("doc"));
        let name = f.sig.ident.to_string();
        let expansion = pretty(args, quote::ToTokens::to_token_stream(&f));
        assert!(!expansion.contains("compile_error"), "{name}: {expansion}");
        insta::assert_snapshot!(format!("seed_{name}"), expansion);
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} seed models");
}

#[test]
fn branch_values_are_exported_not_recomputed() {
    let s = pretty(
        quote!(wrt = x),
        quote! {
            fn b_statements(x: f64) -> f64 {
                let mut y = 2.0 * x;
                if x > 0.0 {
                    y += x.ln();
                } else if x < -5.0 {
                    y *= (-x - 5.0).sqrt();
                }
                y
            }
        },
    );
    // The reversed `else if` reads a value its primal branch computed: carried out, not
    // recomputed, and the reverse `if` mirrors the primal chain.
    assert!(s.contains("let t0 = (-x - 5.0).sqrt();"), "{s}");
    let companion = s
        .split("fn b_statements_value_and_grad")
        .nth(1)
        .unwrap_or_default()
        .split("fn b_statements_grad")
        .next()
        .unwrap_or_default();
    assert_eq!(companion.matches(".sqrt()").count(), 1, "{s}");
    assert!(s.contains("} else if c1 {"), "{s}");
}

#[test]
fn helper_called_by_path_is_checked_to_be_ours() {
    let s = pretty(
        quote!(wrt = x),
        quote! {
            fn locals_named_like_functions(x: f64) -> f64 {
                let exp = x.exp();
                let sin = exp.sin();
                let sigmoid = backprop::sigmoid(sin);
                sigmoid
            }
        },
    );
    assert!(
        s.replace(char::is_whitespace, "").contains(
            "called_function_must_be_the_grad_helper(backprop::sigmoid,::backprop::sigmoid::<f64>,);"
        ),
        "{s}"
    );
    assert!(s.contains("let d_sin = sigmoid * (1.0 - sigmoid);"), "{s}");
}

/// Prints the expansion of the function in the file `GRAD_SHOW` names, with the arguments of
/// its first line (`// wrt = a, b`): `GRAD_SHOW=f.rs cargo test -p grad-macro show -- --nocapture`.
#[test]
fn show() {
    let Some(path) = std::env::var_os("GRAD_SHOW") else {
        return;
    };
    let src = std::fs::read_to_string(path).unwrap_or_default();
    let (first, rest) = src.split_once('\n').unwrap_or(("", ""));
    let args: proc_macro2::TokenStream = first.trim_start_matches("//").parse().unwrap_or_default();
    let item: proc_macro2::TokenStream = rest.parse().unwrap_or_default();
    println!("{}", pretty(args, item));
}

/// An iterator expression moved into a `for` header keeps valid syntax: a struct literal
/// there is parenthesised (found by the syntax-tree fuzzer, seed 99).
#[test]
fn struct_literal_iterator_in_a_loop_header() {
    let out = expand::grad(
        quote!(wrt = w),
        quote! {
            fn f(w: f64, xs: &[f64]) -> f64 {
                Span { xs }.iter().map(|x| w * x).sum::<f64>()
            }
        },
    );
    let file = syn::parse2::<syn::File>(out.clone());
    assert!(file.is_ok(), "not valid Rust: {out}");
    assert!(!out.to_string().contains("compile_error"), "{out}");
}

/// The generated code grows linearly with the body, and a long body (1,000 statements) is at
/// most 4× its tokens, the original included (the target; timing is in
/// `benches/expansion.rs`).
#[test]
fn generated_size_is_linear_in_the_body() {
    use grad_testgen::synthetic::{count, nested, statements};
    let ratio = |(args, item): (proc_macro2::TokenStream, proc_macro2::TokenStream)| {
        let out = expand::grad(args, item.clone());
        assert!(!out.to_string().contains("compile_error"), "{out}");
        count(&out) as f64 / count(&item) as f64
    };
    let (r100, r1000) = (ratio(statements(100)), ratio(statements(1000)));
    assert!(r1000 <= 4.0, "1,000 statements: {r1000:.2}× the input");
    // Linear: the 900 statements from 100 to 1,000 cost what each costs on average at 1,000
    // (the companions' fixed parts, signatures and stand-ins, weigh on 100 statements more).
    let size = |(args, item): (proc_macro2::TokenStream, proc_macro2::TokenStream)| {
        (count(&expand::grad(args, item.clone())), count(&item))
    };
    let ((o100, i100), (o1000, i1000)) = (size(statements(100)), size(statements(1000)));
    let marginal = (o1000 - o100) as f64 / (i1000 - i100) as f64;
    assert!(
        (r1000 - marginal).abs() < 0.2,
        "{r100:.2}× at 100, {r1000:.2}× at 1,000, {marginal:.2}× from one to the other"
    );
    // A single expression nested 500 deep: every level needs its own `let` and adjoint, so
    // the ratio is higher, but constant. (syn's parser recurses per level: an unoptimised
    // build needs more stack than a test thread's default for this.)
    let deep = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || (ratio(nested(100)), ratio(nested(500))));
    let (d100, d500) = deep
        .and_then(|t| t.join().map_err(|_| std::io::Error::other("panicked")))
        .expect("the nested case ran");
    assert!(
        (d500 - d100).abs() < 0.5,
        "{d100:.2}× at depth 100, {d500:.2}× at 500"
    );
}

/// A mean squared error's gradient, as a person would write it: one pass, the residual
/// accumulated against the data, and the shared `2 / n` applied once after the loop; `_grad`
/// without the loss. With `ordered_sums`, each sum adds its terms one after the other; by
/// default in four lanes (`emit::lanes`), added pairwise after the loop.
#[test]
fn accumulations_are_scaled_once_after_the_loop() {
    let body = quote! {
        fn mse(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> f64 {
            let mut loss = 0.0;
            for (x, y) in xs.iter().zip(ys) {
                let r = w * x + b - y;
                loss += r * r;
            }
            loss / xs.len() as f64
        }
    };
    let common = [
        "let d_loss = 1.0 / xs.len() as f64;",
        "let t0 = 2.0 * d_loss;",
        "(t0 * d_w, t0 * d_b)",
    ];
    let s = pretty(quote!(wrt = w, b, ordered_sums), body.clone());
    let grad = s.split("fn mse_grad").nth(1).unwrap_or_default();
    for want in ["d_w += r * x;", "d_b += r;"].iter().chain(&common) {
        assert!(grad.contains(want), "no `{want}` in\n{s}");
    }
    assert!(!grad.contains("let mut loss"), "{s}");
    assert!(!s.contains("__grad_lanes"), "{s}");
    assert_eq!(
        s.matches("for (x, y) in xs.iter().zip(ys) {").count(),
        3,
        "one loop per companion\n{s}"
    );
    let s = pretty(quote!(wrt = w, b), body);
    let grad = s.split("fn mse_grad").nth(1).unwrap_or_default();
    let lanes = [
        "__grad_lanes_d_w[0] += r * x;",
        "__grad_lanes_d_w[3] += r * x;",
        "__grad_lanes_d_b[2] += r;",
        "d_w += (__grad_lanes_d_w[0] + __grad_lanes_d_w[1]) + (__grad_lanes_d_w[2] + __grad_lanes_d_w[3]);",
    ];
    // (Lines as the printer wraps them.)
    let squash = |t: &str| t.split_whitespace().collect::<String>();
    for want in lanes.iter().chain(&common) {
        assert!(squash(grad).contains(&squash(want)), "no `{want}` in\n{s}");
    }
    assert!(!grad.contains("let mut loss"), "{s}");
    // The value in `_value_and_grad` adds its terms in order.
    let value_and_grad = s.split("fn mse_value_and_grad").nth(1).unwrap_or_default();
    assert!(value_and_grad.contains("loss += r * r;"), "{s}");
    assert!(!value_and_grad.contains("__grad_lanes_loss"), "{s}");
}

/// The sweep reads back what the forward pass left in arrays rather than computing it again:
/// an MLP's hidden layer over samples (the loop fused with its sweep shares the layer the primal
/// body built, and each `tanh` is read back from its element), and a vector RNN (each step's
/// new state is the state the step before it was kept with). `tanh` is computed once, in the
/// forward pass; an array written after its loop filled it is computed again.
#[test]
fn the_sweep_reads_back_activations_and_next_states() {
    let count = |args: proc_macro2::TokenStream, item: proc_macro2::TokenStream, name: &str| {
        let s = pretty(args, item);
        let head = format!("fn {name}_value_and_grad");
        let body = s.split(&head).nth(1).unwrap_or_default();
        let body = body.split("\n}\n").next().unwrap_or_default().to_string();
        assert!(!body.is_empty(), "{s}");
        (body.matches(".tanh()").count(), s)
    };
    let (n, s) = count(
        quote!(wrt = w1, w2),
        quote! {
            fn mlp(w1: [[f64; 2]; 3], w2: [f64; 3], xs: &[[f64; 2]; 5]) -> f64 {
                let mut loss = 0.0;
                for n in 0..5 {
                    let mut h = [0.0; 3];
                    for i in 0..3 {
                        let mut z = 0.1;
                        for j in 0..2 {
                            z += w1[i][j] * xs[n][j];
                        }
                        h[i] = z.tanh();
                    }
                    let mut o = 0.0;
                    for i in 0..3 {
                        o += w2[i] * h[i];
                    }
                    loss += (o - 0.5).powi(2);
                }
                loss
            }
        },
        "mlp",
    );
    assert_eq!(n, 1, "{s}");
    assert_eq!(
        s.split("fn mlp_value_and_grad")
            .nth(1)
            .unwrap_or_default()
            .split("\n}\n")
            .next()
            .unwrap_or_default()
            .matches("for n in")
            .count(),
        1,
        "the loop is fused with its sweep\n{s}"
    );
    let (n, s) = count(
        quote!(wrt = w, uw),
        quote! {
            fn vrnn(w: [[f64; 4]; 4], uw: [f64; 4], xs: &[f64; 30]) -> f64 {
                let mut h = [0.0; 4];
                let mut loss = 0.0;
                for t in 0..30 {
                    let mut hn = [0.0; 4];
                    for i in 0..4 {
                        let mut s = uw[i] * xs[t];
                        for j in 0..4 {
                            s += w[i][j] * h[j];
                        }
                        hn[i] = s.tanh();
                    }
                    h = hn;
                    loss += h[0] * h[0] - 0.5 * h[3];
                }
                loss
            }
        },
        "vrnn",
    );
    assert_eq!(n, 1, "{s}");
    // The sum scaled by an element of a `wrt` array read after the loop: the read moves
    // before the loop, which is then fused with its sweep all the same.
    let (n, s) = count(
        quote!(wrt = w),
        quote! {
            fn scaled(w: [f64; 3]) -> f64 {
                let mut s = 0.0;
                for n in 0..4 {
                    let mut h = [0.0; 3];
                    for i in 0..3 {
                        h[i] = (w[i] * n as f64).tanh();
                    }
                    s += h.iter().map(|&c| c * c).sum::<f64>();
                }
                s * w[0]
            }
        },
        "scaled",
    );
    assert_eq!(n, 1, "{s}");
    let (n, s) = count(
        quote!(wrt = w),
        quote! {
            fn overwritten(w: [f64; 3]) -> f64 {
                let mut h = [0.0; 3];
                for i in 0..3 {
                    h[i] = (w[i] * 0.5).tanh();
                }
                h[1] = 0.0;
                h[0] + h[1] + h[2]
            }
        },
        "overwritten",
    );
    assert_eq!(n, 2, "the sweep computes the `tanh` again\n{s}");
}

/// The max shift of a log-sum-exp has adjoint `1 − Σ softmax`, zero in exact arithmetic; the
/// algebra of derivative code finds it, so the gradient does not go through `max` at all.
#[test]
fn a_softmax_max_shift_has_no_adjoint() {
    let s = pretty(
        quote!(wrt = z),
        quote! {
            fn lse(z: [f64; 3]) -> f64 {
                let m = z[0].max(z[1]).max(z[2]);
                let s = (z[0] - m).exp() + (z[1] - m).exp() + (z[2] - m).exp();
                m + s.ln()
            }
        },
    );
    let grad = s.split("fn lse_grad").nth(1).unwrap_or_default();
    assert!(!grad.is_empty(), "{s}");
    assert!(
        !grad.contains("is_nan"),
        "the max's tie selects remain:\n{s}"
    );
}

/// Goldens of the pipeline's other outputs (issue 16 moves the code that writes them; these
/// must stay byte-identical through pure moves): a loop that keeps values for its sweep, forward
/// mode's `_jvp`, `_hessian` and `_hvp`, a `_jacobian`, a `_trace`, and a loop whose read of
/// data a call changes is kept (`effects.rs`). `cargo insta review` (or `INSTA_UPDATE=always`)
/// after a deliberate change.
#[test]
fn pipeline_goldens() {
    let cases = [
        (
            "saving_loop",
            quote!(wrt = w),
            quote! {
                fn rnn(w: f64, xs: &[f64]) -> f64 {
                    let mut h = 0.0;
                    for &x in xs {
                        h = (w * h + x).tanh();
                    }
                    h * h
                }
            },
        ),
        (
            "forward_jvp",
            quote!(wrt = a, b, mode = forward),
            quote! {
                fn f(a: f64, b: f64) -> f64 {
                    (a * b).sin() + a.exp()
                }
            },
        ),
        (
            "hessian",
            quote!(wrt = a, b, hessian),
            quote! {
                fn f(a: f64, b: f64) -> f64 {
                    a * a * b + b.ln()
                }
            },
        ),
        (
            "jacobian",
            quote!(wrt = r, t),
            quote! {
                fn polar(r: f64, t: f64) -> (f64, f64) {
                    (r * t.cos(), r * t.sin())
                }
            },
        ),
        (
            "trace",
            quote!(wrt = w, b, trace),
            quote! {
                fn unit(w: f64, b: f64, x: f64) -> f64 {
                    let z = w * x + b;
                    1.0 / (1.0 + (-z).exp())
                }
            },
        ),
        (
            "kept_read",
            quote!(wrt = x),
            quote! {
                fn counted(x: f64, xs: &[f64]) -> f64 {
                    let mut c = 0;
                    let mut s = 0.0;
                    for &v in xs {
                        bump(&mut c);
                        s += x * v * c as f64;
                    }
                    s
                }
            },
        ),
    ];
    for (name, args, item) in cases {
        let expansion = pretty(args, item);
        assert!(!expansion.contains("compile_error"), "{name}: {expansion}");
        insta::assert_snapshot!(format!("pipeline_{name}"), expansion);
    }
}

/// Every `#[grad]` and `#[backprop::rule]` item in the workspace's tests, trybuild cases,
/// examples and benches, expanded and printed (errors included), and how many.
fn corpus() -> (usize, String) {
    fn attr_kind(a: &syn::Attribute) -> Option<bool> {
        let segs: Vec<String> = a
            .path()
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        match segs.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["grad"] | [_, "grad"] => Some(false),
            [.., "rule"] if segs.len() == 2 => Some(true),
            _ => None,
        }
    }
    fn fns(items: &[syn::Item], out: &mut Vec<(syn::Attribute, syn::ItemFn)>) {
        for item in items {
            match item {
                syn::Item::Fn(f) => {
                    if let Some(k) = f.attrs.iter().position(|a| attr_kind(a).is_some()) {
                        let mut f = f.clone();
                        let a = f.attrs.remove(k);
                        out.push((a, f));
                    }
                    fns(
                        &f.block
                            .stmts
                            .iter()
                            .filter_map(|s| match s {
                                syn::Stmt::Item(i) => Some(i.clone()),
                                _ => None,
                            })
                            .collect::<Vec<_>>(),
                        out,
                    );
                }
                syn::Item::Mod(m) => {
                    if let Some((_, items)) = &m.content {
                        fns(items, out);
                    }
                }
                syn::Item::Impl(i) => {
                    for it in &i.items {
                        if let syn::ImplItem::Fn(f) = it {
                            if let Some(k) = f.attrs.iter().position(|a| attr_kind(a).is_some()) {
                                let mut attrs = f.attrs.clone();
                                let a = attrs.remove(k);
                                let g = syn::ItemFn {
                                    attrs,
                                    vis: f.vis.clone(),
                                    sig: f.sig.clone(),
                                    block: Box::new(f.block.clone()),
                                };
                                out.push((a, g));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let mut files = Vec::new();
    let mut dirs = vec![
        std::path::PathBuf::from(root).join("tests"),
        std::path::PathBuf::from(root).join("examples"),
        std::path::PathBuf::from(root).join("benches"),
    ];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    let (mut n, mut text) = (0, String::new());
    for file in files {
        let Ok(src) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Ok(parsed) = syn::parse_file(&src) else {
            continue;
        };
        let mut found = Vec::new();
        fns(&parsed.items, &mut found);
        for (attr, f) in found {
            let args = match &attr.meta {
                syn::Meta::List(l) => l.tokens.clone(),
                _ => proc_macro2::TokenStream::new(),
            };
            let item = quote::ToTokens::to_token_stream(&f);
            let out = if attr_kind(&attr) == Some(true) {
                crate::expand::rule::rule(args, item)
            } else {
                expand::grad(args, item)
            };
            let shown = match syn::parse2::<syn::File>(out.clone()) {
                Ok(file) => prettyplease::unparse(&file),
                Err(_) => out.to_string(),
            };
            text.push_str(&format!(
                "==== {} {}\n{shown}\n",
                file.display(),
                f.sig.ident
            ));
            n += 1;
        }
    }
    (n, text)
}

/// Every `#[grad]` and `#[backprop::rule]` item of the workspace's tests, trybuild cases and
/// examples expands without a panic, the IR valid after every pass (`expand::pipeline`
/// validates it in tests).
#[test]
fn every_annotated_item_expands_with_valid_ir() {
    let (n, text) = corpus();
    assert!(n >= 300, "only {n} annotated items found");
    assert!(text.contains("_grad"));
}

/// A tool for changes meant to leave the output alone (moves, splits): the expansions of
/// [`corpus`] written to the file named by `GRAD_CORPUS`, to compare before and after:
/// `GRAD_CORPUS=/tmp/before.txt cargo test -p grad-macro --lib expansion_corpus -- --ignored`.
#[test]
#[ignore = "a tool: writes the expansion of every annotated item to $GRAD_CORPUS"]
fn expansion_corpus() {
    let path = std::env::var_os("GRAD_CORPUS").expect("GRAD_CORPUS names the file to write");
    std::fs::write(path, corpus().1).expect("the corpus file is writable");
}
