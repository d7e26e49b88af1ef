//! Escape analysis: where a differentiated value could leave the arithmetic the macro models.
//!
//! A differentiated value either flows through what the macro models (arithmetic, the rule
//! table, `if`, loops, local arrays, calls of other `#[grad]` functions) and gets its true
//! derivative, or the build fails here, at the token where it escapes. A value escapes when it
//! reaches code the macro passes through as written: a call or method it does not
//! differentiate (as an argument, or as the receiver), a container, a cell or an atomic, a
//! bit pattern (`to_bits`), or a place the macro tracks as a value (a float or array local)
//! lent out with `&mut` or changed in place by a method. What such code did with the value
//! would be invisible to the reverse sweep: the gradient would silently miss it.
//!
//! The lowering asks [`Escapes::in_passed_through`] of every expression it passes through as
//! written. Calls of other `#[grad]` functions are modelled, not passed through: rustc checks
//! that the callee has a pullback, and `lower` refuses one whose value is never used (the
//! call could then only matter through its effects).

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::visit::Visit;
use syn::{Expr, UnOp};

/// What a local name stands for, as far as escapes are concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// A value that depends on a `wrt` parameter.
    Differentiated,
    /// A float, or an array of floats, that the macro tracks as a value (its writes are
    /// modelled, so a write it cannot see would be lost).
    Tracked,
    /// Data of any other type, passed through as written.
    Data,
    /// Data that is not changed in place (assigned, `n = n + 1`, or a loop variable): the
    /// macro tracks it as a value and does not keep it `mut`, so it cannot be lent with `&mut`
    /// (methods that read it are passed through).
    Value,
    /// Not a local.
    Unknown,
}

/// Methods that store their argument in the receiver (a collection, a cell, an atomic, a
/// channel, a writer): a differentiated value given to one is kept where `#[grad]` cannot follow it.
pub const STORING_METHODS: &[&str] = &[
    "push",
    "push_back",
    "push_front",
    "insert",
    "extend",
    "extend_from_slice",
    "append",
    "resize",
    "fill",
    "set",
    "replace",
    "store",
    "swap",
    "take",
    "fetch_add",
    "fetch_sub",
    "fetch_max",
    "fetch_min",
    "fetch_update",
    "compare_exchange",
    "compare_exchange_weak",
    "get_or_insert",
    "get_or_insert_with",
    "or_insert",
    "send",
    "write",
    "write_all",
    "copy_from_slice",
    "clone_from_slice",
    "clone_from",
    "splice",
];

/// Methods that turn a float into its bits or bytes: a bijection grad has no derivative for, so
/// a differentiated value would come back as data with its derivative lost.
pub const BIT_CASTS: &[&str] = &["to_bits", "to_ne_bytes", "to_le_bytes", "to_be_bytes"];

/// Types of the standard library that hold values (containers, cells, smart pointers, atomics,
/// options): `Box::new(x)` stores `x` where `#[grad]` cannot follow it.
const STD_HOLDERS: &[&str] = &[
    "Box",
    "Rc",
    "Arc",
    "Cell",
    "RefCell",
    "OnceCell",
    "Mutex",
    "RwLock",
    "Vec",
    "VecDeque",
    "LinkedList",
    "BinaryHeap",
    "HashMap",
    "BTreeMap",
    "HashSet",
    "BTreeSet",
    "String",
    "Option",
    "Result",
    "Wrapping",
    "Reverse",
    "Pin",
    "Cow",
    "AtomicU64",
    "AtomicU32",
    "AtomicI64",
    "AtomicI32",
    "AtomicUsize",
    "AtomicIsize",
    "AtomicBool",
];

/// Methods that only read their receiver and return data or a copy: calling one on a tracked
/// float or array local changes nothing the macro must see.
const READ_ONLY_METHODS: &[&str] = &[
    "iter",
    "len",
    "is_empty",
    "first",
    "last",
    "get",
    "contains",
    "to_vec",
    "clone",
    "as_slice",
    "windows",
    "chunks",
    "starts_with",
    "ends_with",
    "to_string",
    "map",
    "sum",
    "product",
    "fold",
    "zip",
    "enumerate",
    "rev",
    "copied",
    "cloned",
    "skip",
    "step_by",
    "take",
    "chain",
];

/// The float methods that answer a question about a value rather than compute one: allowed on
/// differentiated values, with no derivative.
pub const FLOAT_PREDICATES: &[&str] = &[
    "is_nan",
    "is_infinite",
    "is_finite",
    "is_normal",
    "is_subnormal",
    "is_sign_positive",
    "is_sign_negative",
    "total_cmp",
    "partial_cmp",
    "classify",
];

/// Methods whose result is data (a length, a test) whatever their receiver holds, besides the
/// float predicates: a derivative does not pass through them (it is 0 almost everywhere).
const DATA_RESULTS: &[&str] = &["len", "is_empty", "contains", "starts_with", "ends_with"];

fn data_result(name: &str) -> bool {
    DATA_RESULTS.contains(&name) || FLOAT_PREDICATES.contains(&name)
}

/// Whether a method only reads its receiver (an iterator adapter, a length, a test, its bits).
pub fn read_only(name: &str) -> bool {
    READ_ONLY_METHODS.contains(&name)
        || FLOAT_PREDICATES.contains(&name)
        || BIT_CASTS.contains(&name)
}

/// Methods of `Ordering` and `bool` and the like, on data: pure.
const PURE_ON_DATA: &[&str] = &["is_lt", "is_le", "is_gt", "is_ge", "is_eq", "is_ne", "then"];

/// Looks up what a name holds, and whether a function or method name is pure and known (the
/// rule table, the float predicates).
pub struct Escapes<'a> {
    pub held: &'a dyn Fn(&str) -> Held,
    pub known_pure_call: &'a dyn Fn(&Expr) -> bool,
}

/// Where an escape is, and what to say about it.
pub type Escape = (TokenStream, String);

impl Escapes<'_> {
    fn name_of(&self, e: &Expr) -> Option<String> {
        match e {
            Expr::Path(p) if p.qself.is_none() => p.path.get_ident().map(|i| i.to_string()),
            Expr::Paren(p) => self.name_of(&p.expr),
            Expr::Group(g) => self.name_of(&g.expr),
            _ => None,
        }
    }

    /// The local a place expression (`a`, `a[i]`, `a.f`, `*a`) is rooted in.
    fn root(&self, e: &Expr) -> Option<String> {
        match e {
            Expr::Index(ix) => self.root(&ix.expr),
            Expr::Field(f) => self.root(&f.base),
            Expr::Paren(p) => self.root(&p.expr),
            Expr::Group(g) => self.root(&g.expr),
            Expr::Unary(u) => self.root(&u.expr),
            other => self.name_of(other),
        }
    }

    /// The differentiated local whose value `e` may carry (not a comparison, a predicate or an
    /// integer cast of one, which are data).
    pub fn carried(&self, e: &Expr) -> Option<String> {
        match e {
            Expr::Path(_) => self
                .name_of(e)
                .filter(|n| (self.held)(n) == Held::Differentiated),
            Expr::Paren(p) => self.carried(&p.expr),
            Expr::Group(g) => self.carried(&g.expr),
            Expr::Reference(r) => self.carried(&r.expr),
            Expr::Unary(u) => match u.op {
                UnOp::Not(_) => None,
                _ => self.carried(&u.expr),
            },
            Expr::Binary(b) => {
                use syn::BinOp::*;
                match b.op {
                    Add(_) | Sub(_) | Mul(_) | Div(_) | Rem(_) => {
                        self.carried(&b.left).or_else(|| self.carried(&b.right))
                    }
                    _ => None,
                }
            }
            Expr::Cast(c) => {
                let float = matches!(&*c.ty, syn::Type::Path(p) if p.path.is_ident("f64") || p.path.is_ident("f32"));
                if float {
                    self.carried(&c.expr)
                } else {
                    None
                }
            }
            Expr::MethodCall(m) => {
                let name = m.method.to_string();
                let data = data_result(&name)
                    || PURE_ON_DATA.contains(&name.as_str())
                    || BIT_CASTS.contains(&name.as_str());
                if data {
                    None
                } else {
                    self.carried(&m.receiver)
                        .or_else(|| m.args.iter().find_map(|a| self.carried(a)))
                }
            }
            Expr::Lit(_) => None,
            // Anything else (a call, a block, an `if`, a literal array): whatever it names.
            other => first_named(other, &|n| (self.held)(n) == Held::Differentiated),
        }
    }

    /// The first escape in an expression passed through as written. In a condition
    /// (`in_condition`) a differentiated value may be compared and tested; elsewhere it may not
    /// appear at all.
    pub fn in_passed_through(&self, e: &Expr, in_condition: bool) -> Option<Escape> {
        struct Find<'s, 'a> {
            s: &'s Escapes<'a>,
            cond: bool,
            found: Option<Escape>,
        }
        impl<'ast> Visit<'ast> for Find<'_, '_> {
            fn visit_expr(&mut self, e: &'ast Expr) {
                if self.found.is_some() {
                    return;
                }
                self.found = self.s.at(e, self.cond);
                if self.found.is_none() {
                    syn::visit::visit_expr(self, e);
                }
            }
            fn visit_item(&mut self, _: &'ast syn::Item) {}
        }
        let mut f = Find {
            s: self,
            cond: in_condition,
            found: None,
        };
        f.visit_expr(e);
        f.found
    }

    /// An escape at this node itself (not inside it).
    fn at(&self, e: &Expr, cond: bool) -> Option<Escape> {
        match e {
            Expr::Reference(r) if r.mutability.is_some() => {
                let root = self.root(&r.expr)?;
                match (self.held)(&root) {
                    h @ (Held::Differentiated | Held::Tracked | Held::Value) => Some((
                        e.to_token_stream(),
                        lent_out(&root, &e.to_token_stream().to_string(), h != Held::Value),
                    )),
                    _ => None,
                }
            }
            Expr::MethodCall(m) => {
                let name = m.method.to_string();
                // A method that may change a tracked local in place.
                if let Some(root) = self.name_of(&m.receiver) {
                    if (self.held)(&root) == Held::Tracked
                        && !read_only(&name)
                        && !(self.known_pure_call)(e)
                    {
                        return Some((m.method.to_token_stream(), changed_in_place(&root, &name)));
                    }
                }
                if let Some(id) = self.carried(&m.receiver) {
                    if BIT_CASTS.contains(&name.as_str()) {
                        return Some((m.method.to_token_stream(), bit_cast(&id, &name)));
                    }
                }
                let arg = m.args.iter().find_map(|a| self.carried(a));
                if let Some(id) = &arg {
                    if STORING_METHODS.contains(&name.as_str()) {
                        return Some((m.method.to_token_stream(), stored(id, &name)));
                    }
                }
                // A method of data given a differentiated value in a condition is called
                // through its pullback (`lower`); one on a differentiated receiver must be
                // known to compute data from it.
                let on_value = self.carried(&m.receiver)?;
                let known = (self.known_pure_call)(e)
                    || PURE_ON_DATA.contains(&name.as_str())
                    || read_only(&name);
                if cond && !known {
                    return Some((m.method.to_token_stream(), opaque_method(&on_value, &name)));
                }
                None
            }
            Expr::Call(c) => {
                let Expr::Path(p) = &*c.func else {
                    return None;
                };
                let id = c.args.iter().find_map(|a| self.carried(a))?;
                holding_call(&p.path, &id).map(|msg| (c.func.to_token_stream(), msg))
            }
            _ => None,
        }
    }
}

/// The names of a path's segments (`std::mem::replace` → `["std", "mem", "replace"]`).
pub fn segments(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

/// A call on a path: the escape, if the function is one `#[grad]` knows to hold or reinterpret its
/// argument (`Box::new`, `Some`, `f64::from_bits`, anything of `std`), given the differentiated
/// local `id` it is passed.
pub fn holding_call(path: &syn::Path, id: &str) -> Option<String> {
    let segs = segments(path);
    let last = segs.last()?;
    let written = segs.join("::");
    if segs.len() == 2 && (segs[0] == "f64" || segs[0] == "f32") {
        return Some(format!(
            "`{written}` is not a function #[grad] can differentiate, and `{id}`, which depends on a `wrt` parameter, is passed to it; the f32/f64 functions it differentiates are the methods of its rule table (`f64::exp(x)`, `x.sin()`, ...)"
        ));
    }
    if matches!(segs[0].as_str(), "std" | "core" | "alloc") {
        return Some(format!(
            "`{id}` depends on a `wrt` parameter and is passed to `{written}`, which #[grad] does not differentiate: a value handed to the standard library (a container, a cell, `mem::replace`, ...) loses its derivative; keep differentiated values in locals and arithmetic"
        ));
    }
    let holder = segs.len() >= 2 && STD_HOLDERS.contains(&segs[segs.len() - 2].as_str());
    let constructor = last.starts_with(|c: char| c.is_ascii_uppercase());
    if holder || constructor {
        return Some(format!(
            "`{id}` depends on a `wrt` parameter and would be stored by `{written}(..)`: #[grad] does not follow values into containers, boxes, cells, options or structs; keep differentiated values in float locals (or a local array, `let mut v = [0.0; N];`)"
        ));
    }
    None
}

/// `float`: the local is a float or an array of floats, which a `#[grad]` function may write
/// in a statement of its own.
fn lent_out(root: &str, written: &str, float: bool) -> String {
    let written = written.replace("& mut ", "&mut ");
    let statement = if float {
        format!("lend it to a #[grad] function in a statement of its own (`f(&mut {root}, ..);`, `f` writing one `&mut` float or array of floats; declare `let mut {root}: f64` where the macro cannot tell it is one), ")
    } else {
        String::new()
    };
    format!(
        "`{written}` lends `{root}` to code #[grad] does not see: #[grad] tracks `{root}` as a value of this function (a float, an array of floats, data the body assigns, or a loop variable), so a write through the reference would be lost from the value and the gradient; {statement}have the function return the new value (`{root} = f(..);`), or for an array write its elements here (`{root}[i] = ...`)"
    )
}

pub fn changed_in_place(root: &str, method: &str) -> String {
    format!(
        "`.{method}(..)` may change `{root}` in place, which #[grad] cannot see: #[grad] tracks `{root}` as a value (a float, or an array of floats, of this function); assign it instead (`{root} = ...;`, or `{root}[i] = ...;` for an element)"
    )
}

fn bit_cast(id: &str, method: &str) -> String {
    format!(
        "`{id}` depends on a `wrt` parameter, and `.{method}()` turns it into bits, through which #[grad] cannot follow its derivative: keep differentiated values as floats (a bit pattern that comes back with `from_bits` would carry no derivative)"
    )
}

fn stored(id: &str, method: &str) -> String {
    format!(
        "`.{method}(..)` would store `{id}`, which depends on a `wrt` parameter, where #[grad] cannot follow it (a collection, a cell, an atomic): its derivative would be lost when it is read back; keep differentiated values in float locals, or in a local array written by index (`let mut v = [0.0; N]; v[i] = ...;`)"
    )
}

fn opaque_method(id: &str, name: &str) -> String {
    format!(
        "`.{name}()` is called on `{id}`, which depends on a `wrt` parameter, and is not a method #[grad] knows: it could keep the value where #[grad] cannot follow it; test the value with comparisons and the f32/f64 methods (`{id} > 0.0`, `{id}.is_nan()`)"
    )
}

/// The first local name in `e` that `pick` selects.
fn first_named(e: &Expr, pick: &dyn Fn(&str) -> bool) -> Option<String> {
    struct Find<'p> {
        pick: &'p dyn Fn(&str) -> bool,
        found: Option<String>,
    }
    impl<'ast> Visit<'ast> for Find<'_> {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if let (None, Some(id), None) = (&p.qself, p.path.get_ident(), &self.found) {
                let n = id.to_string();
                if (self.pick)(&n) {
                    self.found = Some(n);
                }
            }
        }
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut f = Find { pick, found: None };
    f.visit_expr(e);
    f.found
}
