//! The IR's invariants, checked: what every pass may assume of its input and must keep in its
//! output. The macro's own tests run this after every pass (`expand::pipeline`), so a broken
//! pass fails at the pass, with the pass named, rather than as a rustc error in generated
//! code.
//!
//! - No variable is defined where it is already visible (as a parameter, an instruction's
//!   result, an `if`'s output, a loop's phi, header binding, read-back value or output). A
//!   reverse sweep's loop recomputes what the forward loop defined, under the same variables:
//!   in a block of its own, where the forward loop's definitions are not visible.
//! - Every variable is defined before it is read, in an enclosing block: an `if`'s arms see
//!   what was defined before the `if`; a loop's body sees its phis, what its header binds and
//!   what it reads back; after the `if` or loop only its outputs are new.
//! - Yield arity: an `if`'s arms yield one value per output; a loop's body yields the new
//!   value of each carried variable, then its exit flag when it has one.
//! - Every variable and extern is one the function declares; an array of zeros is made like
//!   an array with a shape (visible, when a length is known at run time only).

use super::*;
use rustc_hash::FxHashSet as HashSet;

/// `Ok` when `func` keeps the invariants, or the first broken one, said in words.
pub fn validate(func: &Func) -> Result<(), String> {
    let v = Validator { func };
    let mut scope = HashSet::default();
    for &p in &func.params {
        v.define(p, &mut scope, "a parameter")?;
    }
    v.block(&func.body, &mut scope)
}

struct Validator<'f> {
    func: &'f Func,
}

impl Validator<'_> {
    fn name(&self, v: Var) -> String {
        match self.func.vars.get(v.0 as usize).map(|i| &i.name) {
            Some(Name::Source(s)) => format!("v{} (`{s}`)", v.0),
            _ => format!("v{}", v.0),
        }
    }

    /// Defines `v` in `scope`, where it must not be visible yet.
    fn define(&self, v: Var, scope: &mut HashSet<Var>, what: &str) -> Result<(), String> {
        if v.0 as usize >= self.func.vars.len() {
            return Err(format!("{} ({what}) is not declared", self.name(v)));
        }
        if !scope.insert(v) {
            return Err(format!(
                "{} is defined twice (again as {what}, where it is visible)",
                self.name(v)
            ));
        }
        Ok(())
    }

    fn read(&self, o: &Operand, scope: &HashSet<Var>, at: &str) -> Result<(), String> {
        match o {
            Operand::Var(v) if !scope.contains(v) => Err(format!(
                "{} is read by {at} where it is not defined",
                self.name(*v)
            )),
            Operand::Extern(i) if *i as usize >= self.func.externs.len() => {
                Err(format!("extern {i} is read by {at} and not declared"))
            }
            _ => Ok(()),
        }
    }

    fn reads(&self, inst: &Inst, scope: &HashSet<Var>, at: &str) -> Result<(), String> {
        let mut first = Ok(());
        inst.for_each_operand(&mut |o| {
            if first.is_ok() {
                first = self.read(o, scope, at);
            }
        });
        first
    }

    fn block(&self, b: &Block, scope: &mut HashSet<Var>) -> Result<(), String> {
        for (k, inst) in b.insts.iter().enumerate() {
            let at = format!("instruction {k} ({})", kind(inst));
            match inst {
                Inst::If {
                    cond,
                    then,
                    els,
                    outs,
                } => {
                    self.read(cond, scope, &at)?;
                    for arm in [then, els] {
                        if arm.yields.len() != outs.len() {
                            return Err(format!(
                                "{at}: an arm yields {} values for {} outputs",
                                arm.yields.len(),
                                outs.len()
                            ));
                        }
                        self.block(arm, &mut scope.clone())?;
                    }
                    for &o in outs {
                        self.define(o, scope, "an `if`'s output")?;
                    }
                }
                Inst::Loop(l) => self.lp(l, scope, &at)?,
                other => {
                    self.reads(other, scope, &at)?;
                    // Only the shape of `like` is used: it must have one, and a length known
                    // at run time only (a slice's) is read from `like`, which must be visible.
                    if let Inst::NewArray {
                        init: ArrayInit::Zero { like },
                        ..
                    } = other
                    {
                        match self.func.arrays.get(like) {
                            None => return Err(format!("{at}: {} has no shape", self.name(*like))),
                            Some(info) if info.lens.iter().any(Option::is_none) => {
                                self.read(&Operand::Var(*like), scope, &at)?
                            }
                            Some(_) => {}
                        }
                    }
                    for v in other.defs() {
                        self.define(v, scope, &at)?;
                    }
                }
            }
        }
        for y in &b.yields {
            self.read(y, scope, "a block's yield")?;
        }
        Ok(())
    }

    fn lp(&self, l: &Loop, scope: &mut HashSet<Var>, at: &str) -> Result<(), String> {
        // Before the loop: its iterable, the arrays its elements come from, the initial
        // values, the storage it fills or reads back.
        let before = Inst::Loop(Box::new(Loop {
            body: Block::default(),
            ..l.clone()
        }));
        self.reads(&before, scope, at)?;
        let mut inner = scope.clone();
        let mut bound = Vec::new();
        for c in &l.carried {
            bound.push((c.phi, "a loop's phi"));
        }
        if let Header::For {
            pat, elems, pos, ..
        } = &l.header
        {
            bound.extend(pos.iter().map(|&p| (p, "a loop's position")));
            bound.extend(pat.refs.iter().map(|&p| (p, "a loop pattern's binding")));
            for e in elems {
                bound.push((e.item, "a loop's element"));
                bound.extend(e.at.iter().map(|&p| (p, "an element's position")));
            }
        }
        if let Some(r) = &l.restore {
            bound.extend(r.vars.iter().map(|&v| (v, "a value read back")));
        }
        // A header may name one variable twice (an element's position is the loop's).
        let mut seen = HashSet::default();
        for (v, what) in bound {
            if seen.insert(v) {
                self.define(v, &mut inner, what)?;
            }
        }
        let arity = l.carried.len() + usize::from(l.exit);
        if l.body.yields.len() != arity {
            return Err(format!(
                "{at}: the body yields {} values for {} carried{}",
                l.body.yields.len(),
                l.carried.len(),
                if l.exit { " and an exit flag" } else { "" }
            ));
        }
        self.block(&l.body, &mut inner)?;
        if let Some(s) = &l.save {
            for v in &s.vals {
                self.read(&Operand::Var(*v), &inner, "a loop's storage")?;
            }
        }
        for c in &l.carried {
            self.define(c.out, scope, "a loop's output")?;
        }
        if let Some(s) = &l.save {
            self.define(s.buf, scope, "a loop's storage")?;
        }
        Ok(())
    }
}

fn kind(inst: &Inst) -> &'static str {
    match inst {
        Inst::Op { .. } => "an operation",
        Inst::Opaque { .. } => "code over data",
        Inst::Cond { .. } => "a condition",
        Inst::If { .. } => "an `if`",
        Inst::Load { .. } => "an element read",
        Inst::Store { .. } => "an element store",
        Inst::NewArray { .. } => "a new array",
        Inst::Assign { .. } => "a whole-array write",
        Inst::Loop(_) => "a loop",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proc_macro2::Span;

    fn var(name: &str) -> VarInfo {
        VarInfo {
            kind: Kind::Float,
            name: Name::Source(name.into()),
            active: true,
            span: Span::call_site(),
            mutable: false,
            float_checked: false,
            call: None,
            pulled_part: None,
            bilinear: false,
        }
    }

    fn func(body: Block, n: usize) -> Func {
        Func {
            float: Float::F64,
            vars: (0..n).map(|i| var(&format!("x{i}"))).collect(),
            externs: Vec::new(),
            params: vec![Var(0)],
            body,
            arrays: Default::default(),
        }
    }

    fn op(var: u32, args: &[u32]) -> Inst {
        Inst::Op {
            var: Var(var),
            op: Op::Add,
            args: args.iter().map(|&a| Operand::Var(Var(a))).collect(),
        }
    }

    #[test]
    fn a_valid_body_passes() {
        let body = Block {
            insts: vec![op(1, &[0, 0]), op(2, &[1, 0])],
            yields: vec![Operand::Var(Var(2))],
        };
        assert_eq!(validate(&func(body, 3)), Ok(()));
    }

    #[test]
    fn each_broken_invariant_is_found() {
        let cases = [
            (
                vec![op(1, &[0, 0]), op(1, &[0, 0])],
                vec![],
                "defined twice",
            ),
            (vec![op(1, &[2, 0]), op(2, &[0, 0])], vec![], "not defined"),
            (
                vec![op(1, &[0, 0])],
                vec![Operand::Var(Var(2))],
                "not defined",
            ),
            (vec![op(1, &[0, 7])], vec![], "not defined"),
            (
                vec![Inst::If {
                    cond: Operand::Bool(true),
                    then: Block {
                        insts: vec![op(1, &[0, 0])],
                        yields: vec![Operand::Var(Var(1))],
                    },
                    els: Block::default(),
                    outs: vec![Var(2)],
                }],
                vec![],
                "yields 0 values for 1 outputs",
            ),
            (
                // A value defined in an arm is not seen after the `if`.
                vec![
                    Inst::If {
                        cond: Operand::Bool(true),
                        then: Block {
                            insts: vec![op(1, &[0, 0])],
                            yields: vec![],
                        },
                        els: Block::default(),
                        outs: vec![],
                    },
                    op(2, &[1, 0]),
                ],
                vec![],
                "not defined",
            ),
        ];
        for (insts, yields, want) in cases {
            let got = validate(&func(Block { insts, yields }, 3)).unwrap_err();
            assert!(got.contains(want), "{got} (wanted {want})");
        }
    }
}
