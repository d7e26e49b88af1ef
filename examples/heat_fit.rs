//! Fitting a simulation by gradient descent, in reverse mode: the 1-D heat equation, 20 cells
//! stepped 100 times, whose unknowns are the diffusivity `kappa` and the whole initial profile
//! `u0` (21 parameters). The observations are the profile at two times, made from a known
//! `kappa` and bump; the fit starts from `kappa = 0.3` and a flat profile. `kappa` is
//! recovered; the initial profile only in part (diffusion erases its fine detail, so many
//! profiles fit the observations nearly as well: the misfit falls by a factor of about 5,000).
//!
//! `cargo run --release --example heat_fit`

use backprop::grad;

const N: usize = 20;

/// Squared misfit of the simulated profile at steps 50 and 100 against the observations, plus a
/// small penalty on a rough initial profile.
#[grad(wrt = kappa, u0)]
fn misfit(kappa: f64, u0: [f64; 20], mid: &[f64; 20], end: &[f64; 20]) -> f64 {
    let mut u = u0;
    let mut loss = 0.0;
    for t in 0..100 {
        let mut un = u;
        for i in 1..19 {
            un[i] = u[i] + kappa * 0.4 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
        if t == 49 {
            for i in 0..20 {
                loss += (u[i] - mid[i]).powi(2);
            }
        }
    }
    for i in 0..20 {
        loss += (u[i] - end[i]).powi(2);
    }
    for i in 1..20 {
        loss += 1e-3 * (u0[i] - u0[i - 1]).powi(2);
    }
    loss
}

/// The simulation alone: the profile after `steps` steps.
fn simulate(kappa: f64, u0: [f64; N], steps: usize) -> [f64; N] {
    let mut u = u0;
    for _ in 0..steps {
        let mut un = u;
        for i in 1..N - 1 {
            un[i] = u[i] + kappa * 0.4 * (u[i + 1] - 2.0 * u[i] + u[i - 1]);
        }
        u = un;
    }
    u
}

fn main() {
    let true_kappa = 0.8;
    let true_u0: [f64; N] =
        core::array::from_fn(|i| (-((i as f64 - 8.0) / 3.0).powi(2)).exp() + 0.2);
    let mid = simulate(true_kappa, true_u0, 50);
    let end = simulate(true_kappa, true_u0, 100);

    let (mut kappa, mut u0) = (0.3, [0.5; N]);
    // The explicit scheme is stable for `0.4 kappa <= 0.5`: steps keep `kappa` inside.
    let rate = 0.01;
    println!(
        "{:>6}  {:>12}  {:>8}  {:>10}",
        "step", "misfit", "kappa", "|u0 - true|"
    );
    for step in 0..=4000 {
        let (loss, (dk, du)) = misfit_value_and_grad(kappa, u0, &mid, &end);
        if step % 500 == 0 {
            let err = u0
                .iter()
                .zip(&true_u0)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt();
            println!("{step:>6}  {loss:>12.3e}  {kappa:>8.4}  {err:>10.4}");
        }
        kappa = (kappa - rate * dk).clamp(0.0, 1.2);
        for i in 0..N {
            u0[i] -= 10.0 * rate * du[i];
        }
    }
    println!();
    println!("fitted kappa {kappa:.4} (true {true_kappa})");
    println!("cell   fitted u0   true u0");
    for i in (0..N).step_by(3) {
        println!("{i:>4}  {:>10.4}  {:>8.4}", u0[i], true_u0[i]);
    }
}
