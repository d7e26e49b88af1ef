//! Differential tests: random programs (`grad-testgen`) through the macro's own pipeline, run
//! by the IR interpreter, against an oracle that shares no code with the macro (forward-mode
//! dual numbers over the program tree) and, as a second opinion, central finite differences.
//! Also: the simplified and unsimplified derivative programs agree, and the value the
//! derivative program returns is the primal program's, bit for bit. Forward mode gives the
//! oracle's gradient too, and forward over reverse (the Hessian) agrees with the oracle's
//! second derivatives (a dual of duals) to the cancellation scale of each entry, and with
//! central differences of the gradient wherever those are stable.
//!
//! `GRAD_FUZZ_CASES=10000 cargo test -p grad-macro --release --lib tests::diff` runs the long batch.

use crate::ad::reverse;
use crate::front::args::Args;
use crate::front::check::check;
use crate::front::ctxt::Ctxt;
use crate::ir::{Func, Var};
use crate::lower;
use crate::opt::simplify;
use crate::tests::interp::{run, Value};
use grad_testgen::{close, gen, oracle, Point, Program};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The macro's primal IR for `p`, and its `wrt` variables.
fn lower_program(p: &Program) -> Result<(Func, Vec<Var>), String> {
    let src = p.source("f");
    let mut f: syn::ItemFn = syn::parse_str(&src).map_err(|e| e.to_string())?;
    let attr = f.attrs.remove(0);
    let args: Args = attr.parse_args().map_err(|e| e.to_string())?;
    let cx = Ctxt::default();
    let sig = check(&cx, &args, &f);
    let krate = quote::quote!(::backprop);
    let lowered = sig
        .as_ref()
        .and_then(|s| lower::lower(&cx, s, &f.block, &krate));
    cx.check().map_err(|e| e.to_string())?;
    let (sig, lowered) = sig.zip(lowered).ok_or("nothing lowered")?;
    crate::ir::validate(&lowered.func).map_err(|e| format!("invalid IR after lowering: {e}"))?;
    let wrt = sig.wrt.iter().map(|&i| lowered.func.params[i]).collect();
    Ok((lowered.func, wrt))
}

fn args(pt: &Point) -> Vec<Value> {
    let mut a: Vec<Value> = pt.w.iter().chain(&pt.x).map(|&v| Value::F(v)).collect();
    a.push(Value::I(i64::from(pt.k)));
    a.push(Value::B(pt.flag));
    a
}

/// Central differences of the primal program along `w[i]`, if two step sizes agree (the
/// function is smooth there); `None` near a kink, a jump or a branch boundary.
fn stable_fd(primal: &Func, pt: &Point, i: usize) -> Option<f64> {
    let at = |h: f64| {
        let mut up = pt.clone();
        let mut down = pt.clone();
        up.w[i] += h;
        down.w[i] -= h;
        (run(primal, &args(&up))[0].f() - run(primal, &args(&down))[0].f()) / (2.0 * h)
    };
    let (coarse, fine) = (at(1e-5), at(1e-6));
    ((coarse - fine).abs() <= 1e-6 * coarse.abs().max(1.0)).then_some(fine)
}

/// Points compared, and gradient components that were not 0 there.
fn check_program(p: &Program, pts: &[Point]) -> Result<(usize, usize), TestCaseError> {
    let (primal, wrt) = lower_program(p)
        .map_err(|e| TestCaseError::fail(format!("the macro rejected a generated program: {e}")))?;
    // Every pass's output is checked against the IR's invariants, as the pipeline does.
    let valid = |f: crate::ir::Func, pass: &str| -> Result<crate::ir::Func, TestCaseError> {
        crate::ir::validate(&f)
            .map_err(|e| TestCaseError::fail(format!("invalid IR after {pass}: {e}")))?;
        Ok(f)
    };
    let valid_dce = |f: crate::ir::Func, pass: &str| {
        let f = valid(f, pass)?;
        valid(simplify::dce(f), "dead-code elimination")
    };
    let simplified = valid_dce(reverse::reverse(&primal, &wrt, true), "reverse")?;
    // Loop distribution changes no bit of the result (`opt::distribute`).
    let mut split = simplified.clone();
    let split = crate::opt::distribute::distribute(&mut split)
        .then(|| valid_dce(split, "loop distribution"))
        .transpose()?;
    if split.is_some() {
        eprintln!("DISTRIBUTED");
    }
    let unsimplified = valid_dce(reverse::reverse(&primal, &wrt, false), "reverse")?;
    // Forward mode (a unit tangent per parameter), and forward over reverse (the Hessian).
    let n = wrt.len();
    let unit = || crate::expand::second_order::unit_seeds(&wrt);
    let (forward, errors) = crate::ad::forward::forward(&primal, &unit());
    prop_assert!(
        errors.is_empty(),
        "forward mode refused a program: {:?}",
        errors.first().map(|e| e.to_string())
    );
    let forward = valid_dce(forward, "forward")?;
    let (hessian, errors) = crate::ad::forward::forward(&simplified, &unit());
    prop_assert!(
        errors.is_empty(),
        "forward over reverse refused a program: {:?}",
        errors.first().map(|e| e.to_string())
    );
    let hessian = valid_dce(hessian, "forward over reverse")?;
    let (mut checked, mut nonzero) = (0, 0);
    for pt in pts {
        let Some(oracle::Expected {
            value,
            gradient: expected,
            scale,
        }) = oracle::value_and_gradient(p, pt)
        else {
            continue; // an infinite intermediate: nothing fair to compare
        };
        let tame = |v: f64| v.is_finite() && v.abs() < 1e8;
        if !tame(value) || !expected.iter().all(|g| tame(*g)) {
            continue; // overflow or a pole: nothing to compare
        }
        // Each component to the cancellation scale of its own pass, and of the others': the
        // adjoints a reverse sweep multiplies rounding by are the derivatives along the other
        // parameters (`(w1·w0)/w1` is `w0` exactly for the oracle, `∂/∂w1` exactly 0, and
        // rounds to 1e-17 in the sweep, times the adjoint of the quotient).
        let largest = scale.iter().copied().fold(0.0f64, f64::max);
        let scale: Vec<f64> = scale.iter().map(|s| s.max(largest)).collect();
        let a = args(pt);
        let primal_value = run(&primal, &a)[0].f();
        let out: Vec<f64> = run(&simplified, &a).iter().map(|v| v.f()).collect();
        let raw: Vec<f64> = run(&unsimplified, &a).iter().map(|v| v.f()).collect();
        if let Some(split) = &split {
            let bits = |v: Vec<Value>| v.iter().map(|v| v.f().to_bits()).collect::<Vec<u64>>();
            prop_assert_eq!(
                bits(run(split, &a)),
                bits(run(&simplified, &a)),
                "loop distribution changed the result at {:?}",
                pt
            );
        }
        prop_assert_eq!(
            out[0].to_bits(),
            primal_value.to_bits(),
            "value differs from the primal at {:?}",
            pt
        );
        prop_assert!(
            close(primal_value, value, 1.0),
            "value {} vs oracle {} at {:?}",
            primal_value,
            value,
            pt
        );
        for (i, &want) in expected.iter().enumerate() {
            let got = out[1 + i];
            prop_assert!(
                close(got, want, scale[i]),
                "d/dw{}: got {:e}, oracle {:e} at {:?}",
                i,
                got,
                want,
                pt
            );
            prop_assert!(
                close(raw[1 + i], got, scale[i]),
                "d/dw{}: unsimplified {:e} vs simplified {:e} at {:?}",
                i,
                raw[1 + i],
                got,
                pt
            );
            if let Some(fd) = (!p.has_steps())
                .then(|| stable_fd(&primal, pt, i))
                .flatten()
            {
                prop_assert!(
                    (fd - got).abs() <= 1e-4 * fd.abs().max(1.0),
                    "d/dw{}: got {:e}, finite differences {:e} at {:?}",
                    i,
                    got,
                    fd,
                    pt
                );
            }
        }
        // Forward mode: the value, then its tangents, one per parameter.
        let fwd: Vec<f64> = run(&forward, &a).iter().map(|v| v.f()).collect();
        prop_assert_eq!(
            fwd[0].to_bits(),
            primal_value.to_bits(),
            "forward value at {:?}",
            pt
        );
        for (i, &want) in expected.iter().enumerate() {
            prop_assert!(
                close(fwd[1 + i], want, scale[i]),
                "forward d/dw{}: got {:e}, oracle {:e} at {:?}",
                i,
                fwd[1 + i],
                want,
                pt
            );
        }
        // Forward over reverse: h[i][j] = ∂gᵢ/∂wⱼ, against central differences of the
        // gradient where they are stable, and symmetric up to rounding.
        let h: Vec<f64> = run(&hessian, &a).iter().map(|v| v.f()).collect();
        let at = |i: usize, j: usize| h[(1 + n) + (1 + i) * n + j];
        if !p.has_steps() {
            for j in 0..n {
                let grad_at = |d: f64| {
                    let mut q = pt.clone();
                    q.w[j] += d;
                    run(&simplified, &args(&q))
                        .iter()
                        .map(|v| v.f())
                        .collect::<Vec<f64>>()
                };
                let diff = |d: f64| {
                    let (u, l) = (grad_at(d), grad_at(-d));
                    (0..n)
                        .map(|i| (u[1 + i] - l[1 + i]) / (2.0 * d))
                        .collect::<Vec<f64>>()
                };
                let (coarse, fine) = (diff(1e-4), diff(1e-5));
                for i in 0..n {
                    let stable = (coarse[i] - fine[i]).abs() <= 1e-5 * coarse[i].abs().max(1.0);
                    let tame = at(i, j).is_finite() && at(i, j).abs() < 1e6;
                    if stable && tame {
                        prop_assert!(
                            (at(i, j) - fine[i]).abs() <= 1e-3 * fine[i].abs().max(1.0),
                            "h[{}][{}]: got {:e}, differences of the gradient {:e} at {:?}",
                            i,
                            j,
                            at(i, j),
                            fine[i],
                            pt
                        );
                    }
                }
            }
        }
        // Against the oracle's second derivatives (a dual of duals): each entry to 1e-8
        // relative, plus 1e-6 of the larger of its pass's cancellation scale and 100 times
        // the matrix's largest entry, and so symmetric up to rounding. The absolute term is
        // wide: where a value is constant by cancellation (`(w1 / (c·w1)).powi(4)`), its
        // derivatives are exactly 0 for the oracle and rounding residues in the program,
        // which later factors (`4u³`) amplify; the oracle's scale does not see them. (At
        // seed 414: 1.22e-4 against 1.04e-4, a residue of 2e-5 that `4u³·eps/v0²` explains.)
        if let Some(second) = oracle::hessian(p, pt) {
            let largest = second
                .hessian
                .iter()
                .flatten()
                .filter(|h| h.is_finite())
                .fold(0.0f64, |m, h| m.max(h.abs()));
            for i in 0..n {
                for j in 0..n {
                    let (want, scale) = (second.hessian[i][j], second.scale[i][j]);
                    if want.is_finite() && want.abs() < 1e8 && scale < 1e8 {
                        let wide = 1e6 * scale.max(100.0 * largest);
                        prop_assert!(
                            close(at(i, j), want, wide),
                            "h[{}][{}]: got {:e}, oracle {:e} (scale {:e}) at {:?}",
                            i,
                            j,
                            at(i, j),
                            want,
                            scale,
                            pt
                        );
                    }
                }
            }
        }
        checked += 1;
        nonzero += expected.iter().filter(|g| **g != 0.0).count();
    }
    Ok((checked, nonzero))
}

#[test]
fn reverse_mode_matches_the_oracle_on_random_programs() {
    let cases = grad_testgen::cases(300);
    let seed = std::env::var("GRAD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(2);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        // Shrink until the program is minimal (the default stops at 1,200 steps).
        max_shrink_iters: 50_000,
        ..Config::default()
    };
    let mut runner = TestRunner::new_with_rng(
        config,
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes),
    );
    let counts = std::cell::Cell::new((0usize, 0usize));
    let result = runner.run(&gen::case(4), |(p, pts)| {
        let (c, n) = check_program(&p, &pts)?;
        let (tc, tn) = counts.get();
        counts.set((tc + c, tn + n));
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (c, n) = counts.get();
    eprintln!(
        "tests::diff: {cases} programs (seed {seed}), {c} points compared, {n} nonzero gradient components"
    );
}

/// The array-state programs the generator writes include loops the optimiser splits by offset
/// (`opt::distribute`: a double-buffered linear stencil's sweep), which the compiled batches
/// then check against the oracle (`grad-difftest`; the interpreter runs straight-line code
/// only).
#[test]
fn the_state_generator_writes_sweeps_split_by_offset() {
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases: 200,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7u8; 32]),
    );
    let split = std::cell::Cell::new(0);
    let result = runner.run(&gen::state_case(0), |(p, _)| {
        let (primal, wrt) = lower_program(&p).map_err(TestCaseError::fail)?;
        let mut g = simplify::dce(reverse::reverse(&primal, &wrt, true));
        if crate::opt::distribute::distribute(&mut g) {
            crate::ir::validate(&simplify::dce(g))
                .map_err(|e| TestCaseError::fail(format!("after loop distribution: {e}")))?;
            split.set(split.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("{} of 200 programs split", split.get());
    assert!(split.get() >= 6, "{} of 200 programs split", split.get());
}
