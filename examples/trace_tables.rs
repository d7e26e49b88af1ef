//! The lecture notes' tables and graphs, from the tool itself: `#[grad(.., trace)]` gives
//! `<name>_trace`, the table of a gradient at one point (each node's value, local derivatives
//! and accumulated derivative), and `#[grad(.., graph)]` gives `<name>_graph`, the graph in
//! Graphviz DOT.
//!
//! - 001: the ξ table of logistic regression at X = 3, y = 1, W = 3;
//! - 004: the sigmoid perceptron at x = [−1, −2], w = [2, −3], b = −3;
//! - 002: the fan-out network's graph, written to `backprop-example/fan_out.dot` in the
//!   system's temporary folder, and drawn beside it as `fan_out.svg` (`backprop::trace::svg`,
//!   in Rust: no Graphviz needed), with 004's graph and its numbers as `perceptron.svg`;
//! - 000: the logistic loss summed over a data set in a loop: its table, a row per point, and
//!   its graph (`summed_loss.svg`: the loop drawn once, the sum it carries dashed).
//!
//! ```text
//! cargo run --example trace_tables
//! ```

#[path = "seed_models/mod.rs"]
#[allow(dead_code)]
mod seed_models;

use seed_models::*;

fn main() {
    println!("001: L = −y ln(1 / (1 + e^(−W X))) at X = 3, y = 1, W = 3\n");
    let t = xi_loss_trace(3.0, 3.0, 1.0);
    print!("{t}");
    println!(
        "\n(The notes' ξ1 = −WX is `t1 = −w` then `xi1 = t1·x` here: negation is an operation of \
         its own. One table in 000 prints dL/dW = +0.00037018372, a sign slip: 001 and this \
         table give −0.00037018372.)\n"
    );

    println!("004: the sigmoid perceptron at x = [−1, −2], w = [2, −3], b = −3\n");
    print!("{}", perceptron_trace(2.0, -3.0, -3.0, -1.0, -2.0));

    let dot = fan_out_graph();
    // In the system's temporary folder: the example may run from a downloaded package, whose
    // folder is not for writing.
    let dir = std::env::temp_dir().join("backprop-example");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text)) {
            Ok(()) => println!("     {}", path.display()),
            Err(e) => println!("     could not write {}: {e}", path.display()),
        }
    };
    println!("\n002: the fan-out network's graph, in DOT and drawn as SVG (open it in a browser):");
    write("fan_out.dot", dot);
    match backprop::trace::svg(dot) {
        Ok(svg) => write("fan_out.svg", &svg),
        Err(e) => println!("     could not draw it: {e}"),
    }
    // The perceptron's graph with the numbers of 004 on it.
    println!("004's graph with its numbers:");
    match perceptron_trace(2.0, -3.0, -3.0, -1.0, -2.0).to_svg() {
        Ok(svg) => write("perceptron.svg", &svg),
        Err(e) => println!("     could not draw it: {e}"),
    }

    println!("\n004 again, with w and x as vectors (a loop over their elements, each an input):\n");
    print!(
        "{}",
        perceptron_of_vectors_trace(&[2.0, -3.0], -3.0, &[-1.0, -2.0])
    );

    println!("\n000: the loss summed over a data set, in a loop (l@i: point i's loss)\n");
    let (xs, ys) = ([2.0, 3.25, -0.5], [1.0, 0.0, 1.0]);
    print!("{}", data_set_logistic_loss_trace(0.3, -1.2, &xs, &ys));
    println!("its graph (the loop drawn once, the sum it carries to the next iteration dashed):");
    match backprop::trace::svg(data_set_logistic_loss_graph()) {
        Ok(svg) => write("summed_loss.svg", &svg),
        Err(e) => println!("     could not draw it: {e}"),
    }
}
