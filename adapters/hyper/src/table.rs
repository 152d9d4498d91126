//! The connection table: which connections hold a slot, and which one gives
//! its slot up when the table is full and a new connection arrives.
//!
//! # Invariants
//!
//! - At most `limit` connections are *open* (in `Inner::open`); at most
//!   `limit` more are *closing* (evicted, their task not yet gone), so the
//!   server never holds more than twice the limit of sockets.
//! - A connection with a request in hand (its head read, its answer not yet
//!   produced) is never evicted.
//! - The victim is the connection least likely to be a waiting probe: first
//!   one that has been answered and is idle (a keep-alive, a client that does
//!   not read its answers), the longest idle first; then one that has not sent
//!   a complete request head yet (a slow client), the oldest first; last one
//!   whose task has not run yet (its head may be waiting in its socket).
//!
//! Lock order: only `Table::inner`; no event is notified while it is held.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use event_listener::Event;
use steward_core::{Reason, Shutdown};

pub(crate) struct Table {
    inner: Mutex<Inner>,
    limit: usize,
    /// Notified when a slot is given back or a connection becomes evictable.
    changed: Event,
    /// A logical clock: orders the connections' last changes.
    clock: AtomicU64,
}

struct Inner {
    open: Vec<Arc<Conn>>,
    closing: usize,
}

/// One connection's state, as the table sees it.
pub(crate) struct Conn {
    /// Its task has polled it at least once.
    polled: AtomicBool,
    /// A request is in hand.
    busy: AtomicBool,
    /// Requests seen so far.
    requests: AtomicUsize,
    /// The clock at its last change (accepted, or an answer produced).
    since: AtomicU64,
    /// Triggered when it is evicted: its task drops it at once.
    evicted: Shutdown,
}

// The atomics of `Conn` are a heuristic's input (which victim), read under
// the table's lock but written without it: Relaxed would do for them, except
// `busy`, whose clearing must be visible to an accept loop that listens for
// `changed` and then looks again (SeqCst on both sides, with the event).

impl Table {
    pub(crate) fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                open: Vec::with_capacity(limit.min(4096)),
                closing: 0,
            }),
            limit: limit.max(1),
            changed: Event::new(),
            clock: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while holding it; a poisoned table is still consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// A slot for a new connection: a free one, or one taken from the best
    /// victim; waits only while every open connection has a request in hand
    /// (or too many evicted ones are still closing).
    pub(crate) async fn admit(self: &Arc<Self>) -> Ticket {
        loop {
            if let Some(ticket) = self.try_admit() {
                return ticket;
            }
            let listener = self.changed.listen();
            if let Some(ticket) = self.try_admit() {
                return ticket;
            }
            listener.await;
        }
    }

    fn try_admit(self: &Arc<Self>) -> Option<Ticket> {
        let mut inner = self.lock();
        let mut victim = None;
        if inner.open.len() >= self.limit {
            if inner.closing >= self.limit {
                return None;
            }
            let at = pick(&inner.open)?;
            victim = Some(inner.open.swap_remove(at));
            inner.closing += 1;
        }
        let conn = Arc::new(Conn {
            polled: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            since: AtomicU64::new(self.tick()),
            evicted: Shutdown::new(),
        });
        inner.open.push(Arc::clone(&conn));
        drop(inner);
        if let Some(victim) = victim {
            tracing::debug!("probe server: table full, evicting an idle connection");
            victim.evicted.trigger(Reason::Requested);
        }
        Some(Ticket {
            table: Arc::clone(self),
            conn,
        })
    }

    /// The connections open (not counting evicted ones still closing).
    #[cfg(test)]
    fn open(&self) -> usize {
        self.lock().open.len()
    }
}

/// The index of the best victim, if any connection may be evicted.
fn pick(open: &[Arc<Conn>]) -> Option<usize> {
    open.iter()
        .enumerate()
        .filter(|(_, c)| !c.busy.load(Ordering::SeqCst))
        .min_by_key(|(_, c)| {
            let class = if c.requests.load(Ordering::Relaxed) > 0 {
                0 // answered, now idle
            } else if c.polled.load(Ordering::Relaxed) {
                1 // no complete head yet
            } else {
                2 // not run yet
            };
            (class, c.since.load(Ordering::Relaxed))
        })
        .map(|(at, _)| at)
}

/// A connection's slot in the table; given back when dropped.
pub(crate) struct Ticket {
    table: Arc<Table>,
    conn: Arc<Conn>,
}

impl Ticket {
    /// Triggered when the connection is evicted.
    pub(crate) fn evicted(&self) -> &Shutdown {
        &self.conn.evicted
    }

    /// The connection's task polls it: from now on its head is being read.
    pub(crate) fn polled(&self) {
        self.conn.polled.store(true, Ordering::Relaxed);
    }

    /// A tracker of this connection's requests, for its service.
    pub(crate) fn tracker(&self) -> Tracker {
        Tracker {
            table: Arc::clone(&self.table),
            conn: Arc::clone(&self.conn),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut inner = self.table.lock();
        match inner.open.iter().position(|c| Arc::ptr_eq(c, &self.conn)) {
            Some(at) => {
                inner.open.swap_remove(at);
            }
            None => inner.closing -= 1,
        }
        drop(inner);
        self.table.changed.notify(1);
    }
}

/// Marks a connection's requests in hand.
#[derive(Clone)]
pub(crate) struct Tracker {
    table: Arc<Table>,
    conn: Arc<Conn>,
}

impl Tracker {
    /// A request's head was read; returns how many this connection has seen.
    pub(crate) fn start(&self) -> usize {
        self.conn.busy.store(true, Ordering::SeqCst);
        self.conn.requests.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The request's answer was produced (or abandoned).
    pub(crate) fn end(&self) {
        self.conn.since.store(self.table.tick(), Ordering::Relaxed);
        // SeqCst, then notify: see the comment on `Conn`.
        self.conn.busy.store(false, Ordering::SeqCst);
        self.table.changed.notify(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use std::future::Future;

    #[test]
    fn a_full_table_evicts_the_answered_idle_first_then_the_oldest_slow() {
        let table = Table::new(3);
        let slow = block_on(table.admit());
        slow.polled();
        let unpolled = block_on(table.admit());
        let answered = block_on(table.admit());
        answered.polled();
        let t = answered.tracker();
        t.start();
        t.end();
        assert_eq!(table.open(), 3);

        let fourth = block_on(table.admit());
        assert!(answered.evicted().is_triggered());
        assert!(!slow.evicted().is_triggered() && !unpolled.evicted().is_triggered());
        fourth.polled();
        let fifth = block_on(table.admit());
        assert!(slow.evicted().is_triggered(), "the oldest slow one next");
        assert!(!unpolled.evicted().is_triggered() && !fourth.evicted().is_triggered());
        assert_eq!(table.open(), 3);
        drop((answered, slow, fifth));
        assert_eq!(table.open(), 2);
    }

    #[test]
    fn a_request_in_hand_is_never_evicted_and_admission_waits_for_it() {
        let table = Table::new(1);
        let busy = block_on(table.admit());
        let tracker = busy.tracker();
        assert_eq!(tracker.start(), 1);
        assert!(table.try_admit().is_none());
        let mut admit = std::pin::pin!(table.admit());
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(admit.as_mut().poll(&mut cx).is_pending());
        tracker.end();
        let next = match admit.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(ticket) => ticket,
            std::task::Poll::Pending => panic!("not admitted once the answer was produced"),
        };
        assert!(busy.evicted().is_triggered());
        drop(next);
    }

    #[test]
    fn evicted_connections_still_closing_are_bounded() {
        let table = Table::new(1);
        let first = block_on(table.admit());
        let second = block_on(table.admit()); // evicts `first`, which is closing
        assert!(first.evicted().is_triggered());
        assert!(
            table.try_admit().is_none(),
            "one open and one closing: full"
        );
        drop(first);
        assert!(table.try_admit().is_some());
        drop(second);
    }
}
