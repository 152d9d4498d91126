//! Child scopes: create 100,000 children of one root, trigger the root,
//! drop the children; each phase timed on its own, steward's
//! `Shutdown::child` against tokio-util's `CancellationToken::child_token`.
//!
//! Every iteration runs all three phases on a fresh root (the handles are
//! kept in a vector allocated before the clock starts) and reports the time
//! of the phase the benchmark is named after.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, SamplingMode, Throughput};
use steward::{Reason, Shutdown};
use tokio_util::sync::CancellationToken;

const N: usize = 100_000;

#[derive(Clone, Copy)]
enum Phase {
    Create,
    Trigger,
    Drop,
}

impl Phase {
    const ALL: [Phase; 3] = [Phase::Create, Phase::Trigger, Phase::Drop];

    fn name(self) -> &'static str {
        match self {
            Phase::Create => "create",
            Phase::Trigger => "trigger",
            Phase::Drop => "drop",
        }
    }

    fn pick(self, [create, trigger, drop]: [Duration; 3]) -> Duration {
        match self {
            Phase::Create => create,
            Phase::Trigger => trigger,
            Phase::Drop => drop,
        }
    }
}

/// One create / trigger / drop cycle of `N` children; the three phase times.
fn cycle<T, C: FnMut(&T) -> C2, C2>(
    root: T,
    mut child: C,
    trigger: impl FnOnce(&T),
) -> [Duration; 3] {
    let mut children = Vec::with_capacity(N);
    let t0 = Instant::now();
    for _ in 0..N {
        children.push(child(black_box(&root)));
    }
    let t1 = Instant::now();
    trigger(black_box(&root));
    let t2 = Instant::now();
    drop(children);
    let t3 = Instant::now();
    drop(root);
    [t1 - t0, t2 - t1, t3 - t2]
}

fn steward_cycle() -> [Duration; 3] {
    cycle(Shutdown::new(), Shutdown::child, |root| {
        root.trigger(Reason::Requested);
    })
}

fn tokio_util_cycle() -> [Duration; 3] {
    cycle(
        CancellationToken::new(),
        CancellationToken::child_token,
        CancellationToken::cancel,
    )
}

fn children(c: &mut Criterion) {
    for phase in Phase::ALL {
        let mut group = c.benchmark_group(format!("children/{}", phase.name()));
        group.throughput(Throughput::Elements(N as u64));
        group.sampling_mode(SamplingMode::Flat);
        group.sample_size(10);
        group.warm_up_time(Duration::from_millis(300));
        group.measurement_time(Duration::from_millis(600));
        group.bench_function("steward", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| phase.pick(steward_cycle())).sum());
        });
        group.bench_function("tokio-util", |b| {
            b.iter_custom(|iters| (0..iters).map(|_| phase.pick(tokio_util_cycle())).sum());
        });
        group.finish();
    }
}

criterion_group!(benches, children);

fn main() {
    steward_benches::stable_heap();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
