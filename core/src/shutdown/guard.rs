use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::Instant;

use super::{Holder, Inner, Shutdown};
use crate::sync::lock;

/// Keeps a scope from draining while it lives.
///
/// Returned by [`Shutdown::guard`] and [`Shutdown::try_guard`]. Cloning
/// takes another hold (recorded at the clone's call site); dropping gives it
/// back, and the last drop of a triggered scope wakes [`Shutdown::drained`].
/// A guard dropped after its scope was triggered is logged as a `tracing`
/// debug event (target `steward_core::shutdown`) with where it was taken and
/// how long it held up the drain (`held`: since the trigger, or since it was
/// taken if that came later): the stragglers a drain waited for.
///
/// # Examples
///
/// ```
/// use steward_core::{Reason, Shutdown};
///
/// let shutdown = Shutdown::new();
/// let guard = shutdown.guard();
/// assert_eq!(guard.location().file(), file!());
/// shutdown.trigger(Reason::Requested);
/// assert!(!shutdown.is_drained());
/// drop(guard);
/// assert!(shutdown.is_drained());
/// ```
#[must_use = "a guard releases its scope as soon as it is dropped"]
pub struct ShutdownGuard {
    inner: Arc<Inner>,
    key: usize,
    location: &'static Location<'static>,
}

impl ShutdownGuard {
    pub(super) fn new(inner: Arc<Inner>, location: &'static Location<'static>) -> Self {
        let triggered = inner.acquire();
        Self::held(inner, location, triggered)
    }

    /// Records a guard whose hold the caller has taken already, on a scope
    /// that read `triggered` when it was taken.
    pub(super) fn held(
        inner: Arc<Inner>,
        location: &'static Location<'static>,
        triggered: bool,
    ) -> Self {
        // The clock is read only for a guard taken after the trigger (a
        // guard taken before has held the drain since the trigger), and
        // before the lock, so that it does not lengthen the critical section.
        let holder = Holder {
            location,
            after_trigger: triggered.then(Instant::now),
        };
        let key = lock(&inner.node).lists().holders.insert(holder);
        Self {
            inner,
            key,
            location,
        }
    }

    /// Where this guard was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let guard = steward_core::Shutdown::new().guard();
    /// assert_eq!(guard.location().line(), line!() - 1);
    /// ```
    #[must_use]
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// The scope this guard holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let guard = shutdown.guard();
    /// assert!(guard.shutdown().ptr_eq(&shutdown));
    /// ```
    #[must_use]
    pub fn shutdown(&self) -> Shutdown {
        Shutdown {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Whether the held scope has been triggered: one atomic load.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let guard = shutdown.guard();
    /// shutdown.trigger(steward_core::Reason::Requested);
    /// assert!(guard.is_triggered());
    /// ```
    #[must_use]
    pub fn is_triggered(&self) -> bool {
        self.inner.is_triggered()
    }
}

impl Clone for ShutdownGuard {
    #[track_caller]
    fn clone(&self) -> Self {
        ShutdownGuard::new(Arc::clone(&self.inner), Location::caller())
    }
}

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        let (holder, own) = {
            let mut node = lock(&self.inner.node);
            let own = node.reason.as_ref().map(|fired| fired.at);
            (node.remove_holder(self.key), own)
        };
        if self.inner.release() {
            // Read only for a straggler: a scope that inherited its reason
            // reads its parent's (one lock at a time).
            let at = self.inner.trigger_at(own);
            // A straggler: held past the trigger. `tracing` evaluates the
            // fields (and reads the clock) only when someone listens.
            tracing::debug!(
                target: "steward_core::shutdown",
                location = %self.location,
                held = ?holder.and_then(|h| h.held(at, Instant::now())),
                "shutdown guard released after the trigger",
            );
        }
    }
}

impl fmt::Debug for ShutdownGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownGuard")
            .field("location", &format_args!("{}", self.location))
            .field("triggered", &self.inner.is_triggered())
            .finish_non_exhaustive()
    }
}
