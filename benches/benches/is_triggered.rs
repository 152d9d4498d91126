//! `is_triggered()` per call, against the raw `AtomicBool::load` and each
//! peer's "is it stopped?" check. The handle is passed through `black_box`
//! on every call so that the load cannot be hoisted out of the loop.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use criterion::{criterion_group, Criterion};
use steward::Shutdown;
use tokio_util::sync::CancellationToken;

fn is_triggered(c: &mut Criterion) {
    let mut group = c.benchmark_group("is_triggered");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));

    let shutdown = Shutdown::new();
    group.bench_function("steward", |b| {
        b.iter(|| black_box(black_box(&shutdown).is_triggered()));
    });

    let flag = AtomicBool::new(false);
    group.bench_function("AtomicBool-acquire", |b| {
        b.iter(|| black_box(black_box(&flag).load(Ordering::Acquire)));
    });
    group.bench_function("AtomicBool-relaxed", |b| {
        b.iter(|| black_box(black_box(&flag).load(Ordering::Relaxed)));
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

fn main() {
    steward_benches::stable_heap();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
