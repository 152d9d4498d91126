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
//!   not read its answers), the longest idle first; then one that has sent a
//!   part of a request head and not the rest (a slow client), the oldest
//!   first; then one from which nothing was read yet (a probe's head may be
//!   on its way), the oldest first; last one whose task has not run yet (its
//!   head may be waiting in its socket), and only after the accept loop has
//!   yielded to let it run. One from which nothing was read is evicted only
//!   once it is [`SILENT_GRACE`] old: a fresh connection's head is given the
//!   time to be read even when the machine is loaded, and evictions cannot
//!   feed on the reconnections they cause.
//!
//! Lock order: only `Table::inner`; no event is notified while it is held.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use event_listener::Event;
use futures_lite::future;
use steward_core::{Reason, RuntimeHandle, Shutdown};

/// How long a connection from which nothing was read yet is spared.
pub(crate) const SILENT_GRACE: Duration = Duration::from_millis(250);

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
    /// Its task has run.
    polled: AtomicBool,
    /// Bytes were read from it.
    heard: AtomicBool,
    /// A request is in hand: from its head read to its answer written (or
    /// its write stalled).
    busy: AtomicBool,
    /// An answer was produced and is not written yet.
    answered: AtomicBool,
    /// Requests seen so far.
    requests: AtomicUsize,
    /// The clock at its last change (accepted, or an answer produced).
    since: AtomicU64,
    /// When it was admitted.
    admitted: Instant,
    /// Triggered when it is evicted: its task drops it at once.
    evicted: Shutdown,
}

// The atomics of `Conn` are a heuristic's input (which victim), read under
// the table's lock but written without it: Relaxed would do for them, except
// `busy` and `heard`, whose changes make a connection evictable and must be
// visible to an accept loop that listens for `changed` and then looks again
// (SeqCst on both sides, with the event).

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
    /// (or too many evicted ones are still closing), and yields (a few times
    /// at most) before it evicts a connection whose task has not run.
    pub(crate) async fn admit(self: &Arc<Self>, rt: &RuntimeHandle) -> Ticket {
        let mut yields = 0;
        loop {
            let patient = yields < YIELDS;
            let until = match self.try_admit(patient, rt.now()) {
                Admit::Admitted(ticket) => return ticket,
                Admit::NotRunYet => {
                    yields += 1;
                    future::yield_now().await;
                    continue;
                }
                Admit::Full(until) => until,
            };
            let listener = self.changed.listen();
            if let Admit::Admitted(ticket) = self.try_admit(false, rt.now()) {
                return ticket;
            }
            match until {
                // Until a change, or until a spared connection's grace ends.
                Some(until) => future::or(listener, rt.sleep_until(until)).await,
                None => listener.await,
            }
        }
    }

    fn try_admit(self: &Arc<Self>, patient: bool, now: Instant) -> Admit {
        let mut inner = self.lock();
        let mut victim = None;
        if inner.open.len() >= self.limit {
            if inner.closing >= self.limit {
                return Admit::Full(None);
            }
            let at = match pick(&inner.open, now) {
                Ok(at) => at,
                Err(until) => return Admit::Full(until),
            };
            if patient && !inner.open[at].polled.load(Ordering::Relaxed) {
                return Admit::NotRunYet;
            }
            victim = Some(inner.open.swap_remove(at));
            inner.closing += 1;
        }
        let conn = Arc::new(Conn {
            polled: AtomicBool::new(false),
            heard: AtomicBool::new(false),
            busy: AtomicBool::new(false),
            answered: AtomicBool::new(false),
            requests: AtomicUsize::new(0),
            since: AtomicU64::new(self.tick()),
            admitted: now,
            evicted: Shutdown::new(),
        });
        inner.open.push(Arc::clone(&conn));
        drop(inner);
        if let Some(victim) = victim {
            tracing::debug!("probe server: table full, evicting an idle connection");
            victim.evicted.trigger(Reason::Requested);
        }
        Admit::Admitted(Ticket {
            table: Arc::clone(self),
            conn,
        })
    }

    /// Whether every slot is taken.
    pub(crate) fn is_full(&self) -> bool {
        self.lock().open.len() >= self.limit
    }

    /// The connections open (not counting evicted ones still closing).
    #[cfg(test)]
    fn open(&self) -> usize {
        self.lock().open.len()
    }
}

/// How many times admission yields, at most, before it evicts a connection
/// whose task has not run yet.
const YIELDS: usize = 4;

enum Admit {
    Admitted(Ticket),
    /// The best victim's task has not run yet.
    NotRunYet,
    /// Nothing may be evicted now; maybe at the given time (a spared
    /// connection's grace ends).
    Full(Option<Instant>),
}

/// The index of the best victim; or, when no connection may be evicted now,
/// when the first spared one may be.
fn pick(open: &[Arc<Conn>], now: Instant) -> Result<usize, Option<Instant>> {
    let mut spared_until: Option<Instant> = None;
    let best = open
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.busy.load(Ordering::SeqCst))
        .filter_map(|(at, c)| {
            let class = if c.requests.load(Ordering::Relaxed) > 0 {
                0 // answered, now idle
            } else if c.heard.load(Ordering::SeqCst) {
                1 // a part of a head, not the rest
            } else {
                let until = c.admitted + SILENT_GRACE;
                if until > now {
                    spared_until = Some(spared_until.map_or(until, |u| u.min(until)));
                    return None;
                }
                if c.polled.load(Ordering::Relaxed) {
                    2 // nothing read yet
                } else {
                    3 // not run yet
                }
            };
            Some((at, (class, c.since.load(Ordering::Relaxed))))
        })
        .min_by_key(|(_, key)| *key)
        .map(|(at, _)| at);
    best.ok_or(spared_until)
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

    /// Whether a request is in hand (its head read, its answer not written).
    pub(crate) fn is_busy(&self) -> bool {
        self.conn.busy.load(Ordering::SeqCst)
    }

    /// The connection's task runs.
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

    /// The request's answer was produced (or abandoned): the request stays in
    /// hand until the answer is [`written`](Tracker::written).
    pub(crate) fn end(&self) {
        self.conn.answered.store(true, Ordering::SeqCst);
    }

    /// The connection's output was flushed, or a write is waiting for the
    /// client to read: an answer produced is no longer in hand.
    pub(crate) fn written(&self) {
        if self.conn.answered.swap(false, Ordering::SeqCst) {
            self.conn.since.store(self.table.tick(), Ordering::Relaxed);
            // SeqCst, then notify: see the comment on `Conn`.
            self.conn.busy.store(false, Ordering::SeqCst);
            self.table.changed.notify(1);
        }
    }

    /// Bytes were read from the connection.
    pub(crate) fn heard(&self) {
        // SeqCst, then notify: the connection may now be evicted (see the
        // comment on `Conn`).
        self.conn.heard.store(true, Ordering::SeqCst);
        self.table.changed.notify(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use steward_core::testing::TestRuntime;

    #[test]
    fn a_full_table_evicts_the_answered_idle_first_then_the_oldest_slow_then_the_silent() {
        let rt = TestRuntime::new();
        let h = rt.handle();
        let table = Table::new(3);
        let slow = rt.block_on(table.admit(&h));
        slow.polled();
        slow.tracker().heard();
        let silent = rt.block_on(table.admit(&h));
        silent.polled();
        let answered = rt.block_on(table.admit(&h));
        answered.polled();
        answered.tracker().heard();
        let t = answered.tracker();
        t.start();
        t.end();
        t.written();
        assert_eq!(table.open(), 3);

        let fourth = rt.block_on(table.admit(&h));
        assert!(answered.evicted().is_triggered());
        assert!(!slow.evicted().is_triggered() && !silent.evicted().is_triggered());
        fourth.polled();
        fourth.tracker().heard();
        let fifth = rt.block_on(table.admit(&h));
        assert!(slow.evicted().is_triggered(), "the oldest slow one next");
        assert!(!silent.evicted().is_triggered() && !fourth.evicted().is_triggered());
        let sixth = rt.block_on(table.admit(&h));
        assert!(
            fourth.evicted().is_triggered(),
            "a slow one before the silent"
        );
        assert!(!silent.evicted().is_triggered());
        drop((answered, slow, fourth)); // closed: the evicted give their place back
        let before = rt.elapsed();
        let seventh = rt.block_on(table.admit(&h));
        assert!(
            silent.evicted().is_triggered(),
            "the oldest silent one last"
        );
        assert_eq!(rt.elapsed() - before, SILENT_GRACE, "spared for its grace");
        assert!(!fifth.evicted().is_triggered() && !sixth.evicted().is_triggered());
        drop((silent, fifth, seventh));
        assert_eq!(table.open(), 1);
    }

    #[test]
    fn a_connection_not_run_yet_is_evicted_only_after_a_few_yields() {
        let rt = TestRuntime::new();
        let h = rt.handle();
        let table = Table::new(1);
        let first = rt.block_on(table.admit(&h));
        assert!(
            matches!(table.try_admit(true, h.now()), Admit::Full(Some(_))),
            "spared"
        );
        rt.block_on(h.sleep(SILENT_GRACE));
        assert!(matches!(table.try_admit(true, h.now()), Admit::NotRunYet));
        let second = rt.block_on(table.admit(&h)); // yields, then evicts anyway
        assert!(first.evicted().is_triggered());
        drop(first);
        second.polled();
        second.tracker().heard();
        assert!(matches!(table.try_admit(true, h.now()), Admit::Admitted(_)));
    }

    #[test]
    fn a_request_in_hand_is_never_evicted_and_admission_waits_for_it() {
        let rt = TestRuntime::new();
        let h = rt.handle();
        let table = Table::new(1);
        let busy = rt.block_on(table.admit(&h));
        busy.polled();
        let tracker = busy.tracker();
        assert_eq!(tracker.start(), 1);
        assert!(matches!(table.try_admit(false, h.now()), Admit::Full(_)));
        let mut admit = std::pin::pin!(table.admit(&h));
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(admit.as_mut().poll(&mut cx).is_pending());
        tracker.end();
        assert!(
            admit.as_mut().poll(&mut cx).is_pending(),
            "the answer is not written"
        );
        tracker.written();
        let next = match admit.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(ticket) => ticket,
            std::task::Poll::Pending => panic!("not admitted once the answer was produced"),
        };
        assert!(busy.evicted().is_triggered());
        drop(next);
    }

    #[test]
    fn evicted_connections_still_closing_are_bounded() {
        let rt = TestRuntime::new();
        let h = rt.handle();
        let table = Table::new(1);
        let first = rt.block_on(table.admit(&h));
        let second = rt.block_on(table.admit(&h)); // evicts `first`, which is closing
        assert!(first.evicted().is_triggered());
        assert!(
            matches!(table.try_admit(false, h.now()), Admit::Full(_)),
            "one open and one closing: full"
        );
        drop(first);
        rt.block_on(h.sleep(SILENT_GRACE));
        assert!(matches!(
            table.try_admit(false, h.now()),
            Admit::Admitted(_)
        ));
        drop(second);
    }
}
