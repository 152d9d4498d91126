//! The bounded queue's slots and its readiness, and the job port's
//! connection slots.
//!
//! A job takes a queue slot before it is journaled and gives it back once
//! done, so the jobs acknowledged and not done never exceed the capacity.
//! A connection that waits for a slot stops reading its client: the
//! kernel's buffers fill and TCP pushes back on the client.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_lock::{Semaphore, SemaphoreGuardArc};
use steward_core::health::{CheckOutcome, HealthCheck};
use steward_core::Shutdown;

/// The queue's slots: `capacity` of them.
pub(super) struct Slots {
    semaphore: Arc<Semaphore>,
    capacity: usize,
    /// Slots taken now.
    held: AtomicUsize,
    /// Set when the queue filled, cleared once at most half of it is held.
    full: AtomicBool,
}

/// One queue slot, given back when dropped.
pub(super) struct Slot {
    _permit: SemaphoreGuardArc,
    slots: Arc<Slots>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Relaxed: a count for readiness and statistics; the semaphore
        // orders the slots themselves.
        self.slots.held.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Slots {
    pub(super) fn new(capacity: usize) -> Arc<Slots> {
        Arc::new(Slots {
            semaphore: Arc::new(Semaphore::new(capacity)),
            capacity,
            held: AtomicUsize::new(0),
            full: AtomicBool::new(false),
        })
    }

    /// Waits for a free slot.
    pub(super) async fn acquire(self: &Arc<Self>) -> Slot {
        let permit = self.semaphore.acquire_arc().await;
        self.taken(permit)
    }

    /// A free slot, if there is one now.
    pub(super) fn try_acquire(self: &Arc<Self>) -> Option<Slot> {
        self.semaphore.try_acquire_arc().map(|p| self.taken(p))
    }

    fn taken(self: &Arc<Self>, permit: SemaphoreGuardArc) -> Slot {
        // Relaxed: see `Slot::drop`.
        if self.held.fetch_add(1, Ordering::Relaxed) + 1 >= self.capacity {
            self.full.store(true, Ordering::Relaxed);
        }
        Slot {
            _permit: permit,
            slots: Arc::clone(self),
        }
    }

    /// Slots taken now.
    pub(super) fn held(&self) -> usize {
        // Relaxed: see `Slot::drop`.
        self.held.load(Ordering::Relaxed)
    }

    /// The low-water mark: once full, the queue counts as full until at
    /// most this many slots are held.
    pub(super) fn low_water(&self) -> usize {
        self.capacity / 2
    }
}

/// The readiness check `queue`: fails once the queue is full, passes again
/// at or below the low-water mark (half the capacity).
pub(super) struct QueueCheck(pub(super) Arc<Slots>);

impl HealthCheck for QueueCheck {
    async fn check(&self) -> CheckOutcome {
        let slots = &self.0;
        let held = slots.held();
        // Relaxed: readiness reads a recent value; nothing else depends on it.
        if held <= slots.low_water() {
            slots.full.store(false, Ordering::Relaxed);
        }
        if slots.full.load(Ordering::Relaxed) {
            CheckOutcome::unhealthy(format!(
                "queue full: {held} of {} jobs waiting (ready again at {})",
                slots.capacity,
                slots.low_water()
            ))
        } else {
            CheckOutcome::healthy()
        }
    }
}

/// The job port's connections: at most `max` at once. When all are taken,
/// the one idle the longest is closed to make room; when none is idle, the
/// listener waits.
pub(super) struct Connections {
    semaphore: Arc<Semaphore>,
    max: usize,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    /// Counts the moments connections become idle: the smallest is the
    /// longest idle.
    next_idle: u64,
    live: HashMap<u64, Entry>,
}

struct Entry {
    /// When it became idle (in `next_idle` order), or `None` while busy.
    idle: Option<u64>,
    evict: Shutdown,
}

/// One connection's slot; frees it when dropped.
pub(super) struct Connection {
    id: u64,
    connections: Arc<Connections>,
    _permit: SemaphoreGuardArc,
}

impl Connections {
    pub(super) fn new(max: usize) -> Arc<Connections> {
        Arc::new(Connections {
            semaphore: Arc::new(Semaphore::new(max)),
            max,
            table: Mutex::new(Table::default()),
        })
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for the next client: at once when one is free; else after the
    /// longest idle connections were told to close (a sixteenth of the
    /// slots at once, so that a burst of clients is not served one eviction
    /// at a time), or a busy one ended.
    pub(super) async fn slot(self: &Arc<Self>) -> SemaphoreGuardArc {
        if let Some(permit) = self.semaphore.try_acquire_arc() {
            return permit;
        }
        let oldest = {
            let table = self.table();
            let mut idle: Vec<(u64, Shutdown)> = table
                .live
                .values()
                .filter(|entry| !entry.evict.is_triggered())
                .filter_map(|entry| Some((entry.idle?, entry.evict.clone())))
                .collect();
            let batch = (self.max / 16).max(1);
            if idle.len() > batch {
                idle.select_nth_unstable_by_key(batch, |(at, _)| *at);
                idle.truncate(batch);
            }
            idle
        };
        for (_, evict) in oldest {
            evict.trigger(steward_core::Reason::Requested);
        }
        self.semaphore.acquire_arc().await
    }

    /// Registers a connection holding `permit`, closed by `evict`.
    pub(super) fn register(
        self: &Arc<Self>,
        permit: SemaphoreGuardArc,
        evict: Shutdown,
    ) -> Connection {
        let mut table = self.table();
        let id = table.next_id;
        table.next_id += 1;
        table.live.insert(id, Entry { idle: None, evict });
        Connection {
            id,
            connections: Arc::clone(self),
            _permit: permit,
        }
    }

    /// How many connections are open.
    pub(super) fn len(&self) -> usize {
        self.table().live.len()
    }
}

impl Connection {
    /// Marks it idle (waiting for a line) or busy.
    pub(super) fn set_idle(&self, idle: bool) {
        let mut table = self.connections.table();
        let mark = if idle {
            table.next_idle += 1;
            Some(table.next_idle)
        } else {
            None
        };
        if let Some(entry) = table.live.get_mut(&self.id) {
            entry.idle = mark;
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.connections.table().live.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future::block_on;
    use steward_core::health::Status;

    fn status(slots: &Arc<Slots>) -> Status {
        block_on(QueueCheck(Arc::clone(slots)).check()).status()
    }

    #[test]
    fn readiness_fails_when_full_and_returns_at_half() {
        let slots = Slots::new(4);
        let mut held: Vec<Slot> = (0..3).map(|_| slots.try_acquire().unwrap()).collect();
        assert_eq!(status(&slots), Status::Healthy);
        held.push(block_on(slots.acquire()));
        assert!(slots.try_acquire().is_none(), "a bound of 4");
        assert_eq!(status(&slots), Status::Unhealthy);
        held.pop();
        assert_eq!(slots.held(), 3);
        assert_eq!(
            status(&slots),
            Status::Unhealthy,
            "above the low-water mark"
        );
        held.pop();
        assert_eq!(status(&slots), Status::Healthy, "at half");
        held.push(slots.try_acquire().unwrap());
        assert_eq!(status(&slots), Status::Healthy, "not full again yet");
    }

    #[test]
    fn the_longest_idle_connection_is_evicted_for_a_new_one() {
        let connections = Connections::new(2);
        let (first, second) = (Shutdown::new(), Shutdown::new());
        let a = connections.register(block_on(connections.slot()), first.clone());
        let b = connections.register(block_on(connections.slot()), second.clone());
        b.set_idle(true);
        a.set_idle(true); // idle since later than b
        assert_eq!(connections.len(), 2);
        let third = std::thread::spawn({
            let connections = Arc::clone(&connections);
            move || drop(block_on(connections.slot()))
        });
        second.wait_blocking(); // b, the longest idle, is told to close
        assert!(!first.is_triggered());
        drop(b);
        third.join().unwrap();
        assert_eq!(connections.len(), 1);
        drop(a);
    }
}
