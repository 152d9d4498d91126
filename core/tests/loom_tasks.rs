//! loom models of the task registry's count / close / wait protocol, and of
//! the abort switch racing a task's own wait.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p steward-core --release --test loom_tasks
//! ```
//!
//! The runtime under the registry runs each spawned task on a loom thread of
//! its own with loom's `block_on`. Its timer is always already due: a grace
//! period runs out the moment it is awaited, which is the interleaving where
//! an abort races a task hardest. Each model keeps its `Tasks` handle on the
//! main thread until every thread is joined (see `loom_shutdown.rs` on why).

#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use loom::future::block_on;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread::{self, JoinHandle};
use steward_core::runtime::{BoxFuture, Runtime, RuntimeHandle};
use steward_core::{Exit, Shutdown, StartError, Tasks};

/// Spawns each task on a loom thread; sleeps are due at once.
#[derive(Default)]
struct LoomRuntime {
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Runtime for LoomRuntime {
    fn spawn(&self, task: BoxFuture<()>) {
        let handle = thread::spawn(move || block_on(task));
        self.threads.lock().unwrap().push(handle);
    }

    fn sleep(&self, _duration: Duration) -> BoxFuture<()> {
        Box::pin(std::future::ready(()))
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A registry on a fresh loom runtime, and the runtime's thread list.
fn registry() -> (Tasks, Arc<Mutex<Vec<JoinHandle<()>>>>) {
    let rt = LoomRuntime::default();
    let threads = Arc::clone(&rt.threads);
    (Tasks::new(RuntimeHandle::new(rt), Shutdown::new()), threads)
}

/// Joins every task thread, including those spawned while joining.
fn join_all(threads: &Mutex<Vec<JoinHandle<()>>>) {
    loop {
        let next = threads.lock().unwrap().pop();
        match next {
            Some(handle) => handle.join().unwrap(),
            None => return,
        }
    }
}

/// A future that is pending until it is dropped.
struct Forever;

impl Future for Forever {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

/// The last task ending races `close` and `wait`: `wait` always returns, and
/// only after the task ran.
#[test]
fn last_end_races_close_and_wait() {
    loom::model(|| {
        let (tasks, threads) = registry();
        let ran = Arc::new(AtomicUsize::new(0));
        let flag = Arc::clone(&ran);
        tasks
            .spawn(async move {
                // SeqCst: read by the main thread after `wait`.
                flag.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        assert!(tasks.close());
        block_on(tasks.wait());
        // SeqCst: see above; `wait` must order the task's write before this.
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        assert_eq!(tasks.len(), 0);
        join_all(&threads);
    });
}

/// A spawn racing `close`: either it is refused, or `wait` waits for it.
#[test]
fn spawn_races_close() {
    loom::model(|| {
        let (tasks, threads) = registry();
        let ran = Arc::new(AtomicUsize::new(0));
        let spawner = thread::spawn({
            let tasks = tasks.clone();
            let flag = Arc::clone(&ran);
            move || {
                tasks.spawn(async move {
                    // SeqCst: read by the main thread after `wait`.
                    flag.fetch_add(1, Ordering::SeqCst);
                })
            }
        });
        tasks.close();
        block_on(tasks.wait());
        // SeqCst: see above.
        let seen = ran.load(Ordering::SeqCst);
        match spawner.join().unwrap() {
            Ok(()) => assert_eq!(seen, 1, "an accepted task ran before `wait` returned"),
            Err(StartError::Closed) => assert_eq!(seen, 0),
            Err(other) => panic!("unexpected {other}"),
        }
        join_all(&threads);
    });
}

/// The abort at the end of the grace races a task that is about to wait:
/// the task is always dropped, and the shutdown always returns.
///
/// The model's runtime lets `Tasks::ABANDON_AFTER` pass at once, so the
/// shutdown may give up on the task (abandoned) and lower its abort before
/// the task's thread has seen it: the task must be dropped all the same
/// (the abort's epoch has moved past the task's birth), or joining its
/// thread deadlocks.
#[test]
fn abort_races_a_task_going_to_sleep() {
    loom::model(|| {
        let (tasks, threads) = registry();
        tasks.spawn(Forever).unwrap();
        let report = block_on(tasks.shutdown(Duration::ZERO));
        assert_eq!(report.aborted().count() + report.abandoned_unnamed(), 1);
        join_all(&threads);
        assert_eq!(tasks.len(), 0);
    });
}

/// Shielded work begun on another thread races a shutdown's abort and its
/// lowering: begun before the lowering, it is dropped by that shutdown (even
/// when first polled after it); begun after, it runs until the next
/// shutdown's abort drops it. Either way the second shutdown leaves nothing
/// running, or joining its thread deadlocks.
#[test]
fn shield_races_the_lowering_of_an_abort() {
    loom::model(|| {
        let (tasks, threads) = registry();
        let shielder = thread::spawn({
            let tasks = tasks.clone();
            move || drop(tasks.shield(Forever))
        });
        let _first = block_on(tasks.shutdown(Duration::ZERO));
        shielder.join().unwrap();
        let second = block_on(tasks.shutdown(Duration::ZERO));
        assert!(second.aborted().count() + second.abandoned_unnamed() <= 1);
        join_all(&threads);
        assert_eq!(tasks.len(), 0);
    });
}

/// A named task's stop signal and its abort race each other: it ends either
/// stopped or aborted, and the report has it.
#[test]
fn stop_signal_races_abort() {
    loom::model(|| {
        let (tasks, threads) = registry();
        tasks
            .start("worker", |stop| async move { stop.triggered().await })
            .unwrap();
        let report = block_on(tasks.shutdown(Duration::ZERO));
        let worker = report.get("worker").unwrap();
        // Overran (it returned past its zero grace) or abandoned too: the
        // model's runtime lets `Tasks::ABANDON_AFTER` pass at once, before
        // the abort may have reached the task's thread (a named task's abort
        // stays raised, so it is dropped all the same).
        assert!(
            matches!(
                worker.exit(),
                Exit::Stopped | Exit::Aborted | Exit::Abandoned | Exit::Overran
            ),
            "{worker}"
        );
        join_all(&threads);
        assert!(!tasks.is_running("worker"));
    });
}

/// A tracked future dropped unpolled on another thread races `close` and
/// `wait`: its count is released, so `wait` returns, and only after the drop.
#[test]
fn tracked_future_dropped_unpolled_races_close_and_wait() {
    loom::model(|| {
        let (tasks, threads) = registry();
        let dropped = Arc::new(AtomicUsize::new(0));
        let guard = DropCount(Arc::clone(&dropped));
        let tracked = tasks
            .track(async move {
                let _guard = guard;
            })
            .unwrap();
        let dropper = thread::spawn(move || drop(tracked));
        assert!(tasks.close());
        block_on(tasks.wait());
        // SeqCst: the drop's write must be ordered before `wait` returned.
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert_eq!(tasks.len(), 0);
        dropper.join().unwrap();
        join_all(&threads);
    });
}

/// Counts its drops.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        // SeqCst: read by the main thread after `wait`.
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// `close` on one thread races the last task's end on another while a third
/// waits: whichever of the two leaves the registry idle wakes the waiter.
/// (With `close` and `wait` on one thread, as above, `wait` rechecks after
/// the close itself and cannot show a close that forgets to notify.)
#[test]
fn close_races_last_end_with_a_waiter_elsewhere() {
    loom::model(|| {
        let (tasks, threads) = registry();
        tasks.spawn(async {}).unwrap();
        let closer = thread::spawn({
            let tasks = tasks.clone();
            move || assert!(tasks.close())
        });
        block_on(tasks.wait());
        assert_eq!(tasks.len(), 0);
        closer.join().unwrap();
        join_all(&threads);
    });
}
