//! loom models of the shutdown scope's parity tools: `try_guard` against the
//! last release and against the trigger, a drop guard dropped on another
//! thread, and the wait that returns the reason.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 CARGO_TARGET_DIR=target/loom \
//!     cargo test -p steward-core --release --test loom_shutdown_parity
//! ```
//!
//! As in `loom_shutdown.rs`, each model keeps a handle to every scope on its
//! main thread until all threads are joined.

#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use steward_core::{Reason, ScopeState, Shutdown, ShutdownError};

/// `try_guard` races the drop of the last guard of a triggered scope: it
/// either holds the scope open (never drained while it lives) or is refused
/// because the scope drained; `drained()` completes in both cases, and the
/// count is right after.
#[test]
fn try_guard_races_the_last_release() {
    loom::model(|| {
        let shutdown = Shutdown::new();
        let last = shutdown.guard();
        shutdown.trigger(Reason::Requested);

        let release = thread::spawn(move || drop(last));
        let attempt = thread::spawn({
            let shutdown = shutdown.clone();
            move || match shutdown.try_guard() {
                Ok(guard) => {
                    assert!(!shutdown.is_drained());
                    Some(guard)
                }
                Err(err) => {
                    assert_eq!(err, ShutdownError::Drained);
                    assert!(shutdown.is_drained());
                    None
                }
            }
        });

        let granted = attempt.join().unwrap();
        release.join().unwrap();
        match granted {
            Some(guard) => {
                assert_eq!(shutdown.state(), ScopeState::Draining);
                assert_eq!(shutdown.guard_count(), 1);
                drop(guard);
            }
            None => assert_eq!(shutdown.guard_count(), 0),
        }
        block_on(shutdown.drained());
        assert_eq!(shutdown.try_guard().unwrap_err(), ShutdownError::Drained);
    });
}

/// `try_guard` on a child races the trigger of its parent, with a waiter on
/// the parent's drain: a granted guard holds both scopes open until dropped,
/// a refused one means the trigger came first and nothing held them.
#[test]
fn try_guard_races_the_trigger() {
    loom::model(|| {
        let root = Shutdown::new();
        let child = root.child();

        let trigger = thread::spawn({
            let root = root.clone();
            move || assert!(root.trigger(Reason::Requested))
        });
        let attempt = thread::spawn({
            let child = child.clone();
            move || child.try_guard().ok()
        });

        let granted = attempt.join().unwrap();
        trigger.join().unwrap();
        if let Some(guard) = granted {
            assert!(!root.is_drained() && !child.is_drained());
            drop(guard);
        }
        block_on(root.drained());
        assert!(child.is_drained());
    });
}

/// A drop guard dropped on one thread wakes a waiter for the reason on
/// another, with the guard's reason, on the scope and on its child.
#[test]
fn a_drop_guard_dropped_elsewhere_wakes_the_reason_waiter() {
    loom::model(|| {
        let root = Shutdown::new();
        let child = root.child();
        let guard = root.clone().drop_guard().with_reason(Reason::Signal(15));

        let waiter = thread::spawn({
            let root = root.clone();
            move || block_on(root.triggered_reason())
        });
        let dropper = thread::spawn(move || drop(guard));

        assert_eq!(block_on(child.triggered_reason()), Reason::Signal(15));
        assert_eq!(waiter.join().unwrap(), Reason::Signal(15));
        dropper.join().unwrap();
    });
}

/// A drop guard racing a plain trigger: one reason wins everywhere, and a
/// disarmed guard on another scope never triggers it.
#[test]
fn a_drop_guard_races_a_trigger() {
    loom::model(|| {
        let root = Shutdown::new();
        let other = Shutdown::new();
        let guard = root.clone().drop_guard().with_reason(Reason::Signal(1));
        let disarmed = other.clone().drop_guard();

        let dropper = thread::spawn(move || {
            drop(guard);
            drop(disarmed.disarm());
        });
        let won = root.trigger(Reason::Signal(2));
        dropper.join().unwrap();

        let winner = Reason::Signal(if won { 2 } else { 1 });
        assert_eq!(root.reason(), Some(winner));
        assert!(!other.is_triggered());
    });
}
