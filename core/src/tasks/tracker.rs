//! The count of live tasks, the closed flag and the event that `wait` listens on.
//!
//! # Invariants
//!
//! `state` packs bit 0, *closed* (cleared only by [`Tracker::reopen`]), bit
//! 1, *sealed* (a shutdown began: set once, never cleared, and `reopen`
//! refuses from then on), and above them the number of live tasks in units
//! of `TASK`. The tracker is *idle* exactly when `state & !SEALED == CLOSED`:
//! closed, and no task left. Whoever makes it idle (the last task's end, or
//! `close` on an empty tracker) notifies `idle` after the move; every waiter
//! checks → listens → checks again, and a waiter whose listener fired
//! completes even if the tracker is no longer idle when it is polled (a
//! later `add` or `reopen` does not put it back to waiting), as tokio-util's
//! `TaskTracker::wait` does.
//!
//! `reopen` clears *closed* with a compare-and-swap that fails once
//! *sealed* is set, so a `reopen` racing a shutdown either comes before the
//! seal (the shutdown's close then closes again) or is refused.
//!
//! Refusing a task once closed is one compare-and-swap on the same word as
//! the count, so "closed and empty" can never be followed by a new task
//! slipping in through [`Tracker::try_add`], nor by a count that is taken
//! back (a `fetch_add` undone when it finds the closed bit would let
//! [`Tasks::len`](crate::Tasks::len) read 1 after a `wait` returned: the
//! stress test `tasks_spawn_close_and_wait_race` caught it). Only
//! [`Tracker::add`] (shielded work, which must run even during a shutdown)
//! may add to a closed tracker.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use event_listener::{Event, EventListener};

use crate::sync::{AtomicUsize, Ordering};

const CLOSED: usize = 1;
const SEALED: usize = 2;
const TASK: usize = 4;

pub(crate) struct Tracker {
    /// `CLOSED` and `SEALED` bits and a `TASK`-sized count, see the module's invariants.
    state: AtomicUsize,
    /// Notified (all) whenever the tracker becomes idle.
    idle: Event,
}

impl Tracker {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(0),
            idle: Event::new(),
        }
    }

    /// Counts a new task unless the tracker is closed; returns whether it did.
    pub(crate) fn try_add(&self) -> bool {
        // Relaxed: only this word's modification order matters (a closed bit
        // seen here is final until a `reopen`); counting a task publishes
        // nothing.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state + TASK,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// Counts a new task, closed or not.
    pub(crate) fn add(&self) {
        // Relaxed: as in `try_add`.
        self.state.fetch_add(TASK, Ordering::Relaxed);
    }

    /// Uncounts a task that ended; wakes the waiters if it was the last of a
    /// closed tracker.
    pub(crate) fn remove(&self) {
        // AcqRel: Release publishes the task's writes (its report) to the
        // waiter that sees the tracker idle; Acquire orders this end after
        // the other tasks' ends when this one is the last.
        let prev = self.state.fetch_sub(TASK, Ordering::AcqRel);
        debug_assert!(prev >= TASK, "task count underflow");
        if prev & !SEALED == CLOSED | TASK {
            self.idle.notify(usize::MAX);
        }
    }

    /// Closes the tracker; returns whether this call closed it.
    pub(crate) fn close(&self) -> bool {
        // AcqRel: Acquire so that, when the tracker was empty, the ends of
        // all past tasks happen before the notification below; Release pairs
        // with `try_add`'s view of the flag through the same word.
        let prev = self.state.fetch_or(CLOSED, Ordering::AcqRel);
        if prev & !SEALED == 0 {
            self.idle.notify(usize::MAX);
        }
        prev & CLOSED == 0
    }

    /// Reopens a closed tracker unless it is sealed; returns whether this
    /// call reopened it.
    pub(crate) fn reopen(&self) -> bool {
        // Relaxed: only this word's modification order matters, as in
        // `try_add`: the CAS is ordered with the seal and with `close`.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED == 0 || state & SEALED != 0 {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state & !CLOSED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => state = actual,
            }
        }
    }

    /// Seals the tracker: `reopen` refuses from now on.
    pub(crate) fn seal(&self) {
        // Relaxed: as in `reopen`.
        self.state.fetch_or(SEALED, Ordering::Relaxed);
    }

    pub(crate) fn is_closed(&self) -> bool {
        // Relaxed: a snapshot; nothing is read on the strength of it.
        self.state.load(Ordering::Relaxed) & CLOSED != 0
    }

    pub(crate) fn len(&self) -> usize {
        // Relaxed: a snapshot.
        self.state.load(Ordering::Relaxed) / TASK
    }

    pub(crate) fn is_idle(&self) -> bool {
        // Acquire: pairs with the AcqRel `fetch_sub` of the last task, so a
        // waiter that sees the tracker idle sees everything the tasks wrote.
        self.state.load(Ordering::Acquire) & !SEALED == CLOSED
    }

    /// Polls until the tracker is idle: check → listen → check → wait.
    pub(crate) fn poll_idle(
        &self,
        listener: &mut Option<EventListener>,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        loop {
            if self.is_idle() {
                *listener = None;
                return Poll::Ready(());
            }
            match listener {
                None => *listener = Some(self.idle.listen()),
                Some(l) => {
                    ready!(Pin::new(l).poll(cx));
                    // Notified: the tracker was idle after this listener
                    // was registered (see the module's invariants).
                    *listener = None;
                    // Acquire: as in `is_idle`. The value read is the idle
                    // state or a later one; the `fetch_sub` that made it
                    // idle heads a release sequence that every later
                    // read-modify-write continues, so the waiter still sees
                    // what the tasks wrote.
                    let _ = self.state.load(Ordering::Acquire);
                    return Poll::Ready(());
                }
            }
        }
    }
}

impl fmt::Debug for Tracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn closed_tracker_refuses_and_becomes_idle() {
        let t = Tracker::new();
        assert!(t.try_add());
        assert!(t.close());
        assert!(!t.close());
        assert!(!t.try_add());
        assert!(!t.is_idle());
        t.add(); // shielded work is still counted
        assert_eq!(t.len(), 2);
        t.remove();
        assert!(!t.is_idle());
        t.remove();
        assert!(t.is_idle());
    }

    #[test]
    fn waiter_is_woken_by_the_last_end() {
        let t = std::sync::Arc::new(Tracker::new());
        assert!(t.try_add());
        t.close();
        let waiter = {
            let t = t.clone();
            std::thread::spawn(move || {
                let mut l = None;
                futures_lite::future::block_on(futures_lite::future::poll_fn(|cx| {
                    t.poll_idle(&mut l, cx)
                }));
            })
        };
        t.remove();
        waiter.join().unwrap();
    }
}
