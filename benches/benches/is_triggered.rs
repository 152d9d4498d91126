//! `is_triggered()` per call, against the raw `AtomicBool::load` and each
//! peer's "is it stopped?" check. The handle is passed through `black_box`
//! on every call so that the load cannot be hoisted out of the loop.
//!
//! Measured twice: by criterion (group `is_triggered`: per-call time with
//! its statistics, contenders one after another), then in paired rounds of
//! 1,000,000 calls (group `is_triggered/rounds`, see
//! `steward_benches::paired`), whose ratios do not carry the drift of a
//! shared machine between one contender's run and the next.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion};
use steward_benches::{paired, report, Contender};
use steward_core::Shutdown;
use tokio_util::sync::CancellationToken;

fn is_triggered(c: &mut Criterion) {
    let mut group = c.benchmark_group("is_triggered");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));

    let shutdown = Shutdown::new();
    group.bench_function("steward", |b| {
        b.iter(|| black_box(black_box(&shutdown).is_triggered()));
    });
    let child = shutdown.child();
    group.bench_function("steward-child", |b| {
        b.iter(|| black_box(black_box(&child).is_triggered()));
    });

    let flag = AtomicBool::new(false);
    group.bench_function("AtomicBool-acquire", |b| {
        b.iter(|| black_box(black_box(&flag).load(Ordering::Acquire)));
    });
    group.bench_function("AtomicBool-relaxed", |b| {
        b.iter(|| black_box(black_box(&flag).load(Ordering::Relaxed)));
    });
    let shared = Arc::new(AtomicBool::new(false));
    group.bench_function("Arc-AtomicBool-acquire", |b| {
        b.iter(|| black_box(black_box(&shared).load(Ordering::Acquire)));
    });

    let token = CancellationToken::new();
    group.bench_function("tokio-util", |b| {
        b.iter(|| black_box(black_box(&token).is_cancelled()));
    });

    let stopper = stopper::Stopper::new();
    group.bench_function("stopper", |b| {
        b.iter(|| black_box(black_box(&stopper).is_stopped()));
    });

    let manager = async_shutdown::ShutdownManager::<()>::new();
    group.bench_function("async-shutdown", |b| {
        b.iter(|| black_box(black_box(&manager).is_shutdown_triggered()));
    });

    group.finish();
}

criterion_group!(benches, is_triggered);

/// Calls per timed batch in the paired rounds.
const BATCH: u64 = 1_000_000;

/// Times `BATCH` calls of `check`.
///
/// A plain loop, no criterion: the handle goes through `black_box` inside
/// `check` and the result through `black_box` here, so neither the load
/// nor its result can be hoisted or dropped.
fn batch(check: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    for _ in 0..BATCH {
        black_box(check());
    }
    start.elapsed()
}

fn rounds() {
    let shutdown = Shutdown::new();
    let child = shutdown.child();
    let flag = AtomicBool::new(false);
    let shared = Arc::new(AtomicBool::new(false));
    let token = CancellationToken::new();
    let stopper = stopper::Stopper::new();
    let manager = async_shutdown::ShutdownManager::<()>::new();
    let mut contenders: [Contender<'_>; 8] = [
        (
            "steward",
            Box::new(|| batch(|| black_box(&shutdown).is_triggered())),
        ),
        (
            "steward-child",
            Box::new(|| batch(|| black_box(&child).is_triggered())),
        ),
        (
            "AtomicBool-acquire",
            Box::new(|| batch(|| black_box(&flag).load(Ordering::Acquire))),
        ),
        (
            "AtomicBool-relaxed",
            Box::new(|| batch(|| black_box(&flag).load(Ordering::Relaxed))),
        ),
        // The flag behind an `Arc`, as a handle holds it: one more load.
        (
            "Arc-AtomicBool-acquire",
            Box::new(|| batch(|| black_box(&shared).load(Ordering::Acquire))),
        ),
        (
            "tokio-util",
            Box::new(|| batch(|| black_box(&token).is_cancelled())),
        ),
        (
            "stopper",
            Box::new(|| batch(|| black_box(&stopper).is_stopped())),
        ),
        (
            "async-shutdown",
            Box::new(|| batch(|| black_box(&manager).is_shutdown_triggered())),
        ),
    ];
    report(&paired("is_triggered/rounds", BATCH, 100, &mut contenders));
}

fn main() {
    steward_benches::stable_heap();
    let filter = steward_benches::filter();
    if filter
        .as_deref()
        .is_none_or(|f| "is_triggered/rounds".contains(f))
    {
        rounds();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
