//! What `#[grad(wrt = .., trace)]` generates `<name>_trace` to return: the lecture notes'
//! table of a gradient, one row per node of the computational graph (each input, then each
//! operation), with its value, its local derivatives and the accumulated derivative.

use std::fmt;

/// A node of the computational graph, with its numbers at one point.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The variable's name, or `ξ1`, `ξ2`, ... for an intermediate without one.
    pub name: &'static str,
    /// What it computes from earlier nodes (`1 + ξ2`); empty for an input.
    pub expression: &'static str,
    /// Its value.
    pub value: f64,
    /// Its local derivatives: `(operand, ∂node/∂operand)`, for each operand that has a
    /// derivative.
    pub local: Vec<(&'static str, f64)>,
    /// The accumulated derivative `∂f/∂node` (the adjoint), or `None` for an input that is not
    /// differentiated (data).
    pub derivative: Option<f64>,
}

/// The table of a gradient at one point: [`Display`](fmt::Display) prints it as the notes do,
/// and the fields give the same numbers to code.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// The function's name.
    pub function: &'static str,
    /// Inputs first, then each operation in the order it runs; the last is the result.
    pub nodes: Vec<Node>,
}

impl Trace {
    /// The node of that name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The function's value (the last node's).
    pub fn value(&self) -> f64 {
        self.nodes.last().map_or(f64::NAN, |n| n.value)
    }

    /// The computational graph in Graphviz DOT, with this trace's numbers: each node with its
    /// value and accumulated derivative, each edge with its local derivative.
    pub fn to_dot(&self) -> String {
        let f = esc(self.function);
        let mut s = format!("digraph \"{f}\" {{\n  rankdir=LR;\n");
        for n in &self.nodes {
            let name = esc(n.name);
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
                    esc(n.name),
                    num(*l)
                ));
            }
        }
        s.push_str("}\n");
        s
    }
}

/// A graph in Graphviz DOT (what `<name>_graph()` and [`Trace::to_dot`] give) drawn as SVG, in
/// Rust: no Graphviz to install. `Err` with the parser's message when `dot` is not a graph it
/// reads, or when it has no nodes (it reads what this crate writes; its layout is
/// `layout-rs`'s, not Graphviz's).
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

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: Vec<[String; 5]> = self
            .nodes
            .iter()
            .map(|n| {
                let local = n
                    .local
                    .iter()
                    .map(|(o, l)| format!("∂{}/∂{} = {}", n.name, o, num(*l)))
                    .collect::<Vec<_>>()
                    .join(", ");
                [
                    n.name.to_string(),
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
        for r in &rows {
            line(f, r)?;
        }
        Ok(())
    }
}
