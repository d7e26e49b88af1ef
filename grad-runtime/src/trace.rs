//! What `#[grad(wrt = .., trace)]` generates `<name>_trace` to return: the lecture notes'
//! table of a gradient, one row per node of the computational graph (each input, then each
//! operation as it ran: once per iteration in a loop, only in the branch taken), with its
//! value, its local derivatives and the accumulated derivative.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use crate::__private::TraceValue;

/// A node of the computational graph, with its numbers at one point.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The variable's name, or `ξ1`, `ξ2`, ... for an intermediate without one; an element of
    /// an array parameter is named with its index (`w[0]`, `m[1][2]`), a value stored in an
    /// array without a name of its own by where it is stored (`a[i]`).
    pub name: String,
    /// What it computes from earlier nodes (`1 + ξ2`); empty for an input.
    pub expression: &'static str,
    /// Its value.
    pub value: f64,
    /// Its local derivatives: `(operand, ∂node/∂operand)`, for each operand that has a
    /// derivative, the operand named by its label (`s@1`: the row it was at this node's run).
    pub local: Vec<(String, f64)>,
    /// The accumulated derivative `∂f/∂node` (the adjoint), or `None` for an input that is not
    /// differentiated (data).
    pub derivative: Option<f64>,
    /// For a node in a loop, the iteration it ran in: counted from 0, outermost loop first
    /// (`[2]` for the third iteration, `[2, 0]` for the first of an inner loop in it). Empty
    /// outside loops.
    pub iteration: Vec<usize>,
}

impl Node {
    /// How the table names it: its name, then, in a loop, `@` and its iteration (`p@2`, or
    /// `p@2,0` in nested loops).
    pub fn label(&self) -> String {
        label(&self.name, &self.iteration)
    }
}

/// The table of a gradient at one point: [`Display`](fmt::Display) prints it as the notes do,
/// and the fields give the same numbers to code.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The function's name.
    pub function: &'static str,
    /// Inputs first, then each operation in the order it ran (in a loop, once per iteration;
    /// of an `if`, the arm taken).
    pub nodes: Vec<Node>,
    /// The function's value.
    result: f64,
    /// The node that is the function's value, if one is (not a constant).
    result_node: Option<usize>,
}

impl Trace {
    /// The node of that [label](Node::label): `"p"` outside loops, `"p@2"` for `p` at
    /// iteration 2 of its loop (`"p@2,0"` in nested loops). A name alone in a loop is its first
    /// iteration's node.
    pub fn node(&self, label: &str) -> Option<&Node> {
        match label.split_once('@') {
            None => self.nodes.iter().find(|n| n.name == label),
            Some((name, at)) => {
                let at: Vec<usize> = at
                    .split(',')
                    .map(|k| k.trim().parse().ok())
                    .collect::<Option<_>>()?;
                self.nodes
                    .iter()
                    .find(|n| n.name == name && n.iteration == at)
            }
        }
    }

    /// Every row of the node named `name`, in the order they ran (one per iteration in a
    /// loop).
    pub fn iterations<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.nodes.iter().filter(move |n| n.name == name)
    }

    /// The table with only the inputs and the nodes of the outermost loop's iterations in
    /// `range` (and the nodes outside loops): a long run's table, a few iterations at a time.
    pub fn only(&self, range: std::ops::Range<usize>) -> Trace {
        let kept: Vec<&Node> = self
            .nodes
            .iter()
            .filter(|n| n.iteration.first().is_none_or(|i| range.contains(i)))
            .collect();
        let result_node = self
            .result_node()
            .and_then(|r| kept.iter().position(|n| std::ptr::eq(*n, r)));
        Trace {
            function: self.function,
            result: self.result,
            result_node,
            nodes: kept.into_iter().cloned().collect(),
        }
    }

    /// The function's value.
    pub fn value(&self) -> f64 {
        self.result
    }

    /// The node whose value is the function's: usually the last, but it may be an input (`fn
    /// f(w: f64) -> f64 { if w > 0.0 { return w; } .. }`), or none (a constant).
    pub fn result_node(&self) -> Option<&Node> {
        self.result_node.and_then(|k| self.nodes.get(k))
    }

    /// The chain rule, checked row by row: each row's derivative is the sum, over the rows that
    /// use it (that list its [label](Node::label) among their operands), of their derivative
    /// times their local derivative, plus 1 for the [result](Trace::result_node); a row nothing
    /// uses has derivative 0. Each sum is compared to `tolerance` times its terms' size (sums
    /// with a non-finite term are skipped). `Err` names the first row where it fails.
    ///
    /// The table's numbers come from the reverse sweep and `_grad`: this is the rule they
    /// follow, shown at work (and how the tests check the tables).
    pub fn chain_rule(&self, tolerance: f64) -> Result<(), String> {
        for (k, n) in self.nodes.iter().enumerate() {
            let Some(d) = n.derivative else { continue };
            let label = n.label();
            let (mut sum, mut size, mut users) = (0.0, 0.0_f64, 0u32);
            for m in &self.nodes[k + 1..] {
                for (operand, local) in &m.local {
                    if *operand == label {
                        let term = m.derivative.unwrap_or(f64::NAN) * local;
                        sum += term;
                        size = size.max(term.abs());
                        users += 1;
                    }
                }
            }
            if self.result_node().is_some_and(|r| std::ptr::eq(r, n)) {
                sum += 1.0;
                size = size.max(1.0);
                users += 1;
            }
            if !(d.is_finite() && sum.is_finite() && size.is_finite()) {
                continue;
            }
            let holds = if users == 0 {
                d == 0.0
            } else {
                (sum - d).abs() <= tolerance * size * f64::from(users)
            };
            if !holds {
                return Err(format!(
                    "{label}: its derivative is {d:?}, the rows using it give {sum:?} ({users} terms)"
                ));
            }
        }
        Ok(())
    }

    /// The computational graph in Graphviz DOT, with this trace's numbers, unrolled: a node per
    /// row (each iteration's own), each with its value and accumulated derivative, each edge
    /// with its local derivative.
    pub fn to_dot(&self) -> String {
        let f = esc(self.function);
        let mut s = format!("digraph \"{f}\" {{\n  rankdir=LR;\n");
        for n in &self.nodes {
            let name = esc(&n.label());
            let d = n
                .derivative
                .map_or(String::new(), |d| format!("\\n∂{f}/∂{name} = {}", num(d)));
            let e = if n.expression.is_empty() {
                String::new()
            } else {
                format!(" = {}", esc(n.expression))
            };
            s.push_str(&format!(
                "  \"{name}\" [label=\"{name}{e}\\n{}{d}\"];\n",
                num(n.value)
            ));
        }
        for n in &self.nodes {
            for (operand, l) in &n.local {
                s.push_str(&format!(
                    "  \"{}\" -> \"{}\" [label=\"{}\"];\n",
                    esc(operand),
                    esc(&n.label()),
                    num(*l)
                ));
            }
        }
        s.push_str("}\n");
        s
    }
}

/// The most nodes [`svg`] draws.
pub const SVG_NODES: usize = 40;

/// A graph in Graphviz DOT (what `<name>_graph()` and [`Trace::to_dot`] give) drawn as SVG, in
/// Rust: no Graphviz to install. `Err` with the parser's message when `dot` is not a graph it
/// reads, when it has no nodes, or when it has more than [`SVG_NODES`] (its layout, by
/// `layout-rs`, not Graphviz, takes seconds past a few dozen nodes: a trace's graph has a node
/// per row, so draw a long run a few iterations at a time, [`Trace::only`]).
///
/// ```
/// let dot = "digraph \"f\" { \"x\" -> \"f\" [label=\"2·x\"]; }";
/// let svg = grad_runtime::trace::svg(dot).unwrap();
/// assert!(svg.starts_with("<svg") && svg.contains("2·x"));
/// ```
#[cfg(feature = "svg")]
pub fn svg(dot: &str) -> Result<String, String> {
    use layout::backends::svg::SVGWriter;
    use layout::gv::{DotParser, GraphBuilder};
    let graph = DotParser::new(dot).process()?;
    let mut builder = GraphBuilder::new();
    builder.visit_graph(&graph);
    let mut visual = builder.get();
    // (`layout-rs` cannot lay out a graph without nodes.)
    if visual.num_nodes() == 0 {
        return Err("the graph has no nodes".into());
    }
    // Its layout takes seconds past a few dozen nodes, minutes past a hundred.
    if visual.num_nodes() > SVG_NODES {
        return Err(format!(
            "the graph has {} nodes, more than the {SVG_NODES} drawn here in reasonable time: draw a few iterations (`trace.only(a..b).to_svg()`), or the DOT with Graphviz (`dot -Tsvg`)",
            visual.num_nodes()
        ));
    }
    let mut writer = SVGWriter::new();
    visual.do_it(false, false, false, &mut writer);
    let svg = writer.finalize();
    // Without its XML declaration and blank lines: the SVG element alone, to put in HTML as it
    // is (a rustdoc page, where a blank line would end it), or in a file.
    // Scaled down to the page or window when wider (a graph drawn left to right often is).
    let start = svg.find("<svg").unwrap_or(0);
    let lines: Vec<&str> = svg[start..]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    let svg = lines.join("\n") + "\n";
    // Colours as every SVG reader takes them: opaque `#rrggbbff` as `#rrggbb`, and the arrow
    // heads' `context-stroke` (SVG 2) as the edges' black.
    let svg = opaque_colours(&svg).replace("context-stroke", "black");
    Ok(svg.replacen("<svg ", "<svg style=\"max-width: 100%; height: auto\" ", 1))
}

/// `svg` with each opaque colour `#rrggbbff` written `#rrggbb`.
#[cfg(feature = "svg")]
fn opaque_colours(svg: &str) -> String {
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(i) = rest.find('#') {
        out.push_str(&rest[..=i]);
        rest = &rest[i + 1..];
        let hex = rest
            .get(..8)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        if let Some(h) = hex.filter(|h| h.ends_with("ff") || h.ends_with("FF")) {
            out.push_str(&h[..6]);
            rest = &rest[8..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(feature = "svg")]
impl Trace {
    /// [`Trace::to_dot`] drawn as SVG ([`svg`]): the graph with this trace's numbers.
    pub fn to_svg(&self) -> Result<String, String> {
        svg(&self.to_dot())
    }
}

/// A node of the table the macro writes for a `_trace` companion: its name, its expression,
/// its operands with a derivative (as written), the loops it is in (their place in the
/// function's order, outermost first) and its own place.
#[doc(hidden)]
pub type StaticNode = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [usize],
    usize,
);

/// A node's run: its number, iteration, value, local derivatives, its operands' rows and
/// values, and the names of operands that are elements of an array passed to a call (for
/// those no row holds: `v[1]`).
type Row = (
    usize,
    Vec<usize>,
    f64,
    Vec<f64>,
    Vec<usize>,
    Vec<f64>,
    Vec<Option<String>>,
);

/// What a `_trace` companion records as its function and gradient run: each node's value,
/// local derivatives and operands (the rows they were) where the function computes it, its
/// adjoint where the reverse sweep completes it, and each loop's number of iterations. Not part
/// of the public API.
#[doc(hidden)]
#[derive(Default)]
pub struct Recorder {
    /// The inputs, each float of each parameter: name and value.
    inputs: RefCell<Vec<(String, f64)>>,
    values: RefCell<Vec<Row>>,
    adjoints: RefCell<HashMap<(usize, Vec<usize>), f64>>,
    trips: RefCell<HashMap<(usize, Vec<usize>), usize>>,
    /// The row each element of each array that carries derivatives holds, by the array's number.
    arrays: RefCell<HashMap<usize, ArrayRows>>,
}

/// The rows an array's elements hold: each element written since the array was made, and
/// what the others hold (the row of `w` in `[w; 3]`, none in `[0.0; 3]`).
#[derive(Clone, Default)]
struct ArrayRows {
    default: usize,
    rows: HashMap<Vec<usize>, usize>,
}

/// An operand that is no row (`Recorder::value`): the table names it as written.
const NO_ROW: usize = usize::MAX;

impl Recorder {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// An input, of parameter `name`: returns its row (the `k`-th input's is `usize::MAX - 1 -
    /// k`).
    pub fn input<T: TraceValue>(&self, name: &'static str, value: T) -> usize {
        let mut inputs = self.inputs.borrow_mut();
        inputs.push((name.to_string(), value.into_f64()));
        NO_ROW - inputs.len()
    }

    /// The inputs of the array parameter `name`, one per element (`w[0]`, `w[1]`, ...): the
    /// elements of the array numbered `array`.
    pub fn input_array<A: Elements + ?Sized>(&self, array: usize, name: &'static str, value: &A) {
        let mut inputs = self.inputs.borrow_mut();
        let mut rows = HashMap::new();
        value.each(&mut Vec::new(), &mut |at, v| {
            inputs.push((label_at(name, at), v));
            rows.insert(at.to_vec(), NO_ROW - inputs.len());
        });
        self.arrays.borrow_mut().insert(
            array,
            ArrayRows {
                default: NO_ROW,
                rows,
            },
        );
    }

    /// The array numbered `array` is made, each element holding row `row` (none: `usize::MAX`).
    pub fn array(&self, array: usize, row: usize) {
        self.arrays.borrow_mut().insert(
            array,
            ArrayRows {
                default: row,
                rows: HashMap::new(),
            },
        );
    }

    /// The array numbered `array` is made a copy of the one numbered `from`.
    pub fn copy(&self, array: usize, from: usize) {
        let mut arrays = self.arrays.borrow_mut();
        let rows = arrays.get(&from).cloned().unwrap_or(ArrayRows {
            default: NO_ROW,
            rows: HashMap::new(),
        });
        arrays.insert(array, rows);
    }

    /// Element `at` of the array numbered `array` is given the value of row `row`.
    pub fn store(&self, array: usize, at: &[usize], row: usize) {
        self.arrays
            .borrow_mut()
            .entry(array)
            .or_insert(ArrayRows {
                default: NO_ROW,
                rows: HashMap::new(),
            })
            .rows
            .insert(at.to_vec(), row);
    }

    /// The row whose value element `at` of the array numbered `array` holds.
    pub fn load(&self, array: usize, at: &[usize]) -> usize {
        self.arrays
            .borrow()
            .get(&array)
            .map_or(NO_ROW, |a| a.rows.get(at).copied().unwrap_or(a.default))
    }

    /// Node `node` ran (at iteration `path` of the loops it is in), giving `value`, with local
    /// derivatives `local` with respect to operands that were the rows `rows` (a row this
    /// returned; input `k`'s, `usize::MAX - 1 - k`; none, `usize::MAX`: a constant, named by its
    /// value in `operands`). Returns its row.
    pub fn value(
        &self,
        node: usize,
        path: &[usize],
        value: f64,
        local: &[f64],
        rows: &[usize],
        operands: &[f64],
    ) -> usize {
        self.value_arrays(node, path, value, local, rows, operands, &[])
    }

    /// [`value`](Self::value) for a call given arrays: after the floats' operands, each
    /// element of each array in `arrays` (its number, its name, the callee's partial in it,
    /// its elements) with the row it holds.
    #[allow(clippy::too_many_arguments)]
    pub fn value_arrays(
        &self,
        node: usize,
        path: &[usize],
        value: f64,
        local: &[f64],
        rows: &[usize],
        operands: &[f64],
        arrays: &[(usize, &str, &dyn Elements, &dyn Elements)],
    ) -> usize {
        let (mut local, mut rows, mut operands) =
            (local.to_vec(), rows.to_vec(), operands.to_vec());
        let mut names = Vec::new();
        if !arrays.is_empty() {
            names.resize(local.len(), None);
        }
        for (id, name, partial, elements) in arrays {
            let mut parts = Vec::new();
            partial.each(&mut Vec::new(), &mut |_, p| parts.push(p));
            let mut k = 0;
            elements.each(&mut Vec::new(), &mut |at, v| {
                local.push(parts.get(k).copied().unwrap_or(f64::NAN));
                rows.push(self.load(*id, at));
                operands.push(v);
                names.push(Some(label_at(name, at)));
                k += 1;
            });
        }
        let mut values = self.values.borrow_mut();
        values.push((node, path.to_vec(), value, local, rows, operands, names));
        values.len() - 1
    }

    /// The reverse sweep completed the adjoint of node `node` at iteration `path`.
    pub fn adjoint(&self, node: usize, path: &[usize], derivative: f64) {
        self.adjoints
            .borrow_mut()
            .entry((node, path.to_vec()))
            .or_insert(derivative);
    }

    /// Loop `l`, at iteration `path` of the loops it is in, ran `n` iterations.
    pub fn trips(&self, l: usize, path: &[usize], n: usize) {
        self.trips.borrow_mut().insert((l, path.to_vec()), n);
    }

    /// The last iteration of loop `l` at `path` (where a reverse sweep over it starts), as
    /// recorded by [`trips`](Self::trips) (wrapping: a loop that did not run is not swept).
    pub fn last(&self, l: usize, path: &[usize]) -> usize {
        self.trips
            .borrow()
            .get(&(l, path.to_vec()))
            .copied()
            .unwrap_or(0)
            .wrapping_sub(1)
    }

    /// The table of `function`, of value `result`: the inputs, then each node as it ran, in the
    /// order it ran. `derivatives` are the inputs' accumulated derivatives, one for each call
    /// of [`input`](Self::input) or [`input_array`](Self::input_array), in order (`None` for
    /// data).
    pub fn finish(
        self,
        function: &'static str,
        (result, result_row): (f64, usize),
        derivatives: &[Option<&dyn Elements>],
        table: &[StaticNode],
    ) -> Trace {
        let mut ds: Vec<Option<f64>> = Vec::new();
        for d in derivatives {
            match d {
                Some(d) => d.each(&mut Vec::new(), &mut |_, v| ds.push(Some(v))),
                None => ds.push(None),
            }
        }
        let inputs: Vec<Node> = self
            .inputs
            .into_inner()
            .into_iter()
            .enumerate()
            .map(|(k, (name, value))| Node {
                name,
                expression: "",
                value,
                local: Vec::new(),
                derivative: ds.get(k).copied().flatten(),
                iteration: Vec::new(),
            })
            .collect();
        let adjoints = self.adjoints.into_inner();
        let rows = self.values.into_inner();
        // The order they ran in: each enclosing loop's place then iteration, then the node's
        // place in its loop's body.
        let key = |(node, path, ..): &Row| {
            let (_, _, _, loops, order) = table[*node];
            let mut k: Vec<usize> = Vec::with_capacity(2 * path.len() + 1);
            for (l, i) in loops.iter().zip(path) {
                k.push(*l);
                k.push(*i);
            }
            k.push(order);
            k
        };
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by_cached_key(|r| key(&rows[*r]));
        let label = |r: usize| -> Option<String> {
            if let Some((node, path, ..)) = rows.get(r) {
                return Some(label(table[*node].0, path));
            }
            let k = NO_ROW.checked_sub(1)?.checked_sub(r)?;
            inputs.get(k).map(Node::label)
        };
        let mut nodes: Vec<Node> = Vec::with_capacity(inputs.len() + rows.len());
        for &r in &order {
            let (node, path, value, local, operands, values, names) = &rows[r];
            let (name, expression, written, _, _) = table[*node];
            // An operand that is no node's value (a constant: a sum's start, an arm's literal)
            // is named as written, with its value: `s (= 0)`.
            let local = local
                .iter()
                .enumerate()
                .map(|(k, l)| {
                    let shown = operands.get(k).and_then(|o| label(*o)).unwrap_or_else(|| {
                        let element = names.get(k).and_then(Option::as_deref);
                        let w = element.unwrap_or_else(|| written.get(k).copied().unwrap_or(""));
                        format!(
                            "{w} (= {})",
                            num(values.get(k).copied().unwrap_or(f64::NAN))
                        )
                    });
                    (shown, *l)
                })
                .collect();
            let derivative = adjoints.get(&(*node, path.clone())).copied().unwrap_or(0.0);
            nodes.push(Node {
                name: name.to_string(),
                expression,
                value: *value,
                local,
                derivative: Some(derivative),
                iteration: path.clone(),
            });
        }
        // The result's place: an input's, or its row's in the order they ran.
        let n_inputs = inputs.len();
        let result_node = if result_row < rows.len() {
            order
                .iter()
                .position(|r| *r == result_row)
                .map(|k| n_inputs + k)
        } else {
            NO_ROW
                .checked_sub(1)
                .and_then(|m| m.checked_sub(result_row))
                .filter(|k| *k < n_inputs)
        };
        let mut all = inputs;
        all.extend(nodes);
        Trace {
            function,
            nodes: all,
            result,
            result_node,
        }
    }
}

/// `name` at iteration `path`, as [`Node::label`] writes it.
fn label(name: &str, path: &[usize]) -> String {
    if path.is_empty() {
        return name.to_string();
    }
    let at: Vec<String> = path.iter().map(|i| i.to_string()).collect();
    format!("{name}@{}", at.join(","))
}

/// `name` with the index `at` (`w[1][2]`).
fn label_at(name: &str, at: &[usize]) -> String {
    let mut s = name.to_string();
    for i in at {
        s.push_str(&format!("[{i}]"));
    }
    s
}

/// A float, or an array (nested, a slice, a `Vec`) of floats, element by element: what a trace
/// reads an array parameter and its gradient as. Not part of the public API.
#[doc(hidden)]
pub trait Elements {
    /// Calls `f` with each element's index (after `at`) and value, in row-major order.
    fn each(&self, at: &mut Vec<usize>, f: &mut dyn FnMut(&[usize], f64));
}

impl Elements for f64 {
    fn each(&self, at: &mut Vec<usize>, f: &mut dyn FnMut(&[usize], f64)) {
        f(at, *self);
    }
}

impl Elements for f32 {
    fn each(&self, at: &mut Vec<usize>, f: &mut dyn FnMut(&[usize], f64)) {
        f(at, f64::from(*self));
    }
}

impl<T: Elements> Elements for [T] {
    fn each(&self, at: &mut Vec<usize>, f: &mut dyn FnMut(&[usize], f64)) {
        for (i, x) in self.iter().enumerate() {
            at.push(i);
            x.each(at, f);
            at.pop();
        }
    }
}

impl<T: Elements, const N: usize> Elements for [T; N] {
    fn each(&self, at: &mut Vec<usize>, f: &mut dyn FnMut(&[usize], f64)) {
        self[..].each(at, f);
    }
}

impl<T: Elements> Elements for Vec<T> {
    fn each(&self, at: &mut Vec<usize>, f: &mut dyn FnMut(&[usize], f64)) {
        self[..].each(at, f);
    }
}

impl<T: Elements + ?Sized> Elements for &T {
    fn each(&self, at: &mut Vec<usize>, f: &mut dyn FnMut(&[usize], f64)) {
        (**self).each(at, f);
    }
}

impl<T: Elements + ?Sized> Elements for &mut T {
    fn each(&self, at: &mut Vec<usize>, f: &mut dyn FnMut(&[usize], f64)) {
        (**self).each(at, f);
    }
}

/// Text for a quoted DOT string.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A number as the table prints it: up to 10 significant digits, without trailing zeros.
fn num(x: f64) -> String {
    if x == 0.0 || (1e-4..1e10).contains(&x.abs()) {
        let s = format!("{x:.10}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".into()
        } else {
            s.to_string()
        }
    } else {
        format!("{x:.9e}")
    }
}

/// Past this many nodes, `Display` shows the first and last [`SHOWN`].
const LONG_RUN: usize = 100;

/// The nodes a long run's table shows at each end.
const SHOWN: usize = 40;

/// The table as the notes print it: a row per node, with its value, local derivatives and
/// accumulated derivative. Past 100 nodes (a long loop), the first and last 40 are printed and
/// the rest summed up in a line; the alternate form (`{:#}`) prints every row, and
/// [`Trace::only`] a range of iterations.
impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 5]> = self
            .nodes
            .iter()
            .map(|n| {
                let local = n
                    .local
                    .iter()
                    .map(|(o, l)| format!("∂{}/∂{} = {}", n.label(), o, num(*l)))
                    .collect::<Vec<_>>()
                    .join(", ");
                [
                    n.label(),
                    n.expression.to_string(),
                    num(n.value),
                    local,
                    n.derivative.map_or("—".to_string(), num),
                ]
            })
            .collect();
        let head = [
            "node".to_string(),
            "expression".into(),
            "value".into(),
            "local derivatives".into(),
            format!("∂{}/∂node", self.function),
        ];
        let width = |i: usize| {
            rows.iter()
                .chain(std::iter::once(&head))
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..5).map(width).collect();
        let line = |f: &mut fmt::Formatter<'_>, r: &[String; 5]| {
            for (i, cell) in r.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                if i + 1 == r.len() {
                    writeln!(f, "{cell}")?;
                } else {
                    write!(f, "{cell}{}  ", " ".repeat(pad))?;
                }
            }
            Ok(())
        };
        line(f, &head)?;
        // A long run: its first and last rows, unless `{:#}` asks for all.
        let inputs = self
            .nodes
            .iter()
            .take_while(|n| n.expression.is_empty())
            .count();
        let hidden = if f.alternate() || rows.len() <= inputs + LONG_RUN {
            0..0
        } else {
            inputs + SHOWN..rows.len() - SHOWN
        };
        for (k, r) in rows.iter().enumerate() {
            if k == hidden.start && !hidden.is_empty() {
                let from = &self.nodes[hidden.start].iteration;
                let to = &self.nodes[hidden.end - 1].iteration;
                let span = match (from.first(), to.first()) {
                    (Some(a), Some(b)) => format!(", of iterations {a} to {b}"),
                    _ => String::new(),
                };
                writeln!(
                    f,
                    "… {} rows not shown{span}: `{{:#}}` prints them all, `trace.only(a..b)` the nodes of iterations a..b",
                    hidden.len()
                )?;
            }
            if !hidden.contains(&k) {
                line(f, r)?;
            }
        }
        Ok(())
    }
}
