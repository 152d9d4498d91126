//! Shielded work: [`Tasks::shield`] and its [`Shielded`] future.
//!
//! The future to shield is spawned as a tracked task at once; the caller
//! gets a handle that waits for its result through a one-value slot. Dropping
//! the handle drops only the wait, never the work.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use event_listener::{Event, EventListener};

use crate::sync::{lock, Mutex};
use crate::tasks::{Guarded, Outcome, Token};
use crate::{Exit, Tasks};

/// Why a shielded future gave no value.
///
/// # Examples
///
/// ```
/// use steward_core::ShieldError;
///
/// assert_eq!(ShieldError::Aborted.to_string(), "the shielded task was aborted at the end of a shutdown's grace period");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShieldError {
    /// The future panicked, with this message.
    Panicked(String),
    /// The future was still running when a shutdown's grace ran out.
    Aborted,
    /// The runtime dropped the shielded work before it ended (a runtime
    /// shutting down drops the tasks it still holds).
    Dropped,
}

impl fmt::Display for ShieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShieldError::Panicked(msg) => write!(f, "the shielded task panicked: {msg}"),
            ShieldError::Aborted => {
                f.write_str("the shielded task was aborted at the end of a shutdown's grace period")
            }
            ShieldError::Dropped => {
                f.write_str("the shielded task was dropped by its runtime before it ended")
            }
        }
    }
}

impl Error for ShieldError {}

/// The result slot shared by the shielded task and its [`Shielded`] handle.
struct Slot<T> {
    value: Mutex<Option<Result<T, ShieldError>>>,
    /// Notified (all) after `value` is set.
    ready: Event,
}

/// The shielded task's end of the slot: when dropped without having sent
/// (the runtime dropped the task), it sends [`ShieldError::Dropped`], so that
/// the handle always resolves.
struct Sender<T> {
    slot: Arc<Slot<T>>,
    sent: bool,
}

impl<T> Sender<T> {
    fn send(&mut self, result: Result<T, ShieldError>) {
        self.sent = true;
        *lock(&self.slot.value) = Some(result);
        self.slot.ready.notify(usize::MAX);
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if !self.sent {
            self.send(Err(ShieldError::Dropped));
        }
    }
}

impl Tasks {
    /// Runs `future` to completion even if the caller is dropped or cancelled:
    /// the Rust form of Python's `asyncio.shield`, for cleanup that must not
    /// be cut halfway (flushing a journal, releasing a lease, acknowledging a
    /// message).
    ///
    /// The future starts at once as a tracked task of the registry; the
    /// returned [`Shielded`] only waits for its value. A
    /// [`shutdown`](Tasks::shutdown) waits for it within its grace and, if it
    /// overruns, aborts it and reports it as `shield at <file:line:col>`.
    /// Shielding is accepted even once the registry is closed: cleanup is
    /// never refused.
    ///
    /// # Cancel safety
    ///
    /// The point of it: dropping the returned [`Shielded`] leaves the work
    /// running; only its value is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// let flushed = Arc::new(AtomicBool::new(false));
    ///
    /// let (clock, done) = (rt.handle(), flushed.clone());
    /// let flush = tasks.shield(async move {
    ///     clock.sleep(Duration::from_secs(2)).await; // a slow flush
    ///     done.store(true, Ordering::SeqCst);
    /// });
    /// drop(flush); // the caller gave up waiting: the flush goes on
    ///
    /// let report = rt.block_on(tasks.shutdown(Duration::from_secs(10)));
    /// assert!(flushed.load(Ordering::SeqCst));
    /// assert_eq!(rt.elapsed(), Duration::from_secs(2));
    /// assert!(report.is_clean());
    /// # }
    /// ```
    #[track_caller]
    pub fn shield<F>(&self, future: F) -> Shielded<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let at = Location::caller();
        let slot = Arc::new(Slot {
            value: Mutex::new(None),
            ready: Event::new(),
        });
        self.inner.tracker.add();
        // Counted, so born now: a shutdown's abort raised before its lowering
        // drops this work for good, even if it is first polled after it.
        let born = self.inner.abort.epoch();
        let token = Token(Arc::clone(&self.inner));
        let mut sender = Sender {
            slot: Arc::clone(&slot),
            sent: false,
        };
        self.inner.rt.spawn(async move {
            let result = match Guarded::new(&token.0.abort, born, future).await {
                Outcome::Done(value) => Ok(value),
                Outcome::Panicked(msg) => {
                    token
                        .0
                        .finish_unnamed("shield", at, Exit::Panicked(msg.clone()));
                    Err(ShieldError::Panicked(msg))
                }
                Outcome::Aborted => {
                    token.finish("shield", at, Exit::Aborted);
                    Err(ShieldError::Aborted)
                }
            };
            sender.send(result);
        });
        Shielded {
            slot,
            listener: None,
            done: false,
        }
    }
}

/// Future returned by [`Tasks::shield`]: the shielded future's value.
///
/// Resolves to `Ok(value)`, or to a [`ShieldError`] if the future panicked,
/// was aborted by a shutdown, or was dropped by its runtime. Dropping it does not cancel the work.
///
/// # Cancel safety
///
/// Cancel-safe, which is its point: dropping it leaves the work running.
///
/// # Panics
///
/// When polled again after it resolved.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::time::Duration;
/// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
///
/// let rt = TestRuntime::new();
/// let tasks = Tasks::new(rt.handle(), Shutdown::new());
/// let value = rt.block_on(tasks.shield(async { 6 * 7 }));
/// assert_eq!(value, Ok(42));
/// # }
/// ```
#[must_use = "futures do nothing unless you .await or poll them (the shielded work runs regardless)"]
pub struct Shielded<T> {
    slot: Arc<Slot<T>>,
    listener: Option<EventListener>,
    done: bool,
}

impl<T> Shielded<T> {
    /// Whether the shielded work has ended and its value waits to be taken
    /// by awaiting this handle.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// let work = tasks.shield(async {});
    /// assert!(!work.is_finished());
    /// rt.run_until_idle();
    /// assert!(work.is_finished());
    /// # }
    /// ```
    #[must_use]
    pub fn is_finished(&self) -> bool {
        lock(&self.slot.value).is_some()
    }
}

impl<T> Future for Shielded<T> {
    type Output = Result<T, ShieldError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        assert!(!this.done, "`Shielded` polled after it resolved");
        loop {
            if let Some(result) = lock(&this.slot.value).take() {
                this.listener = None;
                this.done = true;
                return Poll::Ready(result);
            }
            match &mut this.listener {
                None => this.listener = Some(this.slot.ready.listen()),
                Some(l) => {
                    if Pin::new(l).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.listener = None;
                }
            }
        }
    }
}

impl<T> fmt::Debug for Shielded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shielded").finish_non_exhaustive()
    }
}
