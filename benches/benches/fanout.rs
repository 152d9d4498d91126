//! Fan-out: N tasks parked on one signal; the time from the trigger until
//! the last of them has run, on tokio (2 workers) and async-executor (2
//! threads), for steward and each peer.
//!
//! One iteration: spawn N tasks, each polling its waiter until it is
//! pending (then counting itself parked); once all N are parked, a spawned
//! task (as a signal handler would) reads the clock and triggers; each
//! woken task counts itself run, and the last reads the clock. Only the
//! span between the two clock reads is measured. Per waiter = time / N.
//!
//! The contenders run in paired rounds (see `steward_benches::paired`): the
//! machine is shared, and a ratio is only worth as much as the two figures
//! are taken at the same time.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use steward_benches::{
    paired, report, AsyncShutdown, BenchRuntime, Contender, Latch, Raw, Signal, Smol, Steward,
    Stopper, Token, Tokio,
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

fn contender<'a, S: Signal, R: BenchRuntime>(rt: &'a R, n: usize) -> Contender<'a> {
    (S::NAME, Box::new(move || fan_out::<S, R>(rt, n)))
}

fn bench_runtime<R: BenchRuntime>(rt: &R, filter: Option<&str>) {
    // (waiters, rounds): about 45 s a runtime on two cores.
    for (n, rounds) in [(1_000usize, 400usize), (100_000, 40)] {
        let group = format!("fanout/{}/{n}", R::NAME);
        if filter.is_some_and(|f| !group.contains(f)) {
            continue;
        }
        let mut contenders = [
            contender::<Steward, R>(rt, n),
            contender::<Raw, R>(rt, n),
            contender::<Token, R>(rt, n),
            contender::<AsyncShutdown, R>(rt, n),
            contender::<Stopper, R>(rt, n),
        ];
        report(&paired(&group, n as u64, rounds, &mut contenders));
    }
}

fn main() {
    steward_benches::stable_heap();
    let filter = steward_benches::filter();
    let filter = filter.as_deref();
    bench_runtime(&Tokio::new(), filter);
    bench_runtime(&Smol::new(), filter);
}
