//! Parameters in structs (issue 19): `#[derive(Differentiable)]`, the flattened order, and the
//! optimisers over floats, arrays, `Vec`s and structs.

#![deny(warnings)]

use backprop::{Adam, Differentiable, Sgd};

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Layer {
    w: [[f64; 2]; 3],
    b: [f64; 3],
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Mlp {
    hidden: Layer,
    out: Vec<f64>,
    bias: f64,
    #[backprop(skip)]
    name: String,
    #[backprop(skip)]
    rate: f64,
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Pair(f32, #[backprop(skip)] usize, [f32; 2]);

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Wrapped<T> {
    inner: T,
    #[backprop(skip)]
    steps: u32,
}

fn mlp() -> Mlp {
    Mlp {
        hidden: Layer {
            w: [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]],
            b: [7.0, 8.0, 9.0],
        },
        out: vec![10.0, 11.0, 12.0],
        bias: 13.0,
        name: "m".into(),
        rate: 0.5,
    }
}

#[test]
fn a_derived_struct_flattens_its_parameters_in_declaration_order() {
    let m = mlp();
    assert_eq!(m.num_params(), 13);
    let flat = m.to_flat();
    assert_eq!(flat, (1..=13).map(f64::from).collect::<Vec<_>>());
    let z = m.zero_like();
    assert_eq!(z.to_flat(), vec![0.0; 13]);
    // What is not a parameter is kept.
    assert_eq!((z.name.as_str(), z.rate, z.out.len()), ("m", 0.5, 3));
    let mut n = z.clone();
    n.set_flat(&flat);
    assert_eq!(n.to_flat(), flat);
    assert_eq!(n.rate, 0.5);

    let p = Pair(1.5, 7, [2.5, 3.5]);
    assert_eq!(p.to_flat(), vec![1.5f32, 2.5, 3.5]);
    assert_eq!(p.zero_like(), Pair(0.0, 7, [0.0, 0.0]));

    let w = Wrapped {
        inner: mlp(),
        steps: 3,
    };
    assert_eq!(w.num_params(), 13);
    assert_eq!(w.zero_like().steps, 3);
}

#[test]
fn add_scaled_touches_parameters_only() {
    let mut m = mlp();
    let mut g = m.zero_like();
    g.bias = 2.0;
    g.hidden.w[2][1] = 1.0;
    g.out[0] = -1.0;
    g.rate = 100.0; // not a parameter: never added
    m.add_scaled(&g, -0.5);
    assert_eq!(m.bias, 12.0);
    assert_eq!(m.hidden.w[2][1], 5.5);
    assert_eq!(m.out[0], 10.5);
    assert_eq!(m.rate, 0.5);
}

#[test]
#[should_panic(expected = "differ in length")]
fn vecs_of_different_lengths_do_not_add() {
    let mut a = vec![1.0, 2.0];
    a.add_scaled(&vec![1.0], 1.0);
}

#[test]
fn sgd_and_adam_minimise_a_quadratic_over_a_struct() {
    // f(m) = Σ (pᵢ − i)² over the 13 parameters: gradient 2 (pᵢ − i).
    let target: Vec<f64> = (0..13).map(f64::from).collect();
    let grad = |m: &Mlp| {
        let mut g = m.zero_like();
        let mut k = 0;
        let flat = m.to_flat();
        g.for_each_mut(&mut |x| {
            *x = 2.0 * (flat[k] - target[k]);
            k += 1;
        });
        g
    };
    let loss = |m: &Mlp| {
        m.to_flat()
            .iter()
            .zip(&target)
            .map(|(p, t)| (p - t) * (p - t))
            .sum::<f64>()
    };
    let start = loss(&mlp());

    let mut m = mlp();
    let mut sgd = Sgd::new(0.1);
    for _ in 0..50 {
        let g = grad(&m);
        sgd.step(&mut m, &g);
    }
    assert!(loss(&m) < 1e-8 * start, "{}", loss(&m));

    let mut m = mlp();
    let mut sgd = Sgd::new(0.05).with_momentum(0.9);
    for _ in 0..200 {
        let g = grad(&m);
        sgd.step(&mut m, &g);
    }
    assert!(loss(&m) < 1e-8 * start, "{}", loss(&m));

    let mut m = mlp();
    let mut adam = Adam::new(0.1);
    for _ in 0..500 {
        let g = grad(&m);
        adam.step(&mut m, &g);
    }
    assert!(loss(&m) < 1e-4 * start, "{}", loss(&m));
    assert_eq!((m.name.as_str(), m.rate), ("m", 0.5));
}

#[test]
fn the_first_adam_step_moves_each_parameter_by_the_learning_rate() {
    // With bias correction, the first step is lr · g / (|g| + ε'): lr in the gradient's sign.
    let mut p = [1.0f64, -2.0, 3.0];
    Adam::new(0.01).step(&mut p, &[4.0, -0.5, 1e-3]);
    for (x, want) in p.iter().zip([0.99, -1.99, 2.99]) {
        assert!((x - want).abs() < 1e-6, "{x} vs {want}");
    }
}

/// `Vec<f64>` and `&Vec<f64>` as `wrt` parameters: like slices, the gradient a `Vec`.
// As users write it (clippy prefers `&[f64]` in their own function; the companions allow it).
#[allow(clippy::ptr_arg)]
#[backprop::grad(wrt = w)]
fn vec_by_ref(w: &Vec<f64>, xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..w.len() {
        s += (w[i] * xs[i]).sin();
    }
    s
}

#[backprop::grad(wrt = w, b)]
fn vec_by_value(w: Vec<f64>, b: f64, xs: &[f64]) -> f64 {
    w.iter().zip(xs).map(|(a, x)| a * x).sum::<f64>() * b + vec_by_ref(&w, xs)
}

#[test]
fn vecs_as_wrt_parameters_match_finite_differences() {
    use backprop::check::{check_gradient, Tolerance};
    let xs = [0.5, -1.5, 2.0];
    let w = vec![0.3, 0.7, -0.2];
    let g: Vec<f64> = vec_by_ref_grad(&w, &xs);
    check_gradient(
        |p| vec_by_ref(&p.to_vec(), &xs),
        &w,
        &g,
        Tolerance::default(),
    )
    .unwrap();
    let (gw, gb) = vec_by_value_grad(w.clone(), 1.5, &xs);
    let mut all = gw.clone();
    all.push(gb);
    let mut at = w.clone();
    at.push(1.5);
    check_gradient(
        |p| vec_by_value(p[..3].to_vec(), p[3], &xs),
        &at,
        &all,
        Tolerance::default(),
    )
    .unwrap();
    // The gradient is a `Vec`, so an optimiser takes it as it comes.
    let mut p = w.clone();
    backprop::Sgd::new(0.1).step(&mut p, &gw);
    assert!((p[0] - (w[0] - 0.1 * gw[0])).abs() < 1e-15);
}
