//! `trace` and `graph`: the lecture notes' tables and graphs from the tool, checked number by
//! number against the notes (001's ξ table, 004's perceptron) and the closed forms.

#![deny(warnings)]

use approx::assert_relative_eq;

#[allow(dead_code)]
#[path = "../examples/seed_models/mod.rs"]
mod seed_models;

#[test]
fn the_001_table_has_the_notes_numbers() {
    let t = seed_models::xi_loss_trace(3.0, 3.0, 1.0);
    let e = (-9.0f64).exp();
    let p = 1.0 / (1.0 + e);
    let value = |n: &str| t.node(n).unwrap_or_else(|| panic!("no node {n}")).value;
    let adjoint = |n: &str| {
        t.node(n)
            .and_then(|n| n.derivative)
            .expect("differentiated")
    };
    assert_eq!(value("xi1"), -9.0);
    assert_relative_eq!(value("xi2"), e, max_relative = 1e-15);
    assert_relative_eq!(value("xi3"), 1.0 + e, max_relative = 1e-15);
    assert_relative_eq!(value("xi4"), p, max_relative = 1e-15);
    assert_relative_eq!(value("xi5"), p.ln(), max_relative = 1e-12);
    assert_relative_eq!(t.value(), -p.ln(), max_relative = 1e-12);
    // The accumulated derivatives, from the result back to W: −3e⁻⁹ / (1 + e⁻⁹) (001's sign).
    assert_eq!(adjoint("xi_loss"), 1.0);
    assert_eq!(adjoint("xi5"), -1.0);
    assert_relative_eq!(adjoint("xi4"), -1.0 / p, max_relative = 1e-15);
    assert_relative_eq!(adjoint("w"), -3.0 * e / (1.0 + e), max_relative = 1e-12);
    assert_eq!(t.node("x").map(|n| n.derivative), Some(None));
    // Local derivatives: ∂ξ2/∂ξ1 = e^ξ1, ∂ξ4/∂ξ3 = −1/ξ3², ∂ξ5/∂ξ4 = 1/ξ4.
    let local = |n: &str| t.node(n).map(|n| n.local.clone()).unwrap_or_default();
    assert_eq!(local("xi2"), vec![("xi1", value("xi2"))]);
    assert_relative_eq!(
        local("xi4")[0].1,
        -1.0 / ((1.0 + e) * (1.0 + e)),
        max_relative = 1e-15
    );
    assert_relative_eq!(local("xi5")[0].1, 1.0 / p, max_relative = 1e-15);
    // Consistent with the gradient companion.
    assert_eq!(adjoint("w"), seed_models::xi_loss_grad(3.0, 3.0, 1.0));
    let shown = t.to_string();
    assert!(shown.starts_with("node"), "{shown}");
    assert!(
        shown.contains("xi4") && shown.contains("-0.0003701837"),
        "{shown}"
    );
}

#[test]
fn the_004_perceptron_table_has_the_notes_numbers() {
    let t = seed_models::perceptron_trace(2.0, -3.0, -3.0, -1.0, -2.0);
    let f = 1.0 / (1.0 + (-1.0f64).exp());
    let ddot = (1.0 - f) * f;
    assert_eq!(t.node("dot").map(|n| n.value), Some(1.0));
    assert_relative_eq!(t.value(), f, max_relative = 1e-15);
    let adjoint = |n: &str| {
        t.node(n)
            .and_then(|n| n.derivative)
            .expect("differentiated")
    };
    assert_relative_eq!(adjoint("dot"), ddot, max_relative = 1e-15);
    // The notes: d out/dw = x·ddot, d out/dx = w·ddot, d out/db = ddot.
    for (name, factor) in [
        ("w1", -1.0),
        ("w2", -2.0),
        ("b", 1.0),
        ("x1", 2.0),
        ("x2", -3.0),
    ] {
        assert_relative_eq!(adjoint(name), factor * ddot, max_relative = 1e-15);
    }
    let g = seed_models::perceptron_grad(2.0, -3.0, -3.0, -1.0, -2.0);
    assert_eq!(adjoint("w1"), g.0);
    assert_eq!(adjoint("x2"), g.4);
}

#[test]
fn the_graph_has_a_node_per_value_and_an_edge_per_local_derivative() {
    let dot = seed_models::fan_out_graph();
    assert!(dot.starts_with("digraph \"fan_out\""), "{dot}");
    for node in ["w11", "z1", "h2", "z4", "h4", "zo", "o"] {
        assert!(
            dot.contains(&format!("\"{node}\"")),
            "{node} missing: {dot}"
        );
    }
    // Fan-out: h1 = z1 feeds both z3 and z4.
    assert!(
        dot.contains("\"z1\" -> \"z3\"") || dot.contains("\"h1\" -> \"z3\""),
        "{dot}"
    );
    assert!(
        dot.contains("-> \"h4\" [label=\"h4\"]"),
        "e^z4 has derivative itself: {dot}"
    );
    // A trace draws the same graph with numbers.
    let t = seed_models::xi_loss_trace(3.0, 3.0, 1.0);
    let with_values = t.to_dot();
    assert!(with_values.contains("\"xi4\" -> \"xi5\""), "{with_values}");
}

/// The fan-out network's graph (the notes' 002) drawn as SVG, as the manual shows it
/// (`src/graphs/fan_out.svg`, included in the crate's documentation): the picture is what
/// `backprop::trace::svg` draws today. `GRAD_BLESS=1` writes it again.
#[test]
fn the_manuals_graph_is_drawn_from_the_tool() {
    let svg = backprop::trace::svg(seed_models::fan_out_graph()).expect("the DOT is read");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/graphs/fan_out.svg");
    if std::env::var_os("GRAD_BLESS").is_some() {
        std::fs::write(path, &svg).expect("writes the picture");
    }
    let shown = std::fs::read_to_string(path).expect("the manual's picture");
    assert_eq!(
        shown, svg,
        "{path} is not what the tool draws: GRAD_BLESS=1 cargo test --test trace"
    );
    // Every node of the graph, with its expression, and every edge's local derivative.
    for node in ["w11", "u2", "fan_out"] {
        assert!(svg.contains(&format!(">{node}")), "{node} is drawn");
    }
    assert!(
        !svg.contains("\n\n"),
        "no blank line ends it in the manual's HTML"
    );
}

/// A helper of the composed function below: `x²·y`.
#[backprop::grad]
fn squared_times(x: f64, y: f64) -> f64 {
    x * x * y
}

/// A neuron whose activation is another `#[grad]` function: the call is a node, its local
/// derivatives the helper's partials (from its pullback).
#[backprop::grad(wrt = w, b, trace, graph)]
fn composed(w: f64, b: f64, x: f64) -> f64 {
    let z = w * x + b;
    let a = squared_times(z, x);
    a * w
}

#[test]
fn a_call_is_a_node_with_the_callees_partials() {
    let (w, b, x) = (0.5, 0.25, 2.0);
    let t = composed_trace(w, b, x);
    let node = |n: &str| t.node(n).unwrap_or_else(|| panic!("no node {n}")).clone();
    // z = w·x + b = 1.25, a = z²·x = 3.125, composed = a·w = 1.5625.
    let z = w * x + b;
    assert_eq!(node("z").value, z);
    let a = node("a");
    assert_eq!(a.expression, "squared_times(z, x)");
    assert_eq!(a.value, z * z * x);
    // ∂a/∂z = 2·z·x (the helper's partial in its first argument); x is data: no edge.
    assert_eq!(a.local, vec![("z", 2.0 * z * x)]);
    assert_eq!(a.derivative, Some(w));
    assert_eq!(t.value(), composed(w, b, x));
    // The inputs' accumulated derivatives are the gradient, bit for bit.
    let (dw, db) = composed_grad(w, b, x);
    assert_eq!(node("w").derivative, Some(dw));
    assert_eq!(node("b").derivative, Some(db));
    // Closed form: ∂/∂w = z²·x + 2·z·x·x·w, ∂/∂b = 2·z·x·w.
    assert_eq!(db, 2.0 * z * x * w);
    assert_relative_eq!(dw, z * z * x + 2.0 * z * x * x * w, max_relative = 1e-15);
    // The graph: the call's node, its edge labelled with the helper's partial.
    let g = composed_graph();
    assert!(
        g.contains("\"a\" [label=\"a = squared_times(z, x)\"]"),
        "{g}"
    );
    assert!(
        g.contains("\"z\" -> \"a\" [label=\"∂₁squared_times(z, x)\"]"),
        "{g}"
    );
}

#[test]
fn svg_says_what_it_cannot_draw() {
    assert!(backprop::trace::svg("not a graph").is_err());
    assert_eq!(
        backprop::trace::svg("digraph \"e\" {\n}\n"),
        Err("the graph has no nodes".to_string())
    );
    let one = backprop::trace::svg("digraph \"one\" {\n  \"x\" [shape=box];\n}\n").unwrap();
    assert!(one.starts_with("<svg ") && one.contains(">x<"));
}
