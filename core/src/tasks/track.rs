//! [`Tracked`]: an unnamed task as a typed future, for the caller to spawn.
//!
//! # Invariants
//!
//! - A `Tracked` holds one count in the registry's tracker from
//!   [`Tasks::track`](crate::Tasks::track) until it ends or is dropped,
//!   whichever comes first, and never more than one: the count lives in its
//!   `token`, which removes it when dropped.
//! - The task's future is dropped before its count is released (field
//!   order), and on completion it is already gone (`CatchUnwind` drops it
//!   when it resolves).
//! - Its end is recorded (logged, reported, kept for the report) *before*
//!   the token is dropped, so whoever sees the tracker idle finds the record.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use event_listener::EventListener;
use pin_project_lite::pin_project;

use super::catch::{poll_guarded, CatchUnwind, Outcome, OPEN_EPOCH};
use super::registry::Token;
use super::report::Exit;
use super::TaskOutput;

pin_project! {
    /// Future returned by [`Tasks::track`](crate::Tasks::track): an unnamed
    /// task, counted by its registry, to be spawned on any runtime.
    ///
    /// It resolves to `()` once the task has ended, however it ended: a
    /// failure or a panic is logged and reported as for
    /// [`Tasks::spawn`](crate::Tasks::spawn), and an abort (a shutdown's
    /// grace ran out) drops the task and resolves at once. Dropping it
    /// before that drops the task and uncounts it, without a report.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// let tracked: steward_core::Tracked<_> = tasks.track(async { 1 + 1; })?;
    /// assert_eq!(tasks.len(), 1);
    /// futures_lite::future::block_on(tracked);
    /// assert_eq!(tasks.len(), 0);
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct Tracked<F> {
        // Fields drop in this order: the task before its count, so that a
        // waiter woken by the count finds the task's destructors run.
        #[pin]
        future: CatchUnwind<F>,
        // Listens on the registry's abort switch once the task is pending.
        listener: Option<EventListener>,
        // Where the task was made, for its report.
        at: &'static Location<'static>,
        // The registry and this task's count in it; `None` once ended.
        token: Option<Token>,
    }
}

impl<F> Tracked<F> {
    /// Wraps `future`, already counted by the token's registry.
    pub(super) fn new(token: Token, at: &'static Location<'static>, future: F) -> Self {
        Self {
            future: CatchUnwind::new(future),
            listener: None,
            at,
            token: Some(token),
        }
    }
}

impl<F> Future for Tracked<F>
where
    F: Future,
    F::Output: TaskOutput,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let Some(token) = this.token.as_ref() else {
            // Polled again after it resolved: as `CatchUnwind` does.
            return Poll::Pending;
        };
        let inner = &token.0;
        let exit = match poll_guarded(&inner.abort, OPEN_EPOCH, this.listener, this.future, cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Outcome::Done(out)) => match out.into_result() {
                Ok(()) => None,
                Err(e) => Some(Exit::Failed(Arc::from(e))),
            },
            Poll::Ready(Outcome::Panicked(msg)) => Some(Exit::Panicked(msg)),
            Poll::Ready(Outcome::Aborted) => Some(Exit::Aborted),
        };
        *this.listener = None;
        // Record the end, then uncount it (the token's drop).
        let token = this.token.take();
        if let (Some(exit), Some(token)) = (exit, token) {
            token.finish("task spawned", this.at, exit);
        }
        Poll::Ready(())
    }
}

impl<F> fmt::Debug for Tracked<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracked")
            .field("ended", &self.token.is_none())
            .field("at", &format_args!("{}", self.at))
            .finish_non_exhaustive()
    }
}
