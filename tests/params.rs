//! Parameters in structs (issue 19): `#[derive(Differentiable)]`, the flattened order, and the
//! optimisers over floats, arrays, `Vec`s and structs.

#![deny(warnings)]
// Models are written with index loops, as users write them.
#![allow(clippy::needless_range_loop)]

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

// ---------------------------------------------------------------------------------------------
// `wrt = p` and `wrt = self`: the gradient of a struct of parameters is a struct.

/// A two-layer network held in nested structs, its output weights a `Vec`.
#[backprop::grad(wrt = p)]
fn mlp_loss(p: &Mlp, xs: &[[f64; 2]], ys: &[f64]) -> f64 {
    let mut total = 0.0;
    for n in 0..xs.len() {
        let mut o = p.bias;
        for i in 0..3 {
            let mut z = p.hidden.b[i];
            for j in 0..2 {
                z += p.hidden.w[i][j] * xs[n][j];
            }
            o += p.out[i] * z.tanh();
        }
        total += (o - ys[n]).powi(2);
    }
    total / xs.len() as f64
}

/// The same network with its parameters passed one by one.
#[backprop::grad(wrt = w, b, out, bias)]
fn mlp_loss_flat(
    w: &[[f64; 2]; 3],
    b: &[f64; 3],
    out: &[f64],
    bias: f64,
    xs: &[[f64; 2]],
    ys: &[f64],
) -> f64 {
    let mut total = 0.0;
    for n in 0..xs.len() {
        let mut o = bias;
        for i in 0..3 {
            let mut z = b[i];
            for j in 0..2 {
                z += w[i][j] * xs[n][j];
            }
            o += out[i] * z.tanh();
        }
        total += (o - ys[n]).powi(2);
    }
    total / xs.len() as f64
}

const XS: [[f64; 2]; 4] = [[1.0, 2.0], [-0.5, 0.3], [0.2, -1.0], [0.0, 0.7]];
const YS: [f64; 4] = [0.5, -0.2, 0.1, 0.3];

fn small_mlp() -> Mlp {
    Mlp {
        hidden: Layer {
            w: [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]],
            b: [0.01, 0.02, -0.03],
        },
        out: vec![0.7, -0.8, 0.9],
        bias: 0.05,
        name: "mlp".into(),
        rate: 0.25,
    }
}

/// Central differences of `f` along every parameter of `p`, against `g`.
fn fd_struct<P: Differentiable<Scalar = f64> + Clone>(f: impl Fn(&P) -> f64, p: &P, g: &P) {
    use backprop::check::{check_gradient, Tolerance};
    let at = p.to_flat();
    check_gradient(
        |x| {
            let mut q = p.clone();
            q.set_flat(x);
            f(&q)
        },
        &at,
        &g.to_flat(),
        Tolerance::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_struct_held_mlp_has_the_gradient_of_its_separate_parameters_to_the_bit() {
    let p = small_mlp();
    let (v, g) = mlp_loss_value_and_grad(&p, &XS, &YS);
    assert_eq!(v, mlp_loss(&p, &XS, &YS));
    fd_struct(|q| mlp_loss(q, &XS, &YS), &p, &g);
    let (dw, db, dout, dbias) =
        mlp_loss_flat_grad(&p.hidden.w, &p.hidden.b, &p.out, p.bias, &XS, &YS);
    let flat = Mlp {
        hidden: Layer { w: dw, b: db },
        out: dout,
        bias: dbias,
        ..p.zero_like()
    };
    let bits = |m: &Mlp| m.to_flat().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&g), bits(&flat));
    assert_eq!(mlp_loss_grad(&p, &XS, &YS), g);
    // What is not a parameter is the struct's own.
    assert_eq!((g.name.as_str(), g.rate), ("mlp", 0.25));
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Linear {
    w: [f64; 3],
    b: f64,
    /// A penalty's weight: read as a number, differentiated, and dropped from the gradient.
    #[backprop(skip)]
    l2: f64,
}

impl Linear {
    #[backprop::grad(wrt = self)]
    fn loss(&self, xs: &[[f64; 3]], ys: &[f64]) -> f64 {
        let mut s = 0.0;
        for (x, y) in xs.iter().zip(ys) {
            let mut o = self.b;
            for i in 0..3 {
                o += self.w[i] * x[i];
            }
            s += (o - y) * (o - y);
        }
        s / ys.len() as f64 + self.l2 * self.w.iter().map(|w| w * w).sum::<f64>()
    }

    /// `self` and a float together, in that order.
    #[backprop::grad(wrt = self, t)]
    fn blend(&self, t: f64) -> f64 {
        t * self.b * self.b + (1.0 - t) * self.w[0] * self.w[2]
    }
}

#[test]
fn wrt_self_gives_a_gradient_of_type_self() {
    let m = Linear {
        w: [0.5, -0.25, 1.0],
        b: 0.1,
        l2: 0.01,
    };
    let xs = [[1.0, 2.0, 3.0], [0.0, -1.0, 0.5], [2.0, 0.5, -1.0]];
    let ys = [2.0, -0.5, 0.3];
    let g: Linear = m.loss_grad(&xs, &ys);
    assert_eq!(g.l2, 0.01);
    fd_struct(|q: &Linear| q.loss(&xs, &ys), &m, &g);
    let (gm, gt) = m.blend_grad(0.3);
    assert_eq!(gt, m.b * m.b - m.w[0] * m.w[2]);
    assert_eq!(gm.w, [0.7 * m.w[2], 0.0, 0.7 * m.w[0]]);
    assert_eq!(gm.b, 2.0 * 0.3 * m.b);
}

#[derive(Clone, Debug, Differentiable)]
struct Indexed {
    w: Vec<f64>,
    #[backprop(skip)]
    n: usize,
    #[backprop(skip)]
    order: Vec<usize>,
}

/// Fields read as data (a range bound, a cast, an index) pass through; a struct by value.
#[backprop::grad(wrt = k, q)]
fn permuted(k: f64, q: Indexed, xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for i in 0..q.n {
        s += k * q.w[i] * xs[q.order[i]];
    }
    s / q.n as f64
}

#[test]
fn fields_read_as_data_pass_through() {
    let q = Indexed {
        w: vec![1.0, 2.0, 3.0],
        n: 3,
        order: vec![2, 0, 1],
    };
    let xs = [10.0, 20.0, 30.0];
    let (dk, dq) = permuted_grad(2.0, q.clone(), &xs);
    let want = [2.0 * 30.0 / 3.0, 2.0 * 10.0 / 3.0, 2.0 * 20.0 / 3.0];
    for (g, w) in dq.w.iter().zip(want) {
        approx::assert_relative_eq!(*g, w, max_relative = 1e-15);
    }
    assert_eq!((dq.n, dq.order.clone()), (3, vec![2, 0, 1]));
    approx::assert_relative_eq!(dk, (30.0 + 20.0 + 60.0) / 3.0, max_relative = 1e-15);
}

#[test]
fn a_struct_held_mlp_trains_with_adam() {
    let mut p = small_mlp();
    let start = mlp_loss(&p, &XS, &YS);
    let mut adam = Adam::new(0.05);
    for _ in 0..300 {
        let g = mlp_loss_grad(&p, &XS, &YS);
        adam.step(&mut p, &g);
    }
    let end = mlp_loss(&p, &XS, &YS);
    assert!(end < 0.05 * start, "{start} -> {end}");
    assert_eq!((p.name.as_str(), p.rate), ("mlp", 0.25));
}

#[derive(Clone, Debug, Differentiable)]
struct Heat {
    kappa: f64,
    u0: [f64; 8],
}

/// An array field copied whole into the state: its type written, or inferred from the local's
/// indexing.
#[backprop::grad(wrt = p)]
fn heat_struct(p: &Heat, target: &[f64; 8]) -> f64 {
    let mut u: [f64; 8] = p.u0;
    for _ in 0..20 {
        let mut un = u;
        for i in 1..7 {
            un[i] = u[i] + p.kappa * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
    }
    (0..8).map(|i| (u[i] - target[i]).powi(2)).sum()
}

#[backprop::grad(wrt = p)]
fn copied_unannotated(p: &Heat) -> f64 {
    let mut u = p.u0;
    u[0] *= p.kappa;
    u[0] * u[1] + u[7]
}

#[test]
fn array_fields_copied_whole_match_finite_differences() {
    let p = Heat {
        kappa: 0.2,
        u0: core::array::from_fn(|i| (i as f64 * 0.9).sin()),
    };
    let target = [0.1; 8];
    fd_struct(
        |q: &Heat| heat_struct(q, &target),
        &p,
        &heat_struct_grad(&p, &target),
    );
    let g = copied_unannotated_grad(&p);
    assert_eq!(g.kappa, p.u0[0] * p.u0[1]);
    assert_eq!(g.u0[0], p.kappa * p.u0[1]);
    assert_eq!(g.u0[1], p.kappa * p.u0[0]);
    assert_eq!(g.u0[7], 1.0);
}

// Composition: a struct's fields, and the struct itself, passed to `#[grad]` functions.

#[backprop::grad]
fn dot3(a: &[f64; 3], x: &[f64; 3]) -> f64 {
    a[0] * x[0] + a[1] * x[1] + a[2] * x[2]
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Unit {
    w: [f64; 3],
    b: f64,
    #[backprop(skip)]
    n: usize,
}

/// A unit's output: differentiated with respect to the whole struct.
#[backprop::grad(wrt = u)]
fn unit(u: &Unit, x: &[f64; 3]) -> f64 {
    (dot3(&u.w, x) + u.b).tanh()
}

/// The struct passed whole (by reference, and by reference to a value), twice, and its fields
/// read besides: the gradient sums the callees' struct-shaped partials and the fields' own.
// `&u` written as users write it, a borrow the compiler removes.
#[allow(clippy::needless_borrow)]
#[backprop::grad(wrt = u)]
fn two_units(u: &Unit, x: &[f64; 3]) -> f64 {
    let a = unit(u, x);
    let b = unit(&u, &[1.0, 0.0, -1.0]);
    a * b + u.w[2] * u.b + u.n as f64
}

#[backprop::grad(wrt = u)]
fn owned(u: Unit) -> f64 {
    unit(&u, &[0.5, 0.5, 0.5]) * u.b
}

#[test]
fn structs_and_their_fields_pass_through_calls() {
    let u = Unit {
        w: [0.3, -0.2, 0.5],
        b: 0.1,
        n: 4,
    };
    let x = [0.5, 0.25, -1.0];
    let g = two_units_grad(&u, &x);
    assert_eq!(g.n, 4);
    fd_struct(|v: &Unit| two_units(v, &x), &u, &g);
    fd_struct(|v: &Unit| owned(v.clone()), &u, &owned_grad(u.clone()));
}

// Forward mode and second order over a struct (the only `wrt` parameter).

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Quad {
    w: [f64; 3],
    b: f64,
    #[backprop(skip)]
    n: usize,
}

#[backprop::grad(wrt = p, hessian)]
fn quad(p: &Quad, x: &[f64; 3]) -> f64 {
    let mut s = p.b * p.b;
    for i in 0..p.n {
        s += (p.w[i] * x[i]).sin() * p.b;
    }
    s
}

#[backprop::grad(wrt = q, mode = forward)]
fn quad_forward(q: Quad, x: &[f64; 3]) -> f64 {
    let mut s = q.b * q.b;
    for i in 0..q.n {
        s += (q.w[i] * x[i]).sin() * q.b;
    }
    s
}

impl Quad {
    #[backprop::grad(wrt = self, mode = forward, hessian)]
    fn energy(&self, t: f64) -> f64 {
        self.b * self.b * self.w[0] + t * self.w[1].powi(3)
    }
}

#[test]
fn forward_mode_and_hessians_over_a_struct() {
    let p = Quad {
        w: [0.5, -0.3, 0.8],
        b: 0.7,
        n: 3,
    };
    let x = [1.0, 2.0, -0.5];
    // Forward mode (one `_jvp` per parameter) against reverse mode.
    let (v, gf) = quad_forward_value_and_grad(p.clone(), &x);
    let (vr, gr) = quad_value_and_grad(&p, &x);
    assert_eq!(v, vr);
    for (a, b) in gf.to_flat().iter().zip(gr.to_flat()) {
        approx::assert_relative_eq!(*a, b, max_relative = 1e-13);
    }
    assert_eq!(gf.n, 3);
    // The Hessian, in the flattened order, against central differences of the gradient.
    let h = quad_hessian(&p, &x);
    assert_eq!(h.len(), 4);
    let flat = p.to_flat();
    for k in 0..4 {
        let at = |d: f64| {
            let mut q = p.clone();
            let mut f = flat.clone();
            f[k] += d;
            q.set_flat(&f);
            quad_grad(&q, &x).to_flat()
        };
        let (up, down) = (at(1e-6), at(-1e-6));
        for j in 0..4 {
            let fd = (up[j] - down[j]) / 2e-6;
            assert!(
                (h[k][j] - fd).abs() < 1e-6,
                "h[{k}][{j}] = {} vs {fd}",
                h[k][j]
            );
            assert_eq!(h[k][j], h[j][k]);
        }
    }
    // `_hvp` along a direction struct is the Hessian times its flattened parameters.
    let v = Quad {
        w: [1.0, -2.0, 0.5],
        b: 3.0,
        n: 3,
    };
    let hv = quad_hvp(&p, &x, &v).to_flat();
    let vf = v.to_flat();
    for i in 0..4 {
        let want: f64 = (0..4).map(|j| h[i][j] * vf[j]).sum();
        approx::assert_relative_eq!(hv[i], want, max_relative = 1e-12);
    }
    // A method with `wrt = self`: its Hessian in closed form.
    let m = Quad {
        w: [1.5, 2.0, 0.0],
        b: 0.5,
        n: 0,
    };
    let h = m.energy_hessian(0.3);
    // Parameters: w[0], w[1], w[2], b.
    assert_eq!(h[0][3], 2.0 * m.b);
    assert_eq!(h[3][3], 2.0 * m.w[0]);
    approx::assert_relative_eq!(h[1][1], 6.0 * 0.3 * m.w[1], max_relative = 1e-15);
    let (_, d) = m.energy_jvp(0.3, &v);
    let g = m.energy_grad(0.3).to_flat();
    let want: f64 = g.iter().zip(v.to_flat()).map(|(a, b)| a * b).sum();
    approx::assert_relative_eq!(d, want, max_relative = 1e-12);
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Pair2 {
    w: [f64; 2],
    b: f64,
}

#[backprop::grad(wrt = p)]
fn pair_inner(p: &Pair2) -> f64 {
    p.w[0] * p.b
}

/// A `&mut` struct the body only reads, passed on as `&Pair2`.
#[backprop::grad(wrt = p)]
fn read_through_mut(p: &mut Pair2, x: f64) -> f64 {
    p.w[1] * x + pair_inner(p) + p.b
}

#[test]
fn a_mut_struct_that_is_only_read_is_differentiated() {
    let mut p = Pair2 {
        w: [2.0, 3.0],
        b: 0.5,
    };
    let g = read_through_mut_grad(&mut p, 4.0);
    assert_eq!(
        g,
        Pair2 {
            w: [0.5, 4.0],
            b: 3.0
        }
    );
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct State3 {
    wa: [f64; 3],
}

/// Found by the twelfth batch (seed 2501, `sg110`): a field copied into a state that a `while`
/// loop carries; forward over reverse needs a stand-in for the state's tangent in the branch
/// that does not run, which was an empty `Vec` instead of an array.
#[backprop::grad(wrt = q, hessian)]
fn carried_field(q: &State3) -> f64 {
    let mut z0 = q.wa;
    let mut t = 0;
    while t < 2 {
        t += 1;
        let mut z1 = z0;
        for i in 1..3 {
            z1[i] = (z0[t - 1] * z0[t]).tanh();
        }
        z0 = z1;
    }
    z0[2] * q.wa[0]
}

#[test]
fn a_field_carried_by_a_while_loop_has_its_hessian() {
    let q = State3 {
        wa: [0.7, -0.4, 0.9],
    };
    let h = carried_field_hessian(&q);
    for k in 0..3 {
        let at = |d: f64| {
            let mut p = q.clone();
            p.wa[k] += d;
            carried_field_grad(&p).wa
        };
        let (up, down) = (at(1e-6), at(-1e-6));
        for j in 0..3 {
            let fd = (up[j] - down[j]) / 2e-6;
            assert!(
                (h[k][j] - fd).abs() < 1e-6,
                "h[{k}][{j}] = {} vs {fd}",
                h[k][j]
            );
        }
    }
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Scaled {
    w: f64,
    #[backprop(skip)]
    scale: f64,
    #[backprop(skip)]
    xs: [f64; 2],
}

#[backprop::grad(wrt = p, mode = forward)]
fn scaled_forward(p: &Scaled) -> f64 {
    p.scale * p.w * p.w + p.xs[0] * p.w
}

#[backprop::grad(wrt = p, hessian)]
fn scaled_hessian(p: &Scaled) -> f64 {
    p.scale * p.w * p.w + p.xs[1] * p.w * p.w
}

/// Found by a review: in forward mode and with `hessian`, a skipped field read as a number took
/// the direction struct's value there (a clone of the parameter) as its tangent, and the
/// gradient, `_jvp`, `_hvp` and `_hessian` were wrong. A skipped field's direction is zero.
#[test]
fn skipped_fields_have_no_tangent() {
    let p = Scaled {
        w: 2.0,
        scale: 3.0,
        xs: [1.0, 0.5],
    };
    let dir = Scaled {
        w: 1.0,
        ..p.zero_like()
    };
    // d/dw (scale·w² + xs₀·w) = 2·scale·w + xs₀.
    assert_eq!(scaled_forward_grad(&p).w, 13.0);
    assert_eq!(scaled_forward_jvp(&p, &dir), (14.0, 13.0));
    // d²/dw² (scale·w² + xs₁·w²) = 2·(scale + xs₁).
    assert_eq!(scaled_hessian_hessian(&p), vec![vec![7.0]]);
    assert_eq!(scaled_hessian_hvp(&p, &dir).w, 7.0);
    assert_eq!(scaled_hessian_grad(&p).w, 14.0);
}

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Lens {
    w: Vec<f64>,
    b: [f64; 2],
}

/// `.len()` of a field reads its shape: in a range bound and a cast, beside the field's reads.
#[backprop::grad(wrt = p)]
fn mean_square(p: &Lens) -> f64 {
    let mut s = 0.0;
    for i in 0..p.w.len() {
        s += p.w[i] * p.w[i];
    }
    s / p.w.len() as f64 + p.b[0] * p.b.len() as f64
}

#[test]
fn the_length_of_a_field_is_data() {
    let g = mean_square_grad(&Lens {
        w: vec![1.0, 2.0],
        b: [3.0, 4.0],
    });
    assert_eq!(
        g,
        Lens {
            w: vec![1.0, 2.0],
            b: [2.0, 0.0]
        }
    );
}

// Forward mode and second order with a struct beside other `wrt` parameters (and two
// structs): directions per parameter, the Hessian over all of them flattened in `wrt` order.

#[backprop::grad(wrt = p, t, z, mode = forward, hessian)]
fn beside(p: &Pair2, t: f64, z: [f64; 2], x: &[f64; 2]) -> f64 {
    let mut s = p.b * t * t;
    for i in 0..2 {
        s += (p.w[i] * x[i] + z[i] * t).sin();
    }
    s * p.b
}

#[backprop::grad(wrt = q, p, hessian)]
fn two_structs(p: Pair2, q: &Pair2) -> f64 {
    p.w[0] * q.w[1] * q.b + p.b.exp() * q.w[0]
}

/// The flat vector of `beside`'s parameters: `p` (w, b), `t`, `z`.
fn beside_flat(x: &[f64]) -> f64 {
    let p = Pair2 {
        w: [x[0], x[1]],
        b: x[2],
    };
    beside(&p, x[3], [x[4], x[5]], &[1.0, 2.0])
}

#[test]
fn forward_mode_and_hessians_with_a_struct_beside_other_parameters() {
    let p = Pair2 {
        w: [0.3, -0.5],
        b: 0.8,
    };
    let (t, z, x) = (0.7, [0.1, 0.2], [1.0, 2.0]);
    let at = [0.3, -0.5, 0.8, 0.7, 0.1, 0.2];
    // The forward-mode gradient, shaped like the parameters, against central differences.
    let (v, (gp, gt, gz)) = beside_value_and_grad(&p, t, z, &x);
    assert_eq!(v, beside(&p, t, z, &x));
    let mut flat = gp.to_flat();
    flat.push(gt);
    flat.extend(gz);
    use backprop::check::{check_gradient, Tolerance};
    check_gradient(beside_flat, &at, &flat, Tolerance::default()).unwrap_or_else(|e| panic!("{e}"));
    // The Hessian: 6 × 6 in `wrt` order, against central differences of the value.
    let h = beside_hessian(&p, t, z, &x);
    assert_eq!((h.len(), h[0].len()), (6, 6));
    let e = 1e-4;
    for i in 0..6 {
        for j in 0..6 {
            let f = |di: f64, dj: f64| {
                let mut y = at;
                y[i] += di;
                y[j] += dj;
                beside_flat(&y)
            };
            let fd = (f(e, e) - f(e, -e) - f(-e, e) + f(-e, -e)) / (4.0 * e * e);
            assert!(
                (h[i][j] - fd).abs() < 1e-6,
                "h[{i}][{j}] = {} vs {fd}",
                h[i][j]
            );
            assert_eq!(h[i][j], h[j][i]);
        }
    }
    // `_hvp` along a direction of each parameter's type is the Hessian times it, flattened.
    let (vp, vt, vz) = (
        Pair2 {
            w: [1.0, -2.0],
            b: 0.5,
        },
        3.0,
        [0.25, -1.0],
    );
    let (hp, ht, hz) = beside_hvp(&p, t, z, &x, &vp, vt, vz);
    let mut hv = hp.to_flat();
    hv.push(ht);
    hv.extend(hz);
    let mut vf = vp.to_flat();
    vf.push(vt);
    vf.extend(vz);
    for i in 0..6 {
        let want: f64 = (0..6).map(|j| h[i][j] * vf[j]).sum();
        approx::assert_relative_eq!(hv[i], want, max_relative = 1e-12);
    }
    // `_jvp` along the same direction is the gradient times it.
    let (_, d) = beside_jvp(&p, t, z, &x, &vp, vt, vz);
    let want: f64 = flat.iter().zip(&vf).map(|(a, b)| a * b).sum();
    approx::assert_relative_eq!(d, want, max_relative = 1e-12);
}

#[test]
fn a_hessian_over_two_structs_is_in_wrt_order() {
    let p = Pair2 {
        w: [0.3, -0.5],
        b: 0.8,
    };
    let q = Pair2 {
        w: [1.5, 0.25],
        b: -0.3,
    };
    // f = p.w0 q.w1 q.b + exp(p.b) q.w0, rows q (w0, w1, b) then p (w0, w1, b).
    let h = two_structs_hessian(p.clone(), &q);
    let e = 0.8f64.exp();
    let want = [
        [0.0, 0.0, 0.0, 0.0, 0.0, e],
        [0.0, 0.0, p.w[0], q.b, 0.0, 0.0],
        [0.0, p.w[0], 0.0, q.w[1], 0.0, 0.0],
        [0.0, q.b, q.w[1], 0.0, 0.0, 0.0],
        [0.0; 6],
        [e, 0.0, 0.0, 0.0, 0.0, e * q.w[0]],
    ];
    for i in 0..6 {
        for j in 0..6 {
            approx::assert_relative_eq!(h[i][j], want[i][j], max_relative = 1e-15);
        }
    }
    let (gq, gp) = two_structs_grad(p.clone(), &q);
    assert_eq!(gq.w, [e, p.w[0] * q.b]);
    assert_eq!(gp.b, e * q.w[0]);
}

// Jacobians over a struct: rows in the flattened order, reverse and forward mode.

#[backprop::grad(wrt = p, t)]
fn three_outputs(p: &Pair2, t: f64, x: &[f64; 2]) -> [f64; 3] {
    let a = p.w[0] * x[0] + p.w[1] * x[1] + p.b;
    let b = (p.b * t).sin();
    [a, b, a * b]
}

#[backprop::grad(wrt = p, t, mode = forward)]
fn two_outputs(p: &Pair2, t: f64, x: &[f64; 2]) -> (f64, f64) {
    let a = p.w[0] * x[0] + p.w[1] * x[1] + p.b;
    let b = (p.b * t).sin();
    (a, a * b)
}

impl Pair2 {
    #[backprop::grad(wrt = self)]
    fn outputs(&self) -> [f64; 2] {
        [self.w[0] * self.b, self.w[1]]
    }
}

#[test]
fn jacobians_over_a_struct_have_rows_in_the_flattened_order() {
    let p = Pair2 {
        w: [0.3, -0.5],
        b: 0.8,
    };
    let (t, x) = (0.7, [1.0, 2.0]);
    let (v, j) = three_outputs_value_and_jacobian(&p, t, &x);
    assert_eq!(v, three_outputs(&p, t, &x));
    assert_eq!((j.len(), j[0].len()), (3, 4));
    // Each row against central differences of its value over (w₀, w₁, b, t).
    let at = [0.3, -0.5, 0.8, 0.7];
    for (i, row) in j.iter().enumerate() {
        let f = |y: &[f64]| {
            let q = Pair2 {
                w: [y[0], y[1]],
                b: y[2],
            };
            three_outputs(&q, y[3], &x)[i]
        };
        use backprop::check::{check_gradient, Tolerance};
        check_gradient(f, &at, row, Tolerance::default()).unwrap_or_else(|e| panic!("{e}"));
    }
    // Forward mode gives the same rows (columns one pass at a time).
    let (v2, j2) = two_outputs_value_and_jacobian(&p, t, &x);
    assert_eq!(v2, (v[0], v[2]));
    for k in 0..4 {
        assert_relative_eq_rows(j2[0][k], j[0][k]);
        assert_relative_eq_rows(j2[1][k], j[2][k]);
    }
    // `wrt = self`.
    assert_eq!(
        p.outputs_jacobian(),
        vec![vec![0.8, 0.0, 0.3], vec![0.0, 1.0, 0.0]]
    );
}

fn assert_relative_eq_rows(a: f64, b: f64) {
    approx::assert_relative_eq!(a, b, max_relative = 1e-14);
}

impl Pair2 {
    /// `&mut self` that is only read, in every mode.
    #[backprop::grad(wrt = self, mode = forward, hessian)]
    fn read_mut(&mut self, x: f64) -> f64 {
        self.w[0] * self.b * x + self.w[1].sin()
    }
}

#[test]
fn a_method_taking_mut_self_that_only_reads_it() {
    let mut p = Pair2 {
        w: [0.3, -0.5],
        b: 0.8,
    };
    let g = p.read_mut_grad(2.0);
    assert_eq!(g.w, [1.6, (-0.5f64).cos()]);
    assert_relative_eq_rows(g.b, 0.6);
    let h = p.read_mut_hessian(2.0);
    assert_eq!(h[0][2], 2.0);
    assert_eq!(h[1][1], 0.5f64.sin());
    assert_eq!(p.read_mut(2.0), 0.3 * 0.8 * 2.0 + (-0.5f64).sin());
}

/// Found by the generator: a derivative that is a constant expression (`1/π` for `t`) was
/// passed as `&1.0 / PI`, which is not a reference.
#[backprop::grad(wrt = p, t)]
fn constant_partial(p: &Pair2, t: f64, k: i32) -> (f64, f64) {
    (p.b * p.w[0], p.w[1] + (k as f64 + t) / std::f64::consts::PI)
}

#[test]
fn a_jacobian_row_with_a_constant_partial() {
    let p = Pair2 {
        w: [0.3, -0.5],
        b: 0.8,
    };
    let j = constant_partial_jacobian(&p, 2.0, 3);
    assert_eq!(j[0], vec![0.8, 0.0, 0.3, 0.0]);
    assert_eq!(j[1], vec![0.0, 1.0, 0.0, 1.0 / std::f64::consts::PI]);
}

// Found by a review: fields that only decide (a `match` on a count, `p.mode == 0`, `if
// p.on`), a row's `.len()` as a bound, and `self` by value in forward mode and `hessian`.

#[derive(Clone, Debug, PartialEq, Differentiable)]
struct Switch {
    v: Vec<f64>,
    w: [[f64; 2]; 2],
    #[backprop(skip)]
    mode: u8,
    #[backprop(skip)]
    k: usize,
    #[backprop(skip)]
    on: bool,
    #[backprop(skip)]
    exp: i32,
}

#[backprop::grad(wrt = p)]
fn by_match(p: &Switch, x: f64) -> f64 {
    match p.k {
        0 => p.v[0] * x,
        _ => p.v[1] * x * x,
    }
}

#[backprop::grad(wrt = p)]
fn by_comparison(p: &Switch, x: f64) -> f64 {
    if p.mode == 0 && !p.on && p.v[1] > 0.0 {
        p.v[0] * x * p.v[1]
    } else if p.on {
        p.v[1] * x
    } else {
        x
    }
}

/// A `bool` field as a logical operand, an integer field as `powi`'s exponent.
#[backprop::grad(wrt = p)]
fn logical_and_powi(p: &Switch, x: f64) -> f64 {
    if x > 0.0 || p.on {
        p.v[0].powi(p.exp + 1) * x
    } else {
        x
    }
}

#[backprop::grad(wrt = p, mode = forward, hessian)]
fn row_lengths(p: &Switch, x: f64) -> f64 {
    let mut s = 0.0;
    for r in 0..2 {
        for j in 0..p.w[r].len() {
            s += p.w[r][j] * x * p.w[r][j];
        }
    }
    s
}

impl Pair2 {
    /// `self` by value, beside a float, in forward mode and with `hessian`.
    #[backprop::grad(wrt = self, x, mode = forward, hessian)]
    fn owned(self, x: f64) -> f64 {
        self.w[0] * x + self.b * self.w[1]
    }
}

#[test]
fn fields_that_only_decide_are_left_as_written() {
    let mut p = Switch {
        v: vec![2.0, 3.0],
        w: [[1.0, 2.0], [3.0, 4.0]],
        mode: 0,
        k: 0,
        on: true,
        exp: 2,
    };
    assert_eq!(by_match_grad(&p, 5.0).v, vec![5.0, 0.0]);
    p.k = 1;
    assert_eq!(by_match_grad(&p, 5.0).v, vec![0.0, 25.0]);
    assert_eq!(by_comparison_grad(&p, 5.0).v, vec![0.0, 5.0]);
    p.on = false;
    assert_eq!(by_comparison_grad(&p, 5.0).v, vec![15.0, 10.0]);
    p.mode = 1;
    assert_eq!(by_comparison_grad(&p, 5.0).v, vec![0.0, 0.0]);
    // 3 v₀² x with k = 1.
    assert_eq!(logical_and_powi_grad(&p, 5.0).v, vec![60.0, 0.0]);
    // 2 w x per element; the Hessian over (v, w) is 2x on w's diagonal.
    assert_eq!(row_lengths_grad(&p, 5.0).w, [[10.0, 20.0], [30.0, 40.0]]);
    let h = row_lengths_hessian(&p, 5.0);
    assert_eq!(h.len(), 6);
    assert_eq!((h[0][0], h[3][3], h[3][4]), (0.0, 10.0, 0.0));
    // f = w0 x + b w1 over (w0, w1, b, x).
    let q = Pair2 {
        w: [1.0, 2.0],
        b: 3.0,
    };
    let (gq, gx) = q.clone().owned_grad(2.0);
    assert_eq!((gq.w, gq.b, gx), ([2.0, 3.0], 2.0, 1.0));
    let h = q.owned_hessian(2.0);
    assert_eq!(h[0][3], 1.0);
    assert_eq!(h[1][2], 1.0);
    assert_eq!(h[3][3], 0.0);
}

#[test]
#[should_panic(
    expected = "a direction has the shape of its parameter: `p` has 6 parameters, its direction 7"
)]
fn a_direction_struct_of_another_size_is_refused() {
    let p = Switch {
        v: vec![2.0, 3.0],
        w: [[1.0, 2.0], [3.0, 4.0]],
        mode: 0,
        k: 0,
        on: true,
        exp: 2,
    };
    let long = Switch {
        v: vec![1.0; 3],
        ..p.clone()
    };
    let _ = row_lengths_jvp(&p, 5.0, &long);
}

// Calls to a function returning an array with respect to a struct: its pullback gives, per
// parameter, a block shaped like the gradient (`[Pair2; 2]`), in reverse and forward mode.

#[backprop::grad(wrt = p)]
fn affine_pair(p: &Pair2, x: &[f64; 2]) -> [f64; 2] {
    let a = p.w[0] * x[0] + p.w[1] * x[1] + p.b;
    [a, a * a]
}

#[backprop::grad(wrt = p)]
fn through_affine(p: &Pair2) -> f64 {
    let y = affine_pair(p, &[1.0, 2.0]);
    y[0] + 3.0 * y[1]
}

#[backprop::grad(wrt = p, mode = forward)]
fn through_affine_forward(p: Pair2) -> f64 {
    let y = affine_pair(&p, &[1.0, 2.0]);
    y[0] + 3.0 * y[1] * p.b
}

#[test]
fn a_struct_passes_through_a_function_returning_an_array() {
    let p = Pair2 {
        w: [0.3, -0.5],
        b: 0.8,
    };
    let x = [1.0, 2.0];
    fd_struct(through_affine, &p, &through_affine_grad(&p));
    fd_struct(
        |q: &Pair2| through_affine_forward(q.clone()),
        &p,
        &through_affine_forward_grad(p.clone()),
    );
    // a = 0.1: the derivative along a is 1 + 6a.
    let g = through_affine_grad(&p);
    approx::assert_relative_eq!(g.b, 1.6, max_relative = 1e-14);
    approx::assert_relative_eq!(g.w[1], 3.2, max_relative = 1e-14);
    let (v, j) = affine_pair_value_and_jacobian(&p, &x);
    assert_eq!(v, affine_pair(&p, &x));
    assert_eq!(j.len(), 2);
}
