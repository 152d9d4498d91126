//! loom models of the health registry's single-flight runs: probes that ask
//! for a check at the same time share one run, no run starts while another
//! is in flight, and every probe waiting on a run wakes when it finishes.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p steward-core --release --test loom_health
//! ```
//!
//! The runtime under the registry runs each spawned run on a loom thread of
//! its own. The checks are inline (a background check's loop would never
//! end under loom's clock) and finish on their first poll, so a timeout
//! never fires. Each model keeps its `Health` handle on the main thread until
//! every thread is joined (see `loom_shutdown.rs` on why).

#![cfg(loom)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use loom::future::block_on;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread::{self, JoinHandle};
use steward_core::health::{Check, CheckOutcome, Health, Select, Status};
use steward_core::runtime::{BoxFuture, Runtime, RuntimeHandle};

/// The threads a [`LoomRuntime`] spawned.
type Threads = Arc<Mutex<Vec<JoinHandle<()>>>>;

/// Spawns each task on a loom thread; sleeps are due at once.
#[derive(Default)]
struct LoomRuntime {
    threads: Threads,
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

/// Joins every run's thread.
fn join_all(threads: &Mutex<Vec<JoinHandle<()>>>) {
    loop {
        let next = threads.lock().unwrap().pop();
        match next {
            Some(handle) => handle.join().unwrap(),
            None => return,
        }
    }
}

/// How many runs began, and how many are in flight.
#[derive(Default)]
struct Runs {
    started: AtomicUsize,
    in_flight: AtomicUsize,
}

/// A registry on a fresh loom runtime with one inline check, `db`, whose
/// results are served again for `cache`; the check's run counts; the
/// runtime's thread list.
fn registry(cache: Duration) -> (Health, Arc<Runs>, Threads) {
    let rt = LoomRuntime::default();
    let threads = Arc::clone(&rt.threads);
    let health = Health::new(RuntimeHandle::new(rt));
    let runs = Arc::new(Runs::default());
    let counted = Arc::clone(&runs);
    let check = move || {
        let runs = Arc::clone(&counted);
        async move {
            // SeqCst: plain counters, read by the main thread after the joins.
            let overlapping = runs.in_flight.fetch_add(1, Ordering::SeqCst);
            assert_eq!(overlapping, 0, "two runs of one check in flight");
            let number = runs.started.fetch_add(1, Ordering::SeqCst) + 1;
            runs.in_flight.fetch_sub(1, Ordering::SeqCst);
            CheckOutcome::healthy().with_details(format!("run {number}"))
        }
    };
    health
        .register(Check::new("db", check).inline(cache))
        .expect("one check");
    (health, runs, threads)
}

/// The result of `db` in a report of every check.
fn probe(health: &Health) -> Status {
    let report = block_on(health.report(&Select::all()));
    report.get("db").expect("db is registered").status()
}

/// Two probes at once of a check whose results are served for an hour: one
/// run answers both, whichever probe starts it and whenever the other joins.
#[test]
fn racing_probes_share_one_run() {
    loom::model(|| {
        let (health, runs, threads) = registry(Duration::from_secs(3600));
        let other = thread::spawn({
            let health = health.clone();
            move || probe(&health)
        });
        assert_eq!(probe(&health), Status::Healthy);
        assert_eq!(other.join().unwrap(), Status::Healthy);
        join_all(&threads);
        assert_eq!(runs.started.load(Ordering::SeqCst), 1);
    });
}

/// Two probes at once of a check that is never served from the cache: each
/// joins the run in flight or starts the next once it finished, never a
/// second one beside it, and both always wake.
#[test]
fn uncached_probes_wake_and_never_overlap_runs() {
    loom::model(|| {
        let (health, runs, threads) = registry(Duration::ZERO);
        let other = thread::spawn({
            let health = health.clone();
            move || probe(&health)
        });
        assert_eq!(probe(&health), Status::Healthy);
        assert_eq!(other.join().unwrap(), Status::Healthy);
        join_all(&threads);
        let started = runs.started.load(Ordering::SeqCst);
        assert!((1..=2).contains(&started), "{started} runs for two probes");
    });
}

/// A forced refresh races a probe after a first run: the probe is served the
/// cached result or the new one, and the refresh always waits for a run that
/// finishes after it began: exactly one more run.
#[test]
fn refresh_races_a_cached_probe() {
    loom::model(|| {
        let (health, runs, threads) = registry(Duration::from_secs(3600));
        assert_eq!(probe(&health), Status::Healthy);
        join_all(&threads);

        let other = thread::spawn({
            let health = health.clone();
            move || probe(&health)
        });
        let report = block_on(health.refresh());
        let db = report.get("db").expect("db is registered");
        assert_eq!(
            db.details(),
            Some("run 2"),
            "the refresh waited for a new run"
        );
        assert_eq!(other.join().unwrap(), Status::Healthy);
        join_all(&threads);
        assert_eq!(runs.started.load(Ordering::SeqCst), 2);
    });
}
