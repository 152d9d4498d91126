//! The synchronisation primitives of the core, switched to loom's under `cfg(loom)`.
//!
//! Only atomics and locks are switched: loom explores their interleavings.
//! `Arc` stays std's (loom has no `Weak`), which is sound because nothing in
//! steward orders memory through an `Arc`'s count.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::Mutex;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::Mutex;

/// Locks a mutex, ignoring poison: steward never leaves shared state half-written
/// across a panic (every critical section is a few infallible operations), so a
/// poisoned lock holds consistent data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
}

#[cfg(loom)]
pub(crate) use loom::sync::MutexGuard;
#[cfg(not(loom))]
pub(crate) use std::sync::MutexGuard;
