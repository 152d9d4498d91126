//! Tracked spawn of `benches/tasks.rs` as a plain program on a one-thread
//! executor, for an instruction-level profile that repeats exactly:
//!
//! ```text
//! cargo build --profile bench -p steward-benches --example profile_tasks
//! valgrind --tool=callgrind target/release/examples/profile_tasks steward
//! ```
//!
//! Contenders: `steward` (`Tasks::spawn`), `track` (`Tasks::track`'s future
//! spawned on the executor directly), `tokio-util` (`TaskTracker`),
//! `detached` (detached spawns and an atomic counter). Each run spawns
//! 100,000 trivial tasks from inside a task and waits for them, 3 times.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_executor::Executor;
use event_listener::Event;
use steward_core::{Shutdown, Tasks};
use steward_smol::SmolRuntime;
use tokio_util::task::TaskTracker;

const N: usize = 100_000;
const ROUNDS: usize = 3;

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "steward".into());
    let ex = Arc::new(Executor::new());
    for _ in 0..ROUNDS {
        let spawner = Arc::clone(&ex);
        let which = which.clone();
        let work = async move {
            match which.as_str() {
                "steward" => {
                    let tasks = Tasks::new(SmolRuntime::new(spawner).handle(), Shutdown::new());
                    for _ in 0..N {
                        tasks.spawn(async {}).expect("open");
                    }
                    tasks.close();
                    tasks.wait().await;
                }
                "track" => {
                    let tasks =
                        Tasks::new(SmolRuntime::new(spawner.clone()).handle(), Shutdown::new());
                    for _ in 0..N {
                        spawner.spawn(tasks.track(async {}).expect("open")).detach();
                    }
                    tasks.close();
                    tasks.wait().await;
                }
                "tokio-util" => {
                    let tracker = TaskTracker::new();
                    for _ in 0..N {
                        spawner.spawn(tracker.track_future(async {})).detach();
                    }
                    tracker.close();
                    tracker.wait().await;
                }
                "detached" => {
                    let live = Arc::new((AtomicUsize::new(0), Event::new()));
                    for _ in 0..N {
                        // Relaxed: counting up publishes nothing.
                        live.0.fetch_add(1, Ordering::Relaxed);
                        let live = Arc::clone(&live);
                        spawner
                            .spawn(async move {
                                // AcqRel: the last end is ordered after every other.
                                if live.0.fetch_sub(1, Ordering::AcqRel) == 1 {
                                    live.1.notify(usize::MAX);
                                }
                            })
                            .detach();
                    }
                    // Acquire: pairs with the tasks' decrements.
                    while live.0.load(Ordering::Acquire) != 0 {
                        let listener = live.1.listen();
                        if live.0.load(Ordering::Acquire) == 0 {
                            break;
                        }
                        listener.await;
                    }
                }
                other => {
                    panic!("unknown contender {other:?}: steward, track, tokio-util or detached")
                }
            }
        };
        futures_lite::future::block_on(ex.run(work));
    }
}
