//! Writes `$OUT_DIR/generated.rs`: fixed-seed batches of random programs (`grad-testgen`),
//! each with `#[grad]`, and a `check_all` that compares the compiled companions with the
//! oracle's gradients (embedded as exact literals) and the compiled original's value.
//!
//! Seven batches: programs of the straight-line language (`f0`, `f1`, ..; the one the IR path
//! checks too), of the loop language (`g0`, `g1`, ..: loops, jumps, `match`, arrays, iterator
//! sums), callers of generated helpers (`c0`, `c1`, ..: calls between `#[grad]` functions),
//! straight-line programs compiled with `mode = forward` and with `hessian` (`s0_fwd`,
//! `s0`, `s0_both`, ..: see [`Second`]), functions returning several floats, whose
//! `_jacobian` is compiled in the default mode, with `mode = forward` and with `mode =
//! reverse` (`j0`, `j0_fwd`, `j0_rev`, ..: see [`Jacobians`]), and programs of the loop
//! language (`wrt` arrays and local arrays included) compiled with `mode = forward` and with
//! `hessian` (`l0_fwd`, `l0`, `l0_both`, ..: [`Second`] again, over the flattened `wrt`
//! values), and escape programs that must compile (`e0`, `e1`, ..: `grad_testgen::escape`,
//! data escaping and what the macro models, with the items they call written once), and an
//! eighth of array state (`st0`, `st0_fwd`, ..: `gen::state_program`, arrays copied and
//! assigned whole, written after and inside the loops that read them, in reverse and forward
//! mode; see [`STATE_FEATURES`]), and a
//! ninth of arrays across calls (`ac0`, `ac0_fwd`, ..: `gen::array_call_program`, callers of
//! helpers taking arrays by value and by reference and returning arrays, with the eighth
//! batch's array state, in reverse and forward mode; see [`ARRAY_CALL_FEATURES`]), and a
//! tenth of the eighth's language compiled with `mode = forward` and with `hessian` (`sh0`,
//! `sh0_fwd`, `sh0_both`, ..: [`Second`] again, and the reverse-mode gradient of `sh0`, the
//! sweep its Hessian differentiates), each from its own random stream, so adding one batch does
//! not change the others.
//! A caller's helpers (`c0_h0`, ..) are written next to it, in the nested module `m`, or,
//! `pub`, in `$OUT_DIR/calls.rs`, which this crate's library includes (`src/lib.rs`): the test
//! calls those across crates. `GRAD_COMPILED_CASES` sets the size of all seven (default 40, 40,
//! 40, 20, 20, 20, and 60 escape programs drawn), `GRAD_COMPILED_ESCAPE_CASES` the seventh's, `GRAD_COMPILED_LOOP_CASES`, `GRAD_COMPILED_CALL_CASES`,
//! `GRAD_COMPILED_SECOND_CASES`, `GRAD_COMPILED_JACOBIAN_CASES` and
//! `GRAD_COMPILED_LOOP_SECOND_CASES` that of the second, the third, the fourth, the fifth and
//! the sixth alone, `GRAD_COMPILED_STATE_CASES` that of the eighth (default 20; not set by
//! `GRAD_COMPILED_CASES`, so earlier long-run commands keep their meaning),
//! `GRAD_COMPILED_ARRAY_CALL_CASES` that of the ninth (default 20, not set by
//! `GRAD_COMPILED_CASES` either), `GRAD_COMPILED_STATE_SECOND_CASES` that of the tenth
//! (default 10, nor that one), `GRAD_COMPILED_STRUCT_CASES` that of the eleventh (programs of
//! the loop language and of array state with their `wrt` parameters in a struct: `su0`, ..;
//! default 20, nor that one), `GRAD_COMPILED_STRUCT_SECOND_CASES` that of the twelfth (the
//! eleventh's programs with `mode = forward` and `hessian`, checked as the tenth's: `sg0`, ..;
//! default 10, nor that one), `GRAD_COMPILED_CALL_SECOND_CASES` that of the thirteenth
//! (callers of helpers of floats, the helpers asking for `hessian` too, compiled with `mode =
//! forward` and `hessian`: `ch0`, ..; default 10, nor that one),
//! `GRAD_COMPILED_GENERIC_CASES` that of each half of the fourteenth (the sixth batch's loop
//! programs and the thirteenth's callers, written generic over the float type, `fn
//! f<T: Real>`, and instantiated at `f64`: `gn0`, .., `gc0`, ..; default 6, nor that one),
//! `GRAD_COMPILED_RULE_CASES` that of the fifteenth (the thirteenth's callers, each helper a
//! `#[backprop::rule]` with its partials written out: `cr0`, ..; default 6, nor that one),
//! `GRAD_COMPILED_ARRAY_SECOND_CASES` that of the sixteenth (callers of helpers taking arrays,
//! the ninth batch's language, with `hessian`: `ca0`, ..; default 6, nor that one),
//! `GRAD_FUZZ_SEED` the seed.

use grad_testgen::ast::{CallSite, Cond, Expr, Header, Jump, Place, ReduceKind, Stmt};
use grad_testgen::{gen, oracle, Multi, Point, Program};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::fmt::Write;

fn env(name: &str) -> Option<u64> {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

fn runner(seed: u64, stream: u8) -> TestRunner {
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    seed_bytes[8] = stream;
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    )
}

/// The features of the loop language a program's source shows, for the run's summary.
const FEATURES: &[(&str, &str)] = &[
    ("for over a range", " in 0.."),
    ("inclusive range", "..="),
    (".rev()", ".rev()"),
    ("range from data", "unsigned_abs()"),
    ("for over an array", ".iter()"),
    (".enumerate()", ".enumerate()"),
    (".zip(..)", ".zip("),
    ("while", "while "),
    ("data slice re-sliced (xs = &xs[1..])", "[1..];"),
    ("break", "break;"),
    ("continue", "continue;"),
    ("return", "return "),
    ("match", "match "),
    ("local array", "[0.0; "),
    ("wrt array", "wa: [f64"),
    ("iterator sum", ".sum::<f64>()"),
    ("iterator product", ".product::<f64>()"),
];

/// What the programs of array state (the eighth batch) show, read off the printer's layout
/// (one statement a line, a block opened at the end of a line): the name and a test of the
/// source (see [`state_features`]).
const STATE_FEATURES: &[&str] = &[
    "copy of wa",
    "copy of xs",
    "copy of a local array",
    "whole assignment from an array",
    "whole assignment of zeros",
    "whole assignment in a loop",
    "copy or whole assignment in a branch",
    "store in a loop reading the same array",
    "store after a loop that read the array",
    "double-buffered loop (let mut zb = za; .. za = zb;)",
    "read of the element before (z[i - 1], z[(i + n - 1) % n])",
    "activation stored as it is (z[i] = (..).tanh();)",
    "array built and summed in each iteration (an MLP's layer)",
    "stencil reading z[i - 1] and z[i + 1] (its sweep split by offset)",
];

/// Which of [`STATE_FEATURES`] `source` shows.
fn state_features(source: &str) -> Vec<bool> {
    let mut f = vec![false; STATE_FEATURES.len()];
    let is_array =
        |w: &str| w.len() > 1 && w.starts_with('z') && w[1..].bytes().all(|b| b.is_ascii_digit());
    // The open blocks: whether each is a loop's body (else a branch), its lines so far, and
    // the copies made in it (`let mut zb = za;`: (za, zb)).
    struct Block<'a> {
        is_loop: bool,
        text: String,
        copies: Vec<(&'a str, &'a str)>,
        zeros: Vec<&'a str>,
    }
    let mut blocks: Vec<Block> = Vec::new();
    // Arrays some closed loop read, and where that loop was (depth).
    let mut read_by_loop: Vec<(String, usize)> = Vec::new();
    for line in source.lines() {
        let t = line.trim();
        for b in &mut blocks {
            b.text.push_str(t);
            b.text.push('\n');
        }
        let in_loop = blocks.iter().any(|b| b.is_loop);
        let in_branch = blocks.last().is_some_and(|b| !b.is_loop);
        if let Some(rest) = t.strip_prefix("let mut ") {
            if let Some((name, value)) = rest.split_once(" = ") {
                let value = value.trim_end_matches(';');
                if is_array(name) {
                    f[0] |= value == "wa";
                    f[1] |= value == "xs";
                    f[2] |= is_array(value);
                    f[6] |= in_branch && (is_array(value) || value == "wa" || value == "xs");
                    if let Some(b) = blocks.last_mut() {
                        if is_array(value) {
                            b.copies.push((value, name));
                        } else if b.is_loop && value.starts_with("[0.0") {
                            b.zeros.push(name);
                        }
                    }
                }
            }
        } else if let Some((target, value)) = t.split_once(" = ") {
            let value = value.trim_end_matches(';');
            if is_array(target) {
                let from_array = is_array(value) || value == "wa" || value == "xs";
                f[3] |= from_array;
                f[4] |= value.starts_with("[0.0");
                f[5] |= in_loop;
                f[6] |= in_branch;
                f[9] |= blocks
                    .iter()
                    .any(|b| b.is_loop && b.copies.iter().any(|&(a, c)| a == target && c == value));
            }
        }
        // A store: `zN[..] op= value`.
        if let Some((place, value)) = [" = ", " += ", " -= "]
            .iter()
            .find_map(|op| t.split_once(op))
        {
            if let Some((name, _)) = place.split_once('[') {
                if is_array(name) && !place.starts_with("let ") {
                    f[11] |= value.trim_end_matches(';').ends_with(".tanh()");
                    f[13] |= value.contains(" - 1]") && value.contains(" + 1]");
                    f[7] |= in_loop && value.contains(&format!("{name}["));
                    f[8] |= read_by_loop
                        .iter()
                        .any(|(a, depth)| a == name && *depth <= blocks.len());
                }
            }
        }
        f[10] |= t.contains(" - 1]")
            || (t.contains(" + ")
                && t.contains(") % ")
                && {
                    // `(i + n - 1) % n`: the addend is the modulus less one.
                    t.split(") % ").zip(t.split(") % ").skip(1)).any(|(before, after)| {
                let n: String = after.chars().take_while(char::is_ascii_digit).collect();
                let add: String = before
                    .chars()
                    .rev()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect();
                matches!((add.parse::<usize>(), n.parse::<usize>()), (Ok(a), Ok(n)) if n > 1 && a + 1 == n)
            })
                });
        if let Some((_, value)) = t.split_once(" += ") {
            f[12] |= blocks.last().is_some_and(|b| {
                b.is_loop
                    && b.zeros.iter().any(|z| {
                        value
                            .trim_start_matches('(')
                            .starts_with(&format!("{z}.iter()"))
                    })
            });
        }
        let opened = t.matches('{').count() as isize - t.matches('}').count() as isize;
        if t.starts_with('}') && t.ends_with('{') {
            // `} else {`: the branch goes on.
            continue;
        }
        if opened > 0 {
            let is_loop = t.starts_with("for ") || t.starts_with("while ");
            blocks.push(Block {
                is_loop,
                text: format!("{t}\n"),
                copies: Vec::new(),
                zeros: Vec::new(),
            });
        } else if opened < 0 {
            if let Some(b) = blocks.pop() {
                if b.is_loop {
                    for w in b
                        .text
                        .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
                    {
                        if is_array(w) && !read_by_loop.iter().any(|(a, _)| a == w) {
                            read_by_loop.push((w.to_string(), blocks.len()));
                        }
                    }
                }
            }
        }
    }
    f
}

#[derive(Default)]
struct Batch {
    /// The original function takes its first argument by reference (`with_ref_param`): the
    /// check calls it with `&a0`, its companions with `a0`.
    first_by_ref: bool,
    fns: String,
    checks: String,
    programs: usize,
    features: Vec<usize>,
    /// Programs reading a local array at another index than the loop variable's (see
    /// [`reads_other_index`]), and of them, right after the loop that fills it
    /// ([`Program::reads_fill_at_other_index`]).
    other_index: usize,
    fill_other_index: usize,
    /// Programs showing each of [`STATE_FEATURES`] (the eighth batch).
    state: Vec<usize>,
    /// Points checked, and gradient components the oracle says are not 0 there.
    points: usize,
    nonzero: usize,
    /// Helpers in the nested module, and in the library (another crate).
    module: String,
    lib: String,
    /// The calls in the source, and how many the oracle ran at the points checked.
    sites: Vec<CallSite>,
    calls_run: usize,
    /// Programs showing each of [`ARRAY_CALL_FEATURES`] (the ninth batch), and points checked
    /// in forward mode.
    array_calls: Vec<usize>,
    forward_points: usize,
    /// Points checked of programs compiled again with `checkpoint` or `ordered_sums`
    /// (`Batch::add_variant`).
    checkpoint_points: usize,
    ordered_points: usize,
    lanes_points: usize,
}

/// `source` with its final expression `E` given by local closures (issue 22): `let __tail = ||
/// E; let __times = |v: f64, u: f64| v * u; __times(__tail(), 1.0)`, the same value (`E · 1`):
/// a closure capturing the function's values, one given a differentiated argument, and a call
/// as another's argument. `None` if the source does not end as the printer writes it.
fn with_closures(source: &str) -> Option<String> {
    let body = source.strip_suffix("\n}\n")?;
    let at = body.rfind("\n    ")?;
    let last = &body[at + 5..];
    if last.starts_with("let ") || last.ends_with(';') || last.ends_with('}') {
        return None;
    }
    Some(format!(
        "{}\n    let __tail = || {last};\n    let __times = |v: f64, u: f64| v * u;\n    __times(__tail(), 1.0)\n}}\n",
        &body[..at]
    ))
}

/// `source` with each assignment `v op= E;` of a block (a loop's or a branch's body) given by a
/// local closure written there: `let __c = || E; let __t = __c(); v op= __t;`, the same value
/// (a closure defined in a loop, reading its carried values and loop variables), and, one in
/// two, read through a reference (`let __r = &__t; v op= *__r;`: arithmetic's value, an
/// `if`'s, a loop's alike); one assignment in three by a closure with parameters instead,
/// given the carried value and the expression (`let __c = |__v: f64, __e: f64| __v + __e; v =
/// __c(v, E);`). Whether any was rewritten.
fn with_inner_closures(source: &str) -> (String, bool) {
    let mut out = String::new();
    let mut any = false;
    let mut written = 0;
    for line in source.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        let parts = t.strip_suffix(';').and_then(|t| {
            let (lhs, rhs) = t.split_once(" = ").or_else(|| {
                ["+=", "-=", "*=", "/="]
                    .iter()
                    .find_map(|op| t.split_once(&format!(" {op} ")[..]))
            })?;
            let op = &t[lhs.len()..t.len() - rhs.len()];
            let simple = lhs.starts_with('v') && lhs[1..].bytes().all(|b| b.is_ascii_digit());
            (simple && !rhs.contains("return") && !rhs.contains("break")).then_some((lhs, op, rhs))
        });
        match parts {
            Some((lhs, op, rhs)) if indent >= 8 && written % 3 == 2 => {
                // A closure with parameters, given the carried value and the expression:
                // `v = __c(v, E)` for `v op= E`.
                let pad = " ".repeat(indent);
                let bin = op.trim().trim_end_matches('=');
                let _ = if bin.is_empty() {
                    writeln!(
                        out,
                        "{pad}let __c = |__e: f64| __e;\n{pad}{lhs} = __c({rhs});"
                    )
                } else {
                    writeln!(
                        out,
                        "{pad}let __c = |__v: f64, __e: f64| __v {bin} __e;\n{pad}{lhs} = __c({lhs}, {rhs});"
                    )
                };
                written += 1;
                any = true;
            }
            Some((lhs, op, rhs)) if indent >= 8 => {
                written += 1;
                let pad = " ".repeat(indent);
                // The value is read through a reference too (`&__t`, `*__r`), one in two: an
                // `if`'s, a loop's (an iterator's sum) and arithmetic's alike.
                let through_ref = out.len() % 2 == 0;
                let read = if through_ref {
                    format!("{pad}let __r = &__t;\n{pad}{lhs}{op}*__r;")
                } else {
                    format!("{pad}{lhs}{op}__t;")
                };
                let _ = writeln!(
                    out,
                    "{pad}let __c = || {rhs};\n{pad}let __t = __c();\n{read}"
                );
                any = true;
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    (out, any)
}

/// The helpers of the nineteenth batch: `#[grad]` functions writing a `&mut` float (each
/// compound assignment) or an array of three floats (scaled in place).
const OUT_HELPERS: &str = "#[grad(hessian)]\nfn __out_set(v: &mut f64, e: f64) {\n    *v = e;\n}\n#[grad(hessian)]\nfn __out_add(v: &mut f64, e: f64) {\n    *v += e;\n}\n#[grad(hessian)]\nfn __out_sub(v: &mut f64, e: f64) {\n    *v -= e;\n}\n#[grad(hessian)]\nfn __out_mul(v: &mut f64, e: f64) {\n    *v *= e;\n}\n#[grad(hessian)]\nfn __out_div(v: &mut f64, e: f64) {\n    *v /= e;\n}\n#[grad(hessian)]\nfn __out_scale3(v: &mut [f64; 3], k: f64) {\n    for i in 0..3 {\n        v[i] *= k;\n    }\n}\n";

/// `source` with each assignment `v op= E;` (`v` a float local, or an element `z[i]`) written
/// as a call of a `#[grad]` helper writing it through `&mut` (`let __e = E; __out_add(&mut v,
/// __e);`, issue 22), and each array of three floats made a copy of `wa` or zeros scaled in
/// place by 1 (`__out_scale3(&mut z, 1.0);`): the same values. One float assignment in three
/// is written through a local alias instead (`let __a = &mut v; *__a += __e;`). Float locals are declared with
/// their type (`let mut v0: f64 = ..`), as the macro asks of a float it lends whose `let` does
/// not show it. Left as they are: assignments in a loop's branch, a `while`, an inner loop, or
/// after a jump in a loop (a call there whose value the sweep needs is refused, the third
/// batch's known stop), and functions with a `while` (the same).
/// How many assignments, arrays and aliases were rewritten.
fn with_out_params(source: &str) -> (String, usize, usize, usize) {
    // (A call anywhere in a function with a `while` may be refused: the third batch's known
    // stop.)
    if source.contains("while ") {
        return (source.to_string(), 0, 0, 0);
    }
    let mut out = String::new();
    let (mut assignments, mut arrays, mut aliases) = (0, 0, 0);
    // The blocks around: a loop (`for`, `loop`), a branch (`if`, `else`, `match`, `while`), or
    // the function; and whether a loop has jumped.
    #[derive(PartialEq)]
    enum Around {
        Loop,
        Branch,
        Other,
    }
    let mut around: Vec<(Around, bool)> = Vec::new();
    for line in source.lines() {
        let indent = line.len() - line.trim_start().len();
        let pad = " ".repeat(indent);
        let t = line.trim_start();
        if t.starts_with('}') {
            around.pop();
        }
        let loops = around.iter().filter(|a| a.0 == Around::Loop).count();
        let in_branch = around.iter().any(|a| a.0 == Around::Branch);
        let jumped = around.iter().any(|a| a.1);
        let free = loops == 0 || (loops == 1 && !in_branch && !jumped);
        let opens = t.ends_with('{');
        if opens {
            // (A `while` is a loop whose body is a branch.)
            let kind = if t.starts_with("for ") || t.starts_with("loop ") || t.starts_with("while ")
            {
                Around::Loop
            } else if t.starts_with("if ") || t.starts_with("} else") || t.starts_with("match ") {
                Around::Branch
            } else {
                Around::Other
            };
            around.push((kind, t.starts_with("while ")));
        }
        // (A `break` or `continue` guards the rest of its loop; a `return`, of every loop
        // around.)
        if t.contains("return") {
            for l in around.iter_mut().filter(|a| a.0 == Around::Loop) {
                l.1 = true;
            }
        } else if t.contains("break") || t.contains("continue") {
            if let Some(l) = around.iter_mut().rev().find(|a| a.0 == Around::Loop) {
                l.1 = true;
            }
        }
        // A float local, declared with its type.
        if let Some(rest) = t.strip_prefix("let mut v") {
            if let Some((n, init)) = rest.split_once(" = ") {
                if n.bytes().all(|b| b.is_ascii_digit()) {
                    let _ = writeln!(out, "{pad}let mut v{n}: f64 = {init}");
                    continue;
                }
            }
        }
        let parts = t.strip_suffix(';').filter(|_| free).and_then(|t| {
            if t.starts_with("let ") || t.starts_with("return") {
                return None;
            }
            let (lhs, rhs, op) = [
                (" = ", "set"),
                (" += ", "add"),
                (" -= ", "sub"),
                (" *= ", "mul"),
                (" /= ", "div"),
            ]
            .iter()
            .find_map(|(sep, op)| t.split_once(sep).map(|(l, r)| (l, r, *op)))?;
            let var = lhs.starts_with('v') && lhs[1..].bytes().all(|b| b.is_ascii_digit());
            let elem = lhs.starts_with('z') && lhs.contains('[') && lhs.ends_with(']');
            let jumps = ["return", "break", "continue"]
                .iter()
                .any(|j| rhs.contains(j));
            ((var || elem) && !jumps).then_some((lhs, rhs, op))
        });
        if let Some((lhs, rhs, op)) = parts {
            // One in three of a float's through a local alias (`let __a = &mut v0; *__a +=
            // __e;`), the others by a helper.
            let sign = match op {
                "set" => "=",
                "add" => "+=",
                "sub" => "-=",
                "mul" => "*=",
                _ => "/=",
            };
            if assignments % 3 == 2 && !lhs.contains('[') {
                let _ = writeln!(
                    out,
                    "{pad}let __e = {rhs};\n{pad}let __a = &mut {lhs};\n{pad}*__a {sign} __e;"
                );
                aliases += 1;
            } else {
                let _ = writeln!(
                    out,
                    "{pad}let __e = {rhs};\n{pad}__out_{op}(&mut {lhs}, __e);"
                );
            }
            assignments += 1;
            continue;
        }
        out.push_str(line);
        out.push('\n');
        // `let mut z0 = wa;`, `let mut z1 = [0.0; 3];`: scaled by 1 in place.
        if let Some(rest) = t.strip_prefix("let mut z").filter(|_| free) {
            if let Some((n, init)) = rest.split_once(" = ") {
                let three = init == "wa;" || init == "[0.0; 3];" || init == "[0.0_f64; 3];";
                if three && n.bytes().all(|b| b.is_ascii_digit()) {
                    let _ = writeln!(out, "{pad}__out_scale3(&mut z{n}, 1.0);");
                    arrays += 1;
                }
            }
        }
    }
    (out, assignments, arrays, aliases)
}

/// `source` with its first `wrt` parameter `w0` taken as `&f64` (issue 22), read as `(*w0)`
/// wherever the body names it; `None` when it has no `w0`.
fn with_ref_param(source: &str) -> Option<String> {
    let mut out = String::new();
    let mut in_body = false;
    let mut found = false;
    for line in source.lines() {
        if !in_body && line.starts_with("fn ") {
            let sig = line.replacen("w0: f64", "w0: &f64", 1);
            found = sig != line;
            out.push_str(&sig);
            out.push('\n');
            in_body = true;
            continue;
        }
        if in_body {
            // `w0` as a whole name (not `w01`, not `xw0`).
            let mut rest = line;
            while let Some(k) = rest.find("w0") {
                let before = rest[..k].chars().last();
                let after = rest[k + 2..].chars().next();
                let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                out.push_str(&rest[..k]);
                out.push_str(if ident(before) || ident(after) {
                    "w0"
                } else {
                    "(*w0)"
                });
                rest = &rest[k + 2..];
            }
            out.push_str(rest);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    found.then_some(out)
}

/// The seventeenth batch: programs of the loop language (loops, jumps, `match`, branches,
/// `max`, iterator sums) compiled with `trace` (`tr0`, ..), and as many callers of generated
/// helpers of floats (`trc0`, ..: the third batch's language), whose table must give `_grad`'s
/// gradient to the bit and the function's value, and whose rows must follow the chain rule
/// (`check_trace`); and programs of array state (the eighth batch's language: arrays copied,
/// carried through time loops, accumulated into), `trs0`, ...
#[derive(Default)]
struct Traces {
    fns: String,
    checks: String,
    programs: usize,
    points: usize,
    /// Programs with a loop, an `if` or `match`, and `max` or `min`.
    loops: usize,
    branches: usize,
    max: usize,
    /// Callers of generated helpers, and their call sites.
    callers: usize,
    sites: usize,
    /// Programs with arrays that carry derivatives, and of array state.
    arrays: usize,
    state: usize,
}

impl Traces {
    fn add(&mut self, name: &str, p: &Program, points: &[Point]) {
        let source = p.source_with(name, "trace");
        self.programs += 1;
        self.arrays += usize::from(p.wrt_array || source.contains("[0.0; "));
        self.loops += usize::from(
            source.contains("for ") || source.contains("while ") || source.contains("loop {"),
        );
        self.branches += usize::from(source.contains("if ") || source.contains("match "));
        self.max += usize::from(source.contains(".max(") || source.contains(".min("));
        self.fns.push_str(&source);
        let mut names: Vec<String> = (0..p.n_wrt).map(|j| format!("\"w{j}\"")).collect();
        names.extend((0..p.n_grad() - p.n_wrt).map(|j| format!("\"wa[{j}]\"")));
        for pt in points {
            if oracle::value_and_gradient(p, pt).is_none() {
                continue;
            }
            self.points += 1;
            let args = p.args(pt);
            let a: Vec<String> = (0..args.len()).map(|j| format!("a{j}")).collect();
            let (args, a) = (args.join(", "), a.join(", "));
            let _ = writeln!(
                self.checks,
                "    let ({a},) = std::hint::black_box(({args},));\n    n += check_trace({source:?}, \"{args}\", &[{}], || {name}({a}), || {name}_grad({a}), || {name}_trace({a}));",
                names.join(", ")
            );
        }
    }

    /// A caller of generated helpers of floats (the third batch's language) with `trace`: each
    /// call a node. Its helpers go where `calls` puts its own (this module, `m`, the library).
    fn add_caller(&mut self, name: &str, mut p: Program, points: &[Point], calls: &mut Batch) {
        p.name_callees(name);
        // (A helper returning an array: its call is not shown.)
        let arrays = p.callees.iter().any(|c| !c.source().contains(") -> f64 {"));
        // A call in a branch of a loop (a `while`'s body is one) whose value the sweep needs
        // is refused, with or without `trace` (the third batch's known stop).
        let source = p.source(name);
        // So is, the same way, a call in a loop given an `if`'s value.
        let calls_in_if = source.lines().any(|l| {
            l.contains("if ") && (l.contains("_h0(") || l.contains("_h1(") || l.contains("_h2("))
        });
        let refused = p
            .call_sites()
            .iter()
            .any(|c| c.in_loop && (c.in_branch || calls_in_if || source.contains("while ")));
        if arrays || refused {
            return;
        }
        calls.add_callees(&p);
        self.callers += 1;
        self.sites += p.call_sites().len();
        self.add(name, &p, points);
    }

    fn summary(&self) -> String {
        format!(
            "{} programs with `trace` ({} points; with a loop {}, with a branch {}, with `max` or `min` {}, with arrays that carry derivatives {}, of array state {}; {} of them callers, through {} call sites)",
            self.programs, self.points, self.loops, self.branches, self.max, self.arrays, self.state, self.callers, self.sites
        )
    }
}

/// What the callers of the ninth batch (arrays across calls) show: the name (see
/// [`Batch::array_features`]).
const ARRAY_CALL_FEATURES: &[&str] = &[
    "float helper taking an array by value",
    "float helper taking an array by reference",
    "array-valued helper taking arrays by value (or none)",
    "array-valued helper taking an array by reference",
    "call with an array argument in a loop",
    "array-valued call in a loop",
    "call with arrays in a branch",
    "loop calling and writing arrays",
    "result annotated (let mut z: [f64; 3] = h(..))",
    "result assigned whole (z = h(..))",
    "result passed on to a call",
    "result stored into",
];

/// Whether a loop (`s` or one inside it) calls and writes an array (a store, a whole
/// assignment or a call's result assigned).
fn loop_calls_and_writes(s: &Stmt) -> bool {
    fn calls(s: &Stmt) -> bool {
        let call = |e: &Expr| e.any(&|e| matches!(e, Expr::Call(_)));
        match s {
            Stmt::ArrayCall { .. } => true,
            Stmt::Let { value, .. } | Stmt::Assign { value, .. } | Stmt::Store { value, .. } => {
                call(value)
            }
            Stmt::If { cond, then, els } => {
                cond.any(&|e| matches!(e, Expr::Call(_))) || then.iter().chain(els).any(calls)
            }
            Stmt::Loop { body, .. } => body.iter().any(calls),
            _ => false,
        }
    }
    fn writes(s: &Stmt) -> bool {
        match s {
            Stmt::Store { .. } | Stmt::ArrayAssign { .. } => true,
            Stmt::ArrayCall { assign, .. } => assign.is_some(),
            Stmt::If { then, els, .. } => then.iter().chain(els).any(writes),
            Stmt::Loop { body, .. } => body.iter().any(writes),
            _ => false,
        }
    }
    match s {
        Stmt::Loop { body, .. } => {
            (body.iter().any(calls) && body.iter().any(writes))
                || body.iter().any(loop_calls_and_writes)
        }
        Stmt::If { then, els, .. } => then.iter().chain(els).any(loop_calls_and_writes),
        _ => false,
    }
}

impl Batch {
    /// A caller: its helpers, named after it, go where they live, then the caller itself.
    fn add_caller(&mut self, name: &str, mut p: Program, points: &[Point]) {
        p.name_callees(name);
        self.add_callees(&p);
        self.sites.extend(p.call_sites());
        self.add(name, &p, points);
    }

    /// `p`'s helpers, each where the caller finds it: this module, `m`, the library.
    fn add_callees(&mut self, p: &Program) {
        for c in &p.callees {
            let out = match c.place {
                Place::Here | Place::Super => &mut self.fns,
                Place::Module => &mut self.module,
                Place::Crate => &mut self.lib,
            };
            out.push_str(&c.source());
        }
    }

    /// The summary of the calls.
    fn calls(&self) -> String {
        let count = |f: &dyn Fn(&CallSite) -> bool| self.sites.iter().filter(|c| f(c)).count();
        format!(
            "{} call sites: {} in the same module, {} by `m::` path, {} by `super::` path, {} in another crate; {} to building blocks, {} to `wrt` helpers; {} inside loops ({} there in a branch of an `if`), {} with a call as argument, {} between helpers, {} recursive; {} calls run at the points checked",
            self.sites.len(),
            count(&|c| c.place == Place::Here && !c.recursive),
            count(&|c| c.place == Place::Module && !c.recursive),
            count(&|c| c.place == Place::Super),
            count(&|c| c.place == Place::Crate && !c.recursive),
            count(&|c| c.building_block),
            count(&|c| !c.building_block),
            count(&|c| c.in_loop),
            count(&|c| c.in_loop && c.in_branch),
            count(&|c| c.nested),
            count(&|c| c.in_helper && !c.recursive),
            count(&|c| c.recursive),
            self.calls_run,
        )
    }

    fn add(&mut self, name: &str, p: &Program, points: &[Point]) {
        self.add_source(name, p.source(name), p, points);
    }

    /// A caller of the ninth batch (arrays across calls): as [`Batch::add_caller`], and the
    /// same caller again with `mode = forward` (`{name}_fwd`, calling the same helpers), whose
    /// `_value_and_grad`, `_grad` and `_jvp` (along [`TANGENT`], shaped like the `wrt`
    /// parameters) are checked against the oracle too.
    fn add_array_caller(&mut self, name: &str, mut p: Program, points: &[Point]) {
        let before = self.sites.len();
        self.add_caller(name, p.clone(), points);
        p.name_callees(name);
        self.array_features(&p, before);
        let fwd = format!("{name}_fwd");
        let source = p.source_with(&fwd, "mode = forward");
        self.fns.push_str(&source);
        let mut shown = String::new();
        for c in &p.callees {
            let _ = write!(shown, "// {}\n{}", c.path(), c.source());
        }
        let shown = shown + &p.source(name) + &source;
        let n = p.n_grad();
        let list = |v: &[f64]| {
            let v: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
            v.join(", ")
        };
        let mut components: Vec<String> = (0..p.n_wrt).map(|j| format!("\"w{j}\"")).collect();
        components.extend((0..n - p.n_wrt).map(|j| format!("\"wa[{j}]\"")));
        let t = &TANGENT[..n];
        let mut t_args: Vec<String> = t[..p.n_wrt].iter().map(|x| format!("{x:?}")).collect();
        let mut tn: Vec<String> = (0..p.n_wrt).map(|j| format!("t{j}")).collect();
        // The `wrt` array's tangent, when there is one (the eighth batch's programs may have
        // none).
        if n > p.n_wrt {
            t_args.push(format!("[{}]", list(&t[p.n_wrt..])));
            tn.push("ta".into());
        }
        let (t_args, tn) = (t_args.join(", "), tn.join(", "));
        for pt in points {
            let Some(oracle::Expected {
                value,
                gradient,
                scale,
            }) = oracle::value_and_gradient(&p, pt)
            else {
                continue;
            };
            if !gradient.iter().all(|g| g.is_finite() && g.abs() < 1e8)
                || !scale.iter().all(|s| s.is_finite())
            {
                continue;
            }
            self.forward_points += 1;
            let args = p.args(pt);
            let names: Vec<String> = (0..args.len()).map(|j| format!("a{j}")).collect();
            let (args, names) = (args.join(", "), names.join(", "));
            let _ = writeln!(
                self.checks,
                "    let ({names}, ({tn},)) = std::hint::black_box(({args}, ({t_args},)));\n    let case = SecondCase {{ source: {shown:?}, args: \"{args}\", components: &[{}], value: {value:?}, gradient: &[{}], scale: &[{}], tangent: &[{}], vector: &[], hessian: &[], hessian_scale: &[] }};\n    n += check_forward(&case, || {name}({names}), || {fwd}_value_and_grad({names}), || {fwd}_grad({names}), || {fwd}_jvp({names}, {tn}));",
                components.join(", "),
                list(&gradient),
                list(&scale),
                list(t),
            );
        }
    }

    /// Counts the ninth batch's features of `p` (its call sites from `before` on).
    fn array_features(&mut self, p: &Program, before: usize) {
        let sites = &self.sites[before..];
        let source = p.source("f");
        let mut f = vec![false; ARRAY_CALL_FEATURES.len()];
        f[0] = sites
            .iter()
            .any(|c| !c.returns_array && c.array_arg == Some(false));
        f[1] = sites
            .iter()
            .any(|c| !c.returns_array && c.array_arg == Some(true));
        f[2] = sites
            .iter()
            .any(|c| c.returns_array && c.array_arg != Some(true));
        f[3] = sites
            .iter()
            .any(|c| c.returns_array && c.array_arg == Some(true));
        f[4] = sites.iter().any(|c| c.array_arg.is_some() && c.in_loop);
        f[5] = sites.iter().any(|c| c.returns_array && c.in_loop);
        f[6] = sites
            .iter()
            .any(|c| (c.array_arg.is_some() || c.returns_array) && c.in_branch);
        f[7] = p.stmts.iter().any(loop_calls_and_writes);
        // Results: `let mut zN = ..h(` / `let mut zN: [f64; 3] = ..h(`, `zN = ..h(`.
        let mut results: Vec<String> = Vec::new();
        for line in source.lines().map(str::trim) {
            let call = line.contains("h0(") || line.contains("h1(") || line.contains("h2(");
            if let Some(rest) = line.strip_prefix("let mut z") {
                if call {
                    let name: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    f[8] |= rest.contains(": [f64; ");
                    results.push(format!("z{name}"));
                    continue;
                }
            }
            if call && line.starts_with('z') && line.split(' ').nth(1) == Some("=") {
                f[9] = true;
            }
            for r in &results {
                let passed = [
                    format!("({r},"),
                    format!("({r})"),
                    format!(" {r},"),
                    format!(" {r})"),
                    format!("&{r},"),
                    format!("&{r})"),
                ];
                f[10] |= call && passed.iter().any(|x| line.contains(x.as_str()));
                f[11] |= line.starts_with(&format!("{r}["));
            }
        }
        self.array_calls.resize(ARRAY_CALL_FEATURES.len(), 0);
        for (n, on) in self.array_calls.iter_mut().zip(f) {
            *n += usize::from(on);
        }
    }

    /// A program written as `source`, which the oracle differentiates as `p` (an escape
    /// program: the base program with what it reads back added to its result).
    /// `p` compiled again as `name` with `#[grad(.., checkpoint)]`, checked as the batch's own
    /// programs are, but not counted in its figures (its points go to `checkpoint_points`).
    fn add_checkpointed(&mut self, name: &str, p: &Program, points: &[Point]) {
        self.checkpoint_points += self.add_variant(name, "checkpoint", p, points);
    }

    /// `p` compiled again as `name` with `#[grad(.., ordered_sums)]` (its loops' gradient sums
    /// in the order of their terms, not in lanes), likewise (its points go to
    /// `ordered_points`).
    fn add_ordered(&mut self, name: &str, p: &Program, points: &[Point]) {
        self.ordered_points += self.add_variant(name, "ordered_sums", p, points);
    }

    /// `p` compiled again as `name` with `#[grad(.., __lanes_always)]` (its loops' gradient sums
    /// in lanes however short the loop), likewise (its points go to `lanes_points`).
    fn add_lanes(&mut self, name: &str, p: &Program, points: &[Point]) {
        self.lanes_points += self.add_variant(name, "__lanes_always", p, points);
    }

    /// `p` compiled again as `name` with the attribute's `option`, checked as the batch's own
    /// programs are but not counted in its figures; the points checked.
    fn add_variant(&mut self, name: &str, option: &str, p: &Program, points: &[Point]) -> usize {
        let (programs, before, nonzero) = (self.programs, self.points, self.nonzero);
        let (state, features) = (self.state.clone(), self.features.clone());
        let (other, fill) = (self.other_index, self.fill_other_index);
        self.add_source(name, p.source_with(name, option), p, points);
        let checked = self.points - before;
        (self.programs, self.points, self.nonzero) = (programs, before, nonzero);
        (self.state, self.features) = (state, features);
        (self.other_index, self.fill_other_index) = (other, fill);
        checked
    }

    fn add_source(&mut self, name: &str, source: String, p: &Program, points: &[Point]) {
        self.programs += 1;
        self.features.resize(FEATURES.len(), 0);
        for (i, (_, needle)) in FEATURES.iter().enumerate() {
            if source.contains(needle) {
                self.features[i] += 1;
            }
        }
        self.other_index += usize::from(reads_other_index(&source));
        self.state.resize(STATE_FEATURES.len(), 0);
        for (n, on) in self.state.iter_mut().zip(state_features(&source)) {
            *n += usize::from(on);
        }
        self.fill_other_index += usize::from(p.reads_fill_at_other_index());
        self.fns.push_str(&source);
        // A failure shows the caller's helpers too, each under the path it is called by.
        let mut shown = String::new();
        for c in &p.callees {
            let _ = write!(shown, "// {}\n{}", c.path(), c.source());
        }
        let source = shown + &source;
        for pt in points {
            let Some(oracle::Expected {
                value,
                gradient: grad,
                scale,
            }) = oracle::value_and_gradient(p, pt)
            else {
                continue;
            };
            // An infinite derivative on the way (even if it cancels) is where reverse mode may
            // meet `0 · ∞`: not a fair comparison, as for an infinite value.
            if !grad.iter().all(|g| g.is_finite() && g.abs() < 1e8)
                || !scale.iter().all(|s| s.is_finite())
            {
                continue;
            }
            self.points += 1;
            self.nonzero += grad.iter().filter(|g| **g != 0.0).count();
            if !p.callees.is_empty() {
                self.calls_run += oracle::calls_run(p, pt);
            }
            let args = p.args(pt);
            // Hidden from the optimiser: LLVM may constant-fold `powi` differently from the
            // runtime (its precision is unspecified), which would make the original and the
            // companion differ in a way no code of ours decides.
            let names: Vec<String> = (0..args.len()).map(|j| format!("a{j}")).collect();
            let (args, names) = (args.join(", "), names.join(", "));
            let expected: Vec<String> = grad.iter().map(|g| format!("{g:?}")).collect();
            let scales: Vec<String> = scale.iter().map(|g| format!("{g:?}")).collect();
            let original = if self.first_by_ref {
                format!("&{names}")
            } else {
                names.clone()
            };
            let _ = writeln!(
                self.checks,
                "    let ({names}) = std::hint::black_box(({args}));\n    n += check(Case {{ source: {source:?}, args: \"{args}\", value: {value:?}, gradient: &[{}], scale: &[{}], caller: {} }}, || {name}({original}), || {name}_value_and_grad({names}), || {name}_grad({names}));",
                expected.join(", "),
                scales.join(", "),
                !p.callees.is_empty()
            );
        }
    }
}

/// The fourth and the sixth batch: programs compiled with `mode = forward` and with
/// `hessian`, each twice, `{prefix}{i}_fwd` with `mode = forward` and `{prefix}{i}` with
/// `hessian`, and every third a third time, `{prefix}{i}_both` with both; checked against the
/// oracle's gradient, gradient · [`TANGENT`], and its Hessian (a dual of duals,
/// `oracle::hessian`), over the gradient's components flattened in `wrt` order (the scalar
/// `wrt` parameters, then the elements of `wa`). The fourth batch (`s`) holds straight-line
/// programs, whose `wrt` parameters are all scalars; the sixth (`l`) programs of the loop
/// language, `wa: [f64; 3]` and local arrays included (it has no calls, and no slices: see
/// [`Second::add`]). A program of the sixth batch that meets a known bug of `hessian` is
/// compiled with `hessian` rewritten ([`for_hessian`]), as `l{i}_h`, and as it is with `mode =
/// forward` (`l{i}_fwd`) and plain (`l{i}`).
#[derive(Default)]
struct Second {
    /// `s` or `l`: the names of the batch's functions.
    prefix: &'static str,
    fns: String,
    checks: String,
    programs: usize,
    /// Points checked, Hessian entries compared (each function with `hessian`), and of those
    /// the ones the oracle says are not 0.
    points: usize,
    entries: usize,
    nonzero: usize,
    /// Programs with a `wrt` array, a local array, a `while` loop, carried state (see
    /// [`carries_state`]).
    wrt_array: usize,
    local_array: usize,
    while_loop: usize,
    carried: usize,
    /// Programs compiled with `hessian` as rewritten by [`for_hessian`], and by each of its
    /// rewrites (products, jumps, `while` loops).
    rewritten: usize,
    rewrites: [usize; 3],
    /// The twelfth batch: each program's `wrt` parameters held in a struct ([`in_struct`]).
    structs: bool,
    /// Its programs by the form they took (`in_struct`'s numbering).
    forms: [usize; 6],
    /// The fourteenth batch: each function generic over its float type ([`to_generic`]),
    /// instantiated at `f64` by the checks.
    generic: bool,
    /// Helpers taking a `wrt` array (the batches of callers with `hessian`).
    array_helpers: usize,
    /// Helpers returning an array (the sixteenth batch).
    array_results: usize,
}

/// The tangent of `_jvp` and the vector of `_hvp` (their first `n_grad` components, flattened
/// as the gradient: the fourth batch uses at most the first 3).
const TANGENT: [f64; 5] = [0.75, -1.25, 0.5, 1.5, -0.625];
const VECTOR: [f64; 5] = [-0.5, 1.0, 0.375, -0.75, 1.25];

impl Second {
    fn new(prefix: &'static str) -> Second {
        Second {
            prefix,
            ..Second::default()
        }
    }

    /// Adds program `i`: `p` compiled with `mode = forward`, and `for_hessian` with `hessian`:
    /// the same program, or (sixth batch, see [`for_hessian`]) `p` without what known bugs of
    /// `hessian` meet, then compiled as `{prefix}{i}_h` beside `p` as `{prefix}{i}` (plain, the
    /// original forward mode's value is compared with).
    fn add(
        &mut self,
        i: u64,
        p: &Program,
        (for_hessian, rewrites): (&Program, [bool; 3]),
        points: &[Point],
    ) {
        // Calls of other `#[grad]` functions only in the thirteenth batch (`ch`) and the
        // fourteenth's callers (`gc`), whose helpers ask for `hessian` too (a compile error
        // otherwise).
        assert!(
            p.callees.is_empty() || ["ch", "gc", "cr", "ca"].contains(&self.prefix),
            "program {i} of the `{}` batch calls",
            self.prefix
        );
        let name = format!("{}{i}", self.prefix);
        let source = p.source(&name);
        let same = p == for_hessian;
        // (function, options, its program): the first is forward mode's, the original `name`.
        let mut fns = vec![(format!("{name}_fwd"), "mode = forward", p)];
        if same {
            fns.push((name.clone(), "hessian", p));
            if i % 3 == 0 {
                fns.push((format!("{name}_both"), "mode = forward, hessian", p));
            }
        } else {
            fns.push((name.clone(), "", p));
            fns.push((format!("{name}_h"), "hessian", for_hessian));
        }
        let (mut shown_forward, mut shown_hessian) = (String::new(), String::new());
        let mut sources = Vec::new();
        for (f, options, q) in &fns {
            let source = if options.is_empty() {
                q.source(f)
            } else {
                q.source_with(f, options)
            };
            let source = if self.structs {
                // Beside another `wrt` parameter, beside a slice, by reference, by value, and
                // as `self`, in turn (passed whole to a helper: not with `hessian`, which is
                // refused through calls).
                match (
                    same,
                    in_struct(&source, f, [4, 5, 0, 1, 2][(i % 5) as usize]),
                ) {
                    (true, Some(s)) => s,
                    _ => return,
                }
            } else {
                source
            };
            let source = match (self.generic, to_generic(&source)) {
                (false, _) => source,
                (true, Some(g)) => g,
                (true, None) => return,
            };
            sources.push(source);
        }
        if self.structs {
            if let Some(first) = sources.first() {
                self.forms[struct_form(first)] += 1;
            }
        }
        for ((_, options, q), source) in fns.iter().zip(sources) {
            self.fns.push_str(&source);
            if *q == p {
                shown_forward.push_str(&source);
            }
            if options.contains("hessian") {
                shown_hessian.push_str(&source);
            }
        }
        if same {
            shown_hessian.clone_from(&shown_forward);
        } else {
            shown_hessian = format!(
                "// {name} as compiled with `hessian`, rewritten around known bugs (`for_hessian` in grad-difftest/build.rs):\n{shown_hessian}"
            );
        }
        self.programs += 1;
        self.wrt_array += usize::from(p.wrt_array);
        self.local_array += usize::from(source.contains("[0.0; "));
        self.while_loop += usize::from(source.contains("while "));
        self.carried += usize::from(carries_state(&source));
        self.rewritten += usize::from(!same);
        for (n, r) in self.rewrites.iter_mut().zip(rewrites) {
            *n += usize::from(r);
        }
        let n = p.n_grad();
        let list = |v: &[f64]| {
            let v: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
            v.join(", ")
        };
        // The components' names, for messages: `w0`, .., then `wa[0]`, ...
        let mut components: Vec<String> = (0..p.n_wrt).map(|j| format!("\"w{j}\"")).collect();
        if p.wrt_array {
            components.extend((0..n - p.n_wrt).map(|j| format!("\"wa[{j}]\"")));
        }
        let components = components.join(", ");
        // A flat vector as `_jvp`'s or `_hvp`'s arguments, shaped like the `wrt` parameters
        // (`wa`'s part an array), and the names they are bound to.
        let shaped = |v: &[f64], letter: char| -> (String, String) {
            let mut values: Vec<String> = v[..p.n_wrt].iter().map(|x| format!("{x:?}")).collect();
            let mut names: Vec<String> = (0..p.n_wrt).map(|j| format!("{letter}{j}")).collect();
            if p.wrt_array {
                values.push(format!("[{}]", list(&v[p.n_wrt..])));
                names.push(format!("{letter}a"));
            }
            (values.join(", "), names.join(", "))
        };
        let (t, v) = (&TANGENT[..n], &VECTOR[..n]);
        let (t_args, tn) = shaped(t, 't');
        let (v_args, vn) = shaped(v, 'v');
        // What the oracle says of `q` at `pt`, as a `SecondCase` (and its Hessian); `None` where
        // it is not a fair comparison.
        let case = |q: &Program, pt: &Point, shown: &str| -> Option<(String, Vec<Vec<f64>>)> {
            let oracle::Expected {
                value,
                gradient,
                scale,
            } = oracle::value_and_gradient(q, pt)?;
            let oracle::Second {
                hessian,
                scale: h_scale,
            } = oracle::hessian(q, pt)?;
            // As for the gradient (see `Batch::add`): an infinite or huge derivative on the way
            // is not a fair comparison.
            let fair = |v: &[f64], s: &[f64]| {
                v.iter().all(|g| g.is_finite() && g.abs() < 1e8) && s.iter().all(|s| s.is_finite())
            };
            if !fair(&gradient, &scale) || !hessian.iter().zip(&h_scale).all(|(h, s)| fair(h, s)) {
                return None;
            }
            let text = format!(
                "SecondCase {{ source: {shown:?}, args: \"{}\", components: &[{components}], value: {value:?}, gradient: &[{}], scale: &[{}], tangent: &[{}], vector: &[{}], hessian: &[{}], hessian_scale: &[{}] }}",
                q.args(pt).join(", "),
                list(&gradient),
                list(&scale),
                list(t),
                list(v),
                list(&hessian.concat()),
                list(&h_scale.concat()),
            );
            Some((text, hessian))
        };
        for pt in points {
            let forward = case(p, pt, &shown_forward);
            let second = if same {
                forward.clone()
            } else {
                case(for_hessian, pt, &shown_hessian)
            };
            if forward.is_none() && second.is_none() {
                continue;
            }
            self.points += 1;
            let args = p.args(pt);
            let names: Vec<String> = (0..args.len()).map(|j| format!("a{j}")).collect();
            let (args, names) = (args.join(", "), names.join(", "));
            let _ = writeln!(
                self.checks,
                "    let ({names}, ({tn},), ({vn},)) = std::hint::black_box(({args}, ({t_args},), ({v_args},)));"
            );
            let a = format!("({names})");
            let at = format!("({names}, {tn})");
            let av = format!("({names}, {vn})");
            if let Some((text, _)) = &forward {
                let _ = writeln!(self.checks, "    let case = {text};");
                for (f, options, _) in &fns {
                    if options.contains("forward") {
                        let _ = writeln!(
                            self.checks,
                            "    n += check_forward(&case, || {name}{a}, || {f}_value_and_grad{a}, || {f}_grad{a}, || {f}_jvp{at});"
                        );
                    }
                }
            }
            if let Some((text, hessian)) = &second {
                if !same {
                    let _ = writeln!(self.checks, "    let case = {text};");
                }
                for (f, options, _) in &fns {
                    // The reverse-mode gradient of a function compiled with `hessian` alone
                    // (the sweep the Hessian differentiates).
                    if self.prefix == "sh" && *options == "hessian" {
                        let _ = writeln!(
                            self.checks,
                            "    n += check_reverse(&case, || {name}{a}, || {f}_value_and_grad{a}, || {f}_grad{a});"
                        );
                    }
                    if options.contains("hessian") {
                        self.entries += n * n;
                        self.nonzero += hessian.iter().flatten().filter(|h| **h != 0.0).count();
                        let _ = writeln!(
                            self.checks,
                            "    n += check_hessian(&case, || {f}_hessian{a}, || {f}_hvp{av});"
                        );
                    }
                }
            }
        }
    }

    /// The fourth batch's part of the summary.
    fn summary(&self) -> String {
        format!(
            "{} straight-line programs in forward mode and with `hessian` ({} points, {} Hessian entries compared, {} of them nonzero)",
            self.programs, self.points, self.entries, self.nonzero
        )
    }

    /// The sixth batch's (`what`: `loop programs`), or the tenth's (`programs of array
    /// state`).
    fn loop_summary(&self, what: &str) -> String {
        format!(
            "{} {what} in forward mode and with `hessian` ({} with a `wrt` array, {} with a local array, {} with `while`, {} with carried state; {} points, {} Hessian entries compared, {} of them nonzero; {} compiled with `hessian` rewritten around known bugs: {} without their products, {} without jumps before a loop, {} with a `while` around a loop made `for`)",
            self.programs,
            self.wrt_array,
            self.local_array,
            self.while_loop,
            self.carried,
            self.points,
            self.entries,
            self.nonzero,
            self.rewritten,
            self.rewrites[0],
            self.rewrites[1],
            self.rewrites[2]
        )
    }
}

/// Whether `source` (a printed program) reads a local array (`z0`, `z1`, ..) at another index
/// than a bare loop variable (`z0[i0]`, `z0[(t1 % 4)]`): `z0[3 - i0]`, `z0[(i0 + 1) % 4]`,
/// `z0[IDX4[i0]]`, `z0[2]`. Read off the printer's layout: a store is `z0[..] op= ..`.
fn reads_other_index(source: &str) -> bool {
    let own = |ix: &str| {
        let ix = ix
            .strip_prefix('(')
            .and_then(|x| x.strip_suffix(')'))
            .and_then(|x| x.split_once(" % ").map(|(v, _)| v))
            .unwrap_or(ix);
        ix.len() > 1 && ix.starts_with(['i', 't']) && ix[1..].chars().all(|c| c.is_ascii_digit())
    };
    let mut rest = source;
    while let Some(at) = rest.find('z') {
        let after = &rest[at + 1..];
        let word_start =
            at == 0 || !rest[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        let digits = after.len() - after.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        rest = after;
        if !word_start || digits == 0 || !after[digits..].starts_with('[') {
            continue;
        }
        // The index, up to its matching bracket.
        let inner = &after[digits + 1..];
        let mut depth = 1;
        let Some(end) = inner.find(|c: char| {
            match c {
                '[' => depth += 1,
                ']' => depth -= 1,
                _ => {}
            }
            depth == 0
        }) else {
            continue;
        };
        let store = [" = ", " += ", " -= "]
            .iter()
            .any(|op| inner[end + 1..].starts_with(op));
        if !store && !own(&inner[..end]) {
            return true;
        }
    }
    false
}

/// Whether a loop of `source` (a printed program) carries state from one iteration to the
/// next other than by adding to it: sets a float declared outside the loop from its own value
/// (`v0 = (v0 * w0 + x0).tanh() * 1.2`, `v0 -= v0.sin()`) or multiplies or divides it (`v0 *=
/// ..`, `v0 /= ..`), the kind of loop whose reverse sweep reads back values it kept (the
/// tangents of which a Hessian keeps with them). Read off the printer's layout: one statement
/// a line, a block opened at the end of a line.
fn carries_state(source: &str) -> bool {
    // The open blocks: whether each is a loop's body, and the names declared in it.
    let mut blocks: Vec<(bool, Vec<&str>)> = Vec::new();
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for line in source.lines() {
        let t = line.trim();
        if let Some(rest) = t
            .strip_prefix("let mut ")
            .or_else(|| t.strip_prefix("let "))
        {
            if let (Some(name), Some(block)) = (rest.split(' ').next(), blocks.last_mut()) {
                block.1.push(name);
            }
        } else if let Some((target, rest)) = t.split_once(' ') {
            let reads_itself = |value: &str| {
                value.match_indices(target).any(|(at, _)| {
                    let before = value[..at].chars().next_back();
                    let after = value[at + target.len()..].chars().next();
                    !before.is_some_and(|c| word(c) || c == '.') && !after.is_some_and(word)
                })
            };
            let from_itself = match rest.split_once(' ') {
                Some(("*=" | "/=", _)) => true,
                Some(("=" | "+=" | "-=", value)) => reads_itself(value),
                _ => false,
            };
            if from_itself && target.chars().all(word) {
                // Declared outside a loop around the assignment?
                let declared = blocks.iter().rposition(|b| b.1.contains(&target));
                if declared.is_some_and(|d| blocks[d + 1..].iter().any(|b| b.0)) {
                    return true;
                }
            }
        }
        let opened = t.matches('{').count() as isize - t.matches('}').count() as isize;
        if opened > 0 {
            let is_loop =
                t.starts_with("for ") || t.starts_with("while ") || t.starts_with("loop ");
            blocks.push((is_loop, Vec::new()));
        } else if opened < 0 {
            blocks.pop();
        }
    }
    false
}

/// BUG (reported, see TESTING.md): `hessian` on a function with a loop that keeps values for
/// its reverse sweep (carried state, `v = v.sin()`; an iterator product) in code that runs
/// only sometimes does not compile: after a `return`, after a `break` or `continue` in the
/// body of a loop around it, in the body of a `while` loop (whose test is such a `break`), or
/// in a branch. "internal error: forward mode reads back a value whose tangents were not kept;
/// please report this function". `mode = forward` alone compiles it, and so does `hessian`
/// when the jump is in that loop's own body, or the loop around it a `for`. Minimal:
///
/// ```text
/// #[grad(wrt = w, hessian)]
/// fn f(w: f64, flag: bool) -> f64 {
///     if flag {
///         return w;
///     }
///     let mut v = w;
///     for _ in 0..3 {
///         v = v.sin();
///     }
///     v
/// }
/// ```
///
/// (also `for i in 0..3 { if k > i { continue; } for _ in 0..2 { v = v.sin(); } }`, the same
/// with `break`, `let mut t = 0; while t < 2 { t += 1; for _ in 0..2 { v = v.sin(); } }`, `if
/// flag { for _ in 0..2 { v = v.sin(); } }`, and `if flag { w.iter().map(|&c| c +
/// 1.0).product::<f64>() } else { 1.0 }` with `w: [f64; 2]`). Which loops keep values is the
/// macro's decision, so while this is `true` the sixth batch's programs lose, for `hessian`
/// ([`for_hessian`]), every jump that comes before (in the source) the head of a loop it may
/// skip, and a `while` loop with a loop in its body becomes `for` over `0..n`, its largest
/// trip count ([`drop_jumps_before_loops`]); the products, in branches or not, go with
/// [`WORK_AROUND_PRODUCT_HESSIAN`].
const WORK_AROUND_JUMP_BEFORE_KEPT_VALUES: bool = false;

/// BUG (reported, see TESTING.md): the Hessian of a loop over the elements of a differentiated
/// array (`wrt` or local) whose reverse sweep runs backwards (the loop carries state) reads the
/// elements' tangents in the wrong order, so `_hessian` and `_hvp` are wrong (the gradient and
/// forward mode are right). Iterator products are such loops. Minimal:
///
/// ```text
/// #[grad(wrt = w, hessian)]
/// fn f(w: [f64; 3]) -> f64 {
///     let mut p = 1.0;
///     for &c in w.iter() {
///         p *= c;
///     }
///     p
/// }
/// ```
///
/// `f_hessian([2.0, 3.0, 5.0])` is `[[3, 7, 3], [7, 0, 2], [3, 2, 0]]`, not `[[0, 5, 3], [5, 0,
/// 2], [3, 2, 0]]`, and `f_hvp([2.0, 3.0, 5.0], [0.0, 0.0, 1.0])` is `[0, 0, 0]`, not `[3, 2,
/// 0]`; the same with `w.iter().map(|&c| c).product::<f64>()`, `for c in w`, `.enumerate()`,
/// `.copied()`, `&w`, and over a local array (`let z = [w, 2.0 * w]`: a Hessian of 11, not 12,
/// for `z.iter().map(|&c| c * c).product::<f64>()`). While this is `true`, the sixth batch's
/// programs compiled with `hessian` ([`for_hessian`]) have sums where they had products (and
/// see `KNOWN_ELEMENT_TANGENTS_REVERSED` in `tests/compiled.rs` for the `for` loops).
const WORK_AROUND_PRODUCT_HESSIAN: bool = false;

/// What the sixth batch compiles with `hessian` for the loop program `p`: `p` without what the
/// known bugs above meet (iterator products become sums, jumps before the head of a loop they
/// may skip are dropped, `while` loops around loops become `for` loops), or `p` itself when it
/// has none of it or the constants are `false`; and which rewrites changed it (products,
/// jumps, `while` loops).
fn for_hessian(p: &Program) -> (Program, [bool; 3]) {
    let mut q = p.clone();
    let mut changed = [false; 3];
    if WORK_AROUND_PRODUCT_HESSIAN {
        q.stmts.iter_mut().for_each(stmt_sums);
        expr_sums(&mut q.ret);
        changed[0] = q != *p;
    }
    if WORK_AROUND_JUMP_BEFORE_KEPT_VALUES {
        let before = q.clone();
        drop_jumps_before_loops(&mut q.stmts, &mut (false, false));
        changed[1] = q != before;
        let before = q.clone();
        for_around_loops(&mut q.stmts);
        changed[2] = q != before;
    }
    (q, changed)
}

/// `s` with every iterator product a sum.
fn stmt_sums(s: &mut Stmt) {
    match s {
        Stmt::Let { value, .. } | Stmt::Assign { value, .. } | Stmt::Store { value, .. } => {
            expr_sums(value);
        }
        Stmt::If { cond, then, els } => {
            cond_sums(cond);
            then.iter_mut().chain(els).for_each(stmt_sums);
        }
        Stmt::Loop { header, body } => {
            if let Header::While { cond: Some(c), .. } = header {
                cond_sums(c);
            }
            body.iter_mut().for_each(stmt_sums);
        }
        Stmt::Jump(Jump::Return(e)) => expr_sums(e),
        Stmt::ArrayCall { call, .. } => call
            .args
            .iter_mut()
            .chain(&mut call.data)
            .for_each(expr_sums),
        Stmt::Jump(_)
        | Stmt::ArrayDecl { .. }
        | Stmt::ArrayCopy { .. }
        | Stmt::ArrayAssign { .. } => {}
    }
}

fn cond_sums(c: &mut Cond) {
    match c {
        Cond::Cmp(_, a, b) => {
            expr_sums(a);
            expr_sums(b);
        }
        Cond::And(a, b) | Cond::Or(a, b) => {
            cond_sums(a);
            cond_sums(b);
        }
        Cond::Not(a) => cond_sums(a),
        Cond::Flag | Cond::Int(..) => {}
    }
}

fn expr_sums(e: &mut Expr) {
    match e {
        Expr::Reduce { kind, body, .. } => {
            *kind = ReduceKind::Sum;
            expr_sums(body);
        }
        Expr::Neg(a) | Expr::F1(_, a) | Expr::Powi(a, _) => expr_sums(a),
        Expr::Bin(_, a, b) | Expr::F2(_, a, b) => {
            expr_sums(a);
            expr_sums(b);
        }
        Expr::MulAdd(a, b, c) | Expr::Clamp(a, b, c) => {
            expr_sums(a);
            expr_sums(b);
            expr_sums(c);
        }
        Expr::If(c, a, b) => {
            cond_sums(c);
            expr_sums(a);
            expr_sums(b);
        }
        Expr::Match { arms, default, .. } => {
            arms.iter_mut().for_each(|(_, e)| expr_sums(e));
            expr_sums(default);
        }
        Expr::Call(c) | Expr::Recur(c) => c.args.iter_mut().chain(&mut c.data).for_each(expr_sums),
        Expr::Var(_)
        | Expr::DataVar(_)
        | Expr::Lit(_)
        | Expr::Pi
        | Expr::UserConst
        | Expr::IntAsFloat
        | Expr::Latest
        | Expr::LoopIdx(_)
        | Expr::Elem(..) => {}
    }
}

/// Drops every jump that comes before (in the source, which is the statements' pre-order) the
/// head of a loop it may skip: a `return` before any, a `break` or `continue` before one in
/// the body of the same loop. `later` says whether the head of a loop comes after `stmts`
/// anywhere, and in the body of the innermost loop around them; it is updated.
fn drop_jumps_before_loops(stmts: &mut Vec<Stmt>, later: &mut (bool, bool)) {
    for i in (0..stmts.len()).rev() {
        let drop = match &mut stmts[i] {
            Stmt::Loop { body, .. } => {
                drop_jumps_before_loops(body, &mut (later.0, false));
                *later = (true, true);
                false
            }
            Stmt::If { then, els, .. } => {
                drop_jumps_before_loops(els, later);
                drop_jumps_before_loops(then, later);
                false
            }
            Stmt::Jump(Jump::Return(_)) => later.0,
            Stmt::Jump(_) => later.1,
            _ => false,
        };
        if drop {
            stmts.remove(i);
        }
    }
}

/// Makes every `while` loop with a loop in its body (at any depth) `for` over `0..n`, its
/// largest trip count; returns whether `stmts` hold a loop.
fn for_around_loops(stmts: &mut [Stmt]) -> bool {
    let mut any = false;
    for s in stmts {
        match s {
            Stmt::Loop { header, body } => {
                if for_around_loops(body) {
                    if let Header::While { n, .. } = *header {
                        *header = Header::Range {
                            lo: 0,
                            len: n,
                            inclusive: false,
                            rev: false,
                        };
                    }
                }
                any = true;
            }
            Stmt::If { then, els, .. } => {
                // Both branches are walked, whatever the first says.
                let in_then = for_around_loops(then);
                any |= for_around_loops(els) || in_then;
            }
            _ => {}
        }
    }
    any
}

/// The fifth batch: functions returning several floats (`gen::multi_program`: straight-line
/// statements, scalar `wrt` parameters, 2–3 results as a tuple or an array), each compiled
/// three times, `j{i}` (the default mode: forward when there are no more `wrt` parameters than
/// results, reverse otherwise), `j{i}_fwd` (`mode = forward`) and `j{i}_rev` (`mode =
/// reverse`); every `_jacobian` is checked entry by entry against the oracle (row `i` the
/// gradient of the program ending with result `i`, `oracle::jacobian`), and each original's
/// results against the oracle's values.
#[derive(Default)]
struct Jacobians {
    fns: String,
    checks: String,
    programs: usize,
    /// Programs returning an array (the others return a tuple).
    arrays: usize,
    /// Programs the default mode compiles forward (`n_wrt <= m`) and in reverse. The body is
    /// straight-line, which forward mode always takes (`j{i}_fwd`, `mode = forward`, would not
    /// compile otherwise), so the macro falls back to reverse mode for none of them.
    forward: usize,
    reverse: usize,
    /// Programs also compiled with their `wrt` parameters in a struct (`j{i}_s`, `j{i}_sf`).
    structs: usize,
    /// Their sources, kept out of the lint files (their wrappers call companions, which the
    /// build without `#[grad]` does not have; the struct batches are left out alike).
    struct_fns: String,
    /// Points checked, Jacobian entries compared (over the three compilations), and of those
    /// the ones the oracle says are not 0.
    points: usize,
    entries: usize,
    nonzero: usize,
}

/// The compilations of a program of the fifth batch with its `wrt` parameters in a struct
/// (`in_struct`): name suffix and options.
const STRUCT_JACOBIAN_MODES: [(&str, &str); 2] = [("_s", ""), ("_sf", "mode = forward")];

/// The three compilations of a program of the fifth batch: name suffix and options.
const JACOBIAN_MODES: [(&str, &str); 3] = [
    ("", ""),
    ("_fwd", "mode = forward"),
    ("_rev", "mode = reverse"),
];

impl Jacobians {
    fn add(&mut self, i: u64, p: &Multi, points: &[Point]) {
        let name = format!("j{i}");
        let (n, m) = (p.body.n_wrt, p.outputs.len());
        let mut shown = String::new();
        for (suffix, options) in JACOBIAN_MODES {
            let source = p.source_with(&format!("{name}{suffix}"), options);
            self.fns.push_str(&source);
            shown.push_str(&source);
        }
        // The `wrt` parameters in a struct (beside another `wrt` parameter, passed whole to a
        // helper returning the array, by reference, by value, as `self`, in turn): reverse mode,
        // one sweep per value, and `mode = forward`.
        let form = [4, 3, 0, 1, 2][(i % 5) as usize];
        let mut structs = Vec::new();
        for (suffix, options) in STRUCT_JACOBIAN_MODES {
            let f = format!("{name}{suffix}");
            if let Some(source) = in_struct(&p.source_with(&f, options), &f, form) {
                structs.push(source);
            }
        }
        let in_struct = structs.len() == STRUCT_JACOBIAN_MODES.len();
        if in_struct {
            self.structs += 1;
            for source in structs {
                self.struct_fns.push_str(&source);
                shown.push_str(&source);
            }
        }
        self.programs += 1;
        self.arrays += usize::from(p.array);
        let default = if n <= m {
            self.forward += 1;
            "default mode (forward)"
        } else {
            self.reverse += 1;
            "default mode (reverse)"
        };
        let list = |v: &[f64]| {
            let v: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
            v.join(", ")
        };
        for pt in points {
            let Some(rows) = oracle::jacobian(p, pt) else {
                continue;
            };
            // As for the gradient (see `Batch::add`): an infinite or huge derivative on the way is
            // not a fair comparison.
            let fair = |r: &oracle::Expected| {
                r.gradient.iter().all(|g| g.is_finite() && g.abs() < 1e8)
                    && r.scale.iter().all(|s| s.is_finite())
            };
            if !rows.iter().all(fair) {
                continue;
            }
            self.points += 1;
            let jacobian: Vec<f64> = rows.iter().flat_map(|r| r.gradient.clone()).collect();
            let scale: Vec<f64> = rows.iter().flat_map(|r| r.scale.clone()).collect();
            let values: Vec<f64> = rows.iter().map(|r| r.value).collect();
            self.entries += JACOBIAN_MODES.len() * n * m;
            self.nonzero += JACOBIAN_MODES.len() * jacobian.iter().filter(|g| **g != 0.0).count();
            let args = p.body.args(pt);
            let names: Vec<String> = (0..args.len()).map(|j| format!("a{j}")).collect();
            let (args, names) = (args.join(", "), names.join(", "));
            let _ = writeln!(
                self.checks,
                "    let ({names}) = std::hint::black_box(({args}));\n    let case = JacobianCase {{ source: {shown:?}, args: \"{args}\", values: &[{}], jacobian: &[{}], scale: &[{}] }};",
                list(&values),
                list(&jacobian),
                list(&scale),
            );
            for (suffix, options) in JACOBIAN_MODES {
                let f = format!("{name}{suffix}");
                let mode = if options.is_empty() { default } else { options };
                let _ = writeln!(
                    self.checks,
                    "    n += check_jacobian(&case, \"{f}: {mode}\", || {f}({names}), || {f}_jacobian({names}));"
                );
            }
            if in_struct {
                self.entries += STRUCT_JACOBIAN_MODES.len() * n * m;
                for (suffix, options) in STRUCT_JACOBIAN_MODES {
                    let f = format!("{name}{suffix}");
                    let mode = if options.is_empty() {
                        "a struct, reverse"
                    } else {
                        "a struct, forward"
                    };
                    let _ = writeln!(
                        self.checks,
                        "    n += check_jacobian(&case, \"{f}: {mode}\", || {f}({names}), || {f}_jacobian({names}));"
                    );
                }
            }
        }
    }

    fn summary(&self) -> String {
        format!(
            "{} functions returning several floats ({} tuples, {} arrays), each with `_jacobian` in the default mode ({} forward, {} reverse), `mode = forward` and `mode = reverse`, {} also with their `wrt` parameters in a struct, in reverse and forward mode ({} points, {} Jacobian entries compared, {} of them nonzero)",
            self.programs,
            self.programs - self.arrays,
            self.arrays,
            self.forward,
            self.reverse,
            self.structs,
            self.points,
            self.entries,
            self.nonzero
        )
    }
}

fn main() {
    let seed = env("GRAD_FUZZ_SEED").unwrap_or(3);
    let cases = env("GRAD_COMPILED_CASES");
    let loop_cases = env("GRAD_COMPILED_LOOP_CASES").or(cases).unwrap_or(40);
    let call_cases = env("GRAD_COMPILED_CALL_CASES").or(cases).unwrap_or(40);
    let second_cases = env("GRAD_COMPILED_SECOND_CASES").or(cases).unwrap_or(20);
    let jacobian_cases = env("GRAD_COMPILED_JACOBIAN_CASES").or(cases).unwrap_or(20);
    let loop_second_cases = env("GRAD_COMPILED_LOOP_SECOND_CASES")
        .or(cases)
        .unwrap_or(20);
    let escape_cases = env("GRAD_COMPILED_ESCAPE_CASES").or(cases).unwrap_or(60);
    let state_cases = env("GRAD_COMPILED_STATE_CASES").unwrap_or(20);
    let array_call_cases = env("GRAD_COMPILED_ARRAY_CALL_CASES").unwrap_or(20);
    let state_second_cases = env("GRAD_COMPILED_STATE_SECOND_CASES").unwrap_or(10);
    let struct_cases = env("GRAD_COMPILED_STRUCT_CASES").unwrap_or(20);
    let struct_second_cases = env("GRAD_COMPILED_STRUCT_SECOND_CASES").unwrap_or(10);
    let call_second_cases = env("GRAD_COMPILED_CALL_SECOND_CASES").unwrap_or(10);
    let generic_cases = env("GRAD_COMPILED_GENERIC_CASES").unwrap_or(6);
    let rule_cases = env("GRAD_COMPILED_RULE_CASES").unwrap_or(6);
    let array_second_cases = env("GRAD_COMPILED_ARRAY_SECOND_CASES").unwrap_or(6);
    let trace_cases = env("GRAD_COMPILED_TRACE_CASES").unwrap_or(20);
    let closure_cases = env("GRAD_COMPILED_CLOSURE_CASES").unwrap_or(20);
    let out_param_cases = env("GRAD_COMPILED_OUT_PARAM_CASES").unwrap_or(20);
    let cases = cases.unwrap_or(40);

    let mut plain = Batch::default();
    let mut runner = runner(seed, 0);
    for i in 0..cases {
        let tree = match gen::case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i}: {e}"),
        };
        let (p, points) = tree.current();
        plain.add(&program_name("f", i), &p, &points);
    }
    let mut loops = Batch::default();
    let mut runner = self::runner(seed, 1);
    for i in 0..loop_cases {
        let tree = match gen::loop_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating loop program {i}: {e}"),
        };
        let (p, points) = tree.current();
        loops.add(&format!("g{i}"), &p, &points);
        // Its gradient sums in order too (`ordered_sums`), one program in two; in the other,
        // in lanes in every loop where they apply, however short (`__lanes_always`: the
        // arrays here have at most 5 elements, where lanes are otherwise not used).
        if i % 2 == 0 {
            loops.add_ordered(&format!("g{i}_os"), &p, &points);
        } else {
            loops.add_lanes(&format!("g{i}_la"), &p, &points);
        }
    }

    let mut calls = Batch::default();
    let mut calls_in_while = 0;
    let mut runner = self::runner(seed, 2);
    for i in 0..call_cases {
        let tree = match gen::call_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating caller {i}: {e}"),
        };
        let (p, points) = tree.current();
        // A call in a `while` loop whose value the sweep needs is refused (the `c44` class in
        // TESTING.md, a known stop): left out, and counted.
        let source = p.source("f");
        if source.contains("while ") && p.call_sites().iter().any(|c| c.in_loop) {
            calls_in_while += 1;
            continue;
        }
        calls.add_caller(&format!("c{i}"), p, &points);
    }

    let mut second = Second::new("s");
    let mut runner = self::runner(seed, 3);
    for i in 0..second_cases {
        let tree = match gen::case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of the second-order batch: {e}"),
        };
        let (p, points) = tree.current();
        second.add(i, &p, (&p, [false; 3]), &points);
    }

    let mut jacobians = Jacobians::default();
    let mut runner = self::runner(seed, 4);
    for i in 0..jacobian_cases {
        let tree = match gen::multi_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of the Jacobian batch: {e}"),
        };
        let (p, points) = tree.current();
        jacobians.add(i, &p, &points);
    }

    let mut loop_second = Second::new("l");
    let mut runner = self::runner(seed, 5);
    for i in 0..loop_second_cases {
        let tree = match gen::loop_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of the loop second-order batch: {e}"),
        };
        let (p, points) = tree.current();
        let (q, rewrites) = for_hessian(&p);
        loop_second.add(i, &p, (&q, rewrites), &points);
    }

    // The seventh batch: escape programs that must compile (data escapes, and what the macro
    // models); the refused ones are checked at compile time by `grad-macro`'s escape batch.
    let mut escapes = Batch::default();
    let mut escape_kinds = vec![0usize; grad_testgen::escape::Kind::ALL.len()];
    let mut runner = self::runner(seed, 6);
    for i in 0..escape_cases {
        let tree = match grad_testgen::escape::escape_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating escape program {i}: {e}"),
        };
        let (e, points) = tree.current();
        if e.verdict() != grad_testgen::escape::Verdict::Accepted {
            continue;
        }
        let k = grad_testgen::escape::Kind::ALL
            .iter()
            .position(|k| *k == e.kind)
            .unwrap_or(0);
        escape_kinds[k] += 1;
        let name = format!("e{i}");
        escapes.add_source(&name, e.source(&name), &e.oracle_program(), &points);
    }

    // The eighth batch: array state (arrays copied and assigned whole, written after and
    // inside the loops that read them), reverse and forward mode.
    let mut state = Batch::default();
    let mut runner = self::runner(seed, 7);
    for i in 0..state_cases {
        let tree = match gen::state_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of array state: {e}"),
        };
        let (p, points) = tree.current();
        // Reverse mode (`st{i}`), forward mode (`st{i}_fwd`) and with `checkpoint` (`st{i}_cp`).
        state.add_checkpointed(&format!("st{i}_cp"), &p, &points);
        // And one in three with lanes in every loop where they apply (`__lanes_always`).
        if i % 3 == 0 {
            state.add_lanes(&format!("st{i}_la"), &p, &points);
        }
        state.add_array_caller(&format!("st{i}"), p, &points);
    }

    // The ninth batch: arrays across calls (helpers taking arrays by value and by reference,
    // and returning arrays), reverse mode (`ac{i}`) and forward mode (`ac{i}_fwd`).
    let mut array_calls = Batch::default();
    let mut runner = self::runner(seed, 8);
    for i in 0..array_call_cases {
        let tree = match gen::array_call_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating caller {i} of arrays across calls: {e}"),
        };
        let (p, points) = tree.current();
        array_calls.add_array_caller(&format!("ac{i}"), p, &points);
    }

    // The tenth batch: programs of array state (the eighth batch's language) compiled with
    // `mode = forward` and with `hessian` (forward over reverse), checked against the oracle's
    // Hessian (`sh0`, `sh0_fwd`, ..).
    let mut state_second = Second::new("sh");
    let mut runner = self::runner(seed, 9);
    for i in 0..state_second_cases {
        let tree = match gen::state_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of array state with `hessian`: {e}"),
        };
        let (p, points) = tree.current();
        let (q, rewrites) = for_hessian(&p);
        state_second.add(i, &p, (&q, rewrites), &points);
    }

    // The eleventh batch: programs of the loop language and of array state with their `wrt`
    // parameters held in a struct deriving `Differentiable` (`su0`, ..): `#[grad(wrt = q)]`
    // with `q: &P`, with `q: P`, `#[grad(wrt = self)]` on a method, and `q: &P` passed whole to
    // a helper, in turn.
    let mut structs = Batch::default();
    let mut forms = [0usize; 6];
    let mut runner = self::runner(seed, 10);
    for i in 0..struct_cases {
        let (p, points) = struct_program(&mut runner, i, "with a struct of parameters");
        let name = format!("su{i}");
        let form = (i % 6) as usize;
        if let Some(source) = in_struct(&p.source(&name), &name, form) {
            forms[struct_form(&source)] += 1;
            structs.add_source(&name, source, &p, &points);
        }
    }

    // The twelfth batch: the eleventh's programs (array state and the loop language, their
    // `wrt` parameters in a struct) compiled with `mode = forward` and with `hessian`, checked
    // as the tenth batch's are (`sg0`, `sg0_fwd`, ..).
    let mut struct_second = Second::new("sg");
    struct_second.structs = true;
    let mut runner = self::runner(seed, 11);
    for i in 0..struct_second_cases {
        let (p, points) = struct_program(&mut runner, i, "with a struct and `hessian`");
        let (q, rewrites) = for_hessian(&p);
        struct_second.add(i, &p, (&q, rewrites), &points);
    }

    // The thirteenth batch: callers of `#[grad]` helpers (the third batch's language) compiled
    // with `mode = forward` and with `hessian`, checked as the fourth batch's are; their
    // helpers ask for `hessian` too (`#[grad(hessian)]`, `#[grad(wrt = .., hessian)]`), so that
    // second derivatives go through the calls. Only callers whose helpers are functions of
    // floats next to them (second order does not go through arrays yet) are kept.
    let (call_second, calls_in_hessians) = callers_with_hessian(
        Second::new("ch"),
        seed,
        12,
        call_second_cases,
        Helpers::Floats,
    );

    // The fourteenth batch: functions generic over their float type (`fn f<T: Real>`, see
    // [`to_generic`]): programs of the loop language (the sixth batch's, `gn0`, ..) and callers
    // of helpers generic too (the thirteenth's, `gc0`, ..), compiled with `mode = forward` and
    // with `hessian`, instantiated at `f64` and checked as those batches are.
    let mut generic_loops = Second::new("gn");
    generic_loops.generic = true;
    let mut runner = self::runner(seed, 13);
    for i in 0..generic_cases {
        let tree = match gen::loop_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of the generic batch: {e}"),
        };
        let (p, points) = tree.current();
        let (q, rewrites) = for_hessian(&p);
        generic_loops.add(i, &p, (&q, rewrites), &points);
    }
    let mut generic_callers = Second::new("gc");
    generic_callers.generic = true;
    let (generic_callers, generic_calls) =
        callers_with_hessian(generic_callers, seed, 14, generic_cases, Helpers::Floats);

    // The fifteenth batch: callers of `#[backprop::rule]` helpers (the thirteenth's callers,
    // each helper's body an expression of its parameters, its derivative rule that
    // expression's partials written out, `rule_source`), compiled with `mode = forward` and
    // with `hessian`: second derivatives from the rules' partials differentiated again.
    let (rule_callers, rule_calls) =
        callers_with_hessian(Second::new("cr"), seed, 15, rule_cases, Helpers::Rules);

    // The sixteenth batch: callers of helpers taking arrays (the ninth batch's language,
    // helpers returning a float), compiled with `mode = forward` and with `hessian`.
    let (array_second, array_calls_in_hessians) = callers_with_hessian(
        Second::new("ca"),
        seed,
        16,
        array_second_cases,
        Helpers::Arrays,
    );

    // Drawn until the batch has its size (programs with arrays that carry derivatives are left
    // out), at most ten draws a program.
    let mut traces = Traces::default();
    let mut runner = self::runner(seed, 17);
    for i in 0..10 * trace_cases {
        if traces.programs as u64 >= trace_cases {
            break;
        }
        let tree = match gen::loop_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of the trace batch: {e}"),
        };
        let (p, points) = tree.current();
        traces.add(&format!("tr{i}"), &p, &points);
    }
    // And as many callers of helpers (`trc0`, ..).
    let mut runner = self::runner(seed, 18);
    let before = traces.programs;
    for i in 0..10 * trace_cases {
        if (traces.programs - before) as u64 >= trace_cases {
            break;
        }
        let tree = match gen::call_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating caller {i} of the trace batch: {e}"),
        };
        let (p, points) = tree.current();
        traces.add_caller(&format!("trc{i}"), p, &points, &mut calls);
    }
    // And as many callers of helpers taking arrays (the ninth batch's language, `tra0`, ..),
    // those whose helpers all return floats (a call returning an array is not shown).
    let mut runner = self::runner(seed, 24);
    let before = traces.callers;
    for i in 0..10 * trace_cases {
        if (traces.callers - before) as u64 >= trace_cases {
            break;
        }
        let tree = match gen::array_call_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating caller {i} of arrays of the trace batch: {e}"),
        };
        let (mut p, points) = tree.current();
        p.name_callees(&format!("tra{i}"));
        if p.callees.iter().all(|c| c.source().contains(") -> f64 {")) {
            traces.add_caller(&format!("tra{i}"), p, &points, &mut array_calls);
        }
    }
    // And as many programs of array state (`trs0`, ..), those without helpers.
    let mut runner = self::runner(seed, 21);
    let before = traces.state;
    for i in 0..10 * trace_cases {
        if (traces.state - before) as u64 >= trace_cases {
            break;
        }
        let tree = match gen::state_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of array state of the trace batch: {e}"),
        };
        let (p, points) = tree.current();
        if p.callees.is_empty() {
            traces.state += 1;
            traces.add(&format!("trs{i}"), &p, &points);
        }
    }

    // The eighteenth batch: programs of the loop language whose final expression is given by
    // local closures (`with_closures`), in reverse mode (`cl0`, ..) and forward mode (`cl0_fwd`,
    // ..), against the oracle of the program as drawn.
    let mut closures = Batch::default();
    let (mut inner_closures, mut closures_with_params) = (0, 0);
    let mut runner = self::runner(seed, 19);
    for i in 0..closure_cases {
        let tree = match gen::loop_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of the closure batch: {e}"),
        };
        let (p, points) = tree.current();
        let name = format!("cl{i}");
        let fwd = format!("cl{i}_fwd");
        if let (Some(rev), Some(fw)) = (
            with_closures(&p.source(&name)),
            with_closures(&p.source_with(&fwd, "mode = forward")),
        ) {
            let (rev, inner) = with_inner_closures(&rev);
            let (fw, _) = with_inner_closures(&fw);
            inner_closures += usize::from(inner);
            closures_with_params +=
                usize::from(rev.contains("= |__e: f64") || rev.contains("= |__v: f64"));
            closures.add_source(&name, rev, &p, &points);
            closures.add_source(&fwd, fw, &p, &points);
        }
    }

    // And straight-line programs of arithmetic alone (no method, no function), written
    // `const fn` (`cc0`, ..): what their companions compute must not change.
    let mut const_fns = 0;
    let mut runner = self::runner(seed, 20);
    for i in 0..10 * closure_cases {
        if const_fns as u64 >= closure_cases {
            break;
        }
        let tree = match gen::case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of the const fn draw: {e}"),
        };
        let (p, points) = tree.current();
        let name = format!("cc{i}");
        let source = p.source(&name);
        let body = source.split_once(" -> f64 {").map_or("", |b| b.1);
        let calls = body.char_indices().any(|(k, c)| {
            c == '('
                && body[..k].ends_with(|b: char| b.is_ascii_alphanumeric() || b == '_')
                && !body[..k].ends_with("if")
        });
        if calls || body.contains("::") && !body.contains("consts::") {
            continue;
        }
        const_fns += 1;
        // (Its companions are `const fn` where their code is arithmetic alone: not always, as
        // a data value in a float's place is converted by a runtime helper, `val`. Here they
        // are checked for what they compute.)
        closures.add_source(&name, source.replace("\nfn ", "\nconst fn "), &p, &points);
    }

    // The nineteenth batch: programs of the loop language (`op0`, .., and `op0_fwd` in forward
    // mode) and of array state (`ops0`, ..), their assignments made calls of helpers writing
    // through `&mut` (`with_out_params`), against the oracle of the programs as drawn.
    let mut outs = Batch::default();
    outs.fns.push_str(OUT_HELPERS);
    let (mut out_assignments, mut out_arrays, mut out_aliases, mut out_refs) = (0, 0, 0, 0);
    let mut runner = self::runner(seed, 22);
    for i in 0..out_param_cases {
        let tree = match gen::loop_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => panic!("generating program {i} of the out-parameter batch: {e}"),
        };
        let (p, points) = tree.current();
        let (name, fwd) = (format!("op{i}"), format!("op{i}_fwd"));
        // One program in two again with `w0` taken as `&f64` (`opr0`, ..).
        if i % 2 == 1 {
            let by_ref = format!("opr{i}");
            if let Some(source) = with_ref_param(&p.source(&by_ref)) {
                outs.first_by_ref = true;
                outs.add_source(&by_ref, source, &p, &points);
                outs.first_by_ref = false;
                out_refs += 1;
            }
        }
        let (rev, a, z, l) = with_out_params(&p.source(&name));
        let (fw, _, _, _) = with_out_params(&p.source_with(&fwd, "mode = forward"));
        if a + z == 0 {
            continue;
        }
        out_assignments += a;
        out_arrays += z;
        out_aliases += l;
        outs.add_source(&name, rev, &p, &points);
        outs.add_source(&fwd, fw, &p, &points);
    }
    let mut runner = self::runner(seed, 23);
    for i in 0..out_param_cases {
        let tree = match gen::state_case(3).new_tree(&mut runner) {
            Ok(t) => t,
            Err(e) => {
                panic!("generating program {i} of array state of the out-parameter batch: {e}")
            }
        };
        let (p, points) = tree.current();
        if !p.callees.is_empty() {
            continue;
        }
        let name = format!("ops{i}");
        let (source, a, z, l) = with_out_params(&p.source(&name));
        if a + z == 0 {
            continue;
        }
        out_assignments += a;
        out_arrays += z;
        out_aliases += l;
        outs.add_source(&name, source, &p, &points);
    }

    let mut summary = format!(
        "seed {seed}: {} straight-line programs ({} points, {} nonzero gradient components), {} loop programs ({} points, {} nonzero components; ",
        plain.programs, plain.points, plain.nonzero, loops.programs, loops.points, loops.nonzero
    );
    let feats: Vec<String> = FEATURES
        .iter()
        .zip(&loops.features)
        .map(|((name, _), n)| format!("{name} {n}"))
        .collect();
    let _ = write!(
        summary,
        "{}, local array read at another index {} ({} in the loop right after its fill loop, over the same range; with `ordered_sums` too: {} points; with lanes in every loop (`__lanes_always`): {} points), {} callers ({} points, {} nonzero components; {}; {calls_in_while} drawn with a call in a `while` loop left out, the known stop)",
        feats.join(", "),
        loops.other_index,
        loops.fill_other_index,
        loops.ordered_points,
        loops.lanes_points,
        calls.programs,
        calls.points,
        calls.nonzero,
        calls.calls()
    );
    let _ = write!(summary, ", {}", second.summary());
    let _ = write!(summary, ", {}", jacobians.summary());
    let _ = write!(summary, ", {}", loop_second.loop_summary("loop programs"));
    let kinds: Vec<String> = grad_testgen::escape::Kind::ALL
        .iter()
        .zip(&escape_kinds)
        .map(|(k, n)| format!("{k:?} {n}"))
        .collect();
    let _ = write!(
        summary,
        ", {} escape programs that compile, of {escape_cases} drawn ({} points, {} nonzero components; {})",
        escapes.programs,
        escapes.points,
        escapes.nonzero,
        kinds.join(", ")
    );
    state.state.resize(STATE_FEATURES.len(), 0);
    let feats: Vec<String> = STATE_FEATURES
        .iter()
        .zip(&state.state)
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let _ = write!(
        summary,
        ", {} programs of array state ({} points, {} nonzero components; forward mode: {} points; with `checkpoint`: {} points; with lanes in every loop: {} points; {})",
        state.programs,
        state.points,
        state.nonzero,
        state.forward_points,
        state.checkpoint_points,
        state.lanes_points,
        feats.join(", ")
    );

    array_calls.state.resize(STATE_FEATURES.len(), 0);
    array_calls.array_calls.resize(ARRAY_CALL_FEATURES.len(), 0);
    let feats: Vec<String> = ARRAY_CALL_FEATURES
        .iter()
        .zip(&array_calls.array_calls)
        .chain(STATE_FEATURES.iter().zip(&array_calls.state))
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let _ = write!(
        summary,
        ", {} callers of arrays across calls ({} points, {} nonzero components; forward mode: {} points; {}; {})",
        array_calls.programs,
        array_calls.points,
        array_calls.nonzero,
        array_calls.forward_points,
        array_calls.calls(),
        feats.join(", ")
    );
    let _ = write!(
        summary,
        ", {}",
        state_second.loop_summary("programs of array state")
    );

    let _ = write!(
        summary,
        ", {} with their parameters in a struct (by reference {}, by value {}, as `self` {}, beside another `wrt` parameter {}, beside a slice {})",
        struct_second.loop_summary("programs"),
        struct_second.forms[0],
        struct_second.forms[1],
        struct_second.forms[2],
        struct_second.forms[4],
        struct_second.forms[5]
    );
    let _ = write!(
        summary,
        ", {} (through {} calls of helpers that ask for `hessian` too; {} helpers taking a `wrt` array)",
        call_second
            .summary()
            .replace("straight-line programs", "callers"),
        calls_in_hessians,
        call_second.array_helpers
    );
    let _ = write!(
        summary,
        ", {} (through {} calls; {} helpers taking a `wrt` array, {} returning an array)",
        array_second
            .summary()
            .replace("straight-line programs", "callers of helpers of arrays"),
        array_calls_in_hessians,
        array_second.array_helpers,
        array_second.array_results
    );
    let _ = write!(
        summary,
        ", {} (through {} calls of rules)",
        rule_callers
            .summary()
            .replace("straight-line programs", "callers of rules"),
        rule_calls
    );
    let _ = write!(
        summary,
        ", generic over the float type: {}, and {} (through {} calls of generic helpers; {} helpers taking a `wrt` array)",
        generic_loops.loop_summary("loop programs"),
        generic_callers
            .summary()
            .replace("straight-line programs", "callers"),
        generic_calls,
        generic_callers.array_helpers
    );
    let _ = write!(
        summary,
        ", {} programs with their parameters in a struct ({} points, {} nonzero components; by reference {}, by value {}, as `self` {}, passed whole to a helper {}, beside another `wrt` parameter {}, beside a slice {})",
        structs.programs, structs.points, structs.nonzero, forms[0], forms[1], forms[2], forms[3], forms[4], forms[5]
    );

    let _ = write!(summary, ", {}", traces.summary());
    let _ = write!(
        summary,
        ", {} programs with their result given by local closures, in reverse and forward mode, and {const_fns} straight-line programs of arithmetic written `const fn` ({} points; {} with closures written in their blocks too, {closures_with_params} of them with closures given parameters)",
        (closures.programs - const_fns) / 2,
        closures.points,
        inner_closures
    );

    let _ = write!(
        summary,
        ", {} programs with assignments made calls of helpers writing through `&mut`, or their first `wrt` parameter taken as `&f64` ({} points; {out_assignments} assignments, {out_aliases} of them through a local `&mut` alias instead, {out_arrays} arrays scaled in place; {out_refs} programs taking `&f64`)",
        outs.programs, outs.points
    );

    let k = grad_testgen::ast::USER_CONST;
    // What every program may use: the import, the user constant, the index tables, the
    // escapes' support items.
    let prelude = format!(
        "use backprop::grad;\n\nconst K: f64 = {k:?};\n{}\n{}\n",
        grad_testgen::ast::index_tables(),
        grad_testgen::escape::SUPPORT,
    );
    let out = format!(
        "{prelude}/// What the batch holds.\npub const SUMMARY: &str = {summary:?};\n\n{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}\npub mod {} {{\n    use backprop::grad;\n    use super::K;\n\n{}{}}}\n\n/// Checks every generated point; returns how many.\npub fn check_all() -> usize {{\n    let mut n = 0;\n{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}{}    n\n}}\n",
        plain.fns,
        loops.fns,
        calls.fns,
        second.fns,
        jacobians.fns.clone() + &jacobians.struct_fns,
        loop_second.fns,
        escapes.fns,
        state.fns,
        array_calls.fns,
        state_second.fns,
        structs.fns,
        struct_second.fns,
        call_second.fns,
        generic_loops.fns,
        generic_callers.fns,
        rule_callers.fns,
        array_second.fns,
        traces.fns,
        closures.fns,
        outs.fns,
        grad_testgen::ast::CALL_MODULE,
        calls.module,
        array_calls.module,
        plain.checks,
        loops.checks,
        calls.checks,
        second.checks,
        jacobians.checks,
        loop_second.checks,
        escapes.checks,
        state.checks,
        array_calls.checks,
        state_second.checks,
        structs.checks,
        struct_second.checks,
        call_second.checks,
        generic_loops.checks,
        generic_callers.checks,
        rule_callers.checks,
        array_second.checks,
        traces.checks,
        closures.checks,
        outs.checks,
    );
    write("generated.rs", &out);
    // The same programs for `tests/lints.rs`, with and without `#[grad]` (an attribute's line
    // left empty, so that both files number their lines alike): the macro may add no warning.
    let with = format!(
        "{prelude}{}{}{}{}{}{}{}",
        plain.fns,
        loops.fns,
        second.fns,
        jacobians.fns,
        loop_second.fns,
        escapes.fns,
        if KNOWN_DEAD_COPY_WARNING {
            ""
        } else {
            &state.fns
        },
    );
    let without: String = with
        .lines()
        .map(|l| {
            if l.trim_start().starts_with("#[grad") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    write("lint_with.rs", &with);
    write("lint_without.rs", &without);
    let lib = format!(
        "use backprop::grad;\n\nconst K: f64 = {k:?};\n\n{}{}",
        calls.lib, array_calls.lib
    );
    write("calls.rs", &lib);
}

/// Fixed in the macro (the companions allow `unused_assignments`, which the original reports at
/// the user's line); set to `true` to leave the batch out again. Was: an array copied from a parameter and overwritten whole before it is read
/// (`let mut z = wa; z = [0.0; 3];`) gets a second "value assigned to `z` is never read"
/// warning from the expansion, at the parameter (`wa` in `fn f(wa: [f64; 3])`), besides the
/// one the plain function has at the `let`. Minimal:
///
/// ```text
/// #[grad(wrt = wa)]
/// pub fn f(wa: [f64; 3]) -> f64 {
///     let mut z = wa;
///     z = [0.0; 3];
///     z[0] * wa[1]
/// }
/// ```
///
/// While this is `true`, the eighth batch's programs (array state) are left out of the lint
/// files `tests/lints.rs` compares (they are compiled and checked all the same).
const KNOWN_DEAD_COPY_WARNING: bool = false;

/// BUG (reported, see TESTING.md): since every `#[grad]` function gets a pullback struct of
/// its own name, one named like a primitive type (`#[grad(wrt = w)] fn f64(w: f64) -> f64`)
/// shadows that type in its module, and nothing there compiles ("cannot multiply `f64` by
/// `f64`"). The 65th straight-line program was `f64`. While this is `true`, such a name is written
/// `f_64`.
const WORK_AROUND_PRIMITIVE_NAMES: bool = true;

/// `{prefix}{i}`, the name of a generated program.
fn program_name(prefix: &str, i: u64) -> String {
    let name = format!("{prefix}{i}");
    let primitive = ["f32", "f64"].contains(&name.as_str());
    if WORK_AROUND_PRIMITIVE_NAMES && primitive {
        format!("{prefix}_{i}")
    } else {
        name
    }
}

fn write(name: &str, text: &str) {
    let path =
        std::path::Path::new(&std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into())).join(name);
    if let Err(e) = std::fs::write(&path, text) {
        panic!("writing {}: {e}", path.display());
    }
}

/// The thirteenth batch (and the fourteenth's callers): `cases` callers of `#[grad]` helpers
/// (the third batch's language) drawn from stream `stream`, compiled with `mode = forward` and
/// with `hessian`, checked as the fourth batch's are; their helpers ask for `hessian` too
/// (`#[grad(hessian)]`, `#[grad(wrt = .., hessian)]`), so that second derivatives go through
/// the calls. Only callers whose helpers are next to them are kept (and, for the thirteenth
/// and fifteenth batches, whose helpers return a float). Returns the batch and the calls its functions
/// with `hessian` make.
/// What the helpers of a batch of callers with `hessian` are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Helpers {
    /// `#[grad]` functions of floats (the third batch's language).
    Floats,
    /// `#[backprop::rule]` functions ([`rule_source`]).
    Rules,
    /// `#[grad]` functions taking arrays too, by value and by reference (the ninth batch's
    /// language), returning a float or an array (`[f64; 3]`: Jacobian blocks).
    Arrays,
}

fn callers_with_hessian(
    mut batch: Second,
    seed: u64,
    stream: u8,
    cases: u64,
    helpers: Helpers,
) -> (Second, usize) {
    let rules = helpers == Helpers::Rules;
    let prefix = batch.prefix;
    let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(stream);
    let mut runner = self::runner(seed, stream);
    let (mut kept, mut drawn) = (0u64, 0u64);
    let mut calls_in_hessians = 0;
    while kept < cases && drawn < cases * 40 {
        drawn += 1;
        let tree = match helpers {
            Helpers::Arrays => gen::array_call_case(3).boxed().new_tree(&mut runner),
            _ => gen::call_case(3).boxed().new_tree(&mut runner),
        };
        let tree = match tree {
            Ok(t) => t,
            Err(e) => panic!("generating caller {drawn} of `{prefix}` with `hessian`: {e}"),
        };
        let (mut p, points) = tree.current();
        p.name_callees(&format!("{prefix}{kept}"));
        // Helpers next to their callers, returning a float, or, in the sixteenth batch, an
        // array too (second order goes through those, of floats and of arrays); a rule's
        // parameters are floats.
        let floats = |c: &grad_testgen::ast::Callee| {
            c.place == Place::Here
                && (c.outputs.is_empty() || helpers == Helpers::Arrays)
                && (!rules || (!c.by_ref && !c.body.wrt_array && !c.body.data_array))
        };
        // A call in a `while` loop whose value the reverse sweep needs is refused in reverse
        // mode already (it can be neither kept nor recomputed there; found at seed 2801), and
        // so is a value after a `continue` or `break` in a loop that reads what a call returned
        // (seed 3101): such callers are drawn again too.
        let caller = p.source("f");
        let whiles = caller.contains("while ")
            || caller.contains("continue")
            || caller.contains("break")
            || p.callees.iter().any(|c| c.source().contains("while "));
        if p.callees.is_empty() || !p.callees.iter().all(floats) || whiles {
            continue;
        }
        // The fifteenth batch: each helper a rule, its body an expression drawn here and its
        // partials that expression's derivatives, written out (`rule_source`).
        if rules {
            for c in &mut p.callees {
                c.body.stmts.clear();
                c.body.ret = rule_body(&mut rng, c.body.n_wrt, c.body.n_data, 3);
            }
        }
        let helpers: Option<Vec<String>> = p
            .callees
            .iter()
            .map(|c| {
                if rules {
                    return rule_source(c);
                }
                let source = with_hessian(&c.source());
                if batch.generic {
                    to_generic(&source)
                } else {
                    Some(source)
                }
            })
            .collect();
        let Some(helpers) = helpers else { continue };
        let (q, rewrites) = for_hessian(&p);
        let before = batch.programs;
        batch.add(kept, &p, (&q, rewrites), &points);
        if batch.programs == before {
            continue;
        }
        for h in helpers {
            batch.fns.push_str(&h);
        }
        calls_in_hessians += p.call_sites().len();
        batch.array_helpers += p.callees.iter().filter(|c| c.body.wrt_array).count();
        batch.array_results += p.callees.iter().filter(|c| !c.outputs.is_empty()).count();
        kept += 1;
    }
    (batch, calls_in_hessians)
}

/// `source` (functions as the printer writes them) generic over the float type, as a user
/// writes a model once for `f32` and `f64`: `fn name<T: backprop::Real>(..)`, every `f64` type
/// `T`, and every constant of it through `T::from_f64`: literals (`0.5_f64`, `0.5` →
/// `T::from_f64(0.5)`), the user constant `K`, `std::f64::consts::PI`, and data cast (`(k as
/// f64)` → `T::from_f64(k as f64)`). `None` when a cast has another form (then left out).
fn to_generic(source: &str) -> Option<String> {
    let c: Vec<char> = source.chars().collect();
    let word = |i: usize| -> usize {
        let mut j = i;
        while j < c.len() && (c[j].is_ascii_alphanumeric() || c[j] == '_') {
            j += 1;
        }
        j
    };
    let text = |a: usize, b: usize| -> String { c[a..b].iter().collect() };
    let mut out = String::with_capacity(source.len() * 5 / 4);
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch.is_ascii_alphabetic() || ch == '_' {
            let j = word(i);
            let w = text(i, j);
            let rest = text(j, (j + 15).min(c.len()));
            if w == "std" && rest == "::f64::consts::" {
                let k = word(j + 15);
                out.push_str(&format!("T::from_f64({}{})", w, text(j, k)));
                i = k;
                continue;
            }
            match w.as_str() {
                "f64" => out.push('T'),
                "K" => out.push_str("T::from_f64(K)"),
                "fn" => {
                    // `fn name(`: the float type parameter after the name.
                    let n0 = j + 1;
                    let n1 = word(n0);
                    out.push_str(&text(i, n1));
                    if c.get(n1) == Some(&'(') {
                        out.push_str("<T: backprop::Real>");
                    }
                    i = n1;
                    continue;
                }
                _ => out.push_str(&w),
            }
            i = j;
        } else if ch.is_ascii_digit() {
            let mut j = i;
            while j < c.len() && c[j].is_ascii_digit() {
                j += 1;
            }
            if c.get(j) == Some(&'.') && c.get(j + 1).is_some_and(char::is_ascii_digit) {
                j += 1;
                while j < c.len() && c[j].is_ascii_digit() {
                    j += 1;
                }
            }
            if c.get(j) == Some(&'e') {
                j += 1;
                if c.get(j) == Some(&'-') {
                    j += 1;
                }
                while j < c.len() && c[j].is_ascii_digit() {
                    j += 1;
                }
            }
            let k = word(j);
            let float = text(i, j).contains(['.', 'e']);
            if text(j, k) == "_f64" || (float && k == j) {
                out.push_str(&format!("T::from_f64({})", text(i, j)));
            } else {
                out.push_str(&text(i, k));
            }
            i = k;
        } else if ch == '(' {
            // `(k as f64)`, `(q.k as f64)`: data made a float.
            let close = c[i..].iter().position(|&x| x == ')').map(|p| i + p);
            let inner = close.map(|e| text(i + 1, e));
            match inner.as_deref().and_then(|t| t.strip_suffix(" as f64")) {
                Some(data)
                    if data
                        .chars()
                        .all(|x| x.is_ascii_alphanumeric() || x == '_' || x == '.') =>
                {
                    out.push_str(&format!("T::from_f64({data} as f64)"));
                    i = close.unwrap_or(i) + 1;
                }
                _ => {
                    out.push('(');
                    i += 1;
                }
            }
        } else {
            out.push(ch);
            i += 1;
        }
    }
    (!out.contains(" as T")).then_some(out)
}

/// A rule's body for the fifteenth batch: an expression of the helper's parameters (`w0`, ..,
/// then its float data `x0`, ..) of sums, differences, products, negations, `sin`, `cos`,
/// `tanh` and `exp(tanh(..))`, defined everywhere; `depth` levels at most. `rng` is the batch's
/// own stream.
fn rule_body(rng: &mut u64, n_wrt: usize, n_data: usize, depth: u32) -> Expr {
    let mut next = |n: u64| {
        *rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (*rng >> 33) % n
    };
    let vars = (n_wrt + n_data).max(1) as u64;
    if depth == 0 || next(4) == 0 {
        return match next(5) {
            0 => Expr::Lit([0.5, -1.25, 2.0, 0.75][next(4) as usize]),
            _ => Expr::Var(next(vars) as u8),
        };
    }
    let kind = next(8);
    let sub = |rng: &mut u64| Box::new(rule_body(rng, n_wrt, n_data, depth - 1));
    use grad_testgen::ast::{Arith, F1};
    match kind {
        0 => Expr::Bin(Arith::Add, sub(rng), sub(rng)),
        1 => Expr::Bin(Arith::Sub, sub(rng), sub(rng)),
        2 | 3 => Expr::Bin(Arith::Mul, sub(rng), sub(rng)),
        4 => Expr::F1(F1::Sin, sub(rng)),
        5 => Expr::F1(F1::Cos, sub(rng)),
        6 => Expr::F1(F1::Tanh, sub(rng)),
        _ => Expr::F1(F1::Exp, Box::new(Expr::F1(F1::Tanh, sub(rng)))),
    }
}

/// `e` (of [`rule_body`]'s language) as Rust, the helper's parameters by name.
fn rule_expr(e: &Expr, names: &[String]) -> String {
    use grad_testgen::ast::{Arith, F1};
    let p = |e: &Expr| rule_expr(e, names);
    match e {
        Expr::Var(i) => names[*i as usize % names.len()].clone(),
        Expr::Lit(c) => format!("({c:?}_f64)"),
        Expr::Neg(a) => format!("(-{})", p(a)),
        Expr::Bin(op, a, b) => {
            let s = match op {
                Arith::Add => "+",
                Arith::Sub => "-",
                Arith::Mul => "*",
                Arith::Div => "/",
            };
            format!("({} {s} {})", p(a), p(b))
        }
        Expr::F1(f, a) => {
            let m = match f {
                F1::Sin => "sin",
                F1::Cos => "cos",
                F1::Tanh => "tanh",
                _ => "exp",
            };
            format!("{}.{m}()", p(a))
        }
        _ => "0.0_f64".to_string(),
    }
}

/// The derivative of `e` (of [`rule_body`]'s language) with respect to parameter `i`, as Rust:
/// the textbook rules, written independently of the macro's table.
fn rule_partial(e: &Expr, i: usize, names: &[String]) -> String {
    use grad_testgen::ast::{Arith, F1};
    let p = |e: &Expr| rule_expr(e, names);
    let d = |e: &Expr| rule_partial(e, i, names);
    match e {
        Expr::Var(j) if *j as usize % names.len() == i => "1.0_f64".to_string(),
        Expr::Var(_) | Expr::Lit(_) => "0.0_f64".to_string(),
        Expr::Neg(a) => format!("(-{})", d(a)),
        Expr::Bin(Arith::Add, a, b) => format!("({} + {})", d(a), d(b)),
        Expr::Bin(Arith::Sub, a, b) => format!("({} - {})", d(a), d(b)),
        Expr::Bin(Arith::Mul, a, b) => format!("({} * {} + {} * {})", d(a), p(b), p(a), d(b)),
        Expr::Bin(Arith::Div, a, b) => format!(
            "(({} * {} - {} * {}) / ({} * {}))",
            d(a),
            p(b),
            p(a),
            d(b),
            p(b),
            p(b)
        ),
        Expr::F1(F1::Sin, a) => format!("({}.cos() * {})", p(a), d(a)),
        Expr::F1(F1::Cos, a) => format!("(-{}.sin() * {})", p(a), d(a)),
        Expr::F1(F1::Tanh, a) => format!("((1.0_f64 - {}.tanh().powi(2)) * {})", p(a), d(a)),
        Expr::F1(_, a) => format!("({}.exp() * {})", p(a), d(a)),
        _ => "0.0_f64".to_string(),
    }
}

/// The helper `c` (its body [`rule_body`]'s) as a `#[backprop::rule]` function, with its
/// partials.
fn rule_source(c: &grad_testgen::ast::Callee) -> Option<String> {
    let (n_wrt, n_data) = (c.body.n_wrt, c.body.n_data);
    let names: Vec<String> = (0..n_wrt)
        .map(|j| format!("w{j}"))
        .chain((0..n_data).map(|j| format!("x{j}")))
        .collect();
    // A rule gives every float parameter its partial (data too: it is then never used).
    let partials: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(j, n)| format!("{n} = {}", rule_partial(&c.body.ret, j, &names)))
        .collect();
    let source = c.source();
    let (_, rest) = source.split_once('\n')?;
    Some(format!(
        "#[backprop::rule({})]\n{rest}",
        partials.join(", ")
    ))
}

/// A helper's source with `hessian` asked for: `#[grad]` → `#[grad(hessian)]`, `#[grad(wrt =
/// ..)]` → `#[grad(wrt = .., hessian)]`.
fn with_hessian(source: &str) -> String {
    match source.split_once('\n') {
        Some(("#[grad]", rest)) => format!("#[grad(hessian)]\n{rest}"),
        Some((attr, rest)) if attr.starts_with("#[grad(") && attr.ends_with(")]") => {
            format!("{}, hessian)]\n{rest}", &attr[..attr.len() - 2])
        }
        _ => source.to_string(),
    }
}

/// The form (`in_struct`'s numbering) a program took, from its source: form 4 falls back to
/// form 0 for one `wrt` parameter, form 5 to form 4 when the last is not `wa` or is copied
/// whole.
fn struct_form(source: &str) -> usize {
    if source.contains("wa: &[f64]") {
        5
    } else if source.contains("#[grad(wrt = q, w") {
        4
    } else if source.contains("wrt = self") {
        2
    } else if source.contains("_in(q") {
        3
    } else if source.contains("(q: &") {
        0
    } else {
        1
    }
}

/// Program `i` of the eleventh and twelfth batches: of array state for even `i`, of the loop
/// language for odd.
fn struct_program(runner: &mut TestRunner, i: u64, what: &str) -> (Program, Vec<Point>) {
    let case = if i % 2 == 0 {
        gen::state_case(3).boxed()
    } else {
        gen::loop_case(3).boxed()
    };
    match case.new_tree(runner) {
        Ok(t) => t.current(),
        Err(e) => panic!("generating program {i} {what}: {e}"),
    }
}

/// `source` (a program named `name` with `#[grad(wrt = w0, .., wa)]`) with its `wrt`
/// parameters held in a struct deriving `Differentiable`: form 0 differentiates `q: &P`, form 1
/// `q: P`, form 2 a method with `wrt = self`, form 3 `q: &P` passed whole to a helper
/// differentiated with respect to it, which holds the body, form 4 `q: &P` holding all but the
/// last `wrt` parameter, which stays a parameter of its own beside it (`wrt = q, w`; form 0 for
/// a program of one `wrt` parameter). The function `name` and its companions keep their
/// signatures (they build the struct and unpack its gradient), so the batch checks them as any
/// other. `None` for a program the transform does not fit: a `wrt` parameter cast with `as` (a
/// field read as data), or none read.
fn in_struct(source: &str, name: &str, form: usize) -> Option<String> {
    let mut lines = source.lines();
    let attr = lines.next()?;
    let listed: Vec<&str> = attr
        .strip_prefix("#[grad(wrt = ")?
        .strip_suffix(")]")?
        .split(", ")
        .collect();
    // `wrt = w0, wa, mode = forward, hessian`: the names, then the options.
    let split = listed
        .iter()
        .position(|w| w.contains(" = ") || *w == "hessian")
        .unwrap_or(listed.len());
    let (wrt, options) = (listed[..split].to_vec(), listed[split..].join(", "));
    let opts = if options.is_empty() {
        String::new()
    } else {
        format!(", {options}")
    };
    let head = lines.next()?;
    let (params, ret) = head
        .strip_prefix(&format!("fn {name}("))?
        .strip_suffix(" {")?
        .rsplit_once(") -> ")?;
    // A function returning several values (`(f64, f64)`, `[f64; 3]`): its Jacobian is checked,
    // not a gradient. Passed whole to a helper only when it returns an array (the helper is a
    // building block then: its pullback gives a block of structs; a tuple is not one).
    let several = ret != "f64";
    if several && form == 3 && !ret.starts_with('[') {
        return None;
    }
    let params: Vec<(&str, &str)> = params
        .split(", ")
        .map(|p| p.split_once(": "))
        .collect::<Option<_>>()?;
    let mut body = String::new();
    for l in lines.by_ref() {
        if l == "}" {
            break;
        }
        body.push_str(l);
        body.push('\n');
    }
    let rest: String = lines.map(|l| format!("{l}\n")).collect();
    // Form 4: the last `wrt` parameter beside the struct; form 5: the array `wa` (the last)
    // beside it as a slice `&[f64]`, with no struct when it is the only one.
    let slice = form == 5;
    let beside: Option<&str> = match (form, wrt.len()) {
        (4, 2..) => wrt.last().copied(),
        (4, _) => return in_struct(source, name, 0),
        (5, _) if wrt.last() == Some(&"wa") => Some("wa"),
        (5, _) => return in_struct(source, name, 4),
        _ => None,
    };
    let in_q = |n: &str| wrt.contains(&n) && beside != Some(n);
    let owner = if form == 2 { "self" } else { "q" };
    // A float of data moved into the struct too, as a field marked `#[backprop(skip)]` (read as
    // a number: a hyperparameter), unless the body casts it.
    let no_struct = slice && wrt.len() == 1;
    let skip: Option<&str> = params
        .iter()
        .find(|(n, t)| *t == "f64" && !wrt.contains(n) && !body.contains(&format!("{n} as ")))
        .map(|(n, _)| *n)
        .filter(|_| !no_struct);
    // In forms 0, 2 and 4 the integer and `bool` data (`k`, `flag`) move in too, as skipped
    // fields read as data or where they decide (`match q.k`, `if q.flag`, `(q.k as f64)`,
    // `x.powi(q.k + 1)`).
    let moved: Vec<(&str, &str)> = if no_struct || form % 2 == 1 {
        Vec::new()
    } else {
        params
            .iter()
            .filter(|(n, t)| (*t == "i32" || *t == "bool") && !wrt.contains(n))
            .copied()
            .collect()
    };
    let is_moved = |w: &str| skip == Some(w) || moved.iter().any(|(n, _)| *n == w);
    // Each `wrt` name read, as a field of the owner; `None` when one is cast (data).
    let mut out = String::new();
    let mut read = false;
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while i < chars.len() {
        let c = chars[i];
        if ident(c) && (i == 0 || !(ident(chars[i - 1]) || chars[i - 1] == '.')) {
            let start = i;
            while i < chars.len() && ident(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            if in_q(&word) {
                // Past any `[..]` that follows, is it cast?
                let mut j = i;
                let mut depth = 0;
                while j < chars.len() {
                    match chars[j] {
                        '[' => depth += 1,
                        ']' if depth > 0 => depth -= 1,
                        _ if depth > 0 => {}
                        _ => break,
                    }
                    j += 1;
                }
                let after: String = chars[j..chars.len().min(j + 4)].iter().collect();
                if after.starts_with(" as ") {
                    return None;
                }
                read = true;
                let _ = write!(out, "{owner}.{word}");
            } else if slice && beside == Some(word.as_str()) {
                // A slice is indexed or iterated, never copied whole.
                if !matches!(chars.get(i), Some('[') | Some('.')) {
                    return None;
                }
                out.push_str(&word);
            } else if is_moved(&word) {
                let _ = write!(out, "{owner}.{word}");
            } else {
                out.push_str(&word);
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
    if !read {
        return None;
    }
    // `let _ = (k, flag);` (the original's, for unused data) reads moved fields as numbers: gone.
    if !moved.is_empty() {
        out = out
            .lines()
            .filter(|l| {
                !(l.trim_start().starts_with("let _ = (") && l.contains(&format!("{owner}.")))
            })
            .map(|l| format!("{l}\n"))
            .collect();
    }
    // The array read only whole: its type written once, so the macro takes it for an array.
    let fields: Vec<(&str, &str)> = params.iter().filter(|(n, _)| in_q(n)).copied().collect();
    let beside: Option<(&str, &str)> =
        beside.and_then(|b| params.iter().find(|(n, _)| *n == b).copied());
    // Every `wrt` parameter in order: the struct's fields, then the one beside it.
    let all_wrt: Vec<(&str, &str)> = fields.iter().copied().chain(beside).collect();
    let mut shapes = String::new();
    for (n, ty) in &fields {
        let field = format!("{owner}.{n}");
        if ty.starts_with('[')
            && !out.contains(&format!("{field}["))
            && !out.contains(&format!("{field}."))
        {
            let _ = writeln!(shapes, "    let _{n}: {ty} = {field};");
        }
    }
    let data: Vec<(&str, &str)> = params
        .iter()
        .filter(|(n, _)| !wrt.contains(n) && !is_moved(n))
        .copied()
        .collect();
    let decl = |ps: &[(&str, &str)]| {
        ps.iter()
            .map(|(n, t)| format!("{n}: {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let names = |ps: &[(&str, &str)]| {
        ps.iter()
            .map(|(n, _)| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    // `su3` → `Su3P`, `sg0_fwd` → `Sg0FwdP`.
    let ty: String = name
        .split('_')
        .map(|w| format!("{}{}", w[..1].to_uppercase(), &w[1..]))
        .collect::<String>()
        + "P";
    let mut struct_fields: Vec<String> = fields
        .iter()
        .map(|(n, t)| format!("pub {n}: {t}"))
        .collect();
    struct_fields.extend(skip.map(|n| format!("#[backprop(skip)] pub {n}: f64")));
    struct_fields.extend(
        moved
            .iter()
            .map(|(n, t)| format!("#[backprop(skip)] pub {n}: {t}")),
    );
    let grad_ty = if all_wrt.len() == 1 {
        all_wrt[0].1.to_string()
    } else {
        format!(
            "({})",
            all_wrt
                .iter()
                .map(|(_, t)| t.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    // The struct's gradient is `g`, or `g.0` beside the other's, `g.1`.
    let gq = if beside.is_some() { "g.0" } else { "g" };
    let mut parts: Vec<String> = fields.iter().map(|(n, _)| format!("{gq}.{n}")).collect();
    let gb = if no_struct { "g" } else { "g.1" };
    parts.extend(beside.map(|(_, t)| {
        if slice {
            // The slice's gradient is a `Vec`.
            format!("<{t}>::try_from({gb}.as_slice()).unwrap()")
        } else {
            gb.to_string()
        }
    }));
    let unpack = if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("({})", parts.join(", "))
    };
    let mut members = names(&fields);
    if let Some(n) = skip {
        let _ = write!(members, ", {n}");
    }
    for (n, _) in &moved {
        let _ = write!(members, ", {n}");
    }
    let build = if no_struct {
        String::new()
    } else {
        format!("let q = {ty} {{ {members} }};")
    };
    let (def, call) = match form {
        // The body in a helper differentiated with respect to the struct, which the function
        // passes whole.
        3 => {
            let params = if data.is_empty() {
                format!("q: &{ty}")
            } else {
                format!("q: &{ty}, {}", decl(&data))
            };
            let args = if data.is_empty() {
                "q".to_string()
            } else {
                format!("q, {}", names(&data))
            };
            // A function returning an array ends with its array literal.
            let tail = if several {
                let m: usize = ret
                    .trim_start_matches("[f64; ")
                    .trim_end_matches(']')
                    .parse()
                    .ok()?;
                let ys: Vec<String> = (0..m).map(|i| format!("y[{i}]")).collect();
                format!("let y = {name}_in({args});\n    [{}]", ys.join(", "))
            } else {
                format!("{name}_in({args})")
            };
            (
                format!("#[grad(wrt = q)]\nfn {name}_in({params}) -> {ret} {{\n{shapes}{out}}}\n#[grad(wrt = q{opts})]\nfn {name}_s({params}) -> {ret} {{\n    {tail}\n}}\n"),
                format!("{name}_s{{}}(&q{}{})", if data.is_empty() { "" } else { ", " }, names(&data)),
            )
        }
        0 | 1 | 4 | 5 => {
            let (qty, arg) = if form == 1 { (ty.clone(), "q") } else { (format!("&{ty}"), "&q") };
            // The parameter beside the struct comes right after it (a slice by reference).
            let mut ps: Vec<String> = Vec::new();
            let mut args: Vec<String> = Vec::new();
            let mut listed: Vec<&str> = Vec::new();
            if !no_struct {
                ps.push(format!("q: {qty}"));
                args.push(arg.to_string());
                listed.push("q");
            }
            if let Some((n, t)) = beside {
                let (t, a) = if slice { ("&[f64]".to_string(), format!("&{n}")) } else { (t.to_string(), n.to_string()) };
                ps.push(format!("{n}: {t}"));
                args.push(a);
                listed.push(n);
            }
            ps.extend(data.iter().map(|(n, t)| format!("{n}: {t}")));
            args.extend(data.iter().map(|(n, _)| n.to_string()));
            (
                format!("#[grad(wrt = {}{opts})]\nfn {name}_s({}) -> {ret} {{\n{shapes}{out}}}\n", listed.join(", "), ps.join(", ")),
                format!("{name}_s{{}}({})", args.join(", ")),
            )
        }
        _ => (
            format!(
                "impl {ty} {{\n#[grad(wrt = self{opts})]\nfn eval(&self{}{}) -> {ret} {{\n{shapes}{out}}}\n}}\n",
                if data.is_empty() { "" } else { ", " },
                decl(&data)
            ),
            format!("q.eval{{}}({})", names(&data)),
        ),
    };
    let all = decl(&params);
    let with = |suffix: &str| call.replace("{}", suffix);
    let decl_struct = if no_struct {
        String::new()
    } else {
        format!(
            "#[derive(Clone, Debug, backprop::Differentiable)]\npub struct {ty} {{ {} }}\n",
            struct_fields.join(", ")
        )
    };
    // A call with a direction struct as its last argument (and the direction of the parameter
    // beside it, `{letter}_{name}`, after it).
    let with_dir = |suffix: &str, letter: &str| {
        let c = with(suffix);
        let mut dir = if no_struct {
            String::new()
        } else if form == 1 {
            format!("{letter}q, ")
        } else {
            format!("&{letter}q, ")
        };
        if let Some((n, _)) = beside {
            let r = if slice { "&" } else { "" };
            let _ = write!(dir, "{r}{letter}_{n}");
        }
        let dir = dir.trim_end_matches(", ").to_string();
        match c.strip_suffix("()") {
            Some(head) => format!("{head}({dir})"),
            None => format!("{}, {dir})", &c[..c.len() - 1]),
        }
    };
    // The struct built from `{letter}_{field}` parameters, and those parameters.
    let direction = |letter: &str| {
        let ps: Vec<String> = all_wrt
            .iter()
            .map(|(n, t)| format!("{letter}_{n}: {t}"))
            .collect();
        let mut build = fields
            .iter()
            .map(|(n, _)| format!("{n}: {letter}_{n}"))
            .collect::<Vec<_>>()
            .join(", ");
        // A skipped field holds its value in a direction too (as `zero_like` leaves it).
        if let Some(n) = skip {
            let _ = write!(build, ", {n}");
        }
        for (n, _) in &moved {
            let _ = write!(build, ", {n}");
        }
        (
            ps.join(", "),
            if no_struct {
                String::new()
            } else {
                format!("let {letter}q = {ty} {{ {build} }};")
            },
        )
    };
    let mut second = String::new();
    if options.contains("forward") {
        let (ps, build_t) = direction("t");
        let _ = write!(
            second,
            "#[allow(clippy::too_many_arguments)]\nfn {name}_jvp({all}, {ps}) -> (f64, f64) {{\n    {build}\n    {build_t}\n    {}\n}}\n",
            with_dir("_jvp", "t")
        );
    }
    // The number of parameters, flattened.
    let size: usize = all_wrt
        .iter()
        .map(|(_, t)| {
            t.trim_start_matches("[f64; ")
                .trim_end_matches(']')
                .parse::<usize>()
                .unwrap_or(1)
        })
        .sum();
    if several {
        // The Jacobian, `m` rows of `size`, as an array like the other compilations'.
        let m = if ret.starts_with('[') {
            ret.trim_start_matches("[f64; ")
                .trim_end_matches(']')
                .parse::<usize>()
                .ok()?
        } else {
            ret.matches("f64").count()
        };
        return Some(format!(
            "{}{def}#[allow(clippy::too_many_arguments)]\nfn {name}({all}) -> {ret} {{\n    {build}\n    {}\n}}\n#[allow(clippy::too_many_arguments)]\nfn {name}_jacobian({all}) -> [[f64; {size}]; {m}] {{\n    {build}\n    let j = {};\n    core::array::from_fn(|i| core::array::from_fn(|k| j[i][k]))\n}}\n{rest}",
            decl_struct,
            with(""),
            with("_jacobian"),
        ));
    }
    if options.contains("hessian") {
        let (ps, build_v) = direction("v");
        let _ = write!(
            second,
            "#[allow(clippy::too_many_arguments)]\nfn {name}_hvp({all}, {ps}) -> {grad_ty} {{\n    {build}\n    {build_v}\n    let g = {};\n    {unpack}\n}}\n#[allow(clippy::too_many_arguments)]\nfn {name}_hessian({all}) -> [[f64; {size}]; {size}] {{\n    {build}\n    let h = {};\n    core::array::from_fn(|i| core::array::from_fn(|j| h[i][j]))\n}}\n",
            with_dir("_hvp", "v"),
            with("_hessian"),
        );
    }
    Some(format!(
        "{}{def}#[allow(clippy::too_many_arguments)]\nfn {name}({all}) -> f64 {{\n    {build}\n    {}\n}}\n#[allow(clippy::too_many_arguments)]\nfn {name}_value_and_grad({all}) -> (f64, {grad_ty}) {{\n    {build}\n    let (v, g) = {};\n    (v, {unpack})\n}}\n#[allow(clippy::too_many_arguments)]\nfn {name}_grad({all}) -> {grad_ty} {{\n    {build}\n    let g = {};\n    {unpack}\n}}\n{second}{rest}",
        decl_struct,
        with(""),
        with("_value_and_grad"),
        with("_grad"),
    ))
}
