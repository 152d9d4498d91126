//! Synchronous work on the runtime's blocking pool, tracked:
//! [`Tasks::spawn_blocking`], [`Tasks::start_blocking`] and
//! [`TaskBuilder::start_blocking`].
//!
//! # Invariants
//!
//! - The count (and, for a named task, its [`Finish`]) moves into the
//!   closure handed to the runtime: it is released only when the closure has
//!   returned or the runtime dropped it unrun, never when a shutdown gives up
//!   on it. A blocking closure cannot be aborted, so the abort switch is not
//!   watched; the shutdown's abandon step is what bounds the wait.
//! - The end is recorded before the count drops, as for every task.

use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::sync::Arc;

use super::catch::panic_message;
use super::registry::{attempt, Finish, Token};
use super::report::Exit;
use super::{StartError, TaskBuilder, TaskOutput, Tasks};
use crate::Shutdown;

impl Tasks {
    /// Runs the synchronous `job` on the runtime's blocking pool as an
    /// unnamed task.
    ///
    /// It is counted until it returns, so [`wait`](Tasks::wait) and
    /// [`shutdown`](Tasks::shutdown) wait for it; its panic or error is
    /// caught, logged (with where it was spawned) and passed to the failure
    /// hook, and counted in [`Report::unnamed_failures`](crate::Report::unnamed_failures).
    /// tokio-util's `TaskTracker::spawn_blocking` returns a `JoinHandle`;
    /// this returns nothing, as [`spawn`](Tasks::spawn) does: send the value
    /// you need on a channel of your own. For a task reported by name, use
    /// [`start_blocking`](Tasks::start_blocking).
    ///
    /// # Errors
    ///
    /// [`StartError::Closed`] once the registry is closed.
    ///
    /// # Caveats
    ///
    /// A blocking closure cannot be aborted: nothing can stop a thread
    /// inside a synchronous call. When a shutdown's grace runs out it keeps
    /// running; the shutdown gives up on it [`Tasks::ABANDON_AFTER`] later
    /// and counts it in [`Report::abandoned_unnamed`](crate::Report::abandoned_unnamed),
    /// which makes the report unclean (the adapters' `App` then exits 1 and
    /// leaves the thread behind). A runtime shutting down may drop a job it
    /// has not started: it is then reported as aborted, under the name
    /// `blocking task at <file:line:col>`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::mpsc;
    /// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// let (tx, rx) = mpsc::channel();
    /// tasks.spawn_blocking(move || tx.send(std::fs::read_dir(".").is_ok()).unwrap())?;
    /// tasks.close();
    /// rt.block_on(tasks.wait()); // waits for the closure's thread
    /// assert_eq!(rx.recv().unwrap(), true);
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, O>(&self, job: F) -> Result<(), StartError>
    where
        F: FnOnce() -> O + Send + 'static,
        O: TaskOutput,
    {
        if !self.inner.tracker.try_add() {
            return Err(StartError::Closed);
        }
        let mut unnamed = Unnamed {
            token: Some(Token(Arc::clone(&self.inner))),
            at: Location::caller(),
        };
        self.inner.rt.spawn_blocking(move || {
            let exit = match catch_unwind(AssertUnwindSafe(job)) {
                Ok(out) => match out.into_result() {
                    Ok(()) => Exit::Completed,
                    Err(e) => Exit::Failed(Arc::from(e)),
                },
                Err(payload) => Exit::Panicked(panic_message(&*payload)),
            };
            unnamed.end(exit);
        });
        Ok(())
    }

    /// Runs the synchronous `job` on the runtime's blocking pool as a named
    /// task, once.
    ///
    /// As [`start`](Tasks::start), with a closure in place of a future:
    /// `job` receives the task's own [`Shutdown`] scope and should return
    /// soon after it is triggered (check [`Shutdown::is_triggered`] between
    /// two pieces of work); returning then reads as [`Exit::Stopped`],
    /// before as [`Exit::Completed`]. Its panic is caught and reported as
    /// [`Exit::Panicked`], its error as [`Exit::Failed`].
    ///
    /// # Errors
    ///
    /// As [`Tasks::start`].
    ///
    /// # Caveats
    ///
    /// A blocking closure cannot be aborted. When its grace runs out
    /// ([`stop`](Tasks::stop) or [`shutdown`](Tasks::shutdown)), the abort
    /// cannot reach it: [`Tasks::ABANDON_AFTER`] later it is reported by
    /// name as [`Exit::Abandoned`] and its thread is left running; if it
    /// returns past its grace, a later report says [`Exit::Overran`]. Either
    /// makes the report unclean: the adapters' `App` names it and exits 1
    /// at its deadline, without waiting for the thread.
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
    /// tasks.start_blocking("compactor", |stop| {
    ///     while !stop.is_triggered() {
    ///         std::thread::sleep(Duration::from_millis(1)); // one synchronous step
    ///     }
    /// })?;
    /// assert!(tasks.is_running("compactor"));
    /// // On virtual time a blocking job takes no time: the clock waits for it.
    /// let report = rt.block_on(tasks.shutdown(Duration::from_secs(5)));
    /// assert!(matches!(report.get("compactor").unwrap().exit(), Exit::Stopped));
    /// assert_eq!(report.took(), Duration::ZERO);
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub fn start_blocking<F, O>(&self, name: impl Into<String>, job: F) -> Result<(), StartError>
    where
        F: FnOnce(Shutdown) -> O + Send + 'static,
        O: TaskOutput,
    {
        self.task(name).start_blocking(job)
    }
}

impl TaskBuilder<'_> {
    /// Runs the task once on the runtime's blocking pool; see
    /// [`Tasks::start_blocking`].
    ///
    /// # Errors
    ///
    /// As [`Tasks::start`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let service = Shutdown::new();
    /// let tasks = Tasks::new(rt.handle(), service.clone());
    /// tasks
    ///     .task("loader")
    ///     .critical()
    ///     .start_blocking(|_stop| Err::<(), _>("corrupt snapshot"))?;
    /// rt.block_on(service.triggered()); // a critical task ended
    /// assert_eq!(tasks.escalated(), ["loader"]);
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub fn start_blocking<F, O>(self, job: F) -> Result<(), StartError>
    where
        F: FnOnce(Shutdown) -> O + Send + 'static,
        O: TaskOutput,
    {
        let inner = &self.tasks.inner;
        let control = inner.register(self.name, self.critical)?;
        // Dropped unrun (a runtime shutting down), it records `Aborted`.
        let mut finish = Finish {
            inner: Arc::clone(inner),
            control,
            exit: None,
        };
        inner.rt.spawn_blocking(move || {
            let stop = finish.control.stop.clone();
            // The same classification and reporting as an async task's run:
            // the future resolves in its first poll, the closure running
            // inside it (its panic caught there), so `block_on` never parks.
            let run = attempt(&finish.inner, &finish.control, async move { job(stop) });
            let exit = futures_lite::future::block_on(run);
            finish.set(exit);
        });
        Ok(())
    }
}

/// An unnamed blocking job's count and where it was spawned: reported as
/// aborted if the runtime drops the job unrun.
struct Unnamed {
    token: Option<Token>,
    at: &'static Location<'static>,
}

impl Unnamed {
    /// Records how the job ended, then releases its count.
    fn end(&mut self, exit: Exit) {
        if let Some(token) = self.token.take() {
            token.finish("blocking task", self.at, exit);
        }
    }
}

impl Drop for Unnamed {
    fn drop(&mut self) {
        self.end(Exit::Aborted);
    }
}
