//! The derivation of a straight-line function, as the lecture notes show it: its nodes (each
//! input, then each operation on differentiated values, named as in the source or `ξ1`,
//! `ξ2`, ...), each node's local derivatives, and the formula of each gradient component. It
//! gives the table in the `_grad` companion's documentation, the `_trace` companion (the same
//! table with numbers), and the `_graph` companion (the graph in Graphviz DOT).

use crate::build::Builder;
use crate::ir::{Func, Inst, Kind, Name, Op, Operand, Var};
use crate::rules::arith;
use crate::rules::{Form, RULES};
use rustc_hash::FxHashMap as HashMap;

/// A node that is an operation: its name, its expression, and for each operand with a
/// derivative, the operand's name, the local derivative as a formula, and as IR in `program`.
pub struct OpNode {
    pub var: Var,
    pub name: String,
    pub expr: String,
    pub local: Vec<(String, String, Operand)>,
    pub adjoint: Operand,
}

pub struct Derivation {
    /// The inputs: variable, name, differentiated, and (if so) its accumulated derivative.
    pub inputs: Vec<(Var, String, Option<Operand>)>,
    pub nodes: Vec<OpNode>,
    /// Each `wrt` parameter's gradient component as a formula of the nodes.
    pub formulas: Vec<(String, String)>,
    /// The primal, the reverse sweep, and the local derivatives: what `_trace` runs.
    pub program: Func,
}

/// Why a function has no derivation table: it is not straight-line code.
pub fn straight_line(f: &Func) -> Result<(), &'static str> {
    for i in &f.body.insts {
        match i {
            Inst::Loop(_) => return Err("a loop"),
            Inst::If { .. } => return Err("an `if`"),
            Inst::Load { .. } | Inst::Store { .. } | Inst::NewArray { .. } => {
                return Err("an array")
            }
            Inst::Op {
                op: Op::Pulled(_), ..
            } => return Err("a call to another #[grad] function"),
            _ => {}
        }
    }
    Ok(())
}

pub fn derive(primal: &Func, wrt: &[Var], function: &str) -> Result<Derivation, &'static str> {
    straight_line(primal)?;
    // Intermediates without a name are `ξ1`, `ξ2`, ... as in the notes, or `t1`, `t2`, ...
    // when the function names its own `xi1`, `ξ1`, ...; the result is named after the
    // function.
    let named_xi = primal
        .vars
        .iter()
        .any(|v| matches!(&v.name, Name::Source(s) if s.starts_with("xi") || s.starts_with('ξ')));
    let prefix = if named_xi { "t" } else { "ξ" };
    let result = primal.body.yields[0].as_var();
    // Every node's name is its own: a name given twice (shadowing, reassignment) gets a prime
    // (`s`, `s′`, `s′′`), and numbered names skip the source's.
    let sources: std::collections::HashSet<String> = primal
        .vars
        .iter()
        .filter_map(|v| match &v.name {
            Name::Source(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let mut taken: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut unique = |base: String| -> String {
        let mut name = base;
        while !taken.insert(name.clone()) {
            name.push('′');
        }
        name
    };
    let mut names: HashMap<Var, String> = HashMap::default();
    let mut inputs = Vec::new();
    for &p in &primal.params {
        if let Name::Source(s) = &primal.info(p).name {
            let s = unique(s.clone());
            names.insert(p, s.clone());
            if primal.info(p).kind != Kind::Opaque || wrt.contains(&p) {
                inputs.push((p, s.clone(), None));
            }
        }
    }
    let (mut program, adjoints, errors) = crate::ad::reverse::reverse_traced(primal, wrt);
    if !errors.is_empty() {
        return Err("what the reverse sweep refuses");
    }
    let adjoint: HashMap<Var, Operand> = adjoints.into_iter().collect();
    for (v, _, d) in &mut inputs {
        if wrt.contains(v) {
            *d = Some(adjoint.get(v).copied().unwrap_or(Operand::Lit(0.0)));
        }
    }
    // The nodes, and how each non-node value reads (data, inlined where it is used).
    let mut defs: HashMap<Var, Def> = HashMap::default();
    let mut order = Vec::new();
    let mut unnamed = 0;
    for inst in &primal.body.insts {
        match inst {
            Inst::Op { var, op, args } => {
                defs.insert(*var, Def::Op(*op, args.clone()));
                if primal.info(*var).active {
                    let name = match &primal.info(*var).name {
                        Name::Source(s) => s.clone(),
                        _ if result == Some(*var) => function.to_string(),
                        _ => loop {
                            unnamed += 1;
                            let n = format!("{prefix}{unnamed}");
                            if !sources.contains(&n) {
                                break n;
                            }
                        },
                    };
                    names.insert(*var, unique(name));
                    order.push(*var);
                }
            }
            Inst::Opaque { var, expr, .. } => {
                defs.insert(
                    *var,
                    Def::Opaque(expr.tokens.to_string(), expr.refs.clone()),
                );
            }
            Inst::Cond { var, cond } => {
                defs.insert(*var, Def::Cond(cond.clone()));
            }
            _ => {}
        }
    }
    let last = primal.body.yields[0];
    // The result is a node even when it is a copy of one (named after the function by the
    // caller).
    let mut b = Builder::new(program.float);
    b.vars = program.vars.clone();
    b.externs = program.externs.clone();
    b.arrays = program.arrays.clone();
    b.derivative = true;
    if !last.as_var().is_some_and(|v| order.contains(&v)) {
        return Err("a result that is not an operation on differentiated values");
    }
    // A renderer for one formula (each has its own budget).
    let renderer = || Render {
        names: &names,
        defs: &defs,
        func: primal,
        budget: std::cell::Cell::new(BUDGET),
    };
    let mut nodes = Vec::new();
    for &v in &order {
        let Some(Def::Op(op, args)) = defs.get(&v).cloned() else {
            continue;
        };
        let render = renderer();
        let expr = render.op(op, &args).0;
        let mut local = Vec::new();
        if !matches!(op, Op::Select(_)) {
            for (k, a) in args.iter().enumerate() {
                if !a.as_var().is_some_and(|x| primal.info(x).active) {
                    continue;
                }
                let p = arith::partial(&mut b, op, &args, Operand::Var(v), k);
                let text = renderer().built(&b, p);
                let operand = render.operand(*a).0;
                local.push((operand, text, p));
            }
        }
        nodes.push(OpNode {
            var: v,
            name: names[&v].clone(),
            expr,
            local,
            adjoint: adjoint.get(&v).copied().unwrap_or(Operand::Lit(0.0)),
        });
    }
    program.body.insts.extend(b.take_root());
    program.vars = b.vars;
    program.externs = b.externs;
    // The gradient components as formulas of the nodes: the sweep's code, read back.
    let mut sweep: HashMap<Var, (Op, Vec<Operand>)> = HashMap::default();
    for inst in &program.body.insts {
        if let Inst::Op { var, op, args } = inst {
            if !names.contains_key(var) {
                sweep.insert(*var, (*op, args.clone()));
            }
        }
    }
    let formulas = inputs
        .iter()
        .filter_map(|(_, name, d)| {
            let d = (*d)?;
            Some((name.clone(), shorten(renderer().swept(&sweep, d, 0).0)))
        })
        .collect();
    Ok(Derivation {
        inputs,
        nodes,
        formulas,
        program,
    })
}

#[derive(Clone)]
enum Def {
    Op(Op, Vec<Operand>),
    Opaque(String, Vec<Var>),
    Cond(crate::ir::Cond),
}

/// Tokens as text, without the spaces `TokenStream`'s printing puts around `.`, `(`, `[`, `,`
/// and `::`.
fn tidy(s: &str) -> String {
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
    ] {
        s = s.replace(from, to);
    }
    s
}

/// A formula too long to read is left to the generated code.
const LONG: &str = "…";

fn shorten(s: String) -> String {
    if s.contains(LONG) || s.chars().count() > 160 {
        "(long: see the generated code)".into()
    } else {
        s
    }
}

/// Text for a code span in a Markdown table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'")
}

/// Text for a quoted DOT label.
fn dot_label(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

const ATOM: u8 = 3;
const MUL: u8 = 2;
const ADD: u8 = 1;
const LOW: u8 = 0;

struct Render<'a> {
    names: &'a HashMap<Var, String>,
    defs: &'a HashMap<Var, Def>,
    func: &'a Func,
    /// How many more values a formula may print: a value used twice is printed twice, so a
    /// deep formula could grow exponentially; past the budget it is cut short (`shorten`).
    budget: std::cell::Cell<u32>,
}

/// The values one formula may print.
const BUDGET: u32 = 64;

fn wrap((s, p): (String, u8), min: u8) -> String {
    if p < min {
        format!("({s})")
    } else {
        s
    }
}

fn lit(x: f64) -> String {
    let s = if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    };
    s.replacen('-', "−", 1)
}

impl Render<'_> {
    fn operand(&self, o: Operand) -> (String, u8) {
        let left = self.budget.get();
        if left == 0 {
            return (LONG.into(), ATOM);
        }
        self.budget.set(left - 1);
        match o {
            Operand::Var(v) => {
                if let Some(n) = self.names.get(&v) {
                    return (n.clone(), ATOM);
                }
                match self.defs.get(&v) {
                    Some(Def::Op(op, args)) => self.op(*op, args),
                    Some(Def::Opaque(t, refs)) => {
                        let mut s = tidy(t);
                        for (i, r) in refs.iter().enumerate().rev() {
                            let name = self.operand(Operand::Var(*r)).0;
                            s = s.replace(&crate::ir::placeholder(i), &name);
                        }
                        (s.replace("__grad_krate", "grad"), LOW)
                    }
                    Some(Def::Cond(c)) => (self.cond(c), LOW),
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
                self.func.externs[e as usize].to_string().replace(' ', ""),
                ATOM,
            ),
        }
    }

    fn cond(&self, c: &crate::ir::Cond) -> String {
        use crate::ir::Cond;
        match c {
            Cond::And(a, b) => format!("({} and {})", self.cond(a), self.cond(b)),
            Cond::Or(a, b) => format!("({} or {})", self.cond(a), self.cond(b)),
            Cond::Not(x) => format!("not {}", self.cond(x)),
            Cond::Val(o) => self.operand(*o).0,
            Cond::Opaque(o) => {
                let mut s = tidy(&o.tokens.to_string());
                for (i, r) in o.refs.iter().enumerate().rev() {
                    let name = self.operand(Operand::Var(*r)).0;
                    s = s.replace(&crate::ir::placeholder(i), &name);
                }
                s
            }
        }
    }

    /// One operation, its operands by name.
    fn op(&self, op: Op, args: &[Operand]) -> (String, u8) {
        self.op_with(op, args, &|o| self.operand(o))
    }

    fn op_with(
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
                    "call({})",
                    (0..n).map(|k| a(k).0).collect::<Vec<_>>().join(", ")
                ),
                ATOM,
            ),
        }
    }

    /// A value the builder made (a local derivative), read back as a formula.
    fn built(&self, b: &Builder, o: Operand) -> String {
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
    fn swept(
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
    /// The table, for the `_grad` companion's documentation (Markdown).
    pub fn doc(&self, function: &str) -> String {
        let mut s = String::from(
            "\n\n # The derivation\n\n Each node of the computational graph, with its local derivatives:\n\n | node | expression | local derivatives |\n |---|---|---|\n",
        );
        for (_, name, d) in &self.inputs {
            let what = if d.is_some() {
                "input (differentiated)"
            } else {
                "input (data)"
            };
            s.push_str(&format!(" | `{name}` | {what} | |\n"));
        }
        for n in &self.nodes {
            let local = n
                .local
                .iter()
                .map(|(o, f, _)| format!("`∂{}/∂{} = {}`", cell(&n.name), cell(o), cell(f)))
                .collect::<Vec<_>>()
                .join(", ");
            s.push_str(&format!(
                " | `{}` | `{}` | {local} |\n",
                cell(&n.name),
                cell(&n.expr)
            ));
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

    /// The graph in Graphviz DOT, edges labelled with the local derivatives as formulas.
    pub fn dot(&self, function: &str) -> String {
        let mut s = format!("digraph \"{function}\" {{\n  rankdir=LR;\n");
        for (_, name, d) in &self.inputs {
            let shape = if d.is_some() { "box" } else { "plaintext" };
            s.push_str(&format!("  \"{name}\" [shape={shape}];\n"));
        }
        for n in &self.nodes {
            s.push_str(&format!(
                "  \"{}\" [label=\"{} = {}\"];\n",
                dot_label(&n.name),
                dot_label(&n.name),
                dot_label(&n.expr)
            ));
        }
        for n in &self.nodes {
            for (o, f, _) in &n.local {
                s.push_str(&format!(
                    "  \"{}\" -> \"{}\" [label=\"{}\"];\n",
                    dot_label(o),
                    dot_label(&n.name),
                    dot_label(f)
                ));
            }
        }
        s.push_str("}\n");
        s
    }
}
