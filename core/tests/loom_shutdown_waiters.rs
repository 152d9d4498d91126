//! loom models of the shutdown scope's own waiter list: the wakers of
//! parked `triggered()` / `triggered_owned()` futures, kept under the
//! scope's lock (the first inline, the others in a slab).
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p steward-core --release --test loom_shutdown_waiters
//! ```
//!
//! As in `loom_shutdown.rs`, the main thread keeps a handle to every scope
//! until all threads are joined.

#![cfg(loom)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use loom::future::block_on;
use loom::thread;
use steward_core::{Reason, Shutdown};

/// Polls `future` once with a waker that does nothing.
fn poll_noop<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// Two waiters (the scope's inline slot and its slab) park on two threads
/// while a third triggers: no lost wake-up in either slot.
#[test]
fn two_waiters_race_the_trigger() {
    loom::model(|| {
        let shutdown = Shutdown::new();

        let second = thread::spawn({
            let wait = shutdown.clone().triggered_owned();
            move || block_on(wait)
        });
        let trigger = thread::spawn({
            let shutdown = shutdown.clone();
            move || shutdown.trigger(Reason::Requested)
        });

        block_on(shutdown.triggered());
        second.join().unwrap();
        assert!(trigger.join().unwrap());
    });
}

/// A parked waiter is dropped on one thread while another triggers: the
/// drop either removes its entry or finds the trigger took it, and a waiter
/// parked beside it (registered after it, in the slab) still wakes.
#[test]
fn a_dropped_waiter_races_the_trigger() {
    loom::model(|| {
        let shutdown = Shutdown::new();
        let mut parked = Box::pin(shutdown.clone().triggered_owned());
        assert!(poll_noop(&mut parked).is_pending());

        let dropper = thread::spawn(move || drop(parked));
        let trigger = thread::spawn({
            let shutdown = shutdown.clone();
            move || shutdown.trigger(Reason::Requested)
        });

        block_on(shutdown.triggered());
        dropper.join().unwrap();
        assert!(trigger.join().unwrap());
    });
}

/// A waiter parked with one waker is moved to another thread and polled
/// there with a new one while the trigger comes: the trigger wakes the new
/// waker, or the re-poll sees the flag.
#[test]
fn a_repoll_with_a_new_waker_races_the_trigger() {
    loom::model(|| {
        let shutdown = Shutdown::new();
        let mut parked = Box::pin(shutdown.clone().triggered_owned());
        assert!(poll_noop(&mut parked).is_pending());

        let waiter = thread::spawn(move || block_on(parked));
        let trigger = thread::spawn({
            let shutdown = shutdown.clone();
            move || shutdown.trigger(Reason::Requested)
        });

        waiter.join().unwrap();
        assert!(trigger.join().unwrap());
        assert!(shutdown.is_triggered());
    });
}

/// A waiter on a child parks while the root is triggered: the trigger's
/// walk takes the child's waker (entered by the walk, or by `child()`).
#[test]
fn a_child_waiter_races_the_root_trigger() {
    loom::model(|| {
        let root = Shutdown::new();
        let child = root.child();

        let trigger = thread::spawn({
            let root = root.clone();
            move || root.trigger(Reason::Signal(15))
        });

        block_on(child.triggered());
        assert_eq!(child.reason(), Some(Reason::Signal(15)));
        assert!(trigger.join().unwrap());
    });
}
