//! Local closures (`let sq = |v: f64| v * v; sq(a) + sq(b)`): each call is the closure's body,
//! inlined, its parameters bound to the call's arguments and its other names to what they were
//! where the closure was written (a closure reads what it captured then; a `move` closure a
//! copy, which for an array the macro does not model and refuses). The closure itself is only
//! called: passing it on, storing it or returning it is refused.

use super::*;
use syn::{ExprClosure, Pat};

/// A closure bound by `let`: its syntax and the names it saw.
pub(super) struct Closure {
    pub(super) syntax: ExprClosure,
    pub(super) env: Env,
}

impl Lowerer<'_> {
    /// `let name = |..| ..;`: remembered, to be inlined where it is called.
    pub(super) fn local_closure(&mut self, name: &Ident, c: &ExprClosure) {
        // Refused, its calls are not refused again.
        self.refused_locals.insert(name.to_string());
        if let Some(a) = &c.asyncness {
            self.error(
                a,
                "an `async` closure cannot be differentiated: write a plain closure or a function",
            );
            return;
        }
        for input in &c.inputs {
            let (pat, ty) = match input {
                Pat::Type(pt) => (&*pt.pat, Some(&*pt.ty)),
                p => (p, None),
            };
            if !matches!(pat, Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none())
                && !matches!(pat, Pat::Wild(_))
            {
                self.error(
                    pat,
                    "a local closure's parameter must be a plain name (`|v: f64| ..`): bind the parts with `let` inside it",
                );
                return;
            }
            if let Some(syn::Type::Array(a)) = ty {
                self.error(
                    a,
                    "a local closure's parameter is a float here: an array is not passed to a closure; let the closure read the array it captures (`|i: usize| a[i] * w`), or make it a `#[grad]` function",
                );
                return;
            }
            if let Some(syn::Type::Reference(r)) = ty {
                self.error(
                    r,
                    "a local closure's parameter is a value here (`|v: f64| ..`): take the float itself, not a reference to it",
                );
                return;
            }
        }
        // What a closure's body cannot hold: a `for` loop or an iterator's sum that reads one
        // of its parameters (the macro plans a loop's differentiated values from the names
        // it reads, before it inlines calls), or a `&mut` (an out-parameter call is rewritten
        // in the function's own statements only).
        let params: Vec<String> = c
            .inputs
            .iter()
            .filter_map(|p| match p {
                Pat::Type(pt) => match &*pt.pat {
                    Pat::Ident(pi) => Some(pi.ident.to_string()),
                    _ => None,
                },
                Pat::Ident(pi) => Some(pi.ident.to_string()),
                _ => None,
            })
            .collect();
        struct Inside<'a> {
            found: Option<(&'a dyn ToTokens, &'static str)>,
            params: &'a [String],
        }
        impl Inside<'_> {
            fn reads_param(&self, e: &Expr) -> bool {
                scan::idents(e).iter().any(|n| self.params.contains(n))
            }
        }
        impl<'a> syn::visit::Visit<'a> for Inside<'a> {
            fn visit_expr(&mut self, e: &'a Expr) {
                if self.found.is_some() {
                    return;
                }
                match e {
                    Expr::ForLoop(f) if self.reads_param(e) => {
                        self.found = Some((&f.for_token, "a `for` loop reading its parameter"));
                        return;
                    }
                    Expr::MethodCall(m)
                        if ["sum", "product", "fold"].iter().any(|n| m.method == n)
                            && self.reads_param(e) =>
                    {
                        self.found = Some((&m.method, "an iterator's sum reading its parameter"));
                        return;
                    }
                    Expr::Reference(r) if r.mutability.is_some() => {
                        self.found = Some((r, "a `&mut`"));
                        return;
                    }
                    // (A closure inside is its own.)
                    Expr::Closure(_) => return,
                    _ => {}
                }
                syn::visit::visit_expr(self, e);
            }
        }
        let mut inside = Inside {
            found: None,
            params: &params,
        };
        syn::visit::Visit::visit_expr(&mut inside, &c.body);
        if let Some((at, what)) = inside.found {
            self.error(
                at,
                format!("{what} in a local closure's body is not supported by #[grad] (its calls are inlined, and it would be differentiated wrongly or not at all): write it in the function's body, or make the closure a `#[grad]` function"),
            );
            return;
        }
        if let Some(m) = &c.capture {
            // A `move` closure copies what it captures: an array it copies may be written
            // after the closure is made, and the closure would still read the copy.
            let arrays: Vec<String> = scan::idents(&c.body)
                .into_iter()
                .filter(|n| {
                    self.lookup(n)
                        .is_some_and(|v| self.b.kind(&v) == Kind::Array)
                })
                .collect();
            if let Some(a) = arrays.first() {
                self.error(
                    m,
                    format!("a `move` closure copies `{a}`, an array, which #[grad] does not model: leave out `move` (the closure then reads `{a}` as it is)"),
                );
                return;
            }
        }
        self.refused_locals.remove(&name.to_string());
        let var = self.b.new_var(
            Kind::Opaque,
            Name::Source(name.to_string()),
            false,
            name.span(),
        );
        self.closures.insert(
            var,
            Closure {
                syntax: c.clone(),
                env: self.env.clone(),
            },
        );
        self.bind(name.to_string(), Operand::Var(var));
    }

    /// The closure `name` refers to, if it is one.
    pub(super) fn closure_of(&self, name: &Ident) -> Option<Var> {
        self.lookup(&name.to_string())
            .and_then(|v| v.as_var())
            .filter(|v| self.closures.contains_key(v))
    }

    /// A call of the local closure `var`: its body with its parameters bound to the arguments.
    pub(super) fn inline_closure(&mut self, var: Var, c: &syn::ExprCall) -> Operand {
        let args: Vec<Operand> = c.args.iter().map(|a| self.expr(a)).collect();
        let Some(closure) = self.closures.get(&var) else {
            return Operand::Lit(0.0);
        };
        let (syntax, env) = (closure.syntax.clone(), closure.env.clone());
        if syntax.inputs.len() != args.len() {
            return self.error(
                c,
                format!(
                    "this closure takes {} argument(s), and is given {}",
                    syntax.inputs.len(),
                    args.len()
                ),
            );
        }
        let outer = std::mem::replace(&mut self.env, env);
        self.env.push(Scope::default());
        for (input, a) in syntax.inputs.iter().zip(args) {
            self.bind_value_pat(input, a);
        }
        self.closure_depth += 1;
        let floor = self.closure_floor.replace(self.env.len() - 1);
        // A body that is an assignment (`|v| acc += v`) is a statement (refused where it
        // assigns a name from outside the closure).
        let body = &*syntax.body;
        let assigns = matches!(body, Expr::Assign(_))
            || matches!(body, Expr::Binary(b) if compound(&b.op).is_some());
        let value = if assigns {
            self.stmt_expr(body);
            Operand::Lit(0.0)
        } else {
            self.expr(body)
        };
        self.closure_floor = floor;
        self.closure_depth -= 1;
        self.env = outer;
        value
    }
}
