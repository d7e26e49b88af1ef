//! The models of the training examples `examples/softmax_iris.rs` and `examples/network.rs`,
//! included as they are: their `#[grad]` gradients against central finite differences and the
//! closed forms, and a short training run (fewer steps than the examples, to stay fast in debug).

#[allow(dead_code)] // the example's `main` and the constants only it uses
#[path = "../examples/softmax_iris.rs"]
mod softmax_iris;

#[allow(dead_code)]
#[path = "../examples/network.rs"]
mod network;

// It includes the Iris data as `softmax_iris` does: one copy each, as in the examples.
#[allow(dead_code, clippy::duplicate_mod)]
#[path = "../examples/mlp_iris.rs"]
mod mlp_iris;

use network::{Lcg, Net};

/// The largest absolute difference between two equally long vectors.
fn largest_difference(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn iris_gradient_matches_finite_differences_and_the_closed_form() {
    let data = softmax_iris::standardised_iris();
    let mut rng = Lcg(7);
    for _ in 0..3 {
        let p: Vec<f64> = (0..15).map(|_| 2.0 * rng.normal()).collect();
        let (w, b) = softmax_iris::unflatten(&p);
        if let Err(e) = softmax_iris::check(w, b, &data) {
            panic!("{e}");
        }
        let (value, (d_w, d_b)) = softmax_iris::loss_value_and_grad(w, b, &data);
        assert_eq!(value, softmax_iris::loss(w, b, &data));
        let (c_w, c_b) = softmax_iris::closed_form_grad(&w, &b, &data);
        let diff = largest_difference(
            &softmax_iris::flatten(&d_w, &d_b),
            &softmax_iris::flatten(&c_w, &c_b),
        );
        assert!(diff < 1e-14, "differs from the closed form by {diff:e}");
    }
}

#[test]
fn iris_gradient_at_all_tied_logits() {
    // At w = 0, b = 0 all three logits tie, so `max` splits its derivative; the subtracted
    // maximum must still contribute nothing: ∂L/∂b_k = 1/3 − 1/3 = 0 (each class has 50 of 150).
    let data = softmax_iris::standardised_iris();
    let (d_w, d_b) = softmax_iris::loss_grad([[0.0; 4]; 3], [0.0; 3], &data);
    for g in d_b {
        assert!(g.abs() < 1e-15, "{d_b:?}");
    }
    let (c_w, _) = softmax_iris::closed_form_grad(&[[0.0; 4]; 3], &[0.0; 3], &data);
    let diff = largest_difference(
        &d_w.iter().flatten().copied().collect::<Vec<_>>(),
        &c_w.iter().flatten().copied().collect::<Vec<_>>(),
    );
    assert!(diff < 1e-15, "{diff:e}");
}

#[test]
fn iris_training_reduces_the_loss_and_classifies_nine_in_ten() {
    let data = softmax_iris::standardised_iris();
    let (mut w, mut b) = ([[0.0; 4]; 3], [0.0; 3]);
    let start = softmax_iris::loss(w, b, &data);
    assert!((start - 3.0_f64.ln()).abs() < 1e-12);
    let mut previous = f64::INFINITY;
    for _ in 0..300 {
        let value = softmax_iris::step(&mut w, &mut b, &data, softmax_iris::LEARNING_RATE);
        assert!(value < previous, "the loss rose from {previous} to {value}");
        previous = value;
    }
    let end = softmax_iris::loss(w, b, &data);
    let accuracy = softmax_iris::accuracy(&w, &b, &data);
    assert!(end < 0.15, "loss {end} after 300 steps");
    assert!(accuracy >= 0.9, "accuracy {accuracy}");
}

#[test]
fn network_gradient_matches_finite_differences_and_the_chain_rule() {
    let mut rng = Lcg(network::SEED);
    let data = network::data_set(&mut rng);
    let mut net = Net::random(&mut rng);
    // At the initial weights, and again after some training (larger, less uniform weights).
    for _ in 0..2 {
        if let Err(e) = network::check(&net, &data) {
            panic!("{e}");
        }
        let (value, g) = net.value_and_grad(&data);
        assert_eq!(value, net.loss(&data));
        let diff = largest_difference(&g.flatten(), &network::hand_grad(&net, &data).flatten());
        assert!(
            diff < 1e-14,
            "differs from the hand-written chain rule by {diff:e}"
        );
        for _ in 0..200 {
            net.step(&data, network::LEARNING_RATE);
        }
    }
}

#[test]
fn network_training_reduces_the_loss() {
    let mut rng = Lcg(network::SEED);
    let data = network::data_set(&mut rng);
    let mut net = Net::random(&mut rng);
    let start = net.loss(&data);
    for _ in 0..500 {
        net.step(&data, network::LEARNING_RATE);
    }
    let end = net.loss(&data);
    assert!(end < 0.5 * start, "loss {start} -> {end}");
    assert!(
        net.accuracy(&data) >= 0.8,
        "accuracy {}",
        net.accuracy(&data)
    );
}

#[test]
fn the_struct_held_mlp_on_iris_has_a_checked_gradient_and_trains() {
    use backprop::Differentiable;
    let data = mlp_iris::standardised_iris();
    let p = mlp_iris::initial();
    let g = mlp_iris::loss_grad(&p, &data);
    assert_eq!(g.num_params(), 4 * 8 + 8 + 8 * 3 + 3);
    assert_eq!(g.name, p.name);
    backprop::check::check_gradient(
        |x| {
            let mut q = p.clone();
            q.set_flat(x);
            mlp_iris::loss(&q, &data)
        },
        &p.to_flat(),
        &g.to_flat(),
        backprop::check::Tolerance::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (trained, losses) = mlp_iris::train(&data, 60);
    assert!(
        losses[59] < 0.2 * losses[0],
        "{} -> {}",
        losses[0],
        losses[59]
    );
    assert!(mlp_iris::accuracy(&trained, &data) > 0.9);
}
