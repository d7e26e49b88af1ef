//! An interpreter for the IR, for tests: runs a primal or derivative program without
//! compiling it. Operations run as the compiled code would (the same `f64` methods in the same
//! order); code passed through as tokens (conditions, casts, integer arithmetic) is evaluated by
//! a small evaluator over `syn` expressions, enough for what the test generator writes.

use crate::ir::{placeholder, Block, Cmp, Cond, Func, Inst, Op, Opaque, Operand, Var};
use crate::rules::RULES;
use rustc_hash::FxHashMap as HashMap;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    F(f64),
    I(i64),
    B(bool),
}

impl Value {
    pub fn f(self) -> f64 {
        match self {
            Value::F(x) => x,
            Value::I(i) => i as f64,
            Value::B(b) => f64::from(u8::from(b)),
        }
    }
    fn i(self) -> i64 {
        match self {
            Value::I(i) => i,
            Value::F(x) => x as i64,
            Value::B(b) => i64::from(b),
        }
    }
    fn b(self) -> bool {
        match self {
            Value::B(b) => b,
            other => other.f() != 0.0,
        }
    }
}

/// Runs `func` on `args` (one per parameter) and returns what its body yields.
pub fn run(func: &Func, args: &[Value]) -> Vec<Value> {
    let mut env: HashMap<Var, Value> = func
        .params
        .iter()
        .copied()
        .zip(args.iter().copied())
        .collect();
    let m = Machine { func };
    m.block(&func.body, &mut env)
}

struct Machine<'a> {
    func: &'a Func,
}

impl Machine<'_> {
    fn block(&self, b: &Block, env: &mut HashMap<Var, Value>) -> Vec<Value> {
        for inst in &b.insts {
            match inst {
                Inst::Op { var, op, args } => {
                    let a: Vec<Value> = args.iter().map(|o| self.operand(o, env)).collect();
                    env.insert(*var, Value::F(op_value(*op, &a)));
                }
                Inst::Opaque { var, expr, .. } => {
                    let v = self.opaque(expr, env);
                    env.insert(*var, v);
                }
                Inst::Cond { var, cond } => {
                    let v = self.cond(cond, env);
                    env.insert(*var, Value::B(v));
                }
                Inst::If {
                    cond,
                    then,
                    els,
                    outs,
                } => {
                    let taken = if self.operand(cond, env).b() {
                        then
                    } else {
                        els
                    };
                    let ys = self.block(taken, env);
                    for (o, y) in outs.iter().zip(ys) {
                        env.insert(*o, y);
                    }
                }
                // Programs with loops and arrays are checked compiled (`grad-difftest`).
                Inst::Load { .. }
                | Inst::Store { .. }
                | Inst::NewArray { .. }
                | Inst::Assign { .. }
                | Inst::Loop(_) => {
                    unimplemented!("the test interpreter runs straight-line programs only")
                }
            }
        }
        b.yields.iter().map(|o| self.operand(o, env)).collect()
    }

    fn operand(&self, o: &Operand, env: &HashMap<Var, Value>) -> Value {
        match o {
            Operand::Var(v) => env.get(v).copied().unwrap_or(Value::F(f64::NAN)),
            Operand::Lit(x) => Value::F(*x),
            Operand::Int(i) => Value::I(*i),
            Operand::Bool(b) => Value::B(*b),
            Operand::Const(c) => Value::F(c.value()),
            Operand::Extern(i) => eval_tokens(&self.func.externs[*i as usize], &[]),
        }
    }

    fn cond(&self, c: &Cond, env: &HashMap<Var, Value>) -> bool {
        match c {
            Cond::And(a, b) => self.cond(a, env) && self.cond(b, env),
            Cond::Or(a, b) => self.cond(a, env) || self.cond(b, env),
            Cond::Not(a) => !self.cond(a, env),
            Cond::Val(o) => self.operand(o, env).b(),
            Cond::Opaque(o) => self.opaque(o, env).b(),
        }
    }

    fn opaque(&self, o: &Opaque, env: &HashMap<Var, Value>) -> Value {
        let refs: Vec<Value> = o
            .refs
            .iter()
            .map(|v| self.operand(&Operand::Var(*v), env))
            .collect();
        eval_tokens(&o.tokens, &refs)
    }
}

fn op_value(op: Op, a: &[Value]) -> f64 {
    let x = |i: usize| a[i].f();
    match op {
        Op::Neg => -x(0),
        Op::Add => x(0) + x(1),
        Op::Sub => x(0) - x(1),
        Op::Mul => x(0) * x(1),
        Op::Div => x(0) / x(1),
        Op::Rem => x(0) % x(1),
        Op::Pulled(n) => x(2 * n),
        Op::Select(cmp) => {
            let t = match cmp {
                Cmp::Lt => x(0) < x(1),
                Cmp::Gt => x(0) > x(1),
                Cmp::Eq => a[0] == a[1] || x(0) == x(1),
                Cmp::Nan => x(0).is_nan(),
            };
            if t {
                x(2)
            } else {
                x(3)
            }
        }
        Op::Call(i) => eval_rule(&RULES[i], a),
    }
}

/// A function of the rule table, on values: its row's evaluator, so every function the table
/// has is known here. A name the table does not have is a failure, never a NaN that a
/// comparison would skip as a pole.
fn call(name: &str, a: &[Value]) -> f64 {
    let Some(rule) = RULES.iter().find(|r| r.name == name) else {
        panic!("the test interpreter meets `{name}`, which the rule table does not have");
    };
    eval_rule(rule, a)
}

fn eval_rule(rule: &crate::rules::Rule, a: &[Value]) -> f64 {
    let x: Vec<f64> = a
        .iter()
        .enumerate()
        .map(|(k, v)| {
            if rule.int_arg == Some(k) {
                v.i() as f64
            } else {
                v.f()
            }
        })
        .collect();
    (rule.eval)(&x)
}

/// Evaluates passed-through code; `refs[i]` is the value of `placeholder(i)`.
fn eval_tokens(tokens: &proc_macro2::TokenStream, refs: &[Value]) -> Value {
    match syn::parse2::<syn::Expr>(tokens.clone()) {
        Ok(e) => eval_expr(&e, refs),
        Err(_) => Value::F(f64::NAN),
    }
}

/// A block of passed-through code: its final expression (generated conditions have no `let`s).
fn eval_block(b: &syn::Block, refs: &[Value]) -> Value {
    match b.stmts.last() {
        Some(syn::Stmt::Expr(e, None)) => eval_expr(e, refs),
        _ => Value::B(false),
    }
}

fn eval_expr(e: &syn::Expr, refs: &[Value]) -> Value {
    use syn::{BinOp, Expr, Lit, UnOp};
    match e {
        Expr::Lit(l) => match &l.lit {
            Lit::Float(f) => Value::F(f.base10_parse().unwrap_or(f64::NAN)),
            Lit::Int(i) => Value::I(i.base10_parse().unwrap_or(0)),
            Lit::Bool(b) => Value::B(b.value),
            _ => Value::F(f64::NAN),
        },
        Expr::Path(p) => {
            let last = p
                .path
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default();
            if let Some(i) = (0..refs.len()).find(|i| placeholder(*i) == last) {
                return refs[i];
            }
            match last.as_str() {
                "PI" => Value::F(std::f64::consts::PI),
                "K" => Value::F(0.75),
                "LN_2" => Value::F(std::f64::consts::LN_2),
                "LN_10" => Value::F(std::f64::consts::LN_10),
                _ => Value::F(f64::NAN),
            }
        }
        Expr::Paren(p) => eval_expr(&p.expr, refs),
        Expr::If(i) => {
            if eval_expr(&i.cond, refs).b() {
                eval_block(&i.then_branch, refs)
            } else {
                match &i.else_branch {
                    Some((_, e)) => eval_expr(e, refs),
                    None => Value::B(false),
                }
            }
        }
        Expr::Block(b) => eval_block(&b.block, refs),
        Expr::Group(g) => eval_expr(&g.expr, refs),
        Expr::Verbatim(t) => eval_tokens(t, refs),
        Expr::Tuple(t) if t.elems.is_empty() => Value::B(false),
        Expr::Tuple(t) => t
            .elems
            .iter()
            .last()
            .map_or(Value::B(false), |x| eval_expr(x, refs)),
        Expr::Unary(u) => {
            let v = eval_expr(&u.expr, refs);
            match (u.op, v) {
                (UnOp::Neg(_), Value::I(i)) => Value::I(-i),
                (UnOp::Neg(_), v) => Value::F(-v.f()),
                (UnOp::Not(_), v) => Value::B(!v.b()),
                (_, v) => v,
            }
        }
        Expr::Binary(b) => {
            if let BinOp::And(_) | BinOp::Or(_) = b.op {
                let l = eval_expr(&b.left, refs).b();
                let and = matches!(b.op, BinOp::And(_));
                if l != and {
                    return Value::B(l);
                }
                return Value::B(eval_expr(&b.right, refs).b());
            }
            let (l, r) = (eval_expr(&b.left, refs), eval_expr(&b.right, refs));
            let ints = matches!((l, r), (Value::I(_), Value::I(_)));
            match b.op {
                BinOp::Add(_) if ints => Value::I(l.i().wrapping_add(r.i())),
                BinOp::Sub(_) if ints => Value::I(l.i().wrapping_sub(r.i())),
                BinOp::Mul(_) if ints => Value::I(l.i().wrapping_mul(r.i())),
                BinOp::Add(_) => Value::F(l.f() + r.f()),
                BinOp::Sub(_) => Value::F(l.f() - r.f()),
                BinOp::Mul(_) => Value::F(l.f() * r.f()),
                BinOp::Div(_) => Value::F(l.f() / r.f()),
                BinOp::Rem(_) => Value::F(l.f() % r.f()),
                BinOp::Lt(_) => Value::B(l.f() < r.f()),
                BinOp::Le(_) => Value::B(l.f() <= r.f()),
                BinOp::Gt(_) => Value::B(l.f() > r.f()),
                BinOp::Ge(_) => Value::B(l.f() >= r.f()),
                BinOp::Eq(_) => Value::B(l.f() == r.f()),
                BinOp::Ne(_) => Value::B(l.f() != r.f()),
                _ => Value::F(f64::NAN),
            }
        }
        Expr::Cast(c) => {
            let v = eval_expr(&c.expr, refs);
            let ty = quote::ToTokens::to_token_stream(&c.ty).to_string();
            if ty == "f64" || ty == "f32" {
                Value::F(v.f())
            } else {
                Value::I(v.f() as i64)
            }
        }
        Expr::MethodCall(m) => {
            let recv = eval_expr(&m.receiver, refs);
            let name = m.method.to_string();
            let mut args = vec![recv];
            args.extend(m.args.iter().map(|a| eval_expr(a, refs)));
            match name.as_str() {
                "wrapping_sub" => Value::I(recv.i().wrapping_sub(args[1].i())),
                "is_nan" => Value::B(recv.f().is_nan()),
                _ => Value::F(call(&name, &args)),
            }
        }
        Expr::Call(c) => {
            let name = match &*c.func {
                Expr::Path(p) => p
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            if name == "default" {
                return Value::I(0);
            }
            let args: Vec<Value> = c.args.iter().map(|a| eval_expr(a, refs)).collect();
            if name == "val" {
                // `__private::val::<f64, _>(x)`: the value itself.
                return Value::F(args[0].f());
            }
            if name == "wrapping_sub" {
                // `i32::wrapping_sub(n, 1)`: powi's exponent is an `i32`.
                return Value::I((args[0].i() as i32).wrapping_sub(args[1].i() as i32) as i64);
            }
            Value::F(call(&name, &args))
        }
        _ => Value::F(f64::NAN),
    }
}
