//! loom models of the shutdown scope: every interleaving of a few threads.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p steward-core --release --test loom_shutdown
//! ```
//!
//! Each model keeps one handle to every scope on the model's main thread until
//! all threads are joined: steward's `Arc` is std's (loom has no `Weak`), and
//! loom cannot see the ordering an `Arc`'s last drop gives, so a scope freed on
//! a spawned thread would read as a data race on its events.

#![cfg(loom)]

use loom::future::block_on;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use steward_core::{Reason, Shutdown};

/// A waiter on another thread always wakes, on the scope and on its child.
#[test]
fn trigger_wakes_waiters_on_other_threads() {
    loom::model(|| {
        let root = Shutdown::new();
        let child = root.child();

        let waiter = thread::spawn({
            let wait = root.clone().triggered_owned();
            move || block_on(wait)
        });
        let trigger = thread::spawn({
            let root = root.clone();
            move || assert!(root.trigger(Reason::Requested))
        });

        block_on(child.triggered());
        assert_eq!(child.reason(), Some(Reason::Requested));
        waiter.join().unwrap();
        trigger.join().unwrap();
    });
}

/// The last guard dropped on one thread while another triggers: `drained()`
/// always completes, whichever comes first.
#[test]
fn guard_drop_wakes_drained() {
    loom::model(|| {
        let shutdown = Shutdown::new();
        let guard = shutdown.guard();

        let release = thread::spawn(move || drop(guard));
        let trigger = thread::spawn({
            let shutdown = shutdown.clone();
            move || shutdown.trigger(Reason::Requested)
        });

        block_on(shutdown.drained());
        assert!(shutdown.is_drained());
        release.join().unwrap();
        assert!(trigger.join().unwrap());
        assert!(shutdown.holders().is_empty());
    });
}

/// A child created while its parent is triggered always ends triggered, with
/// the parent's reason, whether the trigger's walk saw it or it saw the flag.
#[test]
fn child_created_during_trigger_ends_triggered() {
    loom::model(|| {
        let root = Shutdown::new();
        let mid = root.child();

        let create = thread::spawn({
            let mid = mid.clone();
            move || mid.child()
        });
        assert!(root.trigger(Reason::Signal(15)));

        let child = create.join().unwrap();
        assert!(child.is_triggered());
        assert_eq!(child.reason(), Some(Reason::Signal(15)));
        block_on(child.triggered());
        assert!(mid.is_triggered());
    });
}

/// One thread drops the last guard of a child while another takes a new one:
/// the parent never reads drained while a finished `guard()` lives, its count
/// never goes wrong, and `drained()` completes once both are gone.
#[test]
fn child_guards_hold_parent_drain() {
    loom::model(|| {
        let parent = Shutdown::new();
        let child = parent.child();
        let first = child.guard();
        parent.trigger(Reason::Requested);

        let release = thread::spawn(move || drop(first));
        let taken = Arc::new(AtomicBool::new(false));
        let take = thread::spawn({
            let child = child.clone();
            let taken = Arc::clone(&taken);
            move || {
                let second = child.guard();
                // Release: pairs with the Acquire load below, so a main thread
                // that sees `taken` sees every hold the guard took.
                taken.store(true, Ordering::Release);
                second
            }
        });

        if taken.load(Ordering::Acquire) {
            assert!(!parent.is_drained());
        }
        let second = take.join().unwrap();
        assert!(!parent.is_drained());
        assert!(!child.is_drained());
        assert!((1..=2).contains(&parent.holders().len()));
        release.join().unwrap();
        assert_eq!(parent.holders().len(), 1);
        drop(second);

        block_on(parent.drained());
        assert!(child.is_drained());
        assert!(parent.holders().is_empty());
    });
}

/// Guards churn on a child while the parent waits to drain: the waiter wakes.
#[test]
fn child_guard_churn_wakes_parent_drained() {
    loom::model(|| {
        let parent = Shutdown::new();
        let child = parent.child();
        let first = child.guard();
        parent.trigger(Reason::Requested);

        let release = thread::spawn(move || drop(first));
        let churn = thread::spawn({
            let child = child.clone();
            move || drop(child.guard())
        });

        block_on(parent.drained());
        release.join().unwrap();
        churn.join().unwrap();
        assert!(parent.is_drained());
        assert!(child.is_drained());
    });
}

/// Two racing triggers: exactly one returns true, the scope and its child keep
/// that one's reason, and each caller sees the whole tree triggered as soon as
/// its own call returns, even the caller that lost.
#[test]
fn racing_triggers_one_wins() {
    loom::model(|| {
        let root = Shutdown::new();
        let child = root.child();

        let racer = |signo| {
            let root = root.clone();
            let child = child.clone();
            thread::spawn(move || {
                let won = root.trigger(Reason::Signal(signo));
                assert!(root.is_triggered());
                assert!(child.is_triggered());
                (won, root.reason())
            })
        };
        let one = racer(1);
        let two = racer(2);
        let (won_one, seen_one) = one.join().unwrap();
        let (won_two, seen_two) = two.join().unwrap();

        assert!(won_one != won_two, "exactly one trigger wins");
        let winner = Some(Reason::Signal(if won_one { 1 } else { 2 }));
        assert_eq!(seen_one, winner);
        assert_eq!(seen_two, winner);
        assert_eq!(root.reason(), winner);
        assert_eq!(child.reason(), winner);
    });
}

/// A child triggered alone races its parent's trigger: once the parent's
/// `trigger` returns, the child and its own child are triggered, and the
/// grandchild carries the child's reason.
#[test]
fn parent_trigger_returns_with_subtree_triggered() {
    loom::model(|| {
        let root = Shutdown::new();
        let child = root.child();
        let grandchild = child.child();

        let alone = thread::spawn({
            let child = child.clone();
            move || child.trigger(Reason::Signal(1))
        });
        assert!(root.trigger(Reason::Signal(2)));
        assert!(child.is_triggered());
        assert!(grandchild.is_triggered());

        alone.join().unwrap();
        assert_eq!(root.reason(), Some(Reason::Signal(2)));
        assert_eq!(grandchild.reason(), child.reason());
    });
}

/// Holds move up two levels while the root is triggered: the last guard of a
/// grandchild, dropped on another thread, always wakes the root's `drained()`.
#[test]
fn grandchild_guard_drop_wakes_root_drained() {
    loom::model(|| {
        let root = Shutdown::new();
        let grandchild = root.child().child();
        let guard = grandchild.guard();

        let release = thread::spawn(move || drop(guard));
        let trigger = thread::spawn({
            let root = root.clone();
            move || root.trigger(Reason::Requested)
        });

        block_on(root.drained());
        release.join().unwrap();
        assert!(trigger.join().unwrap());
        assert!(grandchild.is_drained());
    });
}

/// The first waiter of a scope registers its waker (inline in the scope)
/// while another thread triggers it: whichever takes the scope's lock
/// first, the waiter wakes.
#[test]
fn first_waiter_races_trigger() {
    loom::model(|| {
        let shutdown = Shutdown::new();

        let trigger = thread::spawn({
            let shutdown = shutdown.clone();
            move || shutdown.trigger(Reason::Requested)
        });

        block_on(shutdown.triggered());
        assert!(trigger.join().unwrap());
    });
}

/// A waiter that comes after an earlier one registered and was dropped (its
/// entry removed) still never misses the trigger.
#[test]
fn later_waiter_races_trigger() {
    loom::model(|| {
        let shutdown = Shutdown::new();
        {
            let mut earlier = Box::pin(shutdown.triggered());
            assert!(block_on(futures_lite::future::poll_once(&mut earlier)).is_none());
        }

        let trigger = thread::spawn({
            let shutdown = shutdown.clone();
            move || shutdown.trigger(Reason::Requested)
        });

        block_on(shutdown.triggered());
        assert!(trigger.join().unwrap());
    });
}

/// A drained waiter registers (the first to set the *waited* bit) while the
/// last guard of a triggered scope is released on another thread: the
/// release either sees the bit and notifies, or the waiter sees the drain.
#[test]
fn drained_waiter_races_last_release() {
    loom::model(|| {
        let shutdown = Shutdown::new();
        let guard = shutdown.guard();
        shutdown.trigger(Reason::Requested);

        let release = thread::spawn(move || drop(guard));

        block_on(shutdown.drained());
        assert!(shutdown.is_drained());
        release.join().unwrap();
    });
}

/// A leaf (no child, no waiter) triggered alone races its parent's trigger,
/// whose walk triggers it without its lock: exactly one of the two sets its
/// flag, and the leaf's reason is its own exactly when its own call won.
#[test]
fn a_leaf_triggered_alone_races_the_lock_free_walk() {
    loom::model(|| {
        let root = Shutdown::new();
        let leaf = root.child();

        let alone = thread::spawn({
            let leaf = leaf.clone();
            move || leaf.trigger(Reason::Signal(1))
        });
        assert!(root.trigger(Reason::Signal(2)));
        assert!(leaf.is_triggered());

        let won = alone.join().unwrap();
        let expected = Reason::Signal(if won { 1 } else { 2 });
        assert_eq!(leaf.reason(), Some(expected.clone()));
        assert_eq!(leaf.child().reason(), Some(expected));
    });
}

/// A drained waiter on a leaf races its parent's trigger, which sets the
/// leaf's flag without its lock: the trigger's exchange either sees the
/// *waited* bit and notifies, or the waiter sees the drain.
#[test]
fn a_leaf_drained_waiter_races_the_lock_free_walk() {
    loom::model(|| {
        let root = Shutdown::new();
        let leaf = root.child();

        let trigger = thread::spawn({
            let root = root.clone();
            move || root.trigger(Reason::Requested)
        });

        block_on(leaf.drained());
        assert!(leaf.is_drained());
        assert!(trigger.join().unwrap());
    });
}
