//! The synchronisation primitives of the core, switched to loom's under `cfg(loom)`.
//!
//! Only atomics and locks are switched: loom explores their interleavings.
//! `Arc` stays std's, because loom's has no `Weak`. The one ordering steward
//! takes from an `Arc`'s count is std's own: the last drop of a scope sees
//! every other handle's use of it. loom cannot see that edge, so a model keeps
//! one handle to each scope on its main thread until every thread is joined
//! (see `core/tests/loom_shutdown.rs`).

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
