//! The futures that wait for tasks: [`Wait`], [`Stop`] and [`StopAll`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use event_listener::EventListener;

use super::registry::Inner;
use super::report::{Report, TaskReport};
use crate::runtime::BoxFuture;
use crate::Reason;

/// See [`Tasks::ABANDON_AFTER`](crate::Tasks::ABANDON_AFTER).
pub(super) const ABANDON_AFTER: Duration = Duration::from_millis(100);

/// Future returned by [`Tasks::wait`](crate::Tasks::wait).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// let rt = steward_core::testing::TestRuntime::new();
/// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
/// tasks.close();
/// let wait: steward_core::Wait<'_> = tasks.wait();
/// rt.block_on(wait); // closed and empty: ready at once
/// # }
/// ```
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct Wait<'a> {
    pub(super) inner: &'a Inner,
    pub(super) listener: Option<EventListener>,
}

impl Future for Wait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.inner.tracker.poll_idle(&mut this.listener, cx)
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("idle", &self.inner.tracker.is_idle())
            .finish_non_exhaustive()
    }
}

/// Future returned by [`Tasks::stop`](crate::Tasks::stop).
///
/// It owns what it needs, so it can be spawned. The sequence it runs is
/// boxed inside: this is the registry's edge, awaited once per stop.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::time::Duration;
/// use steward_core::{testing::TestRuntime, Exit, Shutdown, Tasks};
///
/// let rt = TestRuntime::new();
/// let tasks = Tasks::new(rt.handle(), Shutdown::new());
/// tasks.start("worker", |stop| async move { stop.triggered().await })?;
/// let stop: steward_core::Stop = tasks.stop("worker", Duration::from_secs(1));
/// let report = rt.block_on(stop).unwrap();
/// assert!(matches!(report.exit(), Exit::Stopped));
/// # }
/// # Ok::<(), steward_core::StartError>(())
/// ```
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct Stop {
    pub(super) inner: BoxFuture<Option<TaskReport>>,
}

impl Future for Stop {
    type Output = Option<TaskReport>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stop").finish_non_exhaustive()
    }
}

/// Future returned by [`Tasks::shutdown`](crate::Tasks::shutdown).
///
/// Like [`Stop`], it owns what it needs and boxes its sequence inside.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::time::Duration;
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
/// let all: steward_core::StopAll = tasks.shutdown(Duration::from_secs(1));
/// let report = rt.block_on(all);
/// assert!(report.tasks().is_empty() && tasks.is_closed());
/// # }
/// ```
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct StopAll {
    pub(super) inner: BoxFuture<Report>,
}

impl Future for StopAll {
    type Output = Report;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Report> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for StopAll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopAll").finish_non_exhaustive()
    }
}

/// Stops one named task: trigger its scope, wait up to `grace`, abort, and
/// give up on it [`Tasks::ABANDON_AFTER`](crate::Tasks::ABANDON_AFTER) later.
pub(super) async fn stop_one(
    inner: Arc<Inner>,
    name: String,
    grace: Duration,
) -> Option<TaskReport> {
    let control = inner.running(&name)?;
    let now = inner.rt.now();
    control.ask_stop(now, now + grace);
    control.stop.trigger(Reason::Requested);
    match inner.rt.timeout(grace, control.ended()).await {
        Ok(report) => Some(report),
        Err(_) => {
            control.abort.raise();
            let dropped = inner.rt.timeout(ABANDON_AFTER, control.ended()).await;
            Some(dropped.unwrap_or_else(|_| control.abandoned(inner.rt.now())))
        }
    }
}

/// Stops every task with one deadline and reports how each ended.
pub(super) async fn stop_all(inner: Arc<Inner>, grace: Duration) -> Report {
    let start = inner.rt.now();
    inner.mark_shutdown(start);
    let running = inner.close_and_list();
    for control in &running {
        control.ask_stop(start, start + grace);
    }
    let reason = inner.service.reason().unwrap_or(Reason::Requested);
    inner.stopping.trigger(reason);
    let idle = |inner| Wait {
        inner,
        listener: None,
    };
    let mut abandoned_at = None;
    let mut abandoned_unnamed = 0;
    let mut listed_unnamed = None;
    if inner.rt.timeout(grace, idle(&inner)).await.is_err() {
        let raised = inner.abort.raise_until_drop();
        for control in &running {
            control.abort.raise();
        }
        // Every task is now being dropped on its executor; wait for the
        // drops, so that their destructors have run when the report is read.
        // Shielded work begun during the drain is dropped too; work begun
        // after it runs normally. A task whose thread is blocked cannot be
        // dropped: after `ABANDON_AFTER` the shutdown gives up on it. The
        // lowering below keeps it aborted (the cell's epoch moves on): once
        // its thread comes back, it is dropped at its next check.
        if inner.rt.timeout(ABANDON_AFTER, idle(&inner)).await.is_err() {
            let now = inner.rt.now();
            abandoned_at = Some(now);
            let named = running.iter().filter(|c| c.is_running()).count();
            // An unnamed task aborted from here on is counted abandoned in
            // this report, not listed too (it is listed in the next one).
            let (listed, counted) = inner.unnamed_left();
            abandoned_unnamed = counted.saturating_sub(named);
            listed_unnamed = Some(listed);
        }
        drop(raised);
    }
    Report {
        tasks: inner.reports(abandoned_at, listed_unnamed),
        took: inner.rt.now().saturating_duration_since(start),
        grace,
        unnamed_failures: inner.unnamed_failures(),
        abandoned_unnamed,
    }
}
