//! Fan-out: N tasks parked on one signal; the time from the trigger until
//! the last of them has run, on tokio (2 workers) and async-executor (2
//! threads), for steward and each peer.
//!
//! One iteration: spawn N tasks, each polling its waiter until it is
//! pending (then counting itself parked); once all N are parked, a spawned
//! task (as a signal handler would) reads the clock and triggers; each
//! woken task counts itself run, and the last reads the clock. Only the
//! span between the two clock reads is measured. Per waiter = time / N.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, BenchmarkId, Criterion, SamplingMode, Throughput};
use steward_benches::{
    AsyncShutdown, BenchRuntime, Latch, Raw, Signal, Smol, Steward, Stopper, Token, Tokio,
};

/// Runs one fan-out of `n` waiters on `rt` and returns trigger → last run.
fn fan_out<S: Signal, R: BenchRuntime>(rt: &R, n: usize) -> Duration {
    let signal = Arc::new(S::new());
    let parked = Arc::new(Latch::new(n));
    let ran = Arc::new(Latch::new(n));
    for _ in 0..n {
        let waiter = signal.waiter();
        let parked = Arc::clone(&parked);
        let ran = Arc::clone(&ran);
        rt.spawn(async move {
            let mut waiter = pin!(waiter);
            let mut counted = false;
            std::future::poll_fn(|cx| {
                let poll = waiter.as_mut().poll(cx);
                if poll.is_pending() && !counted {
                    counted = true;
                    parked.arrive();
                }
                poll
            })
            .await;
            ran.arrive();
        });
    }
    parked.wait();

    let start = Arc::new(Mutex::new(None::<Instant>));
    {
        let signal = Arc::clone(&signal);
        let start = Arc::clone(&start);
        rt.spawn(async move {
            *start.lock().unwrap() = Some(Instant::now());
            black_box(&*signal).trigger();
        });
    }
    let end = ran.wait();
    let start = start.lock().unwrap().expect("the trigger task ran");
    end - start
}

fn bench_runtime<R: BenchRuntime>(c: &mut Criterion, rt: &R) {
    for &n in &[1_000usize, 100_000] {
        let mut group = c.benchmark_group(format!("fanout/{}/{n}", R::NAME));
        group.throughput(Throughput::Elements(n as u64));
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        if n >= 100_000 {
            group.warm_up_time(Duration::from_millis(500));
            group.measurement_time(Duration::from_secs(3));
        } else {
            group.warm_up_time(Duration::from_millis(300));
            group.measurement_time(Duration::from_millis(600));
        }
        one::<Steward, R>(&mut group, rt, n);
        one::<Raw, R>(&mut group, rt, n);
        one::<Token, R>(&mut group, rt, n);
        one::<AsyncShutdown, R>(&mut group, rt, n);
        one::<Stopper, R>(&mut group, rt, n);
        group.finish();
    }
}

fn one<S: Signal, R: BenchRuntime>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    rt: &R,
    n: usize,
) {
    group.bench_function(BenchmarkId::from_parameter(S::NAME), |b| {
        b.iter_custom(|iters| (0..iters).map(|_| fan_out::<S, R>(rt, n)).sum());
    });
}

fn fanout(c: &mut Criterion) {
    {
        let rt = Tokio::new();
        bench_runtime(c, &rt);
    }
    {
        let rt = Smol::new();
        bench_runtime(c, &rt);
    }
}

criterion_group!(benches, fanout);

fn main() {
    steward_benches::stable_heap();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
