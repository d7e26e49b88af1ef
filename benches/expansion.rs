//! What the macro costs in every user's build: expansion time and generated size against the
//! size of the annotated body. `cargo bench --bench expansion`; see BENCHMARKS.md.
//!
//! A proc-macro crate exports nothing but its macros, so this bench compiles the macro's own
//! stage folders (everything but the one-line entry point in `lib.rs`) into itself, the one
//! place the crate's files are included by path and calls the
//! expansion on token streams directly: the figures are the macro's work alone, without rustc
//! around it.

// Not everything the macro's modules define is used here, and their unit tests (compiled when
// clippy checks this target as a test) are not run from here.
#![allow(dead_code, unused_imports)]

#[path = "../grad-macro/src/ad/mod.rs"]
mod ad;
#[path = "../grad-macro/src/build/mod.rs"]
mod build;
#[path = "../grad-macro/src/emit/mod.rs"]
mod emit;
#[path = "../grad-macro/src/expand/mod.rs"]
mod expand;
#[path = "../grad-macro/src/front/mod.rs"]
mod front;
#[path = "../grad-macro/src/ir/mod.rs"]
mod ir;
#[path = "../grad-macro/src/lower/mod.rs"]
mod lower;
#[path = "../grad-macro/src/opt/mod.rs"]
mod opt;
#[path = "../grad-macro/src/rules/mod.rs"]
mod rules;

use grad_testgen::synthetic;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::time::Duration;

fn benches(c: &mut Criterion) {
    // The sizes, printed once: they do not vary between runs.
    println!("{:>28} {:>10} {:>10} {:>7}", "body", "in", "out", "out/in");
    let mut cases = Vec::new();
    for n in [10, 100, 1000, 10000] {
        cases.push((format!("statements/{n}"), n, synthetic::statements(n)));
    }
    for d in [10, 100, 1000] {
        cases.push((format!("nesting/{d}"), d, synthetic::nested(d)));
    }
    for (name, _, (args, item)) in &cases {
        let out = expand::grad(args.clone(), item.clone());
        let (i, o) = (synthetic::count(item), synthetic::count(&out));
        assert!(
            !out.to_string().contains("compile_error"),
            "{name} did not expand"
        );
        println!("{name:>28} {i:>10} {o:>10} {:>7.2}", o as f64 / i as f64);
    }

    let mut g = c.benchmark_group("expand");
    for (name, n, (args, item)) in &cases {
        let (kind, _) = name.split_once('/').unwrap_or((name, ""));
        g.throughput(Throughput::Elements(*n as u64));
        g.bench_with_input(BenchmarkId::new(kind, n), &(args, item), |b, (a, i)| {
            b.iter(|| expand::grad(black_box((*a).clone()), black_box((*i).clone())))
        });
    }
    g.finish();
}

criterion_group! {
    name = expansion;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .sample_size(10);
    targets = benches
}
criterion_main!(expansion);
