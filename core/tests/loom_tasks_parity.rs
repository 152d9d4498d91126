//! loom models of the task registry's parity tools: `reopen` racing a
//! shutdown, and a waiter notified by an idle moment that a token and a
//! reopen end before it is polled again.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
//!     cargo test -p steward-core --release --test loom_tasks_parity
//! ```
//!
//! The runtime is `loom_tasks.rs`'s: each spawned task on a loom thread of
//! its own, every sleep due at once (a grace runs out the moment it is
//! awaited).

#![cfg(loom)]

use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use loom::future::block_on;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread::{self, JoinHandle};
use steward_core::runtime::{BoxFuture, Runtime, RuntimeHandle};
use steward_core::{Shutdown, StartError, Tasks};

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

fn registry() -> (Tasks, Arc<Mutex<Vec<JoinHandle<()>>>>) {
    let rt = LoomRuntime::default();
    let threads = Arc::clone(&rt.threads);
    (Tasks::new(RuntimeHandle::new(rt), Shutdown::new()), threads)
}

fn join_all(threads: &Mutex<Vec<JoinHandle<()>>>) {
    loop {
        let next = threads.lock().unwrap().pop();
        match next {
            Some(handle) => handle.join().unwrap(),
            None => return,
        }
    }
}

/// `reopen` races `shutdown` on a closed registry: the shutdown always
/// returns (a reopen after its close would leave it waiting for ever), and
/// the registry ends closed for good.
#[test]
fn reopen_races_shutdown() {
    loom::model(|| {
        let (tasks, threads) = registry();
        tasks.close();
        let reopener = thread::spawn({
            let tasks = tasks.clone();
            move || tasks.reopen()
        });
        let report = block_on(tasks.shutdown(Duration::from_secs(1)));
        let reopened = reopener.join().unwrap();
        assert!(report.is_clean());
        assert!(tasks.is_closed(), "reopened: {reopened}");
        assert!(!tasks.reopen());
        assert_eq!(tasks.spawn(async {}), Err(StartError::Closed));
        join_all(&threads);
    });
}

/// A waiter listening on a closed registry; on another thread the last
/// token is dropped (idle), then a new token is taken and the registry
/// reopened. The waiter always completes, and sees what the token's holder
/// wrote before dropping it.
#[test]
fn a_notified_waiter_completes_after_a_later_token_and_reopen() {
    loom::model(|| {
        let (tasks, threads) = registry();
        let token = tasks.token();
        tasks.close();
        let mut wait = pin!(tasks.wait());
        let mut cx = Context::from_waker(Waker::noop());
        assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);

        let written = Arc::new(AtomicUsize::new(0));
        let worker = thread::spawn({
            let tasks = tasks.clone();
            let written = Arc::clone(&written);
            move || {
                // Relaxed: `wait` must order it before the waiter's read.
                written.store(1, Ordering::Relaxed);
                drop(token);
                let late = tasks.token();
                tasks.reopen();
                late
            }
        });
        block_on(wait);
        // Relaxed: ordered by `wait` (see above).
        assert_eq!(written.load(Ordering::Relaxed), 1);
        let late = worker.join().unwrap();
        drop(late);
        join_all(&threads);
    });
}
