//! The batcher's state and its one flush routine.
//!
//! # Invariants
//!
//! - At most one flush runs at a time (the [`FlushLock`]), so batches reach
//!   the sink in the order their items were pushed.
//! - An item is in exactly one place: the queue, the retry slot, or the
//!   batch in hand of the running flush. A batch in hand goes back to the
//!   retry slot whenever it was not written: the write failed, timed out, or
//!   the flush was dropped midway ([`InHand`]'s `Drop`).

use std::mem;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use async_channel::{Receiver, Sender};
use steward_core::RuntimeHandle;

use super::{FlushError, Options, Sink, Stats};

/// What every handle of one batcher shares.
pub(super) struct Shared<S: Sink> {
    pub(super) sink: S,
    pub(super) rt: RuntimeHandle,
    pub(super) options: Options,
    /// Bounded by `options.capacity`: a full queue makes `push` wait.
    pub(super) intake: Sender<S::Item>,
    queue: Receiver<S::Item>,
    /// A batch that was not written, written first at the next flush.
    retry: Mutex<Vec<S::Item>>,
    lock: FlushLock,
    counters: Mutex<Counters>,
}

#[derive(Default)]
struct Counters {
    written: u64,
    batches: u64,
    failures: u64,
    failing: u32,
    last_error: Option<String>,
    last_write: Option<Instant>,
}

impl<S: Sink> Shared<S> {
    pub(super) fn new(sink: S, rt: RuntimeHandle, options: Options) -> Arc<Self> {
        let (intake, queue) = async_channel::bounded(options.capacity);
        Arc::new(Self {
            sink,
            rt,
            options,
            intake,
            queue,
            retry: Mutex::new(Vec::new()),
            lock: FlushLock::new(),
            counters: Mutex::new(Counters::default()),
        })
    }

    /// Writes what is buffered when it starts, in batches of at most
    /// `max_batch`; what is pushed meanwhile waits for the next flush, so
    /// that a fast producer cannot keep one flush going forever. Once the
    /// intake is closed, that is everything.
    ///
    /// Stops at the first failed write, whose batch is kept for the next one.
    pub(super) async fn flush(&self) -> Result<Stats, FlushError<S::Error>> {
        let _turn = self.lock.acquire().await;
        let mut budget = self.buffered();
        while budget > 0 {
            let mut in_hand = InHand::take(self, budget);
            if in_hand.batch.is_empty() {
                break;
            }
            budget = budget.saturating_sub(in_hand.batch.len());
            let limit = self.options.write_timeout;
            let error = match self
                .rt
                .timeout(limit, self.sink.write(&in_hand.batch))
                .await
            {
                Ok(Ok(())) => {
                    self.record(Ok(in_hand.batch.len()));
                    in_hand.batch.clear(); // written: nothing goes back
                    continue;
                }
                Ok(Err(e)) => FlushError::Write(e),
                Err(_elapsed) => FlushError::TimedOut(limit),
            };
            self.record(Err(error.to_string()));
            return Err(error); // `in_hand` puts the batch back for the next flush
        }
        Ok(self.stats())
    }

    fn record(&self, write: Result<usize, String>) {
        let mut c = lock(&self.counters);
        match write {
            Ok(items) => {
                c.written += items as u64;
                c.batches += 1;
                c.failing = 0;
                c.last_write = Some(self.rt.now());
            }
            Err(error) => {
                c.failures += 1;
                c.failing += 1;
                c.last_error = Some(error);
            }
        }
    }

    /// Items pushed and not written yet.
    pub(super) fn buffered(&self) -> usize {
        self.queue.len() + lock(&self.retry).len()
    }

    pub(super) fn stats(&self) -> Stats {
        let buffered = self.buffered();
        let c = lock(&self.counters);
        Stats {
            written: c.written,
            batches: c.batches,
            failures: c.failures,
            failing: c.failing,
            buffered,
            last_error: c.last_error.clone(),
            since_write: c
                .last_write
                .map(|at| self.rt.now().saturating_duration_since(at)),
        }
    }
}

/// The batch a flush is writing. If the flush ends without writing it (an
/// error, a timeout, the flush future dropped), `Drop` puts it back in the
/// retry slot, ahead of anything there.
struct InHand<'a, S: Sink> {
    shared: &'a Shared<S>,
    batch: Vec<S::Item>,
}

impl<'a, S: Sink> InHand<'a, S> {
    /// The failed batch if there is one, else up to `max_batch` (and at
    /// most `budget`) queued items.
    fn take(shared: &'a Shared<S>, budget: usize) -> Self {
        let mut batch = mem::take(&mut *lock(&shared.retry));
        if batch.is_empty() {
            let max = shared.options.max_batch.min(budget);
            batch.extend(std::iter::from_fn(|| shared.queue.try_recv().ok()).take(max));
        }
        Self { shared, batch }
    }
}

impl<S: Sink> Drop for InHand<'_, S> {
    fn drop(&mut self) {
        if !self.batch.is_empty() {
            let mut retry = lock(&self.shared.retry);
            let newer = mem::replace(&mut *retry, mem::take(&mut self.batch));
            retry.extend(newer); // empty under the flush lock; kept in order anyway
        }
    }
}

/// An async mutex without data, from a one-slot channel: the slot holds the
/// token; taking it is locking, putting it back (on drop) is unlocking.
/// Waiters are served in turn, and a waiter dropped while waiting takes
/// nothing.
struct FlushLock {
    give: Sender<()>,
    take: Receiver<()>,
}

struct FlushGuard<'a>(&'a Sender<()>);

impl FlushLock {
    fn new() -> Self {
        let (give, take) = async_channel::bounded(1);
        let _ = give.try_send(()); // the token: the slot was empty
        Self { give, take }
    }

    async fn acquire(&self) -> FlushGuard<'_> {
        // `recv` fails only on a closed channel, and this one is never
        // closed: the lock holds a sender for as long as it lives.
        let _ = self.take.recv().await;
        FlushGuard(&self.give)
    }
}

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.try_send(()); // the slot is empty: the token was taken
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while holding these locks; if something did, the data
    // (counters, a batch) is still consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
