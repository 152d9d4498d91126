use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use super::{Inner, Shutdown};
use crate::sync::lock;

/// Keeps a scope from draining while it lives.
///
/// Returned by [`Shutdown::guard`]. Cloning takes another hold (recorded at
/// the clone's call site); dropping gives it back, and the last drop of a
/// triggered scope wakes [`Shutdown::drained`].
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
        inner.acquire();
        let key = lock(&inner.node).lists().holders.insert(location);
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
        lock(&self.inner.node).remove_holder(self.key);
        self.inner.release();
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
