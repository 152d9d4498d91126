//! Tracked spawn: 100,000 trivial tasks spawned and waited for, on tokio (2
//! workers) and async-executor (2 threads).
//!
//! Contenders, each spawning from inside a task (as a service does) and
//! timed from the first spawn until the spawner knows every task has ended:
//!
//! - steward-track (the one the ratios divide): `Tasks::track` spawned on
//!   the runtime directly (`tokio::spawn(tasks.track(f)?)`,
//!   `executor.spawn(tasks.track(f)?).detach()`), then `close` and `wait`;
//! - steward-spawn: `Tasks::spawn` (the same future spawned through the
//!   type-erased `RuntimeHandle::spawn`, which boxes it), `close`, `wait`;
//! - tokio-util: `TaskTracker::track_future` spawned on the runtime (what
//!   `TaskTracker::spawn` does on tokio), then `close` and `wait`;
//! - detached + counter: plain detached spawns, each counted up before its
//!   spawn and down when it ends, the spawner waiting on an event for zero;
//! - detached + counter, boxed: the same with each future boxed first, as
//!   steward's type-erased `RuntimeHandle::spawn` does (to show what that
//!   allocation costs);
//! - join all: plain spawns whose join handles are kept and awaited in turn.
//!
//! Paired rounds (see `steward_benches::paired`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_listener::Event;
use steward_benches::{paired, report, BenchRuntime, Contender, Latch, Smol, Spawner, Tokio};
use steward_core::{Shutdown, Tasks};
use tokio_util::task::TaskTracker;

const N: usize = 100_000;

/// Runs `body` as a task on `spawner` and returns how long it took.
fn timed<F, Fut>(spawner: &Spawner, body: F) -> Duration
where
    F: FnOnce(Spawner) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let done = Arc::new(Latch::new(1));
    let body = body(spawner.clone());
    let latch = Arc::clone(&done);
    let start = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let started = Arc::clone(&start);
    spawner.spawn(async move {
        *started.lock().unwrap() = Some(Instant::now());
        body.await;
        latch.arrive();
    });
    let end = done.wait();
    let start = start.lock().unwrap().expect("the spawner ran");
    end - start
}

fn steward_tasks(spawner: &Spawner) -> Duration {
    let tasks = Tasks::new(spawner.steward(), Shutdown::new());
    timed(spawner, move |_| async move {
        for _ in 0..N {
            tasks.spawn(async {}).expect("open");
        }
        tasks.close();
        tasks.wait().await;
    })
}

fn steward_track(spawner: &Spawner) -> Duration {
    let tasks = Tasks::new(spawner.steward(), Shutdown::new());
    timed(spawner, move |spawner| async move {
        for _ in 0..N {
            spawner.spawn(tasks.track(async {}).expect("open"));
        }
        tasks.close();
        tasks.wait().await;
    })
}

fn task_tracker(spawner: &Spawner) -> Duration {
    let tracker = TaskTracker::new();
    timed(spawner, move |spawner| async move {
        for _ in 0..N {
            spawner.spawn(tracker.track_future(async {}));
        }
        tracker.close();
        tracker.wait().await;
    })
}

/// The baseline: a count and an event, nothing else.
#[derive(Default)]
struct Counter {
    live: AtomicUsize,
    zero: Event,
}

fn detached_counter(spawner: &Spawner, boxed: bool) -> Duration {
    let counter = Arc::new(Counter::default());
    timed(spawner, move |spawner| async move {
        for _ in 0..N {
            // Relaxed: counting up publishes nothing.
            counter.live.fetch_add(1, Ordering::Relaxed);
            let counter = Arc::clone(&counter);
            let task = async move {
                // AcqRel: the last end is ordered after every other.
                if counter.live.fetch_sub(1, Ordering::AcqRel) == 1 {
                    counter.zero.notify(usize::MAX);
                }
            };
            if boxed {
                // As a type-erased runtime handle spawns: one more allocation.
                let task: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(task);
                spawner.spawn(task);
            } else {
                spawner.spawn(task);
            }
        }
        loop {
            // Acquire: pairs with the tasks' AcqRel decrements.
            if counter.live.load(Ordering::Acquire) == 0 {
                break;
            }
            let listener = counter.zero.listen();
            if counter.live.load(Ordering::Acquire) == 0 {
                break;
            }
            listener.await;
        }
    })
}

fn join_all(spawner: &Spawner) -> Duration {
    timed(spawner, move |spawner| async move {
        let mut handles = Vec::with_capacity(N);
        for _ in 0..N {
            handles.push(spawner.spawn_join(async {}));
        }
        for handle in handles {
            handle.await;
        }
    })
}

fn bench_runtime<R: BenchRuntime>(rt: &R, filter: Option<&str>) {
    let group = format!("tasks/{}/{N}", R::NAME);
    if filter.is_some_and(|f| !group.contains(f)) {
        return;
    }
    let spawner = rt.spawner();
    let s = &spawner;
    let mut contenders: [Contender<'_>; 6] = [
        ("steward-track", Box::new(move || steward_track(s))),
        ("steward-spawn", Box::new(move || steward_tasks(s))),
        (
            "detached+counter",
            Box::new(move || detached_counter(s, false)),
        ),
        (
            "detached+counter-boxed",
            Box::new(move || detached_counter(s, true)),
        ),
        ("join-all", Box::new(move || join_all(s))),
        ("tokio-util", Box::new(move || task_tracker(s))),
    ];
    report(&paired(&group, N as u64, 50, &mut contenders));
}

fn main() {
    steward_benches::stable_heap();
    let filter = steward_benches::filter();
    let filter = filter.as_deref();
    bench_runtime(&Tokio::new(), filter);
    bench_runtime(&Smol::new(), filter);
}
