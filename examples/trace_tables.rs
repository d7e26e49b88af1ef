//! The lecture notes' tables and graphs, from the tool itself: `#[grad(.., trace)]` gives
//! `<name>_trace`, the table of a gradient at one point (each node's value, local derivatives
//! and accumulated derivative), and `#[grad(.., graph)]` gives `<name>_graph`, the graph in
//! Graphviz DOT.
//!
//! - 001: the ξ table of logistic regression at X = 3, y = 1, W = 3;
//! - 004: the sigmoid perceptron at x = [−1, −2], w = [2, −3], b = −3;
//! - 002: the fan-out network's graph, written to `backprop-example/fan_out.dot` in the
//!   system's temporary folder (and rendered to `fan_out.svg` beside it if Graphviz's `dot` is
//!   installed).
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
    let path = dir.join("fan_out.dot");
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, dot)) {
        Ok(()) => println!(
            "\n002: the fan-out network's graph is in {}",
            path.display()
        ),
        Err(e) => println!("\n002: could not write {}: {e}", path.display()),
    }
    let svg = dir.join("fan_out.svg");
    match std::process::Command::new("dot")
        .args(["-Tsvg", "-o"])
        .arg(&svg)
        .arg(&path)
        .status()
    {
        Ok(s) if s.success() => println!("     rendered to {}", svg.display()),
        _ => println!(
            "     (install Graphviz to render it: dot -Tsvg {})",
            path.display()
        ),
    }
}
