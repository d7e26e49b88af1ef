//! The worked examples of the backpropagation lecture notes (`shared/seeds/` 000 to 004), each a
//! `#[grad]` function, printed with the labels the notes use. `tests/seeds.rs` asserts the same
//! numbers.
//!
//! ```text
//! cargo run --example seeds
//! ```

// The networks of the notes have one scalar parameter per weight (arrays come later).

mod seed_models;

use backprop::sigmoid;
use seed_models::*;

fn main() {
    logistic_regression();
    summed_logistic_loss_table();
    xi_table();
    l2_regularised_regression();
    multivariate_chain_rule();
    softmax_regression();
    fan_out_network();
    sigmoid_perceptron();
    relu_perceptron();
}

fn heading(title: &str) {
    println!();
    println!("== {title}");
}

// ---------------------------------------------------------------------------------------------
// 000 / 001: logistic regression
// ---------------------------------------------------------------------------------------------

fn logistic_regression() {
    heading("000/001 logistic regression: L = -y ln p - (1-y) ln(1-p), p = sigma(b0 + b1 X)");
    for (b0, b1, x, y) in [(0.3, -1.2, 2.0, 1.0), (-4.0, 1.5, 3.25, 0.0)] {
        let loss = logistic_loss(b0, b1, x, y);
        let (d_b0, d_b1) = logistic_loss_grad(b0, b1, x, y);
        let p = sigmoid(b0 + b1 * x);
        println!("  b0 = {b0}, b1 = {b1}, X = {x}, y = {y}: p = {p:.12}, L = {loss:.12}");
        println!(
            "    dL/db0 = {d_b0:.12}   closed form (p - y)   = {:.12}",
            p - y
        );
        println!(
            "    dL/db1 = {d_b1:.12}   closed form (p - y) X = {:.12}",
            (p - y) * x
        );
    }
    println!("  note: 000 writes dL/dp = -y/p - (1-y)/(1-p); the sign of the second term is a");
    println!("  slip, 001 has the right one: dL/dp = -y/p + (1-y)/(1-p).");
}

// ---------------------------------------------------------------------------------------------
// 000: the loss summed over several points
// ---------------------------------------------------------------------------------------------

fn summed_logistic_loss_table() {
    heading(
        "000 the loss summed over three points: L = L1 + L2 + L3, each a call of the loss above",
    );
    let (b0, b1) = (0.3, -1.2);
    let points = [(2.0, 1.0), (3.25, 0.0), (-0.5, 1.0)];
    let [(x1, y1), (x2, y2), (x3, y3)] = points;
    let t = summed_logistic_loss_trace(b0, b1, x1, y1, x2, y2, x3, y3);
    print!("{t}");
    // Fan-out: each parameter's derivative is the sum of its derivatives through each point.
    let (d_b0, d_b1) = summed_logistic_loss_grad(b0, b1, x1, y1, x2, y2, x3, y3);
    let (s0, s1) = points.iter().fold((0.0, 0.0), |(s0, s1), &(x, y)| {
        let p = sigmoid(b0 + b1 * x);
        (s0 + (p - y), s1 + (p - y) * x)
    });
    println!("    dL/db0 = {d_b0:.12}   closed form sum (p_i - y_i)     = {s0:.12}");
    println!("    dL/db1 = {d_b1:.12}   closed form sum (p_i - y_i) X_i = {s1:.12}");
    // The same sum as a loop over the data set: a row per node per iteration (`l@1` is the
    // second point's loss, `total@1` the sum so far).
    println!("  the same loss over the data set, summed in a loop (`l@i`: point i's loss):");
    let (xs, ys): (Vec<f64>, Vec<f64>) = points.iter().copied().unzip();
    let t = data_set_logistic_loss_trace(b0, b1, &xs, &ys);
    print!("{t}");
    let (d_b0, d_b1) = data_set_logistic_loss_grad(b0, b1, &xs, &ys);
    println!("    dL/db0 = {d_b0:.12}   dL/db1 = {d_b1:.12}   (the same sums)");
}

// ---------------------------------------------------------------------------------------------
// 001: the ξ table at X = 3, y = 1, W = 3
// ---------------------------------------------------------------------------------------------

fn xi_table() {
    heading("001 the xi table at X = 3, y = 1, W = 3: L = -y ln(1 / (1 + e^(-W X)))");
    let (w, x, y) = (3.0, 3.0, 1.0);
    let (xi4_value, d_xi4) = (xi4(w, x), xi4_grad(w, x));
    let (xi5_value, d_xi5) = (xi5(w, x), xi5_grad(w, x));
    let (loss, d_w) = (xi_loss(w, x, y), xi_loss_grad(w, x, y));
    println!("  xi4 = p    = {xi4_value:.15}   dxi4/dW = {d_xi4:.6e}   (3e^-9 / (1+e^-9)^2)");
    println!("  xi5 = ln p = {xi5_value:.6e}   dxi5/dW = {d_xi5:.6e}   (3e^-9 / (1+e^-9))");
    println!("  L = -ln(1/(1+e^-9)) = {loss:.6e}");
    println!("  dL/dW = {d_w:.10e}   (-3e^-9 / (1+e^-9))");
    let (_, d_w_forward) = xi_loss_forward_jvp(w, x, y, 1.0);
    println!("  dL/dW = {d_w_forward:.10e}   in forward mode (dW/dW = 1 carried up the table)");
    println!("  note: one table in 000 prints dL/dW = +0.00037018372; that is a sign slip, 001");
    println!("  prints -0.00037018372: raising W raises p towards y = 1, so the loss falls.");
}

// ---------------------------------------------------------------------------------------------
// 003: L2-regularised regression and the multivariate chain rule
// ---------------------------------------------------------------------------------------------

fn l2_regularised_regression() {
    heading(
        "003 L2-regularised regression: z = w x + b, y = sigma(z), Lreg = (y-t)^2/2 + lambda w^2/2",
    );
    let (w, b, x, t, lambda) = (0.8, -0.3, 1.5, 1.0, 0.1);
    let value = l2_regularised(w, b, x, t, lambda);
    let (d_w, d_b) = l2_regularised_grad(w, b, x, t, lambda);
    let y = sigmoid(w * x + b);
    let dz = (y - t) * y * (1.0 - y);
    println!("  w = {w}, b = {b}, x = {x}, t = {t}, lambda = {lambda}: Lreg = {value:.12}");
    println!(
        "    dLreg/dw = {d_w:.12}   notes: (y-t) sigma'(z) x + lambda w = {:.12}",
        dz * x + lambda * w
    );
    println!("    dLreg/db = {d_b:.12}   notes: (y-t) sigma'(z)              = {dz:.12}");
}

fn multivariate_chain_rule() {
    heading("003 multivariate chain rule: f = y + e^(xy), x = cos t, y = t^2");
    let t: f64 = 0.7;
    let (f, df_dt) = (f_of_t(t), f_of_t_grad(t));
    let (x, y) = (t.cos(), t * t);
    let e = (x * y).exp();
    let by_hand = (y * e) * (-t.sin()) + (1.0 + x * e) * (2.0 * t);
    println!("  t = {t}: f = {f:.12}");
    println!(
        "    df/dt = {df_dt:.12}   notes: (y e^(xy))(-sin t) + (1 + x e^(xy))(2t) = {by_hand:.12}"
    );
}

// ---------------------------------------------------------------------------------------------
// 003: softmax regression, K = 3, two features
// ---------------------------------------------------------------------------------------------

fn softmax_regression() {
    heading("003 softmax regression, K = 3, 2 features: L = -sum_k t_k ln y_k");
    let w = [[0.5, -0.2], [-0.3, 0.8], [0.1, 0.4]];
    let b = [0.2, -0.1, 0.05];
    let x = [1.5, -0.7];
    let t = [0.0, 1.0, 0.0];
    let params = [
        w[0][0], w[0][1], w[1][0], w[1][1], w[2][0], w[2][1], b[0], b[1], b[2],
    ];
    let [p0, p1, p2, p3, p4, p5, p6, p7, p8] = params;
    let loss = softmax_loss(
        p0, p1, p2, p3, p4, p5, p6, p7, p8, x[0], x[1], t[0], t[1], t[2],
    );
    let (g11, g12, g21, g22, g31, g32, gb1, gb2, gb3) = softmax_loss_grad(
        p0, p1, p2, p3, p4, p5, p6, p7, p8, x[0], x[1], t[0], t[1], t[2],
    );
    let grad_w = [[g11, g12], [g21, g22], [g31, g32]];
    let grad_b = [gb1, gb2, gb3];
    let z: Vec<f64> = (0..3)
        .map(|k| w[k][0] * x[0] + w[k][1] * x[1] + b[k])
        .collect();
    let sum: f64 = z.iter().map(|z| z.exp()).sum();
    println!("  x = {x:?}, t = {t:?}: L = {loss:.12}");
    for k in 0..3 {
        let y_k = z[k].exp() / sum;
        println!("    y{} = {y_k:.12}", k + 1);
        for j in 0..2 {
            println!(
                "    dL/dw{}{} = {:16.12}   (y{} - t{}) x{} = {:16.12}",
                k + 1,
                j + 1,
                grad_w[k][j],
                k + 1,
                k + 1,
                j + 1,
                (y_k - t[k]) * x[j]
            );
        }
        println!(
            "    dL/db{}  = {:16.12}   y{} - t{}       = {:16.12}",
            k + 1,
            grad_b[k],
            k + 1,
            k + 1,
            y_k - t[k]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 002: the fan-out network
// ---------------------------------------------------------------------------------------------

const FAN_OUT_NAMES: [&str; 9] = ["w11", "w12", "w21", "w22", "v11", "v12", "v22", "u1", "u2"];

fn print_fan_out(weights: [f64; 9], x1: f64, x2: f64, t: f64, learning_rate: f64) {
    let [w11, w12, w21, w22, v11, v12, v22, u1, u2] = weights;
    let j = fan_out(w11, w12, w21, w22, v11, v12, v22, u1, u2, x1, x2, t);
    let (a, b, c, d, e, f, g, h, i) =
        fan_out_grad(w11, w12, w21, w22, v11, v12, v22, u1, u2, x1, x2, t);
    let grads = [a, b, c, d, e, f, g, h, i];
    println!("  (x1, x2, t) = ({x1}, {x2}, {t}), weights {weights:?}: J = {j:.12}");
    for ((name, weight), dj) in FAN_OUT_NAMES.iter().zip(weights).zip(grads) {
        println!(
            "    dJ/d{name:3} = {dj:16.12}   new {name:3} = {:.12}",
            weight - learning_rate * dj
        );
    }
    // The last layer by hand, as in the notes (with o - t, see below).
    let h1 = w11 * x1 + w21 * x2;
    let z2 = w12 * x1 + w22 * x2;
    let h3 = 2.0 * v11 * h1;
    let h4 = (v12 * h1 + v22 * 0.5 * z2 * z2).exp();
    let zo = u1 * h3 + u2 * h4;
    let o = zo.sin();
    println!(
        "    by hand: dJ/du1 = (o - t) cos(zo) h3 = {:.12}, dJ/du2 = (o - t) cos(zo) h4 = {:.12}",
        (o - t) * zo.cos() * h3,
        (o - t) * zo.cos() * h4
    );
}

fn fan_out_network() {
    heading("002 fan-out network, J = (o - t)^2 / 2, one gradient-descent step with rate 0.1");
    print_fan_out([0.0; 9], 0.0, 1.0, 0.0, 0.1);
    println!("    (o = sin 0 = 0 = t, so dJ/do = 0 and no weight moves)");
    let weights = [0.3, -0.2, 0.5, 0.4, 0.7, -0.6, 0.9, 0.8, -0.5];
    print_fan_out(weights, 0.6, 1.0, 0.25, 0.1);
    println!("  note: from its \"Layer 3\" step on, 002 writes dJ/do as (t - o); with");
    println!("  J = (o - t)^2 / 2 it is o - t, as the notes state one step earlier (a sign slip).");
}

// ---------------------------------------------------------------------------------------------
// 004: perceptrons
// ---------------------------------------------------------------------------------------------

fn sigmoid_perceptron() {
    heading("004 sigmoid perceptron: x = [-1, -2], w = [2, -3], b = -3");
    let (x1, x2, w1, w2, b) = (-1.0, -2.0, 2.0, -3.0, -3.0);
    let dot = w1 * x1 + w2 * x2 + b;
    let (f, ddot) = (sigmoid_of_dot(dot), sigmoid_of_dot_grad(dot));
    println!("  dot = {dot}, f = {f}");
    println!("  ddot = {ddot}   (the notes print 0.19661193324148185, from (1 - f) f;");
    println!("  differentiating 1 / (1 + e^-dot) gives e^-dot / (1 + e^-dot)^2, which may round");
    println!(
        "  differently in the last digit; d out/db below uses the sigmoid helper's (1 - f) f)"
    );
    let out = perceptron(w1, w2, b, x1, x2);
    let (d_w1, d_w2, d_b, d_x1, d_x2) = perceptron_grad(w1, w2, b, x1, x2);
    println!("  out = {out}");
    println!("    d out/dw1 = {d_w1:.17}   x1 ddot");
    println!("    d out/dw2 = {d_w2:.17}   x2 ddot");
    println!("    d out/db  = {d_b:.17}   ddot");
    println!("    d out/dx1 = {d_x1:.17}   w1 ddot");
    println!("    d out/dx2 = {d_x2:.17}   w2 ddot");
}

fn relu_perceptron() {
    heading("004 ReLU perceptron y = relu(w x + b) at x = 2");
    for init in [1.0, -1.0] {
        let y = relu_unit(init, init, 2.0);
        let (d_w, d_b) = relu_unit_grad(init, init, 2.0);
        println!("  w = b = {init}: y = {y}, dy/dw = {d_w}, dy/db = {d_b}");
    }
    println!("  (with w = b = -1 the ReLU is off and kills the gradient)");
}
