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
//! - async-shutdown: `ShutdownManager::wrap_delay_shutdown` spawned on the
//!   runtime, then `trigger_shutdown` and `wait_shutdown_complete`;
//! - detached + counter: plain detached spawns, each counted up before its
//!   spawn and down when it ends, the spawner waiting on an event for zero;
//! - detached + counter, boxed: the same with each future boxed first, as
//!   steward's type-erased `RuntimeHandle::spawn` does (to show what that
//!   allocation costs);
//! - join all: plain spawns whose join handles are kept and awaited in turn.
//!
//! Paired rounds (see `steward_benches::paired`).

use std::cell::RefCell;
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

fn async_shutdown(spawner: &Spawner) -> Duration {
    let manager = async_shutdown::ShutdownManager::<()>::new();
    timed(spawner, move |spawner| async move {
        for _ in 0..N {
            spawner.spawn(manager.wrap_delay_shutdown(async {}).expect("open"));
        }
        manager.trigger_shutdown(()).expect("first trigger");
        manager.wait_shutdown_complete().await;
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
    // Every contender's times in run order (the warm-up first), so that
    // `Tasks::spawn` gets ratios within each round as well, not only the
    // first contender.
    let times: [RefCell<Vec<Duration>>; 7] = Default::default();
    let t = &times;
    let mut contenders: [Contender<'_>; 7] = [
        ("steward-track", recorded(&t[0], move || steward_track(s))),
        ("steward-spawn", recorded(&t[1], move || steward_tasks(s))),
        (
            "detached+counter",
            recorded(&t[2], move || detached_counter(s, false)),
        ),
        (
            "detached+counter-boxed",
            recorded(&t[3], move || detached_counter(s, true)),
        ),
        ("join-all", recorded(&t[4], move || join_all(s))),
        ("tokio-util", recorded(&t[5], move || task_tracker(s))),
        ("async-shutdown", recorded(&t[6], move || async_shutdown(s))),
    ];
    report(&paired(&group, N as u64, ROUNDS, &mut contenders));
    drop(contenders);
    // `Tasks::spawn` / each contender, within each round (the warm-up left out).
    let times = times.map(|t| t.into_inner().split_off(1));
    println!("\n{group}: steward-spawn / contender within each round, median (q1–q3)\n");
    for (i, name) in NAMES.iter().enumerate().filter(|(i, _)| *i != 1) {
        let mut ratios: Vec<f64> = (0..ROUNDS)
            .map(|r| times[1][r].as_secs_f64() / times[i][r].as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
        println!(
            "| {name} | {:.2} ({:.2}–{:.2}) |",
            at(0.5),
            at(0.25),
            at(0.75)
        );
    }
}

/// `run`, its every time also pushed to `slot`.
fn recorded<'a>(
    slot: &'a RefCell<Vec<Duration>>,
    mut run: impl FnMut() -> Duration + 'a,
) -> Box<dyn FnMut() -> Duration + 'a> {
    Box::new(move || {
        let took = run();
        slot.borrow_mut().push(took);
        took
    })
}

/// The contenders' names, in the order of `bench_runtime`'s array.
const NAMES: [&str; 7] = [
    "steward-track",
    "steward-spawn",
    "detached+counter",
    "detached+counter-boxed",
    "join-all",
    "tokio-util",
    "async-shutdown",
];

/// Rounds of every comparison.
const ROUNDS: usize = 50;

fn main() {
    steward_benches::stable_heap();
    let filter = steward_benches::filter();
    let filter = filter.as_deref();
    bench_runtime(&Tokio::new(), filter);
    bench_runtime(&Smol::new(), filter);
}
