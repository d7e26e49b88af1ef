//! The lecture notes' one-hidden-layer network (`shared/seeds/` 000, "Back-propagation by
//! hand"), with its weights as arrays, trained by gradient descent on two interleaved half-moons.
//!
//! The notes' network, for one input `x` (here 2 features) and `H` hidden units:
//!
//! ```text
//! h1 = W1 x + b1          affine        (W1: H × 2, b1: H)
//! a1 = σ(h1)              activation    (σ(h) = 1 / (1 + e^−h), the notes' activation)
//! h2 = W2 · a1 + b2       affine        (W2: H, b2: 1)
//! y  = σ(h2)              output, the probability of class 1
//! L  = (1/n) Σ (y_pred − y_true)²      the notes' mean squared error
//! ```
//!
//! The notes derive `∂L/∂W1 = ∂L/∂y · ∂y/∂h2 · ∂h2/∂a1 · ∂a1/∂h1 · ∂h1/∂W1` and
//! `∂L/∂W2 = ∂L/∂y · ∂y/∂h2 · ∂h2/∂W2` by hand (with `∂L/∂y = 2 (y − y_true) / n`,
//! `∂y/∂h2 = y (1 − y)`, `∂h2/∂a1 = W2`, `∂a1/∂h1 = a1 (1 − a1)`, `∂h1/∂W1 = x`); here
//! [`loss`] is the forward pass only, over the whole data set, and `#[grad]` writes that backward
//! pass. The "affine" layers carry an intercept, as the notes' `h = β0 + β1 X` does: without
//! one, every hidden unit's line would pass through the origin.
//!
//! The data: 200 points on two interleaved half-circles ("two moons"), 100 per class, with
//! Gaussian noise, from a fixed-seed linear congruential generator written below (no
//! dependency), which also draws the initial weights ("randomly initialize the weights").
//!
//! It prints: the gradient check at the start (the macro's gradient against central finite
//! differences, all 33 components, and against the chain rule above written by hand), the loss
//! and accuracy every 1000 steps, the final loss and accuracy, and a map of the learnt decision
//! regions with the training points on it.
//!
//! ```text
//! cargo run --release --example network
//! ```

use backprop::check::{check_gradient, GradCheckError, Tolerance};
use backprop::{grad, sigmoid};

/// Hidden units.
pub const H: usize = 8;
pub const LEARNING_RATE: f64 = 2.0;
pub const STEPS: usize = 10_000;
const REPORT_EVERY: usize = 1_000;

/// One training point: its 2 features and its class, `0.0` or `1.0`.
pub type Point = ([f64; 2], f64);

/// The network's parameters, as the notes lay them out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Net {
    pub w1: [[f64; 2]; H],
    pub b1: [f64; H],
    pub w2: [f64; H],
    pub b2: f64,
}

/// Mean squared error of the network's predictions over `data`.
#[grad(wrt = w1, b1, w2, b2)]
pub fn loss(w1: [[f64; 2]; H], b1: [f64; H], w2: [f64; H], b2: f64, data: &[Point]) -> f64 {
    let mut total = 0.0;
    for (x, y_true) in data.iter() {
        let mut a1 = [0.0; H];
        for j in 0..H {
            let h1 = w1[j][0] * x[0] + w1[j][1] * x[1] + b1[j];
            a1[j] = sigmoid(h1);
        }
        let mut h2 = b2;
        for j in 0..H {
            h2 += w2[j] * a1[j];
        }
        let y_pred = sigmoid(h2);
        total += (y_pred - y_true) * (y_pred - y_true);
    }
    total / data.len() as f64
}

impl Net {
    /// Weights drawn from `N(0, 1)`, biases 0.
    pub fn random(rng: &mut Lcg) -> Net {
        Net {
            w1: std::array::from_fn(|_| [rng.normal(), rng.normal()]),
            b1: [0.0; H],
            w2: std::array::from_fn(|_| rng.normal()),
            b2: 0.0,
        }
    }

    pub fn loss(&self, data: &[Point]) -> f64 {
        loss(self.w1, self.b1, self.w2, self.b2, data)
    }

    /// The loss and its gradient, as a `Net` of partial derivatives.
    pub fn value_and_grad(&self, data: &[Point]) -> (f64, Net) {
        let (value, (w1, b1, w2, b2)) =
            loss_value_and_grad(self.w1, self.b1, self.w2, self.b2, data);
        (value, Net { w1, b1, w2, b2 })
    }

    /// The predicted probability of class 1 at `x`.
    pub fn predict(&self, x: &[f64; 2]) -> f64 {
        let mut h2 = self.b2;
        for j in 0..H {
            let h1 = self.w1[j][0] * x[0] + self.w1[j][1] * x[1] + self.b1[j];
            h2 += self.w2[j] * sigmoid(h1);
        }
        sigmoid(h2)
    }

    /// The fraction of `data` on the right side of `y = 0.5`.
    pub fn accuracy(&self, data: &[Point]) -> f64 {
        let correct = data
            .iter()
            .filter(|(x, y_true)| (self.predict(x) > 0.5) == (*y_true > 0.5))
            .count();
        correct as f64 / data.len() as f64
    }

    /// The 33 parameters as one vector: `w1` row by row, `b1`, `w2`, `b2`.
    pub fn flatten(&self) -> Vec<f64> {
        let mut p: Vec<f64> = self.w1.iter().flatten().copied().collect();
        p.extend(self.b1);
        p.extend(self.w2);
        p.push(self.b2);
        p
    }

    /// The inverse of [`Net::flatten`].
    pub fn from_flat(p: &[f64]) -> Net {
        Net {
            w1: std::array::from_fn(|j| [p[2 * j], p[2 * j + 1]]),
            b1: std::array::from_fn(|j| p[2 * H + j]),
            w2: std::array::from_fn(|j| p[3 * H + j]),
            b2: p[4 * H],
        }
    }

    /// One step of gradient descent; returns the loss before the step.
    pub fn step(&mut self, data: &[Point], learning_rate: f64) -> f64 {
        let (value, g) = self.value_and_grad(data);
        for j in 0..H {
            for i in 0..2 {
                self.w1[j][i] -= learning_rate * g.w1[j][i];
            }
            self.b1[j] -= learning_rate * g.b1[j];
            self.w2[j] -= learning_rate * g.w2[j];
        }
        self.b2 -= learning_rate * g.b2;
        value
    }
}

/// The notes' chain rule written out by hand for this network, to compare with the macro's.
pub fn hand_grad(net: &Net, data: &[Point]) -> Net {
    let n = data.len() as f64;
    let mut g = Net {
        w1: [[0.0; 2]; H],
        b1: [0.0; H],
        w2: [0.0; H],
        b2: 0.0,
    };
    for (x, y_true) in data {
        let a1: [f64; H] =
            std::array::from_fn(|j| sigmoid(net.w1[j][0] * x[0] + net.w1[j][1] * x[1] + net.b1[j]));
        let h2 = net.b2 + (0..H).map(|j| net.w2[j] * a1[j]).sum::<f64>();
        let y = sigmoid(h2);
        let d_h2 = 2.0 * (y - y_true) / n * y * (1.0 - y); // ∂L/∂y · ∂y/∂h2
        g.b2 += d_h2;
        for (j, &a) in a1.iter().enumerate() {
            g.w2[j] += d_h2 * a; // · ∂h2/∂W2
            let d_h1 = d_h2 * net.w2[j] * a * (1.0 - a); // · ∂h2/∂a1 · ∂a1/∂h1
            g.w1[j][0] += d_h1 * x[0]; // · ∂h1/∂W1
            g.w1[j][1] += d_h1 * x[1];
            g.b1[j] += d_h1;
        }
    }
    g
}

/// Compares the macro's gradient of [`loss`] at `net` with central finite differences.
pub fn check(net: &Net, data: &[Point]) -> Result<(), GradCheckError> {
    let (_, g) = net.value_and_grad(data);
    let f = |p: &[f64]| Net::from_flat(p).loss(data);
    check_gradient(f, &net.flatten(), &g.flatten(), Tolerance::default())
}

/// Knuth's MMIX linear congruential generator: plenty for reproducible toy data.
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform in `[0, 1)`, from the top 53 bits of the state.
    pub fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal, by the Box–Muller transform.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1]: ln is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// `n` points per class on two interleaved half-circles, each coordinate with `N(0, noise²)`
/// added: class 0 on `(cos t, sin t)`, class 1 on `(1 − cos t, 0.5 − sin t)`, `t ∈ [0, π]`.
pub fn two_moons(n: usize, noise: f64, rng: &mut Lcg) -> Vec<Point> {
    let mut data = Vec::with_capacity(2 * n);
    for i in 0..n {
        let t = std::f64::consts::PI * i as f64 / (n - 1) as f64;
        let (s, c) = t.sin_cos();
        data.push(([c + noise * rng.normal(), s + noise * rng.normal()], 0.0));
        data.push((
            [
                1.0 - c + noise * rng.normal(),
                0.5 - s + noise * rng.normal(),
            ],
            1.0,
        ));
    }
    data
}

/// The seed of the data and of the initial weights.
pub const SEED: u64 = 2024;

/// The data set: 2 × 100 points, noise 0.15.
pub fn data_set(rng: &mut Lcg) -> Vec<Point> {
    two_moons(100, 0.15, rng)
}

fn main() {
    let mut rng = Lcg(SEED);
    let data = data_set(&mut rng);
    let mut net = Net::random(&mut rng);

    match check(&net, &data) {
        Ok(()) => println!("gradient check: all 33 components agree with finite differences"),
        Err(e) => panic!("{e}"),
    }
    let (_, g) = net.value_and_grad(&data);
    let largest = g
        .flatten()
        .iter()
        .zip(hand_grad(&net, &data).flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!("largest difference from the chain rule written by hand: {largest:.1e}");
    println!();

    println!(" step   mean loss   accuracy");
    for s in 0..STEPS {
        let acc = (s % REPORT_EVERY == 0).then(|| net.accuracy(&data));
        let value = net.step(&data, LEARNING_RATE);
        if let Some(acc) = acc {
            println!("{s:5}   {value:.6}    {:5.1}%", 100.0 * acc);
        }
    }
    let acc = net.accuracy(&data);
    println!();
    println!(
        "after {STEPS} steps (learning rate {LEARNING_RATE}): mean squared error {:.6}",
        net.loss(&data)
    );
    println!(
        "training accuracy: {}/{} = {:.1}%",
        (acc * data.len() as f64).round(),
        data.len(),
        100.0 * acc
    );

    // The decision regions: `-` where the network predicts class 0, `+` for class 1; the
    // training points on top, `o` for class 0 and `x` for class 1.
    println!();
    println!("decision regions (- class 0, + class 1) and training points (o class 0, x class 1)");
    let (cols, rows) = (64, 20);
    let (x_min, x_max, y_min, y_max) = (-1.5, 2.5, -1.0, 1.5);
    let cell = |x: &[f64; 2]| {
        let c = ((x[0] - x_min) / (x_max - x_min) * cols as f64).floor();
        let r = ((y_max - x[1]) / (y_max - y_min) * rows as f64).floor();
        (c >= 0.0 && r >= 0.0 && c < cols as f64 && r < rows as f64)
            .then_some((r as usize, c as usize))
    };
    let mut map: Vec<Vec<char>> = (0..rows)
        .map(|r| {
            (0..cols)
                .map(|c| {
                    let x = x_min + (c as f64 + 0.5) / cols as f64 * (x_max - x_min);
                    let y = y_max - (r as f64 + 0.5) / rows as f64 * (y_max - y_min);
                    if net.predict(&[x, y]) > 0.5 {
                        '+'
                    } else {
                        '-'
                    }
                })
                .collect()
        })
        .collect();
    for (x, y_true) in &data {
        if let Some((r, c)) = cell(x) {
            map[r][c] = if *y_true > 0.5 { 'x' } else { 'o' };
        }
    }
    for row in map {
        println!("  {}", row.into_iter().collect::<String>());
    }
}
