//! loom models of [`Probes::phase_changed`]: a waiter on one thread always
//! wakes when another thread raises the phase or triggers the shutdown scope,
//! whatever the interleaving (the phase is raised before the event is
//! notified; the waiter listens before it reads the phase again).
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p steward-core --release --test loom_probes
//! ```
//!
//! Each model keeps its handles on the main thread until every thread is
//! joined (see `loom_shutdown.rs` on why).

#![cfg(loom)]

use std::time::{Duration, Instant};

use loom::future::block_on;
use loom::thread;
use steward_core::health::Health;
use steward_core::probes::{Phase, Probes};
use steward_core::runtime::{BoxFuture, Runtime, RuntimeHandle};
use steward_core::{Reason, Shutdown};

/// A runtime nothing is spawned on: no check is registered.
struct Idle;

impl Runtime for Idle {
    fn spawn(&self, _task: BoxFuture<()>) {
        unreachable!("no check, no task");
    }

    fn sleep(&self, _duration: Duration) -> BoxFuture<()> {
        Box::pin(std::future::ready(()))
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

fn probes() -> (Probes, Shutdown) {
    let shutdown = Shutdown::new();
    let health = Health::new(RuntimeHandle::new(Idle));
    (Probes::new(health, shutdown.clone()), shutdown)
}

/// `set_running` on another thread wakes a waiter on `Starting`.
#[test]
fn set_running_wakes_the_waiter() {
    loom::model(|| {
        let (probes, _shutdown) = probes();
        let raiser = thread::spawn({
            let probes = probes.clone();
            move || probes.set_running()
        });
        assert_eq!(
            block_on(probes.phase_changed(Phase::Starting)),
            Phase::Running
        );
        raiser.join().unwrap();
    });
}

/// A trigger and `set_draining` racing on two threads: a waiter on
/// `Running` on a third wakes once, with `Draining`.
#[test]
fn a_trigger_or_set_draining_wakes_the_waiter() {
    loom::model(|| {
        let (probes, shutdown) = probes();
        probes.set_running();
        let waiter = thread::spawn({
            let wait = probes.phase_changed(Phase::Running);
            move || block_on(wait)
        });
        let trigger = thread::spawn({
            let shutdown = shutdown.clone();
            move || shutdown.trigger(Reason::Requested)
        });
        probes.set_draining();
        assert_eq!(waiter.join().unwrap(), Phase::Draining);
        trigger.join().unwrap();
    });
}
