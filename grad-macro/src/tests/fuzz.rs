//! Malformed input never crashes the macro.
//!
//! Whatever tokens `#[grad]` is given, [`expand::grad`] must return, not panic: for input it
//! refuses, the original item untouched followed by `compile_error!` invocations; otherwise
//! valid Rust defining the original function and its two companions. Each property below feeds
//! it generated inputs and checks exactly that (and that expanding twice gives the same
//! tokens):
//!
//! 1. [`random_token_streams`]: arbitrary tokens (keywords, operators, odd literals, nested
//!    groups of every delimiter) as the item and as the arguments, bare and inside a `fn` shell
//!    or after `wrt =`, so the later stages see them too;
//! 2. [`token_mutations_of_valid_functions`]: the valid functions of [`SEEDS`] with one to four
//!    token edits (delete, duplicate, swap, replace, insert; flatten, empty or re-delimit a
//!    group) at any depth, in the item or in the arguments;
//! 3. [`syntax_tree_mutations_of_valid_functions`]: the same functions parsed with `syn`, with
//!    sub-expressions or statements replaced by constructs from a pool (closures, loops,
//!    `match`, macros, `?`, wrong arities, unknown functions, nesting up to 200 deep, ...) or
//!    their signature altered, printed back with `quote`.
//!
//! The runs are deterministic: a fixed seed unless `GRAD_FUZZ_SEED=<u64>` is set, 256 inputs
//! per property unless `GRAD_FUZZ_CASES=<n>` is set. Each property prints how many inputs it
//! ran (visible with `--nocapture`). The long batch:
//!
//! ```text
//! GRAD_FUZZ_CASES=20000 cargo test -p grad-macro --release --lib tests::fuzz -- --nocapture
//! ```
//!
//! A failure names the seed and the smallest failing input proptest found, written as the
//! attribute and the item, with the panic's message and location.

use crate::expand;
use proc_macro2::{Delimiter, Group, Literal, TokenStream, TokenTree};
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestRunner};
use quote::{quote, ToTokens};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::str::FromStr;
use std::sync::Once;
use std::time::Instant;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, ItemFn};

// ---------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------

#[test]
fn random_token_streams() {
    run_property("random_token_streams", random_input);
}

#[test]
fn token_mutations_of_valid_functions() {
    run_property("token_mutations_of_valid_functions", token_mutated_input);
}

#[test]
fn syntax_tree_mutations_of_valid_functions() {
    run_property(
        "syntax_tree_mutations_of_valid_functions",
        ast_mutated_input,
    );
}

// ---------------------------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------------------------

/// Inputs per property unless `GRAD_FUZZ_CASES` says otherwise.
const DEFAULT_CASES: u32 = 256;

/// The seed unless `GRAD_FUZZ_SEED` says otherwise ("gradfuzz").
const DEFAULT_SEED: u64 = 0x6772_6164_6675_7a7a;

/// The stack the macro runs on: rustc gives its main thread, where proc macros run, 8 MiB.
const MACRO_STACK_BYTES: usize = 8 << 20;

/// One invocation of the attribute: `#[grad(args)] item`.
#[derive(Clone)]
struct MacroInput {
    args: TokenStream,
    item: TokenStream,
}

impl fmt::Debug for MacroInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#[grad({})] {}", self.args, self.item)
    }
}

/// What the inputs of one property came to.
#[derive(Default)]
struct Tally {
    expanded: Cell<u64>,
    rejected: Cell<u64>,
}

/// `name` from the environment, or `default` when it is not set.
fn env_or<T: FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// Runs `check_expansion` on the inputs `strategy` generates, on a thread with the stack rustc
/// gives macros, and prints how many ran. Panics (failing the test) with the minimal failing
/// input if any fails.
fn run_property<S, F>(name: &'static str, strategy: F)
where
    S: Strategy<Value = MacroInput>,
    F: FnOnce() -> S + Send,
{
    let cases = env_or("GRAD_FUZZ_CASES", DEFAULT_CASES);
    let seed = env_or("GRAD_FUZZ_SEED", DEFAULT_SEED);
    on_macro_stack(name, move || {
        install_panic_recorder();
        let config = Config {
            cases,
            rng_algorithm: RngAlgorithm::ChaCha,
            rng_seed: RngSeed::Fixed(seed),
            failure_persistence: None,
            source_file: None,
            ..Config::default()
        };
        let mut runner = TestRunner::new(config);
        let tally = Tally::default();
        let start = Instant::now();
        let result = runner.run(&strategy(), |input| check_expansion(&input, &tally));
        if let Err(err) = result {
            panic!("{name} (GRAD_FUZZ_SEED={seed}): {err}");
        }
        let (expanded, rejected) = (tally.expanded.get(), tally.rejected.get());
        eprintln!(
            "tests::fuzz::{name}: {} inputs ran ({expanded} expanded, {rejected} rejected \
             with compile_error!) in {:.1?}; GRAD_FUZZ_CASES={cases} GRAD_FUZZ_SEED={seed}",
            expanded + rejected,
            start.elapsed(),
        );
    });
}

/// Runs `f` on a thread with the stack rustc gives macros (deeply nested input needs more
/// than a test thread's 2 MiB in a debug build, in `syn` as in the macro), passing its panic on.
fn on_macro_stack<R: Send>(name: &str, f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new()
            .name(name.to_string())
            .stack_size(MACRO_STACK_BYTES)
            .spawn_scoped(scope, f)
            .expect("cannot spawn a thread to run the macro on");
        worker
            .join()
            .unwrap_or_else(|panic| panic::resume_unwind(panic))
    })
}

/// The contract: no panic; the same output each time; either the item untouched (or, after a
/// type error rustc would report again, its signature over an unchecked body), the quiet
/// stand-ins of its pullbacks, then `compile_error!`s; or valid Rust with the function and its
/// two companions.
fn check_expansion(input: &MacroInput, tally: &Tally) -> Result<(), TestCaseError> {
    let out = expand_without_panic(input)?;
    let again = expand_without_panic(input)?;
    prop_assert_eq!(
        out.to_string(),
        again.to_string(),
        "two expansions of the same input differ"
    );
    if let Some(errors) = rejection_errors(&input.item, &out) {
        prop_assert!(
            errors > 0,
            "the item came back alone: no companions, no error"
        );
        tally.rejected.set(tally.rejected.get() + 1);
        return Ok(());
    }
    let file = parse_file(&out).map_err(|e| {
        TestCaseError::fail(format!(
            "the expansion has no compile_error! and is not valid Rust ({e}): {out}"
        ))
    })?;
    let names: Vec<String> = file
        .items
        .iter()
        .map(|item| match item {
            syn::Item::Fn(f) => f.sig.ident.to_string(),
            syn::Item::Struct(s) => format!("struct {}", s.ident),
            syn::Item::Impl(i) => format!("impl {}", i.self_ty.to_token_stream()),
            other => format!("a non-function item: {}", other.to_token_stream()),
        })
        .collect();
    // The stand-ins for the functions the body calls (`expand::pullbacks_in_scope`), loud
    // and quiet.
    let first = names.first().map_or("", |n| n.as_str());
    let stand_ins = [
        format!("__grad_pullbacks_{first}"),
        format!("__grad_quiet_pullbacks_{first}"),
    ];
    let names: Vec<String> = names
        .into_iter()
        .zip(&file.items)
        .filter(|(_, item)| !matches!(item, syn::Item::Mod(m) if stand_ins.iter().any(|s| m.ident == s)))
        .map(|(n, _)| n)
        .collect();
    let original = names.first().cloned().unwrap_or_default();
    let bare = original.trim_start_matches("r#").to_string();
    // A function returning several values gets `_jacobian` alone: another shape.
    if names.contains(&format!("{bare}_jacobian")) {
        return Ok(());
    }
    // The companions options add (`mode = forward`, `hessian`, `trace`, `graph`).
    let optional: Vec<String> = ["jvp", "hessian", "hvp", "trace", "graph"]
        .iter()
        .map(|s| format!("{bare}_{s}"))
        .collect();
    let names: Vec<String> = names
        .into_iter()
        .filter(|n| !optional.contains(n))
        .collect();
    let item: Option<syn::ItemFn> = syn::parse2(input.item.clone()).ok();
    let building_block = !input.args.to_string().contains("wrt");
    let mut want = vec![original.clone()];
    if !building_block {
        want.push(format!("{bare}_value_and_grad"));
        want.push(format!("{bare}_grad"));
    }
    // The pullback: a method in an `impl` (a `self` parameter, or `Self` in the signature),
    // none for a name of a primitive type, otherwise a struct of the function's name.
    if item
        .as_ref()
        .is_some_and(crate::expand::companions::in_impl)
    {
        want.push(format!("{bare}_pullback"));
    } else if ![
        "f32", "f64", "i8", "i16", "i32", "i64", "i128", "isize", "u8", "u16", "u32", "u64",
        "u128", "usize", "bool", "char", "str",
    ]
    .contains(&original.as_str())
    {
        want.push(format!("struct {original}"));
        want.push(format!("impl {original}"));
    }
    prop_assert_eq!(
        &names[..],
        &want[..],
        "the expansion is not the function, its two companions and its pullback: {}",
        out
    );
    tally.expanded.set(tally.expanded.get() + 1);
    Ok(())
}

/// The expansion as a `syn::File`.
///
/// `syn` reads a statement starting with a bare `crate` as an item with `crate` visibility,
/// where rustc reads a path expression: from a user's `y * crate` (which rustc refuses at the
/// user's token) the macro emits `if c { crate } else { .. }`, valid Rust that `syn` cannot
/// parse. Such a `crate` is parenthesised, and the expansion read again, before giving up.
fn parse_file(out: &TokenStream) -> syn::Result<syn::File> {
    syn::parse2(out.clone()).or_else(|error| {
        syn::parse2(parenthesise_statement_crate(out.clone(), false)).map_err(|_| error)
    })
}

fn parenthesise_statement_crate(tokens: TokenStream, in_braces: bool) -> TokenStream {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    fn is_punct(tree: Option<&TokenTree>, c: char) -> bool {
        matches!(tree, Some(TokenTree::Punct(p)) if p.as_char() == c)
    }
    let mut out = Vec::with_capacity(trees.len());
    for (i, tree) in trees.iter().enumerate() {
        let starts_statement = i == 0 || is_punct(trees.get(i - 1), ';');
        match tree {
            TokenTree::Ident(id)
                if id == "crate"
                    && in_braces
                    && starts_statement
                    && !is_punct(trees.get(i + 1), ':') =>
            {
                out.push(TokenTree::Group(Group::new(
                    Delimiter::Parenthesis,
                    tree.clone().into(),
                )));
            }
            TokenTree::Group(g) => {
                let braces = g.delimiter() == Delimiter::Brace;
                let inner = parenthesise_statement_crate(g.stream(), braces);
                out.push(regroup(g, g.delimiter(), inner));
            }
            other => out.push(other.clone()),
        }
    }
    out.into_iter().collect()
}

/// If `out` is `item` followed by nothing but `compile_error!` invocations, how many.
fn rejection_errors(item: &TokenStream, out: &TokenStream) -> Option<usize> {
    let mut trees = out.clone().into_iter();
    let head: TokenStream = trees
        .by_ref()
        .take(item.clone().into_iter().count())
        .collect();
    let rest: TokenStream = if head.to_string() == item.to_string() {
        trees.collect()
    } else {
        // Or its stand-in, after a type error rustc would report again: the item's signature
        // over an unchecked body (`expand::stand_in`).
        let file = syn::parse2::<syn::File>(out.clone()).ok()?;
        let (first, rest) = file.items.split_first()?;
        let syn::Item::Fn(stand) = first else {
            return None;
        };
        let original: syn::ItemFn = syn::parse2(item.clone()).ok()?;
        let unchecked = quote::quote!({ ::core::unreachable!() }).to_string();
        if stand.sig.to_token_stream().to_string() != original.sig.to_token_stream().to_string()
            || stand.block.to_token_stream().to_string() != unchecked
        {
            return None;
        }
        quote::quote!(#(#rest)*)
    };
    let errors = syn::parse2::<syn::File>(rest).ok()?;
    // Then what callers find in its place (`expand::pullbacks::failed_callee`): items of the
    // function's name in the type namespace, its quiet pullbacks.
    let name = syn::parse2::<syn::ItemFn>(item.clone())
        .map(|f| f.sig.ident.to_string())
        .unwrap_or_default();
    let stand_in = |item: &syn::Item| match item {
        syn::Item::Type(t) => t.ident == name,
        syn::Item::Struct(s) => s.ident == name,
        syn::Item::Impl(i) => i.self_ty.to_token_stream().to_string() == name,
        _ => false,
    };
    let errors: Vec<&syn::Item> = errors.items.iter().skip_while(|i| stand_in(i)).collect();
    let all_errors = errors.iter().all(|item| {
        matches!(item, syn::Item::Macro(m)
            if m.mac.path.segments.last().is_some_and(|s| s.ident == "compile_error"))
    });
    all_errors.then_some(errors.len())
}

thread_local! {
    /// Whether a panic on this thread is the macro's, to be recorded rather than printed.
    static RECORDING_PANICS: Cell<bool> = const { Cell::new(false) };
    /// The last recorded panic: its message and location.
    static RECORDED_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs (once per process) a panic hook that records the macro's panics, with their
/// location, instead of printing each one proptest provokes while shrinking. Other panics are
/// printed as before.
fn install_panic_recorder() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let print = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if RECORDING_PANICS.with(Cell::get) {
                RECORDED_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
            } else {
                print(info);
            }
        }));
    });
}

/// `expand::grad(args, item)`, with a panic turned into a test failure saying where it was.
fn expand_without_panic(input: &MacroInput) -> Result<TokenStream, TestCaseError> {
    RECORDING_PANICS.with(|r| r.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        expand::grad(input.args.clone(), input.item.clone())
    }));
    RECORDING_PANICS.with(|r| r.set(false));
    result.map_err(|payload| {
        let recorded = RECORDED_PANIC.with(|p| p.borrow_mut().take());
        let what = recorded.unwrap_or_else(|| {
            let text = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned());
            text.unwrap_or_else(|| "a panic with no message".to_string())
        });
        TestCaseError::fail(format!("the macro panicked: {what}"))
    })
}

/// Tokens from source text of this file (checked by `vocabularies_lex_and_templates_parse`).
fn lex(text: &str) -> TokenStream {
    text.parse()
        .unwrap_or_else(|e| panic!("test vocabulary `{text}` does not lex: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Property 1: random token streams
// ---------------------------------------------------------------------------------------------

// The vocabularies of random tokens, separated by whitespace.

/// Keywords, and names the macro gives a meaning to or generates itself.
const IDENTS: &str = "
    fn let if else for while loop match return unsafe async await mut ref self Self crate super
    pub const static struct impl dyn as in move where use break continue yield try wrt x w b0 y
    n xs f64 f32 i32 usize bool exp ln powi powf sqrt max clamp sigmoid relu grad core std
    consts PI true false _ r#fn r#wrt compile_error __grad_ref_0 t0 d_x
";

/// Operators and other punctuation (`->` lexes as two tokens), and lifetimes.
const PUNCTS: &str = "
    + - * / % = == != < > <= >= && || ! & | ^ -> => :: : ; , . .. ..= ... ? # @ $ ~
    += -= *= /= %= << >> 'a 'static
";

/// Literals, odd ones included: out of range for every type, suffixed, not numbers.
const LITERALS: &str = r#"
    0 1 2 1.0 0.5 1. 1e400 1e-400 1.7976931348623157e308 0x1F 0b1010 0o17 1_000 1.0f32 2.5f64
    3f32 1u8 7i64 255u8 2147483648 9223372036854775807 9223372036854775808 18446744073709551616
    340282366920938463463374607431768211456 "s" r"raw" b"bytes" 'c' b'b' '\u{1F600}'
"#;

/// The words of a vocabulary.
fn words(vocabulary: &'static str) -> Vec<&'static str> {
    vocabulary.split_whitespace().collect()
}

const DELIMITERS: &[Delimiter] = &[
    Delimiter::Parenthesis,
    Delimiter::Bracket,
    Delimiter::Brace,
    Delimiter::None,
];

/// One identifier, operator or literal (an operator like `->` is two punctuation tokens).
fn leaf() -> impl Strategy<Value = TokenStream> {
    prop_oneof![
        4 => select(words(IDENTS)).prop_map(lex),
        4 => select(words(PUNCTS)).prop_map(lex),
        2 => select(words(LITERALS)).prop_map(lex),
        1 => negative_literal(),
    ]
}

/// A negative number built as one literal token (`Literal::i64_unsuffixed(-1)`), as another
/// proc macro may pass it; like rustc, `proc_macro2` splits it into `-` and the literal.
fn negative_literal() -> impl Strategy<Value = TokenStream> {
    let literal = prop_oneof![
        prop_oneof![Just(i64::MIN), Just(-1), i64::MIN..0].prop_map(Literal::i64_unsuffixed),
        (-1e300..-1e-300f64).prop_map(Literal::f64_unsuffixed),
    ];
    literal.prop_map(|l| TokenTree::Literal(l).into())
}

/// A leaf, or a group of token trees nested at most four deep.
fn token_tree() -> impl Strategy<Value = TokenStream> {
    leaf().prop_recursive(4, 64, 6, |inner| {
        (select(DELIMITERS), prop::collection::vec(inner, 0..6)).prop_map(|(delimiter, parts)| {
            TokenTree::Group(Group::new(delimiter, parts.into_iter().collect())).into()
        })
    })
}

fn token_stream(max_trees: usize) -> impl Strategy<Value = TokenStream> {
    prop::collection::vec(token_tree(), 0..max_trees).prop_map(|trees| trees.into_iter().collect())
}

/// Random tokens as the item, its body, its parameters or what precedes `fn`; random tokens or
/// a valid `wrt` as the arguments.
fn random_input() -> impl Strategy<Value = MacroInput> {
    let item = prop_oneof![
        3 => token_stream(24),
        2 => token_stream(16).prop_map(|body| quote!(fn f(x: f64) -> f64 { #body })),
        1 => token_stream(8).prop_map(|params| quote!(fn f(#params) -> f64 { x })),
        1 => token_stream(6).prop_map(|head| quote!(#head fn f(x: f64) -> f64 { x })),
    ];
    let args = prop_oneof![
        2 => Just(quote!(wrt = x)),
        2 => token_stream(8),
        1 => token_stream(6).prop_map(|rest| quote!(wrt = #rest)),
        1 => token_stream(6).prop_map(|rest| quote!(wrt = x, #rest)),
    ];
    (args, item).prop_map(|(args, item)| MacroInput { args, item })
}

// ---------------------------------------------------------------------------------------------
// Valid annotated functions, the starting points of properties 2 and 3
// ---------------------------------------------------------------------------------------------

/// `(attribute arguments, function)`: every one expands without error (`seeds_expand`).
const SEEDS: &[(&str, &str)] = &[
    (
        "wrt = b0, b1",
        "fn bce(b0: f64, b1: f64, x: f64, y: f64) -> f64 {
            let p = 1.0 / (1.0 + (-(b0 + b1 * x)).exp());
            -y * p.ln() - (1.0 - y) * (1.0 - p).ln()
        }",
    ),
    (
        "wrt = w",
        "fn accumulate(w: f64, x: f64) -> f64 {
            let mut s = 0.0;
            s += w * x;
            s -= 0.5 * w;
            s *= 2.0;
            s /= 3.0;
            s %= 7.0;
            let s = s + 1.0;
            let s = s * s;
            s
        }",
    ),
    (
        "wrt = x",
        "fn branches(x: f64) -> f64 {
            let mut y = 2.0 * x;
            if x > 0.0 {
                y += x.ln();
            } else if x < -5.0 {
                y *= (-x - 5.0).sqrt();
            } else {
                y = y - 1.0;
            }
            let z = if y > 1.0 { y * y } else if y < -1.0 { -y } else { 0.5 * y };
            z + y
        }",
    ),
    (
        "wrt = a, b",
        "fn paths(a: f64, b: f64) -> f64 {
            f64::powi(a, 2) + f64::exp(b) * a.powf(1.5) + a.mul_add(b, 1.0)
                + f64::max(a, b).clamp(-1.0, 1.0) + a.atan2(b) + a.hypot(b)
        }",
    ),
    (
        "wrt = w, crate = grad",
        "fn neuron(w: f64, x: f64) -> f64 {
            let z = w * x;
            backprop::sigmoid(z) + backprop::relu(z) + backprop::softplus(z) + backprop::leaky_relu(z, 0.01)
        }",
    ),
    (
        "wrt = w",
        "fn data(w: f64, n: usize, xs: &[f64], flag: bool) -> f64 {
            const K: f64 = 0.5;
            let m = n as f64;
            let first = xs[0];
            let t = if flag && n > 2 { w * first } else { w * m };
            K * t + std::f64::consts::PI * w + (n * 2 + 1) as f64
        }",
    ),
    (
        "wrt = x, y",
        "fn single(x: f32, y: f32) -> f32 {
            let a: f32 = 0.1;
            let r = (x * x + y * y).sqrt();
            a * r.tanh() + x.sin() * y.cos() - f32::ln_1p(r)
        }",
    ),
    (
        "wrt = u, v",
        "fn blocks(u: f64, v: f64) -> f64 {
            let t = { let s = u * v; s + 1.0 };
            let _ = t;
            { let q = t.exp(); q / (1.0 + q) }
        }",
    ),
    (
        "wrt = x",
        "fn guarded(x: f64, limit: f64, _: u8) -> f64 {
            if x.is_nan() || !(x < limit) {
                0.0
            } else {
                (x.abs() + 1e-9).ln() * x.atan2(limit) + x.powi(3) / x.max(limit)
            }
        }",
    ),
    (
        "wrt = w",
        "#[inline]
        #[allow(clippy::all)]
        pub(crate) fn tuple_data(w: f64, p: (f64, i32)) -> f64 {
            let k = p.1 * 2 + 1;
            let z = sigmoid(w * p.0);
            w.powi(k) * p.0 + z.min(0.5)
        }",
    ),
    (
        "wrt = theta, crate = ::backprop",
        "pub fn regularised(theta: f64, x: f64, y: f64, lambda: f64) -> f64 {
            let r = theta * x - y;
            let mut loss = 0.5 * r * r;
            if lambda > 0.0 {
                loss += lambda * theta.abs();
            }
            loss + backprop::log_sigmoid(theta).exp2()
        }",
    ),
    (
        "wrt = w, b",
        "fn loops(w: [[f64; 2]; 3], b: [f64; 3], data: &[([f64; 2], usize)], k: i32) -> f64 {
            let mut total = 0.0;
            for (x, label) in data.iter() {
                let mut z = [0.0; 3];
                for (j, row) in w.iter().enumerate() {
                    z[j] = row.iter().zip(x).map(|(a, xi)| a * xi).sum::<f64>() + b[j];
                }
                let m = z.iter().fold(f64::NEG_INFINITY, |a, v| a.max(*v));
                let mut s = 0.0;
                for zj in z.iter() {
                    if *zj < m - 30.0 {
                        continue;
                    }
                    s += (zj - m).exp();
                }
                total += m + s.ln() - z[*label];
                if total > 1e6 {
                    break;
                }
            }
            let mut h = 0.0;
            let mut i = 0;
            while i < 3 {
                h = (h * b[i] + 0.5).tanh();
                i += 1;
            }
            let scale = match k {
                0 => 1.0,
                1 | 2 => 0.5,
                _ => return total,
            };
            scale * total + h
        }",
    ),
];

/// The tokens of seed `i`: `(args, item)`.
fn seed_tokens(i: usize) -> (TokenStream, TokenStream) {
    let (args, item) = SEEDS[i];
    (lex(args), lex(item))
}

// ---------------------------------------------------------------------------------------------
// Property 2: token-level mutations of valid functions
// ---------------------------------------------------------------------------------------------

/// One edit of a token stream, at a token tree chosen among all of them, groups' contents
/// included (or among the groups, for the group edits).
#[derive(Clone, Debug)]
enum TokenEdit {
    Delete,
    Duplicate,
    SwapWithNext,
    Replace(TokenStream),
    InsertBefore(TokenStream),
    FlattenGroup,
    EmptyGroup,
    Redelimit(Delimiter),
}

impl TokenEdit {
    fn on_groups_only(&self) -> bool {
        matches!(
            self,
            TokenEdit::FlattenGroup | TokenEdit::EmptyGroup | TokenEdit::Redelimit(_)
        )
    }
}

#[derive(Clone, Debug)]
struct TokenMutation {
    in_args: bool,
    at: Index,
    edit: TokenEdit,
}

fn token_mutation() -> impl Strategy<Value = TokenMutation> {
    let edit = prop_oneof![
        3 => Just(TokenEdit::Delete),
        2 => Just(TokenEdit::Duplicate),
        2 => Just(TokenEdit::SwapWithNext),
        3 => leaf().prop_map(TokenEdit::Replace),
        2 => leaf().prop_map(TokenEdit::InsertBefore),
        1 => Just(TokenEdit::FlattenGroup),
        1 => Just(TokenEdit::EmptyGroup),
        1 => select(DELIMITERS).prop_map(TokenEdit::Redelimit),
    ];
    (prop::bool::weighted(0.2), any::<Index>(), edit)
        .prop_map(|(in_args, at, edit)| TokenMutation { in_args, at, edit })
}

/// A seed with one to four token edits.
fn token_mutated_input() -> impl Strategy<Value = MacroInput> {
    (
        0..SEEDS.len(),
        prop::collection::vec(token_mutation(), 1..=4),
    )
        .prop_map(|(seed, mutations)| {
            let (mut args, mut item) = seed_tokens(seed);
            for m in &mutations {
                let target = if m.in_args { &mut args } else { &mut item };
                *target = mutate_tokens(target.clone(), &m.at, &m.edit);
            }
            MacroInput { args, item }
        })
}

fn mutate_tokens(tokens: TokenStream, at: &Index, edit: &TokenEdit) -> TokenStream {
    let mut trees: Vec<TokenTree> = tokens.into_iter().collect();
    let sites = count_sites(&trees, edit.on_groups_only());
    if sites == 0 {
        if let TokenEdit::InsertBefore(new) | TokenEdit::Replace(new) = edit {
            trees.extend(new.clone());
        }
    } else {
        edit_site(&mut trees, &mut at.index(sites), edit);
    }
    trees.into_iter().collect()
}

/// The token trees of `trees`, depth first (only the groups when `groups_only`).
fn count_sites(trees: &[TokenTree], groups_only: bool) -> usize {
    trees
        .iter()
        .map(|tree| match tree {
            TokenTree::Group(g) => {
                let inner: Vec<TokenTree> = g.stream().into_iter().collect();
                1 + count_sites(&inner, groups_only)
            }
            _ => usize::from(!groups_only),
        })
        .sum()
}

/// Applies `edit` at site number `n` of `trees`, counted as in `count_sites`; `true` once
/// done.
fn edit_site(trees: &mut Vec<TokenTree>, n: &mut usize, edit: &TokenEdit) -> bool {
    for i in 0..trees.len() {
        let is_group = matches!(trees[i], TokenTree::Group(_));
        if is_group || !edit.on_groups_only() {
            if *n == 0 {
                apply_token_edit(trees, i, edit);
                return true;
            }
            *n -= 1;
        }
        if let TokenTree::Group(g) = &trees[i] {
            let mut inner: Vec<TokenTree> = g.stream().into_iter().collect();
            if edit_site(&mut inner, n, edit) {
                trees[i] = regroup(g, g.delimiter(), inner.into_iter().collect());
                return true;
            }
        }
    }
    false
}

fn apply_token_edit(trees: &mut Vec<TokenTree>, i: usize, edit: &TokenEdit) {
    match edit {
        TokenEdit::Delete => {
            trees.remove(i);
        }
        TokenEdit::Duplicate => trees.insert(i + 1, trees[i].clone()),
        TokenEdit::SwapWithNext if i + 1 < trees.len() => trees.swap(i, i + 1),
        TokenEdit::SwapWithNext if i > 0 => trees.swap(i - 1, i),
        TokenEdit::SwapWithNext => {}
        TokenEdit::Replace(new) => {
            trees.splice(i..=i, new.clone());
        }
        TokenEdit::InsertBefore(new) => {
            trees.splice(i..i, new.clone());
        }
        TokenEdit::FlattenGroup | TokenEdit::EmptyGroup | TokenEdit::Redelimit(_) => {
            let TokenTree::Group(g) = &trees[i] else {
                return;
            };
            let g = g.clone();
            match edit {
                TokenEdit::FlattenGroup => {
                    trees.splice(i..=i, g.stream());
                }
                TokenEdit::EmptyGroup => trees[i] = regroup(&g, g.delimiter(), TokenStream::new()),
                TokenEdit::Redelimit(d) => trees[i] = regroup(&g, *d, g.stream()),
                _ => {}
            }
        }
    }
}

/// A group like `old` (same span) with another delimiter or contents.
fn regroup(old: &Group, delimiter: Delimiter, stream: TokenStream) -> TokenTree {
    let mut new = Group::new(delimiter, stream);
    new.set_span(old.span());
    TokenTree::Group(new)
}

// ---------------------------------------------------------------------------------------------
// Property 3: syntax-tree mutations of valid functions
// ---------------------------------------------------------------------------------------------

// In the pools, `$e` is the expression replaced, `$w` a float parameter and `$d` any parameter
// of the seed (so templates reach differentiated values and data alike).

/// Expressions to put in place of a sub-expression.
const EXPR_POOL: &[&str] = &[
    // Closures, loops, `match`, macros, `unsafe`, early exits, async.
    "|| $e",
    "(|t: f64| t * $w)($e)",
    "move |t| $e + t",
    "loop { break $e; }",
    "while $w > 0.0 { break; }",
    "for i in 0..3 { $e; }",
    "match $w { _ => $e }",
    "match $e { 0.0 => $w, t => t }",
    "println!(\"{}\", $e)",
    "vec![$e, $w]",
    "format!(\"{}\", $w)",
    "todo!()",
    "unsafe { $e }",
    "return $e",
    "return",
    "break",
    "continue",
    "$e?",
    "async { $e }",
    "$e.await",
    "'l: { $e }",
    "const { 1.0 }",
    "yield $e",
    // Tuples, arrays, indexing, fields, references, ranges, structs, assignments.
    "($e, $w)",
    "($e,)",
    "()",
    "[$e, $w]",
    "[$e; 3]",
    "[$w][0]",
    "$d[0]",
    "$e[0]",
    "$d[$e as usize]",
    "$e.0",
    "$w.field",
    "&$e",
    "&mut $w",
    "*$w",
    "*&$e",
    "$e..$w",
    "..",
    "$e..=1.0",
    "Point { x: $e, y: $w }",
    "Point { $w }",
    "$w = $e",
    "$w += $e",
    "let t = $e",
    // Calls with the wrong arity, unknown functions and methods, odd paths.
    "$e.exp(1.0)",
    "$e.powi()",
    "$e.powf($w, $w)",
    "$e.clamp(0.0)",
    "$e.mul_add($w)",
    "$e.exp::<f64>()",
    "f64::exp()",
    "f64::powi($e)",
    "f64::atan2($e)",
    "f64::exp($e, $w)",
    "f32::exp($e)",
    "<f64>::exp($e)",
    "<f64 as Float>::exp($e)",
    "backprop::sigmoid()",
    "backprop::sigmoid($e, $w)",
    "backprop::leaky_relu($e)",
    "sigmoid($e)",
    "relu($w, $e)",
    "::backprop::softplus($e)",
    "other::sigmoid($e)",
    "frobnicate($w)",
    "frobnicate($e, $d)",
    "$w.frobnicate()",
    "$e.frobnicate($w)",
    "$e.is_nan()",
    "$e.total_cmp(&$w)",
    "$e.to_bits()",
    "$d.len() as f64 * $e",
    "$d.iter().map(|v| v * $w).sum::<f64>()",
    "Some($e).unwrap()",
    "f64::from($w)",
    "std::f64::consts::PI.exp()",
    "f64::NAN",
    "f64::MAX * $e",
    "T::exp($w)",
    "Self::exp($w)",
    "self.w * $e",
    // `powi` exponents.
    "$w.powi(2147483647)",
    "$w.powi(-2147483648)",
    "$w.powi(i32::MIN)",
    "$w.powi(0)",
    "$w.powi(-1)",
    "$w.powi(9223372036854775807)",
    "$w.powi(-9223372036854775807 - 1)",
    "$w.powi(18446744073709551616)",
    "$w.powi($d)",
    "$w.powi($e)",
    "$w.powi(2.0)",
    "$w.powi(1 - 2)",
    "$w.powf(0.0)",
    // Literals and casts.
    "1e400",
    "-1e400",
    "1e-400",
    "-0.0",
    "0.0 / 0.0",
    "f64::INFINITY",
    "0x1F",
    "2",
    "-2",
    "2u8",
    "1.0f32",
    "1.0f64",
    "18446744073709551616",
    "9223372036854775808",
    "-9223372036854775808",
    "\"text\"",
    "'c'",
    "b'a'",
    "true",
    "!$e",
    "-$e",
    "$e as f32",
    "$e as f64",
    "$e as i32",
    "$e as usize as f64",
    "$e as _",
    "$w as u8 as f64",
    "($e > 0.0) as i32 as f64",
    "1 as f64",
    // Logic, bits, arithmetic with odd operands.
    "$e < $w",
    "$e == $e",
    "$e && $w",
    "$e || true",
    "$e & $w",
    "$e | $w",
    "$e ^ $w",
    "$e << 2",
    "$e >> $d",
    "$e % 0.0",
    "$e / 0.0",
    "$e - $e",
    "$e * 0.0",
    "0.0 * $e",
    "$e + -$e",
    // `if` and blocks.
    "if $e { $w } else { 0.0 }",
    "if $w > 0.0 { $e }",
    "if $w > 0.0 { $e } else { 1 }",
    "if $w > 0.0 { $e; } else { $w }",
    "if let Some(t) = Some($e) { t } else { $w }",
    "if $w > 0.0 { $e } else if $w < 0.0 { -$e }",
    "if ($e) > $w { $w } else { $e }",
    "{ $e }",
    "{}",
    "{ $e; }",
    "{ let t = $e; t * t }",
    "{ let mut t = $e; t += $w; t }",
    "{ let $w = $e; $w }",
    "$e.sqrt().ln().exp()",
    "$e.max($w).min($e)",
    "$e.hypot($e)",
    "$e.clamp($w, $w)",
    "$w.mul_add($e, $w)",
];

/// Statements to put in place of a statement, or before one.
const STMT_POOL: &[&str] = &[
    "let (a, b) = ($w, $w);",
    "let t;",
    "let t: f64;",
    "let Some(t) = Some($w) else { return 0.0 };",
    "let ref t = $w;",
    "let t @ _ = $w;",
    "let [a, b] = [$w, $w];",
    "let _ = $w;",
    "let t: f32 = $w;",
    "let t: i32 = $w as i32;",
    "let t: bool = $w > 0.0;",
    "let t: usize = $d;",
    "let t: Vec<f64> = vec![$w];",
    "let mut $w = $w * 2.0;",
    "let $w = 1.0;",
    "let $d = $w;",
    "$w = 1.0;",
    "$w += $w;",
    "$w %= 2.0;",
    "$d = $w;",
    "undeclared = $w;",
    "undeclared += $w;",
    "$d[0] = $w;",
    "*$d = $w;",
    "$d.0 = $w;",
    "$w.field = 1.0;",
    "println!(\"{}\", $w);",
    "assert!($w > 0.0);",
    "fn inner(t: f64) -> f64 { t * 2.0 }",
    "const C: f64 = 2.0;",
    "static S: f64 = 1.0;",
    "use std::f64::consts::PI;",
    "struct Local;",
    "return $w;",
    "return;",
    "$w;",
    "if $w > 0.0 { return $w; }",
    "for i in 0..3 { $w += 1.0; }",
    "while $w > 1.0 { $w /= 2.0; }",
    "loop { break; }",
    "{ let $w = 0.0; }",
    "#[allow(unused)] let t = $w;",
    "let t = { $w };",
    "let t = if $w > 0.0 { $w };",
    "let t = (|| $w)();",
    "let t = $w?;",
];

const RETURN_TYPES: &[&str] = &[
    "f32",
    "f64",
    "()",
    "i32",
    "Self",
    "&f64",
    "impl Into<f64>",
    "(f64, f64)",
    "!",
    "Option<f64>",
    "(f64)",
    "core::primitive::f64",
    "_",
];

const PARAMS: &[&str] = &[
    "self",
    "&self",
    "&mut self",
    "mut self: Box<Self>",
    "mut z: f64",
    "_: f64",
    "(a, b): (f64, f64)",
    "z: &mut f64",
    "z: impl Fn(f64) -> f64",
    "z: f32",
    "z: Vec<f64>",
    "ref z: f64",
    "z @ _: f64",
    "Point { x, y }: Point",
    "z: &'a f64",
    "z: T",
    "x: f64",
    "__grad_ref_0: f64",
];

const PARAM_TYPES: &[&str] = &[
    "f32",
    "f64",
    "&mut f64",
    "&f64",
    "usize",
    "bool",
    "i32",
    "Option<f64>",
    "(f64)",
    "T",
    "impl Into<f64>",
    "[f64; 2]",
    "Self",
    "()",
];

const GENERICS: &[&str] = &[
    "<T>",
    "<'a>",
    "<const N: usize>",
    "<T: Into<f64>>",
    "<'a, T>",
    "<F: Fn(f64) -> f64>",
];

const ATTRIBUTES: &[&str] = &[
    "#[cfg(test)]",
    "#[cfg(any())]",
    "#[cfg]",
    "#[expect(unused)]",
    "#[expect]",
    "#[expect = \"x\"]",
    "#[doc(hidden)]",
    "#[doc(hidden = 1)]",
    "#[doc = \"docs\"]",
    "#[deprecated]",
    "#[deprecated(note = \"x\")]",
    "#[inline]",
    "#[grad(wrt = x)]",
    "#[allow(clippy::all)]",
    "#[allow]",
    "#[forbid(unsafe_code)]",
    "#[must_use]",
];

/// New names for the function (separated by whitespace).
const FN_NAMES: &str = "r#try r#match f grad t0 d_x main _ __grad_ref_0 sigmoid";

/// The nested shapes, `depth` levels deep around (or next to) `$e`.
#[derive(Clone, Copy, Debug)]
enum Nesting {
    Parens,
    Negations,
    NegatedParens,
    Nots,
    Blocks,
    Sum,
    MethodChain,
    CallChain,
    IfChain,
    Casts,
}

const NESTINGS: &[Nesting] = &[
    Nesting::Parens,
    Nesting::Negations,
    Nesting::NegatedParens,
    Nesting::Nots,
    Nesting::Blocks,
    Nesting::Sum,
    Nesting::MethodChain,
    Nesting::CallChain,
    Nesting::IfChain,
    Nesting::Casts,
];

impl Nesting {
    fn template(self, depth: usize) -> String {
        let n = depth;
        match self {
            Nesting::Parens => format!("{}$e{}", "(".repeat(n), ")".repeat(n)),
            Nesting::Negations => format!("{}$e", "- ".repeat(n)),
            Nesting::NegatedParens => format!("{}$e{}", "-(".repeat(n), ")".repeat(n)),
            Nesting::Nots => format!("{}$e", "! ".repeat(n)),
            Nesting::Blocks => format!("{}$e{}", "{ ".repeat(n), " }".repeat(n)),
            Nesting::Sum => vec!["$e"; n + 1].join(" + "),
            Nesting::MethodChain => format!("$e{}", ".exp()".repeat(n)),
            Nesting::CallChain => format!("{}$e{}", "f64::sin(".repeat(n), ")".repeat(n)),
            Nesting::IfChain => format!("{}{{ $e }}", "if $w > 0.0 { $e } else ".repeat(n)),
            Nesting::Casts => format!("$e{}", " as f64".repeat(n)),
        }
    }
}

#[derive(Clone, Debug)]
enum ExprTemplate {
    Pooled(&'static str),
    Nested(Nesting, usize),
}

impl ExprTemplate {
    fn text(&self) -> String {
        match self {
            ExprTemplate::Pooled(t) => t.to_string(),
            ExprTemplate::Nested(shape, depth) => shape.template(*depth),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Qualifier {
    Async,
    Unsafe,
    Const,
    ExternC,
}

#[derive(Clone, Debug)]
enum SigEdit {
    Return(&'static str),
    NoReturn,
    AddParam(&'static str, Index),
    RetypeParam(&'static str, Index),
    Generics(&'static str),
    Qualify(Qualifier),
    Attribute(&'static str),
    Public,
    Rename(&'static str),
}

#[derive(Clone, Debug)]
enum AstEdit {
    ReplaceExpr(Index, ExprTemplate),
    ReplaceStmt(Index, &'static str),
    InsertStmt(Index, &'static str),
    DeleteStmt(Index),
    Signature(SigEdit),
}

/// An edit, and the parameters that stand for `$w` and `$d`.
#[derive(Clone, Debug)]
struct AstMutation {
    edit: AstEdit,
    float_param: Index,
    any_param: Index,
}

fn expr_template() -> impl Strategy<Value = ExprTemplate> {
    prop_oneof![
        4 => select(EXPR_POOL).prop_map(ExprTemplate::Pooled),
        1 => (select(NESTINGS), 1..=200usize).prop_map(|(s, d)| ExprTemplate::Nested(s, d)),
    ]
}

fn sig_edit() -> impl Strategy<Value = SigEdit> {
    let qualifier = select(
        &[
            Qualifier::Async,
            Qualifier::Unsafe,
            Qualifier::Const,
            Qualifier::ExternC,
        ][..],
    );
    prop_oneof![
        select(RETURN_TYPES).prop_map(SigEdit::Return),
        Just(SigEdit::NoReturn),
        (select(PARAMS), any::<Index>()).prop_map(|(p, at)| SigEdit::AddParam(p, at)),
        (select(PARAM_TYPES), any::<Index>()).prop_map(|(t, at)| SigEdit::RetypeParam(t, at)),
        select(GENERICS).prop_map(SigEdit::Generics),
        qualifier.prop_map(SigEdit::Qualify),
        select(ATTRIBUTES).prop_map(SigEdit::Attribute),
        Just(SigEdit::Public),
        select(words(FN_NAMES)).prop_map(SigEdit::Rename),
    ]
}

fn ast_mutation() -> impl Strategy<Value = AstMutation> {
    let edit = prop_oneof![
        6 => (any::<Index>(), expr_template()).prop_map(|(at, t)| AstEdit::ReplaceExpr(at, t)),
        2 => (any::<Index>(), select(STMT_POOL)).prop_map(|(at, s)| AstEdit::ReplaceStmt(at, s)),
        2 => (any::<Index>(), select(STMT_POOL)).prop_map(|(at, s)| AstEdit::InsertStmt(at, s)),
        1 => any::<Index>().prop_map(AstEdit::DeleteStmt),
        2 => sig_edit().prop_map(AstEdit::Signature),
    ];
    (edit, any::<Index>(), any::<Index>()).prop_map(|(edit, float_param, any_param)| AstMutation {
        edit,
        float_param,
        any_param,
    })
}

/// A seed parsed with `syn`, edited one to three times, printed back with `quote`.
fn ast_mutated_input() -> impl Strategy<Value = MacroInput> {
    (0..SEEDS.len(), prop::collection::vec(ast_mutation(), 1..=3)).prop_map(|(seed, edits)| {
        let (args, item) = seed_tokens(seed);
        let mut f: ItemFn = syn::parse2(item)
            .unwrap_or_else(|e| panic!("seed {seed} is not a function (see `seeds_expand`): {e}"));
        for m in &edits {
            m.apply(&mut f);
        }
        MacroInput {
            args,
            item: f.into_token_stream(),
        }
    })
}

impl AstMutation {
    /// Applies the edit; one whose template does not parse in this context changes nothing.
    fn apply(&self, f: &mut ItemFn) {
        let names = param_names(f);
        let floats: Vec<&String> = names
            .iter()
            .filter(|(_, float)| *float)
            .map(|(n, _)| n)
            .collect();
        let pick = |all: &[&String], at: &Index| match all.len() {
            0 => "1.0".to_string(),
            len => all[at.index(len)].clone(),
        };
        let w = pick(&floats, &self.float_param);
        let d = pick(
            &names.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            &self.any_param,
        );
        let fill = |template: &str, e: &str| fill(template, e, &w, &d);
        match &self.edit {
            AstEdit::ReplaceExpr(at, template) => {
                let total = NthExpr::count(&mut f.block);
                if total > 0 {
                    let text = template.text();
                    let mut visitor = NthExpr {
                        target: at.index(total),
                        seen: 0,
                        replace: |e: &Expr| syn::parse_str(&fill(&text, &operand_text(e))).ok(),
                    };
                    visitor.visit_block_mut(&mut f.block);
                }
            }
            AstEdit::ReplaceStmt(at, template) | AstEdit::InsertStmt(at, template) => {
                let Ok(stmt) = syn::parse_str::<syn::Stmt>(&fill(template, "")) else {
                    return;
                };
                let insert = matches!(self.edit, AstEdit::InsertStmt(..));
                edit_nth_stmt(&mut f.block, at, |stmts, i| {
                    if insert {
                        stmts.insert(i, stmt);
                    } else {
                        stmts[i] = stmt;
                    }
                });
            }
            AstEdit::DeleteStmt(at) => edit_nth_stmt(&mut f.block, at, |stmts, i| {
                stmts.remove(i);
            }),
            AstEdit::Signature(edit) => edit.apply(f),
        }
    }
}

impl SigEdit {
    fn apply(&self, f: &mut ItemFn) {
        let sig = &mut f.sig;
        match self {
            SigEdit::Return(ty) => {
                if let Ok(ty) = syn::parse_str::<syn::Type>(ty) {
                    sig.output = syn::ReturnType::Type(Default::default(), Box::new(ty));
                }
            }
            SigEdit::NoReturn => sig.output = syn::ReturnType::Default,
            SigEdit::AddParam(param, at) => {
                if let Ok(param) = syn::parse_str::<syn::FnArg>(param) {
                    let mut params: Vec<syn::FnArg> = sig.inputs.iter().cloned().collect();
                    params.insert(at.index(params.len() + 1), param);
                    sig.inputs = params.into_iter().collect();
                }
            }
            SigEdit::RetypeParam(ty, at) => {
                let Ok(ty) = syn::parse_str::<syn::Type>(ty) else {
                    return;
                };
                let len = sig.inputs.len();
                if let Some(syn::FnArg::Typed(pt)) = (len > 0)
                    .then(|| sig.inputs.iter_mut().nth(at.index(len)))
                    .flatten()
                {
                    *pt.ty = ty;
                }
            }
            SigEdit::Generics(generics) => {
                if let Ok(generics) = syn::parse_str::<syn::Generics>(generics) {
                    sig.generics = generics;
                }
            }
            SigEdit::Qualify(q) => match q {
                Qualifier::Async => sig.asyncness = Some(Default::default()),
                Qualifier::Unsafe => sig.unsafety = Some(Default::default()),
                Qualifier::Const => sig.constness = Some(Default::default()),
                Qualifier::ExternC => sig.abi = syn::parse_str("extern \"C\"").ok(),
            },
            SigEdit::Attribute(attr) => {
                let parsed = syn::parse::Parser::parse_str(syn::Attribute::parse_outer, attr);
                f.attrs.extend(parsed.unwrap_or_default());
            }
            SigEdit::Public => f.vis = syn::parse_quote!(pub),
            SigEdit::Rename(name) => {
                if let Some(TokenTree::Ident(id)) = lex(name).into_iter().next() {
                    sig.ident = id;
                }
            }
        }
    }
}

/// The function's named parameters, and whether each is a float.
fn param_names(f: &ItemFn) -> Vec<(String, bool)> {
    f.sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            syn::FnArg::Typed(pt) => match &*pt.pat {
                syn::Pat::Ident(pi) => {
                    let ty = pt.ty.to_token_stream().to_string();
                    Some((pi.ident.to_string(), ty == "f64" || ty == "f32"))
                }
                _ => None,
            },
            syn::FnArg::Receiver(_) => None,
        })
        .collect()
}

/// `template` with its placeholders filled in.
fn fill(template: &str, e: &str, w: &str, d: &str) -> String {
    template.replace("$e", e).replace("$w", w).replace("$d", d)
}

/// `e` as source text that stays one operand wherever a template puts it.
fn operand_text(e: &Expr) -> String {
    let text = e.to_token_stream().to_string();
    match e {
        Expr::Lit(_)
        | Expr::Path(_)
        | Expr::Paren(_)
        | Expr::Call(_)
        | Expr::MethodCall(_)
        | Expr::Field(_)
        | Expr::Index(_)
        | Expr::Tuple(_)
        | Expr::Array(_)
        | Expr::Block(_)
        | Expr::Macro(_) => text,
        _ => format!("({text})"),
    }
}

/// Replaces the `target`th expression of a block (depth first) by what `replace` makes of it.
struct NthExpr<F> {
    target: usize,
    seen: usize,
    replace: F,
}

impl NthExpr<fn(&Expr) -> Option<Expr>> {
    /// How many expressions `block` has, as `NthExpr` counts them.
    fn count(block: &mut syn::Block) -> usize {
        let mut counter = NthExpr {
            target: usize::MAX,
            seen: 0,
            replace: (|_| None) as fn(&Expr) -> Option<Expr>,
        };
        counter.visit_block_mut(block);
        counter.seen
    }
}

impl<F: FnMut(&Expr) -> Option<Expr>> VisitMut for NthExpr<F> {
    fn visit_expr_mut(&mut self, e: &mut Expr) {
        if self.seen == self.target {
            if let Some(new) = (self.replace)(e) {
                *e = new;
            }
            self.seen += 1;
            return;
        }
        self.seen += 1;
        visit_mut::visit_expr_mut(self, e);
    }
}

/// Calls `edit(stmts, i)` for the statement `at` picks among all the statements of `block`
/// and of the blocks nested in it.
fn edit_nth_stmt(
    block: &mut syn::Block,
    at: &Index,
    edit: impl FnOnce(&mut Vec<syn::Stmt>, usize),
) {
    /// Counts statements, block by block in visiting order; edits the `target`th.
    struct NthStmt<E> {
        target: usize,
        seen: usize,
        edit: Option<E>,
    }
    impl<E: FnOnce(&mut Vec<syn::Stmt>, usize)> VisitMut for NthStmt<E> {
        fn visit_block_mut(&mut self, b: &mut syn::Block) {
            let here = b.stmts.len();
            if (self.seen..self.seen + here).contains(&self.target) {
                if let Some(edit) = self.edit.take() {
                    edit(&mut b.stmts, self.target - self.seen);
                }
            }
            self.seen += here;
            visit_mut::visit_block_mut(self, b);
        }
    }
    let mut counter = NthStmt::<fn(&mut Vec<syn::Stmt>, usize)> {
        target: usize::MAX,
        seen: 0,
        edit: None,
    };
    counter.visit_block_mut(block);
    if counter.seen == 0 {
        return;
    }
    let mut editor = NthStmt {
        target: at.index(counter.seen),
        seen: 0,
        edit: Some(edit),
    };
    editor.visit_block_mut(block);
}

// ---------------------------------------------------------------------------------------------
// Inputs the properties found
// ---------------------------------------------------------------------------------------------

/// Minimal failing inputs of past runs, `(args, item)`, kept so they are checked on every run.
const FOUND: &[(&str, &str)] = &[
    // Emits `if c { crate } else { .. }`, which only `parse_file`'s second reading accepts.
    (
        "wrt = x",
        "fn branches(x: f64) -> f64 { let y = 2.0 * x; if y > 1.0 { y * crate } else { 0.5 * y } }",
    ),
];

#[test]
fn inputs_found_by_fuzzing() {
    on_macro_stack("found", || {
        install_panic_recorder();
        for (args, item) in FOUND {
            let input = MacroInput {
                args: lex(args),
                item: lex(item),
            };
            if let Err(e) = check_expansion(&input, &Tally::default()) {
                panic!("{input:?}: {e}");
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// The harness's own checks
// ---------------------------------------------------------------------------------------------

/// Every seed is valid, so mutations start from code the macro accepts.
#[test]
fn seeds_expand() {
    install_panic_recorder();
    for i in 0..SEEDS.len() {
        let (args, item) = seed_tokens(i);
        let tally = Tally::default();
        let input = MacroInput { args, item };
        if let Err(e) = check_expansion(&input, &tally) {
            panic!("seed {i}: {e}");
        }
        let out = expand::grad(input.args.clone(), input.item.clone());
        assert_eq!(tally.expanded.get(), 1, "seed {i} is refused: {out}");
    }
}

/// The vocabularies lex and the templates parse, so no edit silently does nothing.
#[test]
fn vocabularies_lex_and_templates_parse() {
    on_macro_stack("vocabularies", check_vocabularies);
}

fn check_vocabularies() {
    for text in [IDENTS, PUNCTS, LITERALS, FN_NAMES]
        .into_iter()
        .flat_map(words)
    {
        assert!(TokenStream::from_str(text).is_ok(), "`{text}` does not lex");
    }
    for e in ["x", "(a + b)"] {
        for template in EXPR_POOL {
            let text = fill(template, e, "x", "n");
            assert!(syn::parse_str::<Expr>(&text).is_ok(), "`{text}`");
        }
        for shape in NESTINGS {
            let text = fill(&shape.template(200), e, "x", "n");
            assert!(syn::parse_str::<Expr>(&text).is_ok(), "{shape:?}");
        }
    }
    for template in STMT_POOL {
        let text = fill(template, "", "x", "n");
        assert!(syn::parse_str::<syn::Stmt>(&text).is_ok(), "`{text}`");
    }
    for ty in RETURN_TYPES.iter().chain(PARAM_TYPES) {
        assert!(syn::parse_str::<syn::Type>(ty).is_ok(), "`{ty}`");
    }
    for param in PARAMS {
        assert!(syn::parse_str::<syn::FnArg>(param).is_ok(), "`{param}`");
    }
    for generics in GENERICS {
        assert!(
            syn::parse_str::<syn::Generics>(generics).is_ok(),
            "`{generics}`"
        );
    }
    for attr in ATTRIBUTES {
        let parsed = syn::parse::Parser::parse_str(syn::Attribute::parse_outer, attr);
        assert!(parsed.is_ok_and(|a| a.len() == 1), "`{attr}`");
    }
    for name in words(FN_NAMES) {
        let first = lex(name).into_iter().next();
        assert!(matches!(first, Some(TokenTree::Ident(_))), "`{name}`");
    }
}
