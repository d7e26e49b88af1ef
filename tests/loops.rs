//! Loops, arrays, early return and `match`: every gradient against central finite differences
//! (and, where there is one, its closed form), and the values against the original function.

#![deny(warnings)]

use backprop::check::{check_gradient, Tolerance};
use backprop::grad;

fn fd(f: impl Fn(&[f64]) -> f64, x: &[f64], g: &[f64]) {
    if let Err(e) = check_gradient(f, x, g, Tolerance::default()) {
        panic!("{e}");
    }
}

const XS: [f64; 5] = [0.5, -1.0, 2.0, 0.25, 1.5];
const YS: [f64; 5] = [1.0, -0.5, 3.5, 0.75, 2.0];

#[grad(wrt = w, b)]
fn mse(w: f64, b: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let mut loss = 0.0;
    for (x, y) in xs.iter().zip(ys) {
        let r = w * x + b - y;
        loss += r * r;
    }
    loss / xs.len() as f64
}

#[test]
fn mse_matches_its_closed_form() {
    let (w, b) = (0.7, -0.3);
    let (v, (dw, db)) = mse_value_and_grad(w, b, &XS, &YS);
    assert_eq!(v, mse(w, b, &XS, &YS));
    let n = XS.len() as f64;
    let cw: f64 = XS
        .iter()
        .zip(&YS)
        .map(|(x, y)| 2.0 * (w * x + b - y) * x)
        .sum::<f64>()
        / n;
    let cb: f64 = XS
        .iter()
        .zip(&YS)
        .map(|(x, y)| 2.0 * (w * x + b - y))
        .sum::<f64>()
        / n;
    approx::assert_relative_eq!(dw, cw, max_relative = 1e-14);
    approx::assert_relative_eq!(db, cb, max_relative = 1e-14);
}

#[grad(wrt = w, u)]
fn rnn(w: f64, u: f64, xs: &[f64]) -> f64 {
    let mut h = 0.0;
    let mut loss = 0.0;
    for x in xs.iter() {
        h = (w * h + u * x).tanh();
        loss += h * h;
    }
    loss + h
}

#[test]
fn rnn_matches_finite_differences() {
    let (v, (dw, du)) = rnn_value_and_grad(0.8, -0.6, &XS);
    assert_eq!(v, rnn(0.8, -0.6, &XS));
    fd(|p| rnn(p[0], p[1], &XS), &[0.8, -0.6], &[dw, du]);
}

#[grad(wrt = w)]
fn dot(w: [f64; 3], x: [f64; 3]) -> f64 {
    let mut s = 0.0;
    for i in 0..3 {
        s += w[i] * x[i];
    }
    (s * s).sin()
}

#[test]
fn array_parameter_gets_an_array_gradient() {
    let w = [0.3, -0.2, 0.5];
    let x = [1.0, 2.0, -1.5];
    let g: [f64; 3] = dot_grad(w, x);
    fd(|p| dot([p[0], p[1], p[2]], x), &w, &g);
}

#[grad(wrt = w)]
fn dot_iter(w: &[f64], x: &[f64]) -> f64 {
    let s = w.iter().zip(x).map(|(a, b)| a * b).sum::<f64>();
    s * s + w.iter().map(|a| a.exp()).sum::<f64>()
}

#[test]
fn slice_parameter_gets_a_vec_gradient() {
    let w = [0.3, -0.2, 0.5, 0.1];
    let x = [1.0, 2.0, -1.5, 0.5];
    let g: Vec<f64> = dot_iter_grad(&w, &x);
    assert_eq!(g.len(), 4);
    fd(|p| dot_iter(p, &x), &w, &g);
}

#[grad(wrt = w)]
fn layer(w: [[f64; 2]; 3], v: [f64; 3], x: [f64; 2]) -> f64 {
    let mut h = [0.0; 3];
    for j in 0..3 {
        h[j] = (w[j][0] * x[0] + w[j][1] * x[1]).tanh();
    }
    let mut o = 0.0;
    for j in 0..3 {
        o += v[j] * h[j];
    }
    o * o
}

#[test]
fn matrix_parameter_and_local_array() {
    let w = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]];
    let v = [1.0, -1.0, 0.5];
    let x = [0.7, -0.3];
    let g = layer_grad(w, v, x);
    let flat: Vec<f64> = w.iter().flatten().copied().collect();
    let gf: Vec<f64> = g.iter().flatten().copied().collect();
    fd(
        |p| layer([[p[0], p[1]], [p[2], p[3]], [p[4], p[5]]], v, x),
        &flat,
        &gf,
    );
}

#[grad(wrt = a)]
fn product(a: f64, n: usize) -> f64 {
    let mut p = 1.0;
    for k in 1..=n {
        p *= a + k as f64;
    }
    p
}

#[test]
fn running_product() {
    let g = product_grad(0.5, 4);
    fd(|p| product(p[0], 4), &[0.5], &[g]);
}

#[grad(wrt = x)]
fn until_large(x: f64) -> f64 {
    let mut s = 0.0;
    let mut k = 0;
    while s < 10.0 {
        s += x * x + k as f64;
        k += 1;
    }
    s
}

#[test]
fn while_loop() {
    let g = until_large_grad(1.3);
    fd(|p| until_large(p[0]), &[1.3], &[g]);
}

#[grad(wrt = x)]
fn with_break(x: f64, xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for (i, v) in xs.iter().enumerate() {
        if i == 3 {
            break;
        }
        if *v < 0.0 {
            continue;
        }
        s += (x * v).sin();
    }
    s
}

#[test]
fn break_and_continue() {
    let g = with_break_grad(0.9, &XS);
    fd(|p| with_break(p[0], &XS), &[0.9], &[g]);
}

#[grad(wrt = x)]
fn early(x: f64, xs: &[f64]) -> f64 {
    if x < -10.0 {
        return 0.0;
    }
    let mut s = x;
    for v in xs.iter() {
        s = s * v + x;
        if s > 5.0 {
            return s * x;
        }
    }
    s
}

#[test]
fn early_return_from_a_loop() {
    for x in [0.3, 1.7, -0.4, -20.0] {
        let (v, g) = early_value_and_grad(x, &XS);
        assert_eq!(v, early(x, &XS));
        fd(|p| early(p[0], &XS), &[x], &[g]);
    }
}

#[derive(Clone, Copy)]
enum Loss {
    Squared,
    Huber(f64),
    Abs,
}

#[grad(wrt = r)]
fn loss(r: f64, kind: Loss, n: i32) -> f64 {
    let base = match kind {
        Loss::Squared => r * r,
        Loss::Huber(d) => {
            if r.abs() < d {
                0.5 * r * r
            } else {
                d * (r.abs() - 0.5 * d)
            }
        }
        Loss::Abs => r.abs(),
    };
    let scale = match n {
        0 => 1.0,
        1 | 2 => 2.0,
        _ => r,
    };
    base * scale
}

#[test]
fn match_on_enum_and_integer() {
    for kind in [Loss::Squared, Loss::Huber(1.0), Loss::Abs] {
        for n in 0..4 {
            for r in [0.4, 2.5] {
                let (v, g) = loss_value_and_grad(r, kind, n);
                assert_eq!(v, loss(r, kind, n));
                fd(|p| loss(p[0], kind, n), &[r], &[g]);
            }
        }
    }
}

#[grad(wrt = w)]
fn folded(w: f64, xs: &[f64]) -> f64 {
    let p = xs.iter().map(|x| w + x).product::<f64>();
    let f = xs.iter().fold(w, |acc, x| (acc * x).sin());
    p + f
}

#[test]
fn product_and_fold() {
    let g = folded_grad(0.3, &XS);
    fd(|p| folded(p[0], &XS), &[0.3], &[g]);
}

#[grad(wrt = w)]
fn nested(w: [[f64; 3]; 2], x: &[[f64; 3]]) -> f64 {
    let mut total = 0.0;
    for row in x.iter() {
        let mut z = [0.0; 2];
        for k in 0..2 {
            for f in 0..3 {
                z[k] += w[k][f] * row[f];
            }
        }
        let m = z[0].max(z[1]);
        total += m + ((z[0] - m).exp() + (z[1] - m).exp()).ln();
    }
    total
}

#[test]
fn nested_loops_with_a_local_array() {
    let w = [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]];
    let x = [[1.0, 0.5, -1.0], [0.2, -0.3, 0.8], [1.5, 1.0, 0.1]];
    let g = nested_grad(w, &x);
    let flat: Vec<f64> = w.iter().flatten().copied().collect();
    let gf: Vec<f64> = g.iter().flatten().copied().collect();
    fd(
        |p| nested([[p[0], p[1], p[2]], [p[3], p[4], p[5]]], &x),
        &flat,
        &gf,
    );
}

#[grad(wrt = a)]
fn ranges(a: f64) -> f64 {
    let mut s = 0.0;
    for k in (0..4).rev() {
        s = s * a + k as f64;
    }
    for k in 1..=3 {
        s += a.powi(k);
    }
    s
}

#[test]
fn reversed_and_inclusive_ranges() {
    let g = ranges_grad(0.7);
    fd(|p| ranges(p[0]), &[0.7], &[g]);
}

#[grad(wrt = w)]
fn branchy(w: &[f32], x: &[f32], flag: bool) -> f32 {
    let mut s = 0.0;
    if flag {
        let mut h = 0.0;
        for (wi, xi) in w.iter().zip(x) {
            h = (h * wi + xi).sin();
            if h > 0.9 {
                return h;
            }
        }
        s += h * w.len() as f32;
    }
    s
}

#[test]
fn f32_loop_inside_a_branch_with_return() {
    let x = [0.5_f32, 1.0, -0.25, 0.75];
    for w in [[0.3_f32, -0.2, 0.5, 0.1], [1.5, 1.2, 1.0, 2.0]] {
        let (v, g) = branchy_value_and_grad(&w, &x, true);
        assert_eq!(v, branchy(&w, &x, true));
        let w64: Vec<f64> = w.iter().map(|&a| f64::from(a)).collect();
        let g64: Vec<f64> = g.iter().map(|&a| f64::from(a)).collect();
        let f = |p: &[f64]| {
            let p32: Vec<f32> = p.iter().map(|&a| a as f32).collect();
            f64::from(branchy(&p32, &x, true))
        };
        let numeric = backprop::check::numeric_gradient(f, &w64);
        for (a, n) in g64.iter().zip(&numeric) {
            assert!(
                (a - n).abs() < 2e-2 * (1.0 + n.abs()),
                "{g64:?} vs {numeric:?}"
            );
        }
        assert_eq!(branchy_grad(&w, &x, false), vec![0.0; 4]);
    }
}

#[grad(wrt = w, b)]
fn rows(w: [[f64; 3]; 2], b: [f64; 2], x: &[f64]) -> f64 {
    let mut total = 0.0;
    for k in 0..w.len() {
        let z = w[k].iter().zip(x).map(|(a, xi)| a * xi).sum::<f64>() + b[k];
        total += z.tanh();
    }
    total
}

#[test]
fn rows_of_a_matrix_iterated() {
    let w = [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6]];
    let b = [0.05, -0.1];
    let x = [1.0, -0.5, 2.0];
    let (gw, gb) = rows_grad(w, b, &x);
    let mut flat: Vec<f64> = w.iter().flatten().copied().collect();
    flat.extend(b);
    let mut g: Vec<f64> = gw.iter().flatten().copied().collect();
    g.extend(gb);
    fd(
        |p| rows([[p[0], p[1], p[2]], [p[3], p[4], p[5]]], [p[6], p[7]], &x),
        &flat,
        &g,
    );
}

#[grad(wrt = w)]
fn walk(w: &[f64], stride: usize) -> f64 {
    let mut i = 0;
    let mut s = 0.0;
    while i < w.len() {
        if i % 3 == 1 {
            i += 1;
            continue;
        }
        s = s * 0.5 + w[i] * w[i];
        i += stride;
    }
    s
}

#[test]
fn while_with_an_index_and_continue() {
    let w = [0.3, -0.7, 1.1, 0.4, -0.2, 0.9, 0.05];
    for stride in 1..4 {
        let g = walk_grad(&w, stride);
        fd(|p| walk(p, stride), &w, &g);
    }
}

// `return` in an arm is what is tested here.
#[allow(clippy::needless_return)]
#[grad(wrt = r)]
fn guarded(r: f64, k: Option<f64>) -> f64 {
    match k {
        Some(c) if c > 1.0 => return (r * c).sin(),
        Some(c) => r * r * c,
        None => r.exp(),
    }
}

#[test]
fn match_with_guard_binding_and_return() {
    for k in [Some(2.0), Some(0.5), None] {
        let (v, g) = guarded_value_and_grad(0.7, k);
        assert_eq!(v, guarded(0.7, k));
        fd(|p| guarded(p[0], k), &[0.7], &[g]);
    }
}

#[grad(wrt = w)]
fn styles(w: [f64; 3], xs: &[f64], ys: &[f64], flag: bool) -> f64 {
    let fit = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| (w[0] * x - y).powi(2))
        .sum::<f64>();
    let mut by_ref = 0.0;
    for wi in &w {
        by_ref += wi * wi;
    }
    let mut by_value = 1.0;
    for wi in w {
        by_value *= wi;
    }
    let scale = match flag {
        true => 2.0,
        false => 0.5,
    };
    scale * fit + by_ref + by_value
}

#[test]
fn iterator_sum_array_by_reference_and_by_value_and_bool_match() {
    let w = [0.4, -1.1, 0.6];
    for flag in [true, false] {
        let (v, g) = styles_value_and_grad(w, &XS, &YS, flag);
        assert_eq!(v, styles(w, &XS, &YS, flag));
        fd(|p| styles([p[0], p[1], p[2]], &XS, &YS, flag), &w, &g);
    }
}

#[grad(wrt = w1, w2)]
fn mlp(w1: [[f64; 2]; 3], w2: [f64; 3], data: &[([f64; 2], f64)]) -> f64 {
    let mut loss = 0.0;
    for (x, t) in data.iter() {
        let mut h = [0.0; 3];
        for (j, row) in w1.iter().enumerate() {
            h[j] = row.iter().zip(x).map(|(a, xi)| a * xi).sum::<f64>().tanh();
        }
        let mut o = 0.0;
        for (row, hj) in w1.iter().zip(&h) {
            o += row[0] * 0.1 * hj;
        }
        for (v, hj) in w2.iter().zip(h) {
            o += v * hj;
        }
        loss += (o - t).powi(2);
    }
    loss
}

#[test]
fn rows_iterated_by_name() {
    let w1 = [[0.1, -0.2], [0.3, 0.4], [-0.5, 0.6]];
    let w2 = [1.0, -1.0, 0.5];
    let data = [([0.7, -0.3], 1.0), ([0.2, 0.9], -0.5), ([-1.0, 0.4], 0.3)];
    let (g1, g2) = mlp_grad(w1, w2, &data);
    let mut flat: Vec<f64> = w1.iter().flatten().copied().collect();
    flat.extend(w2);
    let mut g: Vec<f64> = g1.iter().flatten().copied().collect();
    g.extend(g2);
    fd(
        |p| {
            mlp(
                [[p[0], p[1]], [p[2], p[3]], [p[4], p[5]]],
                [p[6], p[7], p[8]],
                &data,
            )
        },
        &flat,
        &g,
    );
}

// Found by the new-user trial of issue 4 (each once a bug).

#[grad(wrt = w)]
fn map_fold(w: [f64; 3], xs: &[f64]) -> f64 {
    let a = w.iter().map(|x| x * x).fold(0.0, |acc, b| acc + b * b);
    let m = xs
        .iter()
        .map(|x| x * w[0])
        .fold(f64::NEG_INFINITY, |acc, b| acc.max(b));
    let c = w.iter().map(|x| x + 1.0).map(|y| y * y).sum::<f64>();
    a + m + c
}

#[test]
fn map_then_fold_and_chained_maps() {
    let w = [0.3, -0.5, 1.2];
    let (v, g) = map_fold_value_and_grad(w, &XS);
    assert_eq!(v, map_fold(w, &XS));
    fd(|p| map_fold([p[0], p[1], p[2]], &XS), &w, &g);
}

#[grad(wrt = w)]
fn hinge_like(w: f64, xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for x in xs {
        if *x > 0.0 {
            s += w * x;
        } else {
            s += w * w;
        }
    }
    s + xs
        .iter()
        .map(|x| if *x > 1.0 { w * x } else { 0.0 })
        .sum::<f64>()
}

#[test]
fn a_derivative_that_is_a_loop_item() {
    let (v, g) = hinge_like_value_and_grad(0.7, &XS);
    assert_eq!(v, hinge_like(0.7, &XS));
    fd(|p| hinge_like(p[0], &XS), &[0.7], &[g]);
}

pub enum Act {
    Tanh,
    Leaky { slope: f64 },
    Elu { alpha: f64 },
}

#[grad(wrt = z)]
fn act(z: f64, a: &Act) -> f64 {
    match a {
        Act::Tanh => z.tanh(),
        Act::Leaky { slope } => {
            if z > 0.0 {
                z
            } else {
                slope * z
            }
        }
        Act::Elu { alpha } => {
            if z > 0.0 {
                z
            } else {
                alpha * (z.exp() - 1.0)
            }
        }
    }
}

#[test]
fn match_on_a_reference_with_struct_variants() {
    for a in [
        Act::Tanh,
        Act::Leaky { slope: 0.1 },
        Act::Elu { alpha: 1.5 },
    ] {
        for z in [-0.8, 0.6] {
            let (v, g) = act_value_and_grad(z, &a);
            assert_eq!(v, act(z, &a));
            fd(|p| act(p[0], &a), &[z], &[g]);
        }
    }
}

#[grad(wrt = a)]
fn nll(a: f64, ys: &[f64]) -> f64 {
    let mut ll = 0.0;
    for y in ys {
        ll -= 0.5 * (a * y).ln();
    }
    -ll
}

#[test]
fn negated_accumulator() {
    let ys = [0.5, 1.5, 2.0];
    let g = nll_grad(1.3, &ys);
    fd(|p| nll(p[0], &ys), &[1.3], &[g]);
}

#[grad(wrt = k)]
fn decay(k: f64) -> f64 {
    let mut y = 1.0;
    for _ in 0..100_000 {
        y -= 1e-5 * k * y;
    }
    y
}

#[test]
fn a_long_constant_loop_keeps_its_state_on_the_heap() {
    // 100 000 iterations: too many for the stack of a test thread.
    let g = decay_grad(0.8);
    let exact = -(-0.8_f64).exp(); // y = e^(−k) in the limit; the Euler steps are close
    assert!((g - exact).abs() < 1e-3, "{g} vs {exact}");
    fd(|p| decay(p[0]), &[0.8], &[g]);
}

#[grad(wrt = w)]
fn copy_data(w: f64, x: [f64; 3]) -> f64 {
    let mut z = [0.0; 3];
    for i in 0..3 {
        z[i] = x[2 - i];
    }
    let mut s = 0.0;
    for zi in z.iter() {
        s += w * zi;
    }
    s
}

#[test]
fn data_stored_in_a_local_array() {
    let x = [1.0, 2.0, 3.0];
    assert_eq!(copy_data_grad(0.5, x), 6.0);
}

#[grad(wrt = w)]
fn any_iterator(
    w: f64,
    counts: &std::collections::BTreeMap<u32, f64>,
    word: &str,
    n: usize,
) -> f64 {
    let mut s = 0.0;
    for (k, c) in counts {
        s += w * c * f64::from(*k);
    }
    for (i, ch) in word.chars().enumerate() {
        if ch == 'a' {
            continue;
        }
        s += (w * i as f64).sin();
    }
    for (x, k) in [1.0, 2.0, 3.0].iter().zip(1..) {
        s += w * x * f64::from(k);
    }
    for i in (0..).take(n) {
        if i > 2 {
            break;
        }
        s += w.powi(i);
    }
    s
}

#[test]
fn accumulating_loops_over_iterators_that_do_not_reverse() {
    let counts: std::collections::BTreeMap<u32, f64> = [(1, 0.5), (3, 2.0)].into_iter().collect();
    let g = any_iterator_grad(0.8, &counts, "banana", 5);
    fd(|p| any_iterator(p[0], &counts, "banana", 5), &[0.8], &[g]);
}

/// A tiny generator: each call changes its state.
pub struct Lcg(u64);

impl Lcg {
    pub fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[grad(wrt = w)]
fn dropout(w: [f64; 4], x: [f64; 4], y: f64, rng: &mut Lcg, calls: &std::cell::Cell<u32>) -> f64 {
    let mut pred = 0.0;
    for i in 0..4 {
        calls.set(calls.get() + 1);
        let keep = rng.next_f64() < 0.5;
        let scale = 1.0 + rng.next_f64();
        if keep {
            pred += scale * w[i] * x[i];
        }
    }
    (pred - y).powi(2)
}

#[test]
fn calls_in_a_loop_body_run_once_and_the_reverse_sweep_reads_what_they_gave() {
    let w = [0.3, -0.2, 0.5, 0.1];
    let x = [1.0, 2.0, -1.0, 0.5];
    let calls = std::cell::Cell::new(0);
    let (v, g) = dropout_value_and_grad(w, x, 0.7, &mut Lcg(42), &calls);
    assert_eq!(calls.get(), 4, "a call in the loop body ran again");
    assert_eq!(v, dropout(w, x, 0.7, &mut Lcg(42), &calls));
    // The same draws for every evaluation: the function of w the gradient is of.
    fd(
        |p| dropout([p[0], p[1], p[2], p[3]], x, 0.7, &mut Lcg(42), &calls),
        &w,
        &g,
    );
}

#[grad(wrt = w)]
fn in_place(mut w: [f64; 3], xs: &[f64], mut rng: Lcg) -> f64 {
    w[0] = w[1] * w[2];
    let mut v: Vec<f64> = xs.to_vec();
    v.truncate(2);
    let r = rng.next_f64();
    w[0] * v.len() as f64 + w[1] * r
}

#[test]
fn data_and_arrays_changed_in_place() {
    let w = [0.5, 2.0, -3.0];
    let (v, g) = in_place_value_and_grad(w, &XS, Lcg(7));
    assert_eq!(v, in_place(w, &XS, Lcg(7)));
    fd(|p| in_place([p[0], p[1], p[2]], &XS, Lcg(7)), &w, &g);
}

// Found by the loop generator (each once a bug).

#[grad(wrt = w)]
fn unchanged_carry(w: f64, flag: bool) -> f64 {
    let mut v = w;
    let u = w * 2.0;
    for _ in 0..2 {
        let t = v;
        if t.is_finite() {
            v = t;
        }
        if flag {
            let mut u = 1.0;
            u -= w;
            v += u * 0.0;
        }
    }
    v * u
}

#[grad(wrt = w)]
fn array_after_return(w: f64, k: i32) -> f64 {
    if k > 1 {
        return w;
    }
    let mut z = [0.0; 2];
    z[0] = w;
    z[0] * z[0]
}

#[grad(wrt = w)]
fn data_sums(w: f64, xs: [f64; 2], k: i32) -> f64 {
    let a = xs.iter().map(|&c| c.sin()).sum::<f64>();
    let b = xs.iter().zip(&xs).map(|(&c, &d)| c * d).product::<f64>();
    let v = backprop::sigmoid(match k {
        0 => xs[0],
        _ => 1.0,
    });
    w * (a + b + v)
}

#[grad(wrt = wa)]
fn signed_zero(wa: [f64; 2]) -> f64 {
    wa.iter().map(|&c| c * 1.0).sum::<f64>()
}

#[test]
fn generator_findings() {
    for flag in [true, false] {
        let (v, g) = unchanged_carry_value_and_grad(0.7, flag);
        assert_eq!(v, unchanged_carry(0.7, flag));
        fd(|p| unchanged_carry(p[0], flag), &[0.7], &[g]);
    }
    for k in [0, 2] {
        let (v, g) = array_after_return_value_and_grad(0.7, k);
        assert_eq!(v, array_after_return(0.7, k));
        fd(|p| array_after_return(p[0], k), &[0.7], &[g]);
        let (v, g) = data_sums_value_and_grad(0.7, [0.3, -0.4], k);
        assert_eq!(v, data_sums(0.7, [0.3, -0.4], k));
        fd(|p| data_sums(p[0], [0.3, -0.4], k), &[0.7], &[g]);
    }
    let (v, _) = signed_zero_value_and_grad([-0.0, -0.0]);
    assert_eq!(v.to_bits(), signed_zero([-0.0, -0.0]).to_bits());
}

// Index loops are what is tested here.
#[allow(clippy::needless_range_loop)]
#[grad(wrt = w)]
fn flags_and_nesting(w: f64, xs: &[f64]) -> f64 {
    let mut found = false;
    let mut total = 0.0;
    for x in xs {
        if *x > 1.0 {
            found = true;
        }
        // An inner recurrence that stops early, inside an accumulating loop.
        let mut h = *x;
        for k in 0..5 {
            h = (h * w + k as f64 * 0.1).sin();
            if h < -0.5 {
                break;
            }
        }
        total += h;
    }
    let mut m = [[0.0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            m[i][j] = w * (i + 2 * j) as f64;
        }
    }
    let mut s = 0.0;
    for row in m.iter() {
        for v in row.iter() {
            s += v * v;
        }
    }
    let mut y = w;
    while y.abs() < 5.0 {
        y = y * 1.7 + 0.1;
    }
    if found {
        total + s + y
    } else {
        s - y
    }
}

#[test]
fn flags_nested_recurrences_local_matrix_rows_and_while_on_a_float() {
    for w in [0.6, -0.9] {
        let (v, g) = flags_and_nesting_value_and_grad(w, &XS);
        assert_eq!(v, flags_and_nesting(w, &XS));
        fd(|p| flags_and_nesting(p[0], &XS), &[w], &[g]);
        let small = [0.5, 0.25];
        let (v, g) = flags_and_nesting_value_and_grad(w, &small);
        assert_eq!(v, flags_and_nesting(w, &small));
        fd(|p| flags_and_nesting(p[0], &small), &[w], &[g]);
    }
}

#[grad(wrt = w)]
fn argmin_then_loss(w: [f64; 3], x: f64) -> f64 {
    // k-means style: the nearest centre (data: an index), then the loss through it.
    let mut best = 0;
    let mut best_d = f64::INFINITY;
    for (k, wk) in w.iter().enumerate() {
        let d = (x - wk).abs();
        if d < best_d {
            best_d = d;
            best = k;
        }
    }
    let mut count = 0;
    for (k, wk) in w.iter().enumerate() {
        if *wk > 0.0 {
            count = k + 1;
        }
    }
    (x - w[best]).powi(2) + w[0] * count as f64
}

#[test]
fn an_index_found_in_a_loop_over_a_differentiated_array() {
    let w = [0.2, 1.5, -0.7];
    for x in [1.2, -1.0] {
        let (v, g) = argmin_then_loss_value_and_grad(w, x);
        assert_eq!(v, argmin_then_loss(w, x));
        fd(|p| argmin_then_loss([p[0], p[1], p[2]], x), &w, &g);
    }
}

// Two loops over the same range, the second reading elements of an array the first writes:
// merged into one loop only when each iteration reads the element it writes (a new-user
// review found `m[3 - i]` merged, with the value and the gradient wrong).

#[grad(wrt = w)]
#[allow(clippy::needless_range_loop)] // written as index loops on purpose
fn mirrored(w: [f64; 4]) -> f64 {
    let mut m = [0.0; 4];
    for i in 0..4 {
        m[i] = w[i] * w[i];
    }
    let mut s = 0.0;
    for i in 0..4 {
        s += m[i] * m[3 - i];
    }
    s
}

#[grad(wrt = w)]
#[allow(clippy::needless_range_loop)] // written as index loops on purpose
fn neighbours(w: [f64; 4], x: [f64; 4]) -> f64 {
    let mut pred = [0.0; 4];
    for i in 0..4 {
        pred[i] = (w[i] * x[i]).tanh();
    }
    let mut s = 0.0;
    for i in 0..4 {
        s += (pred[i] - pred[(i + 1) % 4]).powi(2) + pred[3] * w[i];
    }
    s
}

#[grad(wrt = w)]
#[allow(clippy::needless_range_loop)] // written as index loops on purpose
fn transposed(w: [[f64; 2]; 2]) -> f64 {
    let mut m = [[0.0; 2]; 2];
    for i in 0..2 {
        for j in 0..2 {
            m[i][j] = w[i][j].sin() * w[j][i];
        }
    }
    let mut s = 0.0;
    for i in 0..2 {
        for j in 0..2 {
            s += m[i][j] * m[j][i];
        }
    }
    s
}

const IDX: [usize; 4] = [2, 0, 3, 1];

#[grad(wrt = w)]
#[allow(clippy::needless_range_loop)] // written as index loops on purpose
fn gathered(w: [f64; 4], x: f64) -> f64 {
    let mut z = [0.0; 4];
    for i in 0..4 {
        z[IDX[i]] = w[i] * w[i] + x;
    }
    let mut t = 0.0;
    for i in 0..4 {
        t += z[IDX[i]] * z[i] * x;
    }
    t
}

/// The same index in both loops: merged, and right.
#[grad(wrt = w)]
#[allow(clippy::needless_range_loop)] // written as index loops on purpose
fn elementwise(w: [f64; 4]) -> f64 {
    let mut m = [0.0; 4];
    for i in 0..4 {
        m[i] = w[i] * w[i];
    }
    let mut s = 0.0;
    for i in 0..4 {
        s += m[i] * m[i] * w[i];
    }
    s
}

#[test]
fn loops_reading_other_iterations_elements() {
    let w = [0.3, -0.8, 0.5, 1.7];
    let (v, g) = mirrored_value_and_grad(w);
    assert_eq!(v, mirrored(w));
    // 2(w0² w3² + w1² w2²): ∂/∂w0 = 4 w0 w3².
    assert!((g[0] - 4.0 * 0.3 * 1.7 * 1.7).abs() < 1e-12, "{g:?}");
    fd(|p| mirrored([p[0], p[1], p[2], p[3]]), &w, &g);

    let x = [1.5, -0.5, 2.0, 0.75];
    let (v, g) = neighbours_value_and_grad(w, x);
    assert_eq!(v, neighbours(w, x));
    fd(|p| neighbours([p[0], p[1], p[2], p[3]], x), &w, &g);

    let m = [[0.3, -0.8], [0.5, 1.7]];
    let (v, g) = transposed_value_and_grad(m);
    assert_eq!(v, transposed(m));
    fd(
        |p| transposed([[p[0], p[1]], [p[2], p[3]]]),
        &[0.3, -0.8, 0.5, 1.7],
        &[g[0][0], g[0][1], g[1][0], g[1][1]],
    );

    let (v, g) = gathered_value_and_grad(w, 0.6);
    assert_eq!(v, gathered(w, 0.6));
    fd(|p| gathered([p[0], p[1], p[2], p[3]], 0.6), &w, &g);

    let (v, g) = elementwise_value_and_grad(w);
    assert_eq!(v, elementwise(w));
    for i in 0..4 {
        assert!((g[i] - 5.0 * w[i].powi(4)).abs() < 1e-12, "{g:?}");
    }
}

/// The rows of a differentiated 2-D array, iterated bare: by reference when the outer loop
/// bound them by reference (`w.iter()`, `&w`), by value otherwise.
#[grad(wrt = w)]
fn rows_bare(w: [[f64; 2]; 2], k: f64) -> f64 {
    let mut s = 0.0;
    for row in w.iter() {
        for &v in row {
            s += v * v * k;
        }
    }
    for row in &w {
        for v in row {
            s += v.sin();
        }
    }
    for row in w {
        for v in row {
            s += v * k;
        }
    }
    s
}

#[test]
fn rows_iterated_bare() {
    let w = [[0.5, -1.0], [2.0, 0.25]];
    let (v, g) = rows_bare_value_and_grad(w, 1.5);
    assert_eq!(v, rows_bare(w, 1.5));
    for i in 0..2 {
        for j in 0..2 {
            let want = 2.0 * w[i][j] * 1.5 + w[i][j].cos() + 1.5;
            assert!((g[i][j] - want).abs() < 1e-12, "{g:?}");
        }
    }
}
