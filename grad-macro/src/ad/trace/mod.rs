//! The derivation of a straight-line function, as the lecture notes show it: its nodes (each
//! input, then each operation on differentiated values, named as in the source or `ξ1`,
//! `ξ2`, ...), each node's local derivatives, and the formula of each gradient component. It
//! gives the table in the `_grad` companion's documentation, the `_trace` companion (the same
//! table with numbers), and the `_graph` companion (the graph in Graphviz DOT).

mod render;

use render::*;

use crate::build::Builder;
use crate::ir::{Func, Inst, Kind, Name, Op, Operand, Var};
use crate::rules::arith;
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
                return Err("an array or a slice")
            }
            // A call of a `#[grad]` function of floats is a node, its partials the local
            // derivatives (from its pullback, at run time).
            Inst::Op {
                op: Op::Pulled(n),
                args,
                ..
            } if args[..*n]
                .iter()
                .any(|a| a.as_var().is_some_and(|v| f.info(v).kind == Kind::Array)) =>
            {
                return Err("a call passing an array to another #[grad] function")
            }
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
    // What a call's pullback gave, by name: each partial `∂₁f(z, x)`, the callee's partial in
    // its first argument at that call's arguments (one call's partials and another's, or two
    // arguments' of one call, are told apart).
    let mut labels: HashMap<Var, String> = HashMap::default();
    {
        let plain = Render {
            names: &names,
            defs: &defs,
            func: primal,
            labels: &HashMap::default(),
            budget: std::cell::Cell::new(BUDGET),
        };
        for &v in &order {
            if let Some(Def::Op(Op::Pulled(n), args)) = defs.get(&v) {
                let callee = plain.callee(&args[2 * n]);
                let xs: Vec<String> = (0..*n).map(|k| plain.operand(args[k]).0).collect();
                for k in 0..*n {
                    if let Some(p) = args[n + k].as_var() {
                        labels.insert(
                            p,
                            format!("∂{}{callee}({})", subscript(k + 1), xs.join(", ")),
                        );
                    }
                }
            }
        }
    }
    // A renderer for one formula (each has its own budget).
    let renderer = || Render {
        names: &names,
        defs: &defs,
        func: primal,
        labels: &labels,
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

/// `k` as subscript digits (`12` → `₁₂`).
fn subscript(k: usize) -> String {
    k.to_string()
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0x2080 + d).unwrap_or(c),
            None => c,
        })
        .collect()
}
