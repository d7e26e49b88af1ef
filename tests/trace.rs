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
    assert_eq!(local("xi2"), vec![("xi1".to_string(), value("xi2"))]);
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
    blessed(path, &svg);
    // Every node of the graph, with its expression, and every edge's local derivative.
    for node in ["w11", "u2", "fan_out"] {
        assert!(svg.contains(&format!(">{node}")), "{node} is drawn");
    }
    assert!(
        !svg.contains("\n\n"),
        "no blank line ends it in the manual's HTML"
    );
}

/// `svg` is the picture at `path` (`GRAD_BLESS=1` writes it again).
fn blessed(path: &str, svg: &str) {
    if std::env::var_os("GRAD_BLESS").is_some() {
        std::fs::write(path, svg).expect("writes the picture");
    }
    let shown = std::fs::read_to_string(path).expect("the manual's picture");
    assert_eq!(
        shown, svg,
        "{path} is not what the tool draws: GRAD_BLESS=1 cargo test --test trace"
    );
}

/// The loss summed over a data set in a loop, as the manual draws it
/// (`src/graphs/summed_loss.svg`): the loop's nodes once, the sum it carries dashed.
#[test]
fn the_manuals_loop_is_drawn_from_the_tool() {
    let svg =
        backprop::trace::svg(seed_models::data_set_logistic_loss_graph()).expect("the DOT is read");
    blessed(
        concat!(env!("CARGO_MANIFEST_DIR"), "/src/graphs/summed_loss.svg"),
        &svg,
    );
    assert!(svg.contains(">total = total + l<") && svg.contains("stroke-dasharray"));
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
    assert_eq!(a.local, vec![("z".to_string(), 2.0 * z * x)]);
    assert_eq!(a.derivative, Some(w));
    assert_eq!(t.value(), composed(w, b, x));
    // The inputs' accumulated derivatives are the gradient, bit for bit.
    let (dw, db) = composed_grad(w, b, x);
    assert_eq!(node("w").derivative, Some(dw));
    assert_eq!(node("b").derivative, Some(db));
    // Closed form: ∂/∂w = z²·x + 2·z·x·x·w, ∂/∂b = 2·z·x·w.
    assert_eq!(db, 2.0 * z * x * w);
    assert_relative_eq!(dw, z * z * x + 2.0 * z * x * x * w, max_relative = 1e-15);
    // The graph: the call's node, a box, its edge labelled with the helper's partial.
    let g = composed_graph();
    assert!(
        g.contains("\"a\" [label=\"a = squared_times(z, x)\", shape=box, style=rounded]"),
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

/// The chain rule, row by row (`Trace::chain_rule`), to rounding.
fn chain_rule_holds(t: &backprop::trace::Trace) {
    if let Err(e) = t.chain_rule(1e-14) {
        panic!("{e}\n{t:#}");
    }
}

/// 000's loss over a data set, summed in a loop: a row per node per iteration, each point's
/// loss a call whose local derivatives are that point's gradient.
#[test]
fn a_loss_summed_in_a_loop_has_a_row_per_node_per_iteration() {
    let (b0, b1) = (0.3, -1.2);
    let (xs, ys) = ([2.0, 3.25, -0.5], [1.0, 0.0, 1.0]);
    let t = seed_models::data_set_logistic_loss_trace(b0, b1, &xs, &ys);
    assert_eq!(t.nodes.len(), 2 + 2 * xs.len());
    let mut total = 0.0;
    for i in 0..xs.len() {
        let l = t.node(&format!("l@{i}")).expect("each point's loss");
        assert_eq!(l.iteration, vec![i]);
        assert_eq!(l.expression, "logistic_loss(b0, b1, xs[i], ys[i])");
        assert_eq!(l.value, seed_models::logistic_loss(b0, b1, xs[i], ys[i]));
        let (g0, g1) = seed_models::logistic_loss_grad(b0, b1, xs[i], ys[i]);
        assert_eq!(
            l.local,
            vec![("b0".to_string(), g0), ("b1".to_string(), g1)]
        );
        assert_eq!(l.derivative, Some(1.0));
        total += l.value;
        let s = t.node(&format!("total@{i}")).expect("the sum so far");
        assert_eq!(s.value, total);
        // `total + l`: the operand `total` is the row of the iteration before (at first, the
        // constant it starts from).
        let before = if i == 0 {
            "total (= 0)".to_string()
        } else {
            format!("total@{}", i - 1)
        };
        assert_eq!(s.local, vec![(before, 1.0), (format!("l@{i}"), 1.0)]);
    }
    assert_eq!(t.node("l"), t.node("l@0"));
    assert_eq!(t.iterations("l").count(), xs.len());
    assert_eq!(t.value(), total);
    // The parameters' derivatives are the gradient, bit for bit, and the sums of the points'.
    let (d_b0, d_b1) = seed_models::data_set_logistic_loss_grad(b0, b1, &xs, &ys);
    assert_eq!(t.node("b0").and_then(|n| n.derivative), Some(d_b0));
    assert_eq!(t.node("b1").and_then(|n| n.derivative), Some(d_b1));
    let (s0, s1) = (0..3).fold((0.0, 0.0), |(s0, s1), i| {
        let p = backprop::sigmoid(b0 + b1 * xs[i]);
        (s0 + (p - ys[i]), s1 + (p - ys[i]) * xs[i])
    });
    assert_relative_eq!(d_b0, s0, max_relative = 1e-14);
    assert_relative_eq!(d_b1, s1, max_relative = 1e-14);
    chain_rule_holds(&t);
    let shown = t.to_string();
    assert!(
        shown.contains("total@2") && shown.contains("∂l@1/∂b0"),
        "{shown}"
    );
    // The graph draws the loop once, as a cluster, the sum carried to the next iteration
    // dashed.
    let g = seed_models::data_set_logistic_loss_graph();
    assert!(g.contains("subgraph cluster_0 {"), "{g}");
    assert!(g.contains("label=\"for i in 0..xs.len()\";"), "{g}");
    assert!(
        g.contains("\"total\" -> \"total\" [label=\"1\", style=dashed];"),
        "{g}"
    );
    assert!(
        g.contains("\"b0\" -> \"l\" [label=\"∂₁logistic_loss(b0, b1, xs[i], ys[i])\"];"),
        "{g}"
    );
    assert!(backprop::trace::svg(g).is_ok());
    assert!(t.to_svg().is_ok());
}

/// A hinge-like loss with an `if` and a `max`: the table has the nodes of the arm taken.
#[backprop::grad(wrt = w, b, trace, graph)]
fn hinge(w: f64, b: f64, x: f64, y: f64) -> f64 {
    let z = w * x + b;
    let margin = if y > 0.0 { 1.0 - z } else { 1.0 + z };
    let h = margin.max(0.0);
    h + 0.01 * w * w
}

#[test]
fn the_arm_taken_and_the_max_are_nodes() {
    let (w, b) = (0.5, 0.25);
    // y = 1: the `then` arm, margin = 1 − z = 1 − 1.25 < 0, so the max gives 0.
    let t = hinge_trace(w, b, 2.0, 1.0);
    assert!(
        t.node("margin").is_some() && t.node("margin′").is_none(),
        "{t}"
    );
    let h = t.node("h").expect("the max");
    assert_eq!(h.expression, "max(margin, 0)");
    assert_eq!(h.value, 0.0);
    assert_eq!(h.local, vec![("margin".to_string(), 0.0)]);
    assert_eq!(t.node("z").and_then(|n| n.derivative), Some(0.0));
    // y = −1: the `else` arm, margin = 1 + z > 0 passes the max: ∂h/∂margin′ = 1.
    let t = hinge_trace(w, b, 2.0, -1.0);
    assert!(t.node("margin").is_none(), "{t}");
    let m = t.node("margin′").expect("the else arm's margin");
    assert_eq!(m.expression, "1 + z");
    let h = t.node("h").expect("the max");
    assert_eq!(h.local, vec![("margin′".to_string(), 1.0)]);
    assert_eq!(t.node("z").and_then(|n| n.derivative), Some(1.0));
    for y in [1.0, -1.0] {
        let t = hinge_trace(w, b, 2.0, y);
        let (dw, db) = hinge_grad(w, b, 2.0, y);
        assert_eq!(t.node("w").and_then(|n| n.derivative), Some(dw));
        assert_eq!(t.node("b").and_then(|n| n.derivative), Some(db));
        assert_eq!(t.value(), hinge(w, b, 2.0, y));
        chain_rule_holds(&t);
    }
    // The graph has both arms, each labelled, and both edges into the max.
    let g = hinge_graph();
    assert!(
        g.contains("(if y > 0.0)") && g.contains("(else of if y > 0.0)"),
        "{g}"
    );
    assert!(
        g.contains("\"margin\" -> \"h\"") && g.contains("\"margin′\" -> \"h\""),
        "{g}"
    );
}

/// A recurrence in a `while` loop: `h` at each step is a row, whose operand is the row before.
#[backprop::grad(wrt = w, trace, graph)]
fn recurrence(w: f64, x: f64) -> f64 {
    let mut h = x;
    let mut k = 0;
    while k < 3 {
        h = (w * h).tanh();
        k += 1;
    }
    h
}

#[test]
fn a_recurrence_is_a_row_per_step() {
    let (w, x) = (0.7, 1.5);
    let t = recurrence_trace(w, x);
    let mut h = x;
    let mut hs = Vec::new();
    for _ in 0..3 {
        h = (w * h).tanh();
        hs.push(h);
    }
    for (k, h) in hs.iter().enumerate() {
        assert_eq!(t.node(&format!("h@{k}")).map(|n| n.value), Some(*h));
    }
    // ∂h₂/∂h₁ = (1 − h₂²)·w: the adjoint of h@1 (through ξ1@2 = w·h@1).
    let d_h1 = t.node("h@1").and_then(|n| n.derivative).unwrap_or_default();
    assert_relative_eq!(d_h1, (1.0 - hs[2] * hs[2]) * w, max_relative = 1e-15);
    let operands: Vec<&str> = t.iterations("ξ1").map(|n| n.local[1].0.as_str()).collect();
    assert_eq!(operands, ["x", "h@0", "h@1"]);
    assert_eq!(
        t.node("w").and_then(|n| n.derivative),
        Some(recurrence_grad(w, x))
    );
    chain_rule_holds(&t);
    // The graph names the loop by its test; its body is no arm of an `if`.
    let g = recurrence_graph();
    assert!(
        g.contains("label=\"while k < 3\";") && !g.contains("(if "),
        "{g}"
    );
}

/// Nested loops: a row is named by each loop's iteration, outermost first.
#[backprop::grad(wrt = w, trace)]
fn powers(w: f64, xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for &x in xs {
        let mut p = 1.0;
        for _ in 0..2 {
            p = p * w * x;
        }
        s += p;
    }
    s
}

#[test]
fn nested_loops_name_each_iteration() {
    let xs = [1.5, 2.0];
    let t = powers_trace(0.7, &xs);
    assert_eq!(
        t.node("p@1,1").map(|n| n.iteration.clone()),
        Some(vec![1, 1])
    );
    assert_eq!(
        t.node("p@1,1").map(|n| n.value),
        Some(0.7 * 2.0 * 0.7 * 2.0)
    );
    assert_eq!(t.iterations("p").count(), 4);
    assert_eq!(t.iterations("s").count(), 2);
    assert_eq!(
        t.node("w").and_then(|n| n.derivative),
        Some(powers_grad(0.7, &xs))
    );
    chain_rule_holds(&t);
}

/// An unbounded run prints its ends; `{:#}` prints all of it, `only` a range of iterations.
#[backprop::grad(wrt = w, trace)]
fn long_sum(w: f64, n: usize) -> f64 {
    let mut s = 0.0;
    for i in 0..n {
        s += (w * i as f64).sin();
    }
    s
}

#[test]
fn a_long_run_shows_its_ends() {
    let t = long_sum_trace(0.01, 500);
    assert_eq!(t.nodes.len(), 1 + 3 * 500);
    let short = t.to_string();
    assert!(short.contains("rows not shown, of iterations"), "{short}");
    assert!(short.contains("s@0") && short.contains("s@499") && !short.contains("s@250"));
    let all = format!("{t:#}");
    assert!(all.contains("s@250"));
    let some = t.only(250..252);
    assert_eq!(some.nodes.len(), 1 + 3 * 2);
    assert!(some.node("s@251").is_some() && some.node("s@252").is_none());
    assert_eq!(
        t.node("w").and_then(|n| n.derivative),
        Some(long_sum_grad(0.01, 500))
    );
    chain_rule_holds(&t);
}

/// The mean squared error: `_grad` takes the factor `2 / n` its terms share out of the sum
/// (`opt::factor`); the trace's program is optimised the same way, so its derivatives are
/// `_grad`'s to the bit, and each iteration's rows still follow the chain rule.
#[backprop::grad(wrt = w, b, trace)]
fn mse(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let r = w * x + b - y;
        loss += r * r;
    }
    loss / xs.len() as f64
}

#[test]
fn a_mean_squared_error_is_grad_to_the_bit() {
    let xs: Vec<f64> = (0..37).map(|i| (f64::from(i) * 0.37).sin()).collect();
    let ys: Vec<f64> = (0..37).map(|i| (f64::from(i) * 0.11).cos()).collect();
    let t = mse_trace(0.3, -0.7, &xs, &ys);
    let (dw, db) = mse_grad(0.3, -0.7, &xs, &ys);
    assert_eq!(t.node("w").and_then(|n| n.derivative), Some(dw));
    assert_eq!(t.node("b").and_then(|n| n.derivative), Some(db));
    // ∂mse/∂r at point i is 2·r_i / n.
    let n = xs.len() as f64;
    for (i, r) in t.iterations("r").enumerate() {
        assert_eq!(r.iteration, vec![i]);
        assert_relative_eq!(
            r.derivative.unwrap_or_default(),
            2.0 * r.value / n,
            max_relative = 1e-15
        );
    }
    chain_rule_holds(&t);
}

/// A building block (no `wrt`) traced: its inputs' derivatives are the sweep's.
#[backprop::grad(trace)]
fn squared(x: f64) -> f64 {
    x * x
}

#[test]
fn a_building_block_has_a_trace_too() {
    let t = squared_trace(3.0);
    assert_eq!(t.node("x").and_then(|n| n.derivative), Some(6.0));
    assert_eq!(t.value(), 9.0);
    chain_rule_holds(&t);
}

/// A graph too big to draw in reasonable time is refused, with what to do instead; a few
/// iterations of it are drawn.
#[test]
fn a_long_runs_picture_is_drawn_a_few_iterations_at_a_time() {
    let t = long_sum_trace(0.01, 50);
    let too_many = t.to_svg().expect_err("151 nodes");
    assert!(too_many.contains("trace.only(a..b)"), "{too_many}");
    assert!(t.only(0..3).to_svg().is_ok());
}

/// A linear model whose weights are an array: each element an input of its own (`w[0]`, ...),
/// read where the loop reads it.
#[backprop::grad(wrt = w, trace, graph)]
#[allow(clippy::needless_range_loop)] // indices, as the model is written
fn linear_fit(w: &[f64; 3], xs: &[[f64; 3]], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for k in 0..ys.len() {
        let mut p = 0.0;
        for j in 0..3 {
            p += w[j] * xs[k][j];
        }
        let e = p - ys[k];
        loss += e * e;
    }
    loss
}

#[test]
fn an_array_parameter_is_an_input_per_element() {
    let w = [0.5, -1.0, 2.0];
    let (xs, ys) = ([[1.0, 2.0, 3.0], [0.5, 0.1, -1.0]], [1.0, 2.0]);
    let t = linear_fit_trace(&w, &xs, &ys);
    let g = linear_fit_grad(&w, &xs, &ys);
    for j in 0..3 {
        let input = t.node(&format!("w[{j}]")).expect("an input per element");
        assert_eq!(input.value, w[j]);
        assert_eq!(input.derivative, Some(g[j]));
        // Read by the product of point k, iteration j: its local derivative is xs[k][j].
        for (k, x) in xs.iter().enumerate() {
            let product = t.node(&format!("ξ1@{k},{j}")).expect("each product");
            assert_eq!(product.local, vec![(format!("w[{j}]"), x[j])]);
        }
    }
    assert_eq!(t.nodes[3].name, "ξ1");
    assert_eq!(t.value(), linear_fit(&w, &xs, &ys));
    chain_rule_holds(&t);
    // The graph has the array as one input.
    let dot = linear_fit_graph();
    assert!(
        dot.contains("\"w\" [shape=box]") && dot.contains("\"w\" -> \"ξ1\" [label=\"xs[k][j]\"]"),
        "{dot}"
    );
}

/// The heat equation, explicit: an array copied from the parameter, a new one each step, and
/// the step's array made the state (`u = v`).
#[backprop::grad(wrt = u0, trace, graph)]
#[allow(clippy::needless_range_loop)] // indices, as the stencil is written
fn heat(u0: &[f64; 4], steps: usize) -> f64 {
    let mut u = *u0;
    for _ in 0..steps {
        let mut v = [0.0; 4];
        for i in 1..3 {
            v[i] = u[i] + 0.1 * (u[i - 1] - 2.0 * u[i] + u[i + 1]);
        }
        v[0] = u[0];
        v[3] = u[3];
        u = v;
    }
    let mut s = 0.0;
    for i in 0..4 {
        s += u[i] * u[i];
    }
    s
}

#[test]
fn an_array_carried_through_time_is_read_where_it_was_written() {
    let u0 = [1.0, 2.0, 0.5, 3.0];
    let t = heat_trace(&u0, 2);
    let g = heat_grad(&u0, 2);
    for (i, d) in g.iter().enumerate() {
        assert_eq!(
            t.node(&format!("u0[{i}]")).and_then(|n| n.derivative),
            Some(*d)
        );
    }
    // The stored value of step 0 is the operand of step 1 (element 1: `u[i]` then, i = 1).
    let first = t.node("v[i]@0,0").expect("step 0, element 1");
    let second = t.node("v[i]@1,0").expect("step 1, element 1");
    assert_eq!(first.value, 2.0 + 0.1 * (1.0 - 4.0 + 0.5));
    assert_eq!(second.local[0].0, "v[i]@0,0");
    // The boundary is copied unchanged: the sum's first term reads u0[0] itself.
    assert_eq!(t.node("ξ5@0").map(|n| n.local[0].0.as_str()), Some("u0[0]"));
    chain_rule_holds(&t);
    // The graph: the stencil reads both the parameter's copy and the step before.
    let dot = heat_graph();
    assert!(
        dot.contains("\"u0\" -> \"ξ1\"") && dot.contains("\"v[i]\" -> \"ξ1\""),
        "{dot}"
    );
}

/// `a[i] += v`: a node of its own (`a[i] + v`), named by the element.
#[backprop::grad(wrt = w, trace, graph)]
fn accumulated(w: f64) -> f64 {
    let mut a = [0.0; 2];
    a[0] += w * w;
    a[1] -= 3.0 * w;
    let b = [a[1], w];
    a[0] * b[0] + b[1]
}

#[test]
fn an_accumulation_into_an_element_is_a_node() {
    let t = accumulated_trace(2.0);
    let a0 = t.node("a[0]").expect("the sum into a[0]");
    assert_eq!(a0.expression, "a[0] + ξ1");
    assert_eq!(a0.value, 4.0);
    assert_eq!(a0.local[0], ("a[0] (= 0)".to_string(), 1.0));
    let a1 = t.node("a[1]").expect("the difference into a[1]");
    assert_eq!(a1.expression, "a[1] − ξ2");
    assert_eq!(a1.local[1], ("ξ2".to_string(), -1.0));
    assert_eq!(
        t.node("w").and_then(|n| n.derivative),
        Some(accumulated_grad(2.0))
    );
    chain_rule_holds(&t);
    // Elements written at constant indices are told apart (`b[0]` is `a[1]`, `b[1]` is `w`),
    // and an element is read as it is then (`a[0]` before the sum into it was none).
    let dot = accumulated_graph();
    let into = |node: &str| -> Vec<String> {
        let to = format!("-> \"{node}\"");
        dot.lines()
            .filter(|l| l.contains(&to))
            .map(|l| l.trim().split(" -> ").next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(into("ξ3"), ["\"a[0]\"", "\"a[1]\""], "{dot}");
    assert_eq!(into("accumulated"), ["\"ξ3\"", "\"w\""], "{dot}");
    assert_eq!(into("a[0]"), ["\"ξ1\""], "{dot}");
}

/// A loop over an array's elements (`for x in w.iter()`): each element is the row it holds.
#[backprop::grad(wrt = w, trace)]
fn squares(w: &[f64]) -> f64 {
    let mut s = 0.0;
    for x in w.iter() {
        s += x * x;
    }
    s + w.iter().sum::<f64>()
}

#[test]
fn a_loop_over_an_arrays_elements_reads_each_element() {
    let w = vec![1.0, -2.0, 0.5];
    let t = squares_trace(&w);
    let g = squares_grad(&w);
    for (k, x) in w.iter().enumerate() {
        let sq = t.node(&format!("ξ1@{k}")).expect("each square");
        assert_eq!(
            sq.local,
            vec![(format!("w[{k}]"), *x), (format!("w[{k}]"), *x)]
        );
        assert_eq!(
            t.node(&format!("w[{k}]")).and_then(|n| n.derivative),
            Some(g[k])
        );
    }
    chain_rule_holds(&t);
}

/// A call passing arrays: a local derivative per element, each operand the row the element
/// holds (a constant element named by its value).
#[backprop::grad(wrt = v)]
fn norm2(v: &[f64; 2]) -> f64 {
    v[0] * v[0] + v[1] * v[1]
}

#[backprop::grad(wrt = w, trace, graph)]
fn norms(w: &[f64; 2], k: f64) -> f64 {
    let a = [w[0] * k, 3.0];
    norm2(&a).sqrt() + norm2(w)
}

#[test]
fn a_call_passing_arrays_has_a_partial_per_element() {
    let (w, k) = ([1.0, 2.0], 1.5);
    let t = norms_trace(&w, k);
    let g = norms_grad(&w, k);
    assert_eq!(t.node("w[0]").and_then(|n| n.derivative), Some(g[0]));
    assert_eq!(t.node("w[1]").and_then(|n| n.derivative), Some(g[1]));
    // norm2(a): ∂/∂a = 2a, a = [1.5, 3]; norm2(w): 2w.
    let inner = t.node("ξ2").expect("the call on a");
    assert_eq!(inner.expression, "norm2(a)");
    assert_eq!(
        inner.local,
        vec![("ξ1".to_string(), 3.0), ("a[1] (= 3)".to_string(), 6.0)]
    );
    let outer = t.node("ξ4").expect("the call on w");
    assert_eq!(
        outer.local,
        vec![("w[0]".to_string(), 2.0), ("w[1]".to_string(), 4.0)]
    );
    chain_rule_holds(&t);
    let dot = norms_graph();
    assert!(
        dot.contains("\"w\" -> \"ξ4\" [label=\"∂₁norm2(w)\"]"),
        "{dot}"
    );
}

/// A `wrt` array taken by value and changed in place (`mut wa`): the trace's body runs that
/// code, so its parameter is `mut` too (it was not: found by the generator, seed 6001).
#[backprop::grad(wrt = w, wa, trace)]
#[allow(clippy::needless_range_loop)] // indices, as the model is written
fn scaled_in_place(w: f64, mut wa: [f64; 3]) -> f64 {
    for i in 0..3 {
        wa[i] *= w;
    }
    wa[0] + wa[1] * wa[2]
}

#[test]
fn a_wrt_array_changed_in_place_is_traced() {
    let wa = [1.0, 2.0, 3.0];
    let t = scaled_in_place_trace(2.0, wa);
    let (dw, dwa) = scaled_in_place_grad(2.0, wa);
    assert_eq!(t.node("w").and_then(|n| n.derivative), Some(dw));
    for (k, d) in dwa.iter().enumerate() {
        assert_eq!(
            t.node(&format!("wa[{k}]")).and_then(|n| n.derivative),
            Some(*d)
        );
        assert_eq!(t.node(&format!("wa[{k}]")).map(|n| n.value), Some(wa[k]));
    }
    chain_rule_holds(&t);
}
