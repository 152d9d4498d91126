//! [`TrackedOutput`]: a tracked future that keeps its output.
//!
//! # Invariants
//!
//! As [`Tracked`](super::Tracked)'s: one count from
//! [`Tasks::track_output`] until it ends or is dropped, the future dropped
//! before the count, and an end recorded before the count is released.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use super::catch::{CatchUnwind, Outcome};
use super::registry::Token;
use super::report::Exit;
use super::track::{Keeper, Site};
use super::{StartError, Tasks};

impl Tasks {
    /// Counts `future` as an unnamed task, as [`Tasks::track`] does, and
    /// keeps its output.
    ///
    /// The returned future resolves to `Some(output)` when `future`
    /// completes; to `None` when it panicked (the panic is caught, logged
    /// and counted as for [`Tasks::spawn`]) or was aborted at the end of a
    /// shutdown's grace (reported as `task tracked at <file:line:col>`).
    /// The output is the caller's: unlike [`Tasks::track`], an `Err` output
    /// is not logged. tokio-util's `TaskTracker::track_future`, which keeps
    /// the output, but lets a panic through and cannot be aborted.
    ///
    /// # Errors
    ///
    /// [`StartError::Closed`] once the registry is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops `future` and gives its count
    /// back, without a report.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use futures_lite::future::block_on;
    /// use steward_core::{testing::TestRuntime, Shutdown, StartError, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// // With a runtime: `let handle = tokio::spawn(tasks.track_output(work)?);`
    /// let sum = tasks.track_output(async { 20 + 22 })?;
    /// assert_eq!(tasks.len(), 1);
    /// assert_eq!(block_on(sum), Some(42));
    /// assert!(tasks.is_empty());
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    #[track_caller]
    pub fn track_output<F: Future>(&self, future: F) -> Result<TrackedOutput<F>, StartError> {
        if !self.inner.tracker.try_add() {
            return Err(StartError::Closed);
        }
        Ok(TrackedOutput {
            future: CatchUnwind::new(future),
            site: Site::Fresh(
                Token(std::sync::Arc::clone(&self.inner)),
                Location::caller(),
            ),
        })
    }
}

pin_project! {
    /// Future returned by [`Tasks::track_output`]: an unnamed task, counted
    /// by its registry, that resolves to its future's output.
    ///
    /// # Cancel safety
    ///
    /// Dropping it drops the task and gives its count back, without a
    /// report.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// let tracked: steward_core::TrackedOutput<_> = tasks.track_output(async { "done" })?;
    /// assert_eq!(futures_lite::future::block_on(tracked), Some("done"));
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct TrackedOutput<F> {
        // Fields drop in this order: the task before its count.
        #[pin]
        future: CatchUnwind<F>,
        // The count, where it was made, the abort listener (as `Tracked`'s).
        site: Site,
    }
}

impl<F: Future> Future for TrackedOutput<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(outcome) = this.site.poll(this.future, cx) else {
            // Polled again after it resolved: as `Tracked` does.
            return Poll::Pending;
        };
        let (output, exit) = match outcome {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Outcome::Done(out)) => (Some(out), None),
            Poll::Ready(Outcome::Panicked(msg)) => (None, Some(Exit::Panicked(msg))),
            Poll::Ready(Outcome::Aborted) => (None, Some(Exit::Aborted)),
        };
        // Record the end, then uncount it (the token's drop).
        if let Some((token, at)) = this.site.end() {
            if let Some(exit) = exit {
                token.finish("task tracked", at, exit);
            }
        }
        Poll::Ready(output)
    }
}

impl<F> fmt::Debug for TrackedOutput<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TrackedOutput");
        d.field("ended", &self.site.at().is_none());
        if let Some(at) = self.site.at() {
            d.field("at", &format_args!("{at}"));
        }
        d.finish_non_exhaustive()
    }
}
