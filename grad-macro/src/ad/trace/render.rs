//! The derivation as text: formulas with the fewest parentheses, the table in `_grad`'s
//! documentation (Markdown), and the graph's labels (DOT).

use super::*;
use crate::build::Builder;
use crate::ir::{Func, Op, Operand, Var};
use crate::rules::{Form, RULES};
use rustc_hash::FxHashMap as HashMap;

/// Tokens as text, without the spaces `TokenStream`'s printing puts around `.`, `(`, `[`, `,`
/// and `::`.
pub(super) fn tidy(s: &str) -> String {
    let mut s = s.to_string();
    for (from, to) in [
        (" . ", "."),
        (" (", "("),
        ("( ", "("),
        (" )", ")"),
        (" [", "["),
        ("[ ", "["),
        (" ]", "]"),
        (" ,", ","),
        (" :: ", "::"),
        (" .. ", ".."),
        (" ..", ".."),
        (":: core::matches!", "matches!"),
        ("::core::matches!", "matches!"),
    ] {
        s = s.replace(from, to);
    }
    s
}

/// A formula too long to read is left to the generated code.
pub(super) const LONG: &str = "…";

pub(super) fn shorten(s: String) -> String {
    if s.contains(LONG) || s.chars().count() > 160 {
        "(long: see the generated code)".into()
    } else {
        s
    }
}

/// Text for a code span in a Markdown table cell.
pub(super) fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'")
}

/// Text for a quoted DOT label.
pub(super) fn dot_label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

pub(super) const ATOM: u8 = 3;

pub(super) const MUL: u8 = 2;

pub(super) const ADD: u8 = 1;

pub(super) const LOW: u8 = 0;

pub(super) struct Render<'a> {
    pub(super) names: &'a HashMap<Var, String>,
    pub(super) defs: &'a HashMap<Var, Def>,
    pub(super) func: &'a Func,
    /// Values shown by a name of their own (a call's partials: `∂f/∂x`).
    pub(super) labels: &'a HashMap<Var, String>,
    /// How many more values a formula may print: a value used twice is printed twice, so a
    /// deep formula could grow exponentially; past the budget it is cut short (`shorten`).
    pub(super) budget: std::cell::Cell<u32>,
}

/// The values one formula may print.
pub(super) const BUDGET: u32 = 64;

pub(super) fn wrap((s, p): (String, u8), min: u8) -> String {
    if p < min {
        format!("({s})")
    } else {
        s
    }
}

pub(super) fn lit(x: f64) -> String {
    let s = if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    };
    s.replacen('-', "−", 1)
}

impl Render<'_> {
    pub(super) fn operand(&self, o: Operand) -> (String, u8) {
        let left = self.budget.get();
        if left == 0 {
            return (LONG.into(), ATOM);
        }
        self.budget.set(left - 1);
        match o {
            Operand::Var(v) => {
                if let Some(n) = self.names.get(&v).or_else(|| self.labels.get(&v)) {
                    return (n.clone(), ATOM);
                }
                // Data the source names (a loop's counter, `let n = xs.len() as f64;`).
                if let Some(crate::ir::Name::Source(n)) =
                    self.func.vars.get(v.0 as usize).map(|i| &i.name)
                {
                    return (n.clone(), ATOM);
                }
                match self.defs.get(&v) {
                    Some(Def::Op(op, args)) => self.op(*op, args),
                    Some(Def::Opaque(t, refs, prec)) => {
                        let s = self.code(t, refs);
                        // An index, a field, a call: as tight as a name.
                        let p = if *prec >= crate::emit::tokens::PREC_UNARY {
                            ATOM
                        } else {
                            LOW
                        };
                        (s, p)
                    }
                    Some(Def::Cond(c)) => (self.cond(c), LOW),
                    Some(Def::Load(a, idx)) => {
                        let mut s = self.operand(Operand::Var(*a)).0;
                        for i in idx {
                            s.push_str(&format!("[{}]", self.operand(*i).0));
                        }
                        (s, ATOM)
                    }
                    None => ("…".into(), ATOM),
                }
            }
            Operand::Lit(x) => (lit(x), if x < 0.0 { LOW } else { ATOM }),
            Operand::Int(i) => (i.to_string(), ATOM),
            Operand::Bool(b) => (b.to_string(), ATOM),
            Operand::Const(c) => (
                match c {
                    crate::ir::NamedConst::Ln2 => "ln 2".into(),
                    crate::ir::NamedConst::Ln10 => "ln 10".into(),
                },
                ATOM,
            ),
            Operand::Extern(e) => (
                self.func
                    .externs
                    .get(e as usize)
                    .map_or_else(|| LONG.to_string(), |t| t.to_string().replace(' ', "")),
                ATOM,
            ),
        }
    }

    pub(super) fn cond(&self, c: &crate::ir::Cond) -> String {
        use crate::ir::Cond;
        match c {
            Cond::And(a, b) => format!("({} and {})", self.cond(a), self.cond(b)),
            Cond::Or(a, b) => format!("({} or {})", self.cond(a), self.cond(b)),
            // `while c` is `if !c { break }`: its body is in the arm where `not not c`.
            Cond::Not(x) => {
                let inner = self.cond(x);
                match inner.strip_prefix("not ") {
                    Some(c) => c.to_string(),
                    None => format!("not {inner}"),
                }
            }
            Cond::Val(o) => self.operand(*o).0,
            Cond::Opaque(o) => self.code(&o.tokens.to_string(), &o.refs),
        }
    }

    /// Code passed through (`tokens`, with placeholders for `refs`) as text, each reference
    /// by name (parenthesised where it is an expression: `((i + j) as f64)`).
    pub(super) fn code(&self, tokens: &str, refs: &[Var]) -> String {
        let mut s = tidy(tokens);
        for (i, r) in refs.iter().enumerate().rev() {
            let name = wrap(self.operand(Operand::Var(*r)), ATOM);
            s = s.replace(&crate::ir::placeholder(i), &name);
        }
        s.replace("__grad_krate", "backprop")
    }

    /// One operation, its operands by name.
    pub(super) fn op(&self, op: Op, args: &[Operand]) -> (String, u8) {
        self.op_with(op, args, &|o| self.operand(o))
    }

    pub(super) fn op_with(
        &self,
        op: Op,
        args: &[Operand],
        sub: &dyn Fn(Operand) -> (String, u8),
    ) -> (String, u8) {
        let left = self.budget.get();
        if left == 0 {
            return (LONG.into(), ATOM);
        }
        self.budget.set(left - 1);
        let a = |i: usize| sub(args[i]);
        match op {
            Op::Neg => (format!("−{}", wrap(a(0), ATOM)), ADD),
            Op::Add => {
                // `a + (−b)` reads `a − b`.
                let r = a(1);
                match r.0.strip_prefix('−') {
                    Some(rest) if r.1 >= MUL || r.1 == ADD && !rest.contains(' ') => {
                        (format!("{} − {}", wrap(a(0), ADD), rest), ADD)
                    }
                    _ => (format!("{} + {}", wrap(a(0), ADD), wrap(r, ADD)), ADD),
                }
            }
            Op::Sub => (format!("{} − {}", wrap(a(0), ADD), wrap(a(1), MUL)), ADD),
            Op::Mul => (format!("{}·{}", wrap(a(0), MUL), wrap(a(1), ATOM)), MUL),
            Op::Div => (format!("{} / {}", wrap(a(0), MUL), wrap(a(1), ATOM)), MUL),
            Op::Rem => (format!("{} % {}", wrap(a(0), MUL), wrap(a(1), ATOM)), MUL),
            Op::Call(i) => {
                let rule = &RULES[i];
                let xs: Vec<String> = (0..args.len()).map(|k| a(k).0).collect();
                match (rule.name, rule.form) {
                    ("powi", _) | ("powf", _) => {
                        (format!("{}^{}", wrap(a(0), ATOM), wrap(a(1), ATOM)), ATOM)
                    }
                    ("recip", _) => (format!("1 / {}", wrap(a(0), ATOM)), MUL),
                    ("exp", _) => (format!("e^{}", wrap(a(0), ATOM)), ATOM),
                    ("sqrt", _) => (format!("√{}", wrap(a(0), ATOM)), ATOM),
                    (name, Form::Method | Form::Helper) => {
                        let name = if name == "sigmoid" { "σ" } else { name };
                        (format!("{name}({})", xs.join(", ")), ATOM)
                    }
                }
            }
            Op::Select(cmp) => {
                let test = match cmp {
                    crate::ir::Cmp::Lt => format!("{} < {}", a(0).0, a(1).0),
                    crate::ir::Cmp::Gt => format!("{} > {}", a(0).0, a(1).0),
                    crate::ir::Cmp::Eq => format!("{} = {}", a(0).0, a(1).0),
                    crate::ir::Cmp::Nan => format!("{} is NaN", a(0).0),
                };
                (format!("({} if {test}, else {})", a(2).0, a(3).0), ATOM)
            }
            Op::Pulled(n) => (
                format!(
                    "{}({})",
                    self.callee(&args[2 * n]),
                    (0..n).map(|k| a(k).0).collect::<Vec<_>>().join(", ")
                ),
                ATOM,
            ),
        }
    }

    /// The name of the function a call's value (`pullback(..).0`, an operand of its
    /// `Op::Pulled`) came from.
    pub(super) fn callee(&self, value: &Operand) -> String {
        let call = value
            .as_var()
            .and_then(|v| match self.defs.get(&v) {
                Some(Def::Opaque(_, refs, _)) => refs.first().copied(),
                _ => None,
            })
            .and_then(|cv| self.func.info(cv).call.as_ref().map(|c| c.name.clone()));
        call.unwrap_or_else(|| "call".into())
    }

    /// A value the builder made (a local derivative), read back as a formula.
    pub(super) fn built(&self, b: &Builder, o: Operand) -> String {
        fn go(r: &Render, b: &Builder, o: Operand, depth: u32) -> (String, u8) {
            match o.as_var().and_then(|v| {
                (!r.names.contains_key(&v))
                    .then(|| b.definition(v))
                    .flatten()
            }) {
                Some((op, args)) if depth < 12 => {
                    let (op, args) = (*op, args.clone());
                    r.op_with(op, &args, &|x| go(r, b, x, depth + 1))
                }
                _ => r.operand(o),
            }
        }
        shorten(go(self, b, o, 0).0)
    }

    /// A value of the reverse sweep, read back down to the nodes.
    pub(super) fn swept(
        &self,
        sweep: &HashMap<Var, (Op, Vec<Operand>)>,
        o: Operand,
        depth: u32,
    ) -> (String, u8) {
        match o.as_var().and_then(|v| sweep.get(&v)) {
            Some((op, args)) if depth < 12 => {
                let (op, args) = (*op, args.clone());
                self.op_with(op, &args, &|x| self.swept(sweep, x, depth + 1))
            }
            _ => self.operand(o),
        }
    }
}

impl Derivation {
    /// Where a node is, for the table: its loops' headers and its arm of an `if`.
    fn place(&self, n: &OpNode) -> String {
        let mut parts: Vec<String> = n
            .loops
            .iter()
            .map(|l| format!("`{}`", cell(&self.loops[*l].header)))
            .collect();
        if let Some((c, then)) = &n.arm {
            parts.push(if *then {
                format!("`if {}`", cell(c))
            } else {
                format!("`else` of `if {}`", cell(c))
            });
        }
        parts.join(", ")
    }

    /// The table, for the `_grad` companion's documentation (Markdown).
    pub fn doc(&self, function: &str) -> String {
        let placed = !self.loops.is_empty() || self.branches;
        let mut s = String::from(
            "\n\n # The derivation\n\n Each node of the computational graph, with its local derivatives:\n\n",
        );
        if placed {
            s.push_str(" | node | expression | local derivatives | in |\n |---|---|---|---|\n");
        } else {
            s.push_str(" | node | expression | local derivatives |\n |---|---|---|\n");
        }
        let end = if placed { " |" } else { "" };
        for (_, name, d) in &self.inputs {
            let what = if d.is_some() {
                "input (differentiated)"
            } else {
                "input (data)"
            };
            s.push_str(&format!(" | `{name}` | {what} | |{end}\n"));
        }
        for n in &self.nodes {
            let local = n
                .local
                .iter()
                .map(|l| {
                    format!(
                        "`∂{}/∂{} = {}`",
                        cell(&n.name),
                        cell(&l.operand),
                        cell(&l.formula)
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let place = if placed {
                format!(" {} |", self.place(n))
            } else {
                String::new()
            };
            s.push_str(&format!(
                " | `{}` | `{}` | {local} |{place}\n",
                cell(&n.name),
                cell(&n.expr)
            ));
        }
        if self.formulas.is_empty() {
            s.push_str(&format!(
                "\n The chain rule, backwards from `∂{function}/∂{function} = 1`, gives each node's derivative as the sum, over the nodes that use it, of their derivative times the local one."
            ));
            if !self.loops.is_empty() {
                s.push_str(" A node in a loop is a node of each iteration, and a value the loop carries is an operand of the next iteration: the gradient sums what every iteration gives.");
            }
            if self.branches {
                s.push_str(
                    " Of an `if`, only the arm taken runs, and only its nodes are in the graph.",
                );
            }
            s.push_str(" `#[grad(.., trace)]` gives each node's numbers at run time, iteration by iteration.\n");
            return s;
        }
        s.push_str(&format!(
            "\n The chain rule, backwards from `∂{function}/∂{} = 1`, gives:\n\n",
            self.nodes.last().map_or("", |n| n.name.as_str())
        ));
        for (w, f) in &self.formulas {
            s.push_str(&format!(" - `∂{function}/∂{w} = {}`\n", cell(f)));
        }
        s
    }

    /// The graph in Graphviz DOT, edges labelled with the local derivatives as formulas. A
    /// loop is a cluster drawn once, its nodes shaded, the edge carrying a value to the next
    /// iteration dashed; the nodes of an `if`'s arms are clusters too, each labelled with its
    /// arm.
    pub fn dot(&self, function: &str) -> String {
        let mut s = format!("digraph \"{function}\" {{\n  rankdir=LR;\n");
        for (_, name, d) in &self.inputs {
            let shape = if d.is_some() { "box" } else { "plaintext" };
            s.push_str(&format!("  \"{}\" [shape={shape}];\n", dot_label(name)));
        }
        // Nodes in their loops (clusters, nested) and arms.
        let node = |n: &OpNode, indent: &str| {
            let mut attrs = format!(
                "label=\"{} = {}{}\"",
                dot_label(&n.name),
                dot_label(&n.expr),
                match &n.arm {
                    Some((c, true)) => format!("\\n(if {})", dot_label(c)),
                    Some((c, false)) => format!("\\n(else of if {})", dot_label(c)),
                    None => String::new(),
                }
            );
            // A call is a box (rounded, unlike an input's); a node in a loop is shaded.
            let shaded = !n.loops.is_empty();
            match (n.call, shaded) {
                (true, true) => {
                    attrs.push_str(", shape=box, style=\"rounded,filled\", fillcolor=\"#e8eefc\"")
                }
                (true, false) => attrs.push_str(", shape=box, style=rounded"),
                (false, true) => attrs.push_str(", style=filled, fillcolor=\"#e8eefc\""),
                (false, false) => {}
            }
            format!("{indent}\"{}\" [{attrs}];\n", dot_label(&n.name))
        };
        fn cluster(
            d: &Derivation,
            l: usize,
            depth: usize,
            node: &dyn Fn(&OpNode, &str) -> String,
        ) -> String {
            let indent = "  ".repeat(depth + 1);
            let mut s = format!(
                "{indent}subgraph cluster_{l} {{\n{indent}  label=\"{}\";\n",
                dot_label(&d.loops[l].header)
            );
            for n in d.nodes.iter().filter(|n| n.loops.last() == Some(&l)) {
                s.push_str(&node(n, &format!("{indent}  ")));
            }
            for (k, inner) in d.loops.iter().enumerate() {
                if inner.parent == Some(l) {
                    s.push_str(&cluster(d, k, depth + 1, node));
                }
            }
            s.push_str(&format!("{indent}}}\n"));
            s
        }
        for n in self.nodes.iter().filter(|n| n.loops.is_empty()) {
            s.push_str(&node(n, "  "));
        }
        for (k, l) in self.loops.iter().enumerate() {
            if l.parent.is_none() {
                s.push_str(&cluster(self, k, 0, &node));
            }
        }
        // Each edge once (`x·x` has the same operand twice, with the same local derivative).
        let mut drawn = std::collections::HashSet::new();
        for n in &self.nodes {
            for l in &n.local {
                for (from, carried) in &l.may_be {
                    // The value of the iteration before.
                    let style = if *carried { ", style=dashed" } else { "" };
                    let edge = format!(
                        "  \"{}\" -> \"{}\" [label=\"{}\"{style}];\n",
                        dot_label(from),
                        dot_label(&n.name),
                        dot_label(&l.formula)
                    );
                    if drawn.insert(edge.clone()) {
                        s.push_str(&edge);
                    }
                }
            }
        }
        s.push_str("}\n");
        s
    }
}
