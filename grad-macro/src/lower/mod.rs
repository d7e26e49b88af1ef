//! Lowers a function body from `syn` to the IR, reporting every unsupported construct with its
//! span.
//!
//! Variables are renamed into SSA form as they are assigned (`let mut s = 0.0; s += w;` defines
//! two variables), and an `if` yields the variables its branches change, so later passes never
//! see mutation. Code over data only (integer arithmetic, struct fields, user functions called
//! on data) is kept as the user wrote it, as opaque tokens with no derivative; code that mixes
//! data and differentiated values must be built from the operations in `rules/`. Conditions
//! are kept as written too, whatever values they read: a condition has no derivative.

use crate::build::Builder;
use crate::front::check::{float_of, Sig};
use crate::front::ctxt::Ctxt;
use crate::ir::{Block, Func, Kind, Name, Operand, Var};
use rustc_hash::FxHashSet as HashSet;

mod array;
mod call;
mod closure;
mod cond;
mod control;
pub mod effects;
pub mod escape;
mod expr;
mod finish;
mod generic;
mod iter;
mod matches;
mod pulled;
mod scan;
mod stmt;
mod syntax;

use cond::*;
use control::*;
use generic::float_type;
use iter::*;
use matches::*;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use scan::*;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{Expr, Ident, Stmt};
use syntax::*;

#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Binding {
    pub(crate) val: Operand,
}

type Env = Vec<Scope>;

/// The names bound in one block, in order, with an index of each name's latest binding: a
/// lookup costs the nesting depth, not the length of the body.
#[derive(Clone, Default)]
pub(crate) struct Scope {
    vars: Vec<(String, Binding)>,
    latest: rustc_hash::FxHashMap<String, usize>,
}

impl Scope {
    fn push(&mut self, (name, b): (String, Binding)) {
        self.latest.insert(name.clone(), self.vars.len());
        self.vars.push((name, b));
    }

    /// Where `name` was bound last in this scope.
    pub(crate) fn find(&self, name: &str) -> Option<usize> {
        self.latest.get(name).copied()
    }

    pub(crate) fn iter(&self) -> std::slice::Iter<'_, (String, Binding)> {
        self.vars.iter()
    }
}

impl std::ops::Index<usize> for Scope {
    type Output = (String, Binding);
    fn index(&self, k: usize) -> &Self::Output {
        &self.vars[k]
    }
}

impl std::ops::IndexMut<usize> for Scope {
    fn index_mut(&mut self, k: usize) -> &mut Self::Output {
        &mut self.vars[k]
    }
}

pub struct Lowered {
    pub func: Func,
    /// Statements that make rustc check a helper called by a bare name is really ours.
    pub assertions: Vec<TokenStream>,
    /// Functions of modules called with a differentiated argument (see
    /// `expand::pullbacks_in_scope`): the name the companions import each as (`__grad_f`), the
    /// path as written, the number of arguments, and whether a call returns an array (the
    /// stand-in's result is then inferred).
    pub callees: Vec<(Ident, syn::Path, usize, bool)>,
    /// Items declared inside the body (`const K: f64 = ..;`), copied into the companions.
    pub items: Vec<syn::Item>,
    /// For each parameter, whether the companions declare it `mut` as the original does: an
    /// array written in place, or data changed in place (`rng.next()`); a float the body
    /// reassigns needs no `mut` (each assignment is a new variable).
    pub keep_mut: Vec<bool>,
}

pub fn lower(cx: &Ctxt, sig: &Sig, block: &syn::Block, krate: &TokenStream) -> Option<Lowered> {
    let mut l = Lowerer {
        b: Builder::new(sig.float),
        cx,
        env: vec![Scope::default()],
        krate,
        assertions: Vec::new(),
        items: Vec::new(),
        int_params: Vec::new(),
        range_counters: Vec::new(),
        assigned_anywhere: HashSet::default(),
        element_stores: HashSet::default(),
        indexed_depth: Default::default(),
        array_target: None,
        active_names: HashSet::default(),
        refused_locals: HashSet::default(),
        loop_depth: 0,
        closure_depth: 0,
        hidden: 0,
        data_arrays: rustc_hash::FxHashMap::default(),
        data_call_array: None,
        aliases: rustc_hash::FxHashMap::default(),
        pos_slot: None,
        callees: Vec::new(),
        pulled: Vec::new(),
        plain: HashSet::default(),
        self_changes: sig.self_changes,
        checkpoint: sig.checkpoint,
        non_float_params: Vec::new(),
        closure_floor: None,
        closures: Default::default(),
        float_params: HashSet::default(),
        field_params: HashSet::default(),
    };
    // `f(&mut s, ..);` lending a float to a #[grad] function that writes it: `s = f(s, ..);`.
    let block = &crate::front::lend::desugar_calls(block, &sig.params);
    let assigned: HashSet<String> = scan::assigned_names(&block.stmts).into_iter().collect();
    let seeds: Vec<String> = sig
        .params
        .iter()
        .filter(|p| p.wrt)
        .filter_map(|p| p.ident.as_ref().map(|i| i.to_string()))
        .collect();
    l.active_names = scan::active_names(block, &seeds);
    l.assigned_anywhere = assigned.clone();
    l.element_stores = scan::element_stores(block);
    l.indexed_depth = scan::indexed_depth(block);
    let mut params = Vec::new();
    let mut keep_mut = Vec::new();
    for p in &sig.params {
        let array = p.array.as_ref().filter(|_| p.wrt);
        let declared_mut = p.mutable;
        let changed_in_place = p
            .ident
            .as_ref()
            .is_some_and(|id| !assigned.contains(&id.to_string()));
        keep_mut.push(declared_mut && (array.is_some() || (p.float.is_none() && changed_in_place)));
        let kind = if array.is_some() {
            Kind::Array
        } else if p.float == Some(sig.float) {
            Kind::Float
        } else {
            Kind::Opaque
        };
        let (name, span) = match &p.ident {
            Some(id) => (id.to_string(), id.span()),
            None => ("_".to_string(), Span::call_site()),
        };
        let v = l.b.new_var(kind, Name::Source(name.clone()), p.wrt, span);
        // Data declared `mut` and changed in place (`bump(&mut n)`, `data.swap(0, 1)`): a
        // variable whose value calls change, read where it is read (see `effects.rs`).
        let in_place = declared_mut && changed_in_place && kind == Kind::Opaque;
        if in_place {
            l.b.info_mut(v).mutable = true;
        }
        if let Some((info, _)) = array {
            l.b.arrays.insert(v, info.clone());
        } else if let Some((info, _)) = p.array.as_ref().filter(|_| !in_place) {
            l.data_arrays.insert(v, info.clone());
        }
        // Integers, and floats of the other width (`a: f32` in an `f64` function): rustc
        // refuses them in this function's float arithmetic, and so does the macro, once.
        let other_width = p.float.is_some_and(|f| f != sig.float);
        if is_int_or_bool(&p.ty) || other_width {
            l.int_params.push((v, crate::front::check::type_str(&p.ty)));
        }
        if !in_place && (is_int_or_bool(&p.ty) || p.float.is_some() || p.array.is_some()) {
            l.plain.insert(v);
        }
        if kind == Kind::Float && !p.field {
            l.float_params.insert(v);
        }
        if kind == Kind::Float && p.field {
            l.field_params.insert(v);
        }
        let float_ref = matches!(&p.ty, syn::Type::Reference(r) if float_of(&r.elem).is_some());
        if kind == Kind::Opaque && p.float.is_none() && !float_ref && !is_int_or_bool(&p.ty) {
            l.non_float_params
                .push((v, crate::front::check::type_str(&p.ty)));
        }
        params.push(v);
        if p.ident.is_some() {
            l.bind(name, Operand::Var(v));
        }
    }
    l.bind(RET.into(), Operand::Bool(false));
    l.bind(RETVAL.into(), Operand::Lit(0.0));
    if let Some(m) = sig.outputs {
        return lower_several(l, cx, block, m, params, keep_mut);
    }
    let tail = l.stmts(&block.stmts);
    let ret = l.returned(tail);
    if ret.is_none() {
        let at = block
            .stmts
            .last()
            .map_or_else(|| block.brace_token.span.join(), |s| s.span());
        cx.syn_error(syn::Error::new(
            at,
            "the function must end with an expression giving its value",
        ));
    }
    if cx.has_errors() {
        return None;
    }
    let ret = ret?;
    let insts = l.b.take_root();
    let body = Block {
        insts,
        yields: vec![ret],
    };
    l.finish(params, body, keep_mut)
}

/// The body of a function returning `m` floats: its statements, then a tuple or array
/// literal of `m` values, each a yield.
fn lower_several(
    mut l: Lowerer,
    cx: &Ctxt,
    block: &syn::Block,
    m: usize,
    params: Vec<Var>,
    keep_mut: Vec<bool>,
) -> Option<Lowered> {
    struct Returns(Option<Span>);
    impl<'ast> Visit<'ast> for Returns {
        fn visit_expr_return(&mut self, r: &'ast syn::ExprReturn) {
            self.0.get_or_insert(r.return_token.span);
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut returns = Returns(None);
    returns.visit_block(block);
    if let Some(at) = returns.0 {
        cx.syn_error(syn::Error::new(
            at,
            "`return` in a function returning several values is not supported: end the body with the tuple or array of its values",
        ));
        return None;
    }
    let (last, rest) = match block.stmts.split_last() {
        Some((Stmt::Expr(e, None), rest)) => (e, rest),
        _ => {
            cx.syn_error(syn::Error::new(
                block.brace_token.span.join(),
                "a function returning several values must end with their tuple or array (`(a, b)`, `[a, b]`)",
            ));
            return None;
        }
    };
    let elems: Vec<&Expr> = match last {
        Expr::Tuple(t) => t.elems.iter().collect(),
        Expr::Array(a) => a.elems.iter().collect(),
        Expr::Paren(p) => vec![&*p.expr],
        _ => Vec::new(),
    };
    if elems.len() != m {
        cx.error_spanned(
            last,
            format!("end the body with the {m} values as a tuple or array literal (`(a, b)`, `[a, b]`): each is differentiated on its own"),
        );
        return None;
    }
    l.stmts(rest);
    let yields: Vec<Operand> = elems.iter().map(|e| l.expr(e)).collect();
    if cx.has_errors() {
        return None;
    }
    let body = Block {
        insts: l.b.take_root(),
        yields,
    };
    l.finish(params, body, keep_mut)
}

struct Lowerer<'a> {
    b: Builder,
    cx: &'a Ctxt,
    env: Env,
    krate: &'a TokenStream,
    assertions: Vec<TokenStream>,
    items: Vec<syn::Item>,
    /// Parameters declared with an integer type, by variable: mixing one into float arithmetic
    /// is a type error worth saying plainly.
    int_params: Vec<(Var, String)>,
    /// Loop variables counting an integer range (`for i in 0..n`, `(0..n).map(|i| ..)`):
    /// integers, refused in float arithmetic as the integer parameters are.
    range_counters: Vec<Var>,
    /// Names that may hold a differentiated value somewhere in the body (see
    /// `scan::active_names`): decides, before a loop body is lowered, which of the values it
    /// carries need derivatives.
    active_names: HashSet<String>,
    /// Locals whose initializer was refused (a closure): a call of one is not refused again.
    refused_locals: HashSet<String>,
    /// `checkpoint`: outermost `for` loops over a range run in segments (`Lowerer::for_loop`).
    checkpoint: bool,
    loop_depth: usize,
    closure_depth: usize,
    /// Counter for the names of hidden accumulators.
    hidden: usize,
    /// Every name the body assigns somewhere.
    assigned_anywhere: HashSet<String>,
    /// Every name whose elements the body assigns (`z[i] = ..`): a copy of a data array under
    /// such a name is an array of floats of the macro's, not data passed through.
    element_stores: HashSet<String>,
    /// For each name the body indexes, the most indices at once (`scan::indexed_depth`): how
    /// many dimensions an array a `#[grad]` function returns has.
    indexed_depth: rustc_hash::FxHashMap<String, usize>,
    /// The array an `if` or a block being lowered is assigned to (`let z = if c { u } else {
    /// v };`): the value of each of its arms is written into it (`Lowerer::array_into`).
    array_target: Option<Var>,
    /// Data parameters that are arrays of floats: their lengths give loops a constant trip count.
    data_arrays: rustc_hash::FxHashMap<Var, crate::ir::ArrayInfo>,
    /// The shape of the array a `#[grad]` function returns on data, for the `let` lowering
    /// the call to record in `data_arrays` (`Lowerer::array_call`).
    data_call_array: Option<crate::ir::ArrayInfo>,
    /// Rows of an array being iterated (`for row in w.iter()`): the array and the position the
    /// row stands for.
    aliases: rustc_hash::FxHashMap<Var, (Var, Vec<Operand>)>,
    /// The position variable of the loop whose pattern is being bound, if a row needs one.
    pos_slot: Option<Var>,
    /// Functions of modules called with a differentiated argument (`Lowered::callees`).
    callees: Vec<(Ident, syn::Path, usize, bool)>,
    /// Every call of another `#[grad]` function (`pulled_call`): the variable holding what its
    /// pullback returns. One whose value is never used is kept all the same (`finish`).
    pulled: Vec<Var>,
    /// Parameters whose value no call can change (floats, integers, `bool`s, float arrays).
    plain: HashSet<Var>,
    /// A method whose receiver can change (`Sig::self_changes`).
    self_changes: bool,
    /// Data parameters whose type is not a float (nor a reference to one): `+` on one of them
    /// would be an operator of its type, not float arithmetic.
    non_float_params: Vec<(Var, String)>,
    /// The scopes a closure of `.map(..)`/`.fold(..)` may assign in: those from this depth on.
    closure_floor: Option<usize>,
    /// Parameters the user declared with the function's float type (not a struct's field).
    float_params: HashSet<Var>,
    /// A struct's fields made parameters (`Param::field`): their type is the macro's guess.
    field_params: HashSet<Var>,
    /// The local closures (`let sq = |v| v * v;`), by the variable their name is bound to.
    closures: rustc_hash::FxHashMap<Var, closure::Closure>,
}

/// Control flow is lowered to flags, held in the environment under names no identifier can
/// have: whether the function has returned and with what value, and whether the innermost loop
/// is left (`break`) or the rest of its iteration skipped (`continue`).
const RET: &str = "#ret";
const RETVAL: &str = "#retval";
const BRK: &str = "#brk";
const CONT: &str = "#cont";

impl<'a> Lowerer<'a> {
    fn bind(&mut self, name: String, val: Operand) {
        if let Some(scope) = self.env.last_mut() {
            scope.push((name, Binding { val }));
        }
    }

    fn lookup(&self, name: &str) -> Option<Operand> {
        self.env
            .iter()
            .rev()
            .find_map(|s| s.find(name).map(|k| s[k].1.val))
    }

    fn assign(&mut self, name: &str, val: Operand) -> bool {
        for scope in self.env.iter_mut().rev() {
            if let Some(k) = scope.find(name) {
                scope[k].1.val = val;
                return true;
            }
        }
        false
    }

    /// Gives a value just computed for `let name = ..` or `name = ..` the user's name.
    fn name_fresh(&mut self, val: Operand, first_new: usize, name: &str) {
        if let Operand::Var(v) = val {
            if v.0 as usize >= first_new
                && self.b.info(v).name == Name::Temp
                && !name.starts_with('#')
            {
                self.b.info_mut(v).name = Name::Source(name.to_string());
            }
        }
    }

    fn error<T: ToTokens>(&self, at: T, msg: impl std::fmt::Display) -> Operand {
        self.cx.error_spanned(at, msg);
        Operand::Lit(0.0)
    }

    /// An error rustc also reports in the original's body (a type error): see `Ctxt::rustc_too`.
    fn type_error<T: ToTokens>(&self, at: T, msg: impl std::fmt::Display) -> Operand {
        self.cx.rustc_too();
        self.error(at, msg)
    }

    fn is_floatish(&self, o: &Operand) -> bool {
        self.b.kind(o) == Kind::Float
    }
}
