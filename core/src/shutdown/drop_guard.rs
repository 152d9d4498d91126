use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use pin_project_lite::pin_project;

use super::{Reason, Shutdown};

impl Shutdown {
    /// Turns the handle into a guard that triggers the scope when dropped.
    ///
    /// For a value whose loss must stop the service: keep the guard beside
    /// it (in a task, a struct) and the scope is triggered, with
    /// [`Reason::Requested`] unless [`DropGuard::with_reason`] says
    /// otherwise, however it goes away: returned, unwound by a panic, or
    /// dropped with its task. [`DropGuard::disarm`] gives the handle back
    /// without triggering. (A dropped [`Shutdown`] handle itself never
    /// triggers, as in tokio-util.)
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let critical = shutdown.clone().drop_guard().with_reason(Reason::Fatal("lost".into()));
    /// let worker = std::thread::spawn(move || {
    ///     let _critical = critical;
    ///     panic!("the worker dies");
    /// });
    /// assert!(worker.join().is_err());
    /// assert_eq!(shutdown.reason(), Some(Reason::Fatal("lost".into())));
    ///
    /// let other = Shutdown::new();
    /// let disarmed = other.clone().drop_guard().disarm();
    /// assert!(disarmed.ptr_eq(&other) && !other.is_triggered());
    /// ```
    pub fn drop_guard(self) -> DropGuard {
        DropGuard {
            shutdown: Some(self),
            reason: Reason::Requested,
        }
    }

    /// A guard that triggers the scope when dropped, borrowing the handle.
    ///
    /// As [`Shutdown::drop_guard`], for a guard that does not outlive the
    /// handle (a function's scope).
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// {
    ///     let _stop_on_exit = shutdown.drop_guard_ref();
    ///     assert!(!shutdown.is_triggered());
    /// }
    /// assert!(shutdown.is_triggered());
    /// ```
    pub fn drop_guard_ref(&self) -> DropGuardRef<'_> {
        DropGuardRef {
            shutdown: Some(self),
            reason: Reason::Requested,
        }
    }

    /// Wraps `future` so that the scope is triggered with `reason` when it
    /// completes or is dropped unfinished.
    ///
    /// The trigger of a task whose end must stop the rest (a listener, a
    /// critical consumer): the output passes through unchanged, and the
    /// scope is triggered before it is returned.
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `future`; dropping the wrapper triggers the scope.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let listener = shutdown.wrap_trigger(Reason::Fatal("listener ended".into()), async { 7 });
    /// assert_eq!(listener.await, 7);
    /// assert_eq!(shutdown.reason(), Some(Reason::Fatal("listener ended".into())));
    /// # });
    /// ```
    pub fn wrap_trigger<F: Future>(&self, reason: Reason, future: F) -> WrapTrigger<F> {
        WrapTrigger {
            future,
            guard: Some(self.clone().drop_guard().with_reason(reason)),
        }
    }
}

/// Triggers its scope when dropped, unless disarmed.
///
/// Returned by [`Shutdown::drop_guard`].
///
/// # Examples
///
/// ```
/// let shutdown = steward_core::Shutdown::new();
/// drop(shutdown.clone().drop_guard());
/// assert!(shutdown.is_triggered());
/// ```
#[must_use = "a drop guard triggers its scope as soon as it is dropped"]
pub struct DropGuard {
    shutdown: Option<Shutdown>,
    reason: Reason,
}

impl DropGuard {
    /// Sets the reason the scope is triggered with ([`Reason::Requested`]
    /// unless set).
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// drop(shutdown.clone().drop_guard().with_reason(Reason::Signal(15)));
    /// assert_eq!(shutdown.reason(), Some(Reason::Signal(15)));
    /// ```
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = reason;
        self
    }

    /// Gives the handle back without triggering the scope.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new().drop_guard().disarm();
    /// assert!(!shutdown.is_triggered());
    /// ```
    #[must_use = "the handle is given back; drop it if unused"]
    pub fn disarm(mut self) -> Shutdown {
        match self.shutdown.take() {
            Some(shutdown) => shutdown,
            // `shutdown` is taken only here and in `drop`, each of which
            // consumes the guard.
            None => unreachable!("a drop guard is disarmed once"),
        }
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.trigger(mem::replace(&mut self.reason, Reason::Requested));
        }
    }
}

impl fmt::Debug for DropGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropGuard")
            .field("shutdown", &self.shutdown)
            .field("reason", &self.reason)
            .finish()
    }
}

/// Triggers its scope when dropped, unless disarmed; borrows the handle.
///
/// Returned by [`Shutdown::drop_guard_ref`].
///
/// # Examples
///
/// ```
/// let shutdown = steward_core::Shutdown::new();
/// drop(shutdown.drop_guard_ref());
/// assert!(shutdown.is_triggered());
/// ```
#[must_use = "a drop guard triggers its scope as soon as it is dropped"]
pub struct DropGuardRef<'a> {
    shutdown: Option<&'a Shutdown>,
    reason: Reason,
}

impl<'a> DropGuardRef<'a> {
    /// Sets the reason the scope is triggered with ([`Reason::Requested`]
    /// unless set).
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// drop(shutdown.drop_guard_ref().with_reason(Reason::Signal(2)));
    /// assert_eq!(shutdown.reason(), Some(Reason::Signal(2)));
    /// ```
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = reason;
        self
    }

    /// Gives the borrowed handle back without triggering the scope.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let _ = shutdown.drop_guard_ref().disarm();
    /// assert!(!shutdown.is_triggered());
    /// ```
    #[must_use = "the handle is given back; drop it if unused"]
    pub fn disarm(mut self) -> &'a Shutdown {
        match self.shutdown.take() {
            Some(shutdown) => shutdown,
            // As in `DropGuard::disarm`.
            None => unreachable!("a drop guard is disarmed once"),
        }
    }
}

impl Drop for DropGuardRef<'_> {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.trigger(mem::replace(&mut self.reason, Reason::Requested));
        }
    }
}

impl fmt::Debug for DropGuardRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DropGuardRef")
            .field("shutdown", &self.shutdown)
            .field("reason", &self.reason)
            .finish()
    }
}

pin_project! {
    /// Future returned by [`Shutdown::wrap_trigger`].
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct WrapTrigger<F> {
        #[pin]
        future: F,
        guard: Option<DropGuard>,
    }
}

impl<F: Future> Future for WrapTrigger<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = ready!(this.future.poll(cx));
        // Triggers now, before the output is handed on.
        drop(this.guard.take());
        Poll::Ready(output)
    }
}

impl<F> fmt::Debug for WrapTrigger<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrapTrigger")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}
