//! The registry of a service's background tasks: [`Tasks`].
//!
//! Files: `tracker` (the count, the closed flag, `wait`), `catch` (panics
//! caught around each poll, the abort switch), `registry` (named tasks, how
//! an end is recorded), `supervise` (restart policy and budget), `stop`
//! (stopping one task or all), `report` (how each task ended).
//!
//! Every task, named or not, runs inside one future handed to the runtime:
//! that future catches the task's panics, drops the task when its abort
//! switch is set, and records its end before it uncounts it. Nothing here
//! needs a runtime's `JoinHandle`, so it reads the same on every runtime.

mod blocking;
pub(crate) mod catch;
mod output;
mod registry;
mod report;
mod stop;
mod supervise;
mod token;
mod track;
mod tracker;

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::RuntimeHandle;
use crate::Shutdown;

pub(crate) use catch::{Guarded, Outcome, OPEN_EPOCH};
pub use output::TrackedOutput;
pub(crate) use registry::{attempt, Control, Inner, Token};
pub use report::{Exit, Report, TaskError, TaskReport};
pub use stop::{Stop, StopAll, Wait};
pub use supervise::Restart;
pub(crate) use supervise::Rng;
pub use token::TaskToken;
pub use track::Tracked;

use registry::Finish;

/// The registry of a service's background tasks.
///
/// - [`spawn`](Tasks::spawn) runs an unnamed task: counted, its panics
///   caught, its errors logged, its memory freed when it ends.
/// - [`start`](Tasks::start) runs a named task. It gets its own child
///   [`Shutdown`] scope: its stop signal, on which it finishes the item in
///   hand. A name that is still running cannot be started again.
/// - [`supervise`](Tasks::supervise) restarts a named task by a
///   [`Restart`] policy; [`task`](Tasks::task) marks one critical.
/// - [`every`](Tasks::every) and [`periodic`](Tasks::periodic) run a job on
///   a schedule ([`Periodic`](crate::Periodic)).
/// - [`spawn_blocking`](Tasks::spawn_blocking) and
///   [`start_blocking`](Tasks::start_blocking) run a synchronous closure on
///   the runtime's blocking pool, tracked and reported the same way.
/// - [`shield`](Tasks::shield) runs a future to completion even if its
///   caller goes away ([`Shielded`](crate::Shielded)).
/// - [`stop`](Tasks::stop) stops one named task, [`shutdown`](Tasks::shutdown)
///   stops them all within one grace period and returns a [`Report`].
///
/// # Stopping is explicit
///
/// The [`Shutdown`] given to [`Tasks::new`] is the *service's* scope: a
/// supervised task that fails past its budget, or a critical task that ends,
/// triggers it; no task is restarted once it is triggered. But triggering it
/// does not stop the tasks: [`Tasks::shutdown`] does. Between the two lies the
/// pre-stop delay, during which a service keeps working while the load
/// balancer takes it out of rotation. A program without one calls
/// `tasks.shutdown(grace)` right after the trigger.
///
/// # Panics and errors
///
/// A task's panic is caught around each poll, on every runtime: it never
/// takes the process down, never poisons the registry, and is reported as
/// [`Exit::Panicked`] with its message. A task that returns `Err` is logged
/// through `tracing` at error level with its name, passed to the
/// [`on_failure`](Tasks::on_failure) hook, and kept for the report.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::time::Duration;
/// use steward_core::testing::TestRuntime;
/// use steward_core::{Exit, Shutdown, Tasks};
///
/// let rt = TestRuntime::new();
/// let tasks = Tasks::new(rt.handle(), Shutdown::new());
///
/// let clock = rt.handle();
/// tasks.start("worker", move |stop| async move {
///     while !stop.is_triggered() {
///         clock.sleep(Duration::from_millis(250)).await; // one item of work
///     }
/// })?;
///
/// rt.advance(Duration::from_secs(1)); // the service runs for a while
/// let report = rt.block_on(tasks.shutdown(Duration::from_secs(5)));
/// // The worker finished the item in hand, then returned.
/// let worker = report.get("worker").unwrap();
/// assert!(matches!(worker.exit(), Exit::Stopped));
/// assert_eq!(worker.stop_took(), Some(Duration::from_millis(250)));
/// assert!(report.is_clean());
/// println!("{report}");
/// # }
/// # Ok::<(), steward_core::StartError>(())
/// ```
#[derive(Clone)]
pub struct Tasks {
    pub(crate) inner: Arc<Inner>,
}

/// Why a task could not be started.
///
/// # Examples
///
/// ```
/// use steward_core::StartError;
///
/// let err = StartError::AlreadyRunning("worker".into());
/// assert_eq!(err.to_string(), "a task named `worker` is already running");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StartError {
    /// A task with this name is still running.
    AlreadyRunning(String),
    /// The registry is closed ([`Tasks::close`] or [`Tasks::shutdown`]).
    Closed,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::AlreadyRunning(name) => {
                write!(f, "a task named `{name}` is already running")
            }
            StartError::Closed => f.write_str("the task registry is closed"),
        }
    }
}

impl Error for StartError {}

/// What a task may return: `()`, or `Result<(), E>` for any error that
/// converts into `Box<dyn Error + Send + Sync>` (including `anyhow::Error`,
/// `String` and `&'static str`).
///
/// # Examples
///
/// ```
/// use steward_core::TaskOutput;
///
/// assert!(().into_result().is_ok());
/// assert!(Ok::<(), std::io::Error>(()).into_result().is_ok());
/// assert_eq!(Err::<(), _>("gone").into_result().unwrap_err().to_string(), "gone");
/// ```
pub trait TaskOutput: Send + 'static {
    /// The task's result, its error boxed.
    ///
    /// # Errors
    ///
    /// The task's own error.
    fn into_result(self) -> Result<(), Box<dyn Error + Send + Sync + 'static>>;
}

impl TaskOutput for () {
    fn into_result(self) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
        Ok(())
    }
}

impl<E> TaskOutput for Result<(), E>
where
    E: Into<Box<dyn Error + Send + Sync + 'static>> + Send + 'static,
{
    fn into_result(self) -> Result<(), Box<dyn Error + Send + Sync + 'static>> {
        self.map_err(Into::into)
    }
}

impl Tasks {
    /// How long [`stop`](Tasks::stop) and [`shutdown`](Tasks::shutdown) wait,
    /// after the grace ran out and the abort was raised, for the aborted
    /// tasks to be dropped: 100 ms. A task still not ended then (its thread
    /// is blocked in a synchronous call, so it cannot be dropped) is
    /// reported as [`Exit::Abandoned`] and not waited for any more.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
    ///
    /// assert_eq!(Tasks::ABANDON_AFTER, Duration::from_millis(100));
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// tasks.start("deaf", |_stop| futures_lite::future::pending::<()>())?;
    /// rt.block_on(tasks.shutdown(Duration::from_secs(1)));
    /// // On virtual time the abort drops the task at once: no time is added.
    /// assert_eq!(rt.elapsed(), Duration::from_secs(1));
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub const ABANDON_AFTER: Duration = stop::ABANDON_AFTER;

    /// A new registry whose tasks run on `rt`, escalating to `shutdown`.
    ///
    /// `shutdown` is the service's scope (see *Stopping is explicit* above).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// assert!(tasks.is_empty());
    /// # }
    /// ```
    #[must_use]
    pub fn new(rt: RuntimeHandle, shutdown: Shutdown) -> Self {
        Self {
            inner: Arc::new(Inner::new(rt, shutdown)),
        }
    }

    /// Runs an unnamed task.
    ///
    /// Counting it is one atomic operation; its memory is freed as soon as it
    /// ends. Its panic or error is logged (with where it was spawned) and
    /// passed to the failure hook. It gets no stop signal of its own (capture
    /// a [`Shutdown`] if it needs one) and is dropped when a
    /// [`shutdown`](Tasks::shutdown)'s grace runs out.
    ///
    /// It is [`track`](Tasks::track)'s task (counted, guarded and reported
    /// alike) spawned on the registry's runtime, which type-erases (boxes)
    /// it: one allocation more than the runtime's own spawn. Since it is
    /// boxed anyway, its bookkeeping stays inline (24 bytes beside the
    /// task), so a task that waits allocates nothing more. Spawning
    /// `track`'s future on the runtime directly
    /// (`tokio::spawn(tasks.track(f)?)`) saves the box; `BENCHMARKS.md`
    /// (*Tracked spawn*) measures both.
    ///
    /// # Errors
    ///
    /// [`StartError::Closed`] once the registry is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::{testing::TestRuntime, Shutdown, StartError, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// tasks.spawn(async { /* work */ })?;
    /// tasks.close();
    /// rt.block_on(tasks.wait());
    /// assert_eq!(tasks.spawn(async {}), Err(StartError::Closed));
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Result<(), StartError>
    where
        F: Future + Send + 'static,
        F::Output: TaskOutput,
    {
        if !self.inner.tracker.try_add() {
            return Err(StartError::Closed);
        }
        let token = Token(Arc::clone(&self.inner));
        self.inner
            .rt
            .spawn(track::Spawned::new(token, Location::caller(), future));
        Ok(())
    }

    /// Counts `future` as an unnamed task and returns it, for the caller to
    /// spawn on its runtime directly: `tokio::spawn(tasks.track(f)?)`,
    /// `smol::spawn(tasks.track(f)?).detach()`.
    ///
    /// The task is [`spawn`](Tasks::spawn)'s, without the type erasure: the
    /// returned [`Tracked`] is a named future over `F`, so the runtime's
    /// spawn is the only allocation when it is spawned (a task that waits
    /// makes one more, small, at its first `Pending`: see *Caveats*). It is
    /// counted from this
    /// call until it ends or is dropped, so [`wait`](Tasks::wait),
    /// [`close`](Tasks::close) and [`shutdown`](Tasks::shutdown) see it; its
    /// panics are caught around each poll; its panic or error is logged
    /// (with where it was tracked) and passed to the failure hook; and it is
    /// dropped when a shutdown's grace runs out, reported as aborted.
    /// `future` need not be `Send` (a local executor may run it).
    ///
    /// # Errors
    ///
    /// [`StartError::Closed`] once the registry is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the [`Tracked`] (never spawned, or dropped by its runtime)
    /// drops the task and uncounts it, so a waiter is not held up by it; the
    /// task is then neither reported nor logged.
    ///
    /// # Caveats
    ///
    /// [`Tracked`] adds two words beside the task (16 bytes on 64-bit
    /// targets), so that a small task still fits the block its runtime
    /// allocates: tokio stores the future inline in a task cell aligned to
    /// 128 bytes, and `Tracked<async {}>` (24 bytes) fits the 128-byte cell
    /// where 32 bytes would need 256. The price is at the first `Pending`:
    /// a task that waits moves that bookkeeping, with the listener on the
    /// abort switch, into one small allocation (24 bytes) of its own, beside
    /// the listener's. A task that ends in its first poll allocates nothing
    /// here.
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
    /// // With a runtime: `tokio::spawn(tasks.track(work)?)`.
    /// let work = tasks.track(async { Err::<(), _>("refused") })?;
    /// let unused = tasks.track(async {})?;
    /// assert_eq!(tasks.len(), 2);
    /// drop(unused); // uncounted
    /// tasks.close();
    /// block_on(work); // logged as failed
    /// block_on(tasks.wait());
    /// assert!(matches!(tasks.track(async {}), Err(StartError::Closed)));
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    #[track_caller]
    pub fn track<F>(&self, future: F) -> Result<Tracked<F>, StartError>
    where
        F: Future,
        F::Output: TaskOutput,
    {
        if !self.inner.tracker.try_add() {
            return Err(StartError::Closed);
        }
        let token = Token(Arc::clone(&self.inner));
        Ok(Tracked::new(token, Location::caller(), future))
    }

    /// Runs a named task, once.
    ///
    /// `task` receives the task's own [`Shutdown`] scope: it is triggered by
    /// [`stop`](Tasks::stop) or [`shutdown`](Tasks::shutdown), and the task
    /// should then finish the item in hand and return. Returning `Ok` (or
    /// `()`) after that reads as [`Exit::Stopped`], before it as
    /// [`Exit::Completed`].
    ///
    /// # Errors
    ///
    /// [`StartError::AlreadyRunning`] if a task of that name is running (it
    /// is never silently replaced; a name whose task ended may be reused),
    /// [`StartError::Closed`] once the registry is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::{testing::TestRuntime, Shutdown, StartError, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// tasks.start("listener", |stop| async move { stop.triggered().await })?;
    /// assert_eq!(
    ///     tasks.start("listener", |_| async {}),
    ///     Err(StartError::AlreadyRunning("listener".into()))
    /// );
    /// assert!(tasks.is_running("listener"));
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub fn start<F, Fut>(&self, name: impl Into<String>, task: F) -> Result<(), StartError>
    where
        F: FnOnce(Shutdown) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        self.task(name).start(task)
    }

    /// Runs a named task under a restart policy.
    ///
    /// `make` is called for each run with the task's [`Shutdown`] scope (the
    /// same scope every run). See [`Restart`] for the backoff, the budget and
    /// the escalation.
    ///
    /// # Errors
    ///
    /// As [`Tasks::start`].
    ///
    /// # Examples
    ///
    /// See [`Restart`].
    pub fn supervise<F, Fut>(
        &self,
        name: impl Into<String>,
        policy: Restart,
        make: F,
    ) -> Result<(), StartError>
    where
        F: FnMut(Shutdown) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        self.task(name).supervise(policy, make)
    }

    /// Starts describing a named task, to mark it critical.
    ///
    /// # Examples
    ///
    /// See [`TaskBuilder`].
    pub fn task(&self, name: impl Into<String>) -> TaskBuilder<'_> {
        TaskBuilder {
            tasks: self,
            name: name.into(),
            critical: false,
        }
    }

    /// Stops the named task: triggers its scope, waits up to `grace`, then
    /// aborts it (drops its future, so its destructors run).
    ///
    /// Resolves to the task's report, which says which happened
    /// ([`Exit::Stopped`] or [`Exit::Aborted`], or how it ended otherwise),
    /// or `None` if no task of that name is running. A stopped task is not
    /// restarted, even when supervised. It resolves at the latest
    /// [`Tasks::ABANDON_AFTER`] after `grace`: a task whose thread is blocked
    /// is then reported [`Exit::Abandoned`]; one that returns after `grace`
    /// is reported [`Exit::Overran`].
    ///
    /// # Cancel safety
    ///
    /// The stop signal is sent on the first poll and cannot be taken back;
    /// dropping the future before the grace runs out leaves the task running
    /// without the abort.
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
    /// tasks.start("deaf", |_stop| futures_lite::future::pending::<()>())?;
    ///
    /// let report = rt.block_on(tasks.stop("deaf", Duration::from_secs(2))).unwrap();
    /// assert!(matches!(report.exit(), Exit::Aborted));
    /// assert_eq!(rt.elapsed(), Duration::from_secs(2));
    /// assert!(rt.block_on(tasks.stop("deaf", Duration::from_secs(2))).is_none());
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub fn stop(&self, name: &str, grace: Duration) -> Stop {
        Stop {
            inner: Box::pin(stop::stop_one(
                Arc::clone(&self.inner),
                name.to_owned(),
                grace,
            )),
        }
    }

    /// Stops every task within one grace period and reports how each ended.
    ///
    /// Closes the registry, triggers every named task's scope, and waits
    /// until all tracked tasks (named, unnamed and shielded) have ended or
    /// `grace` has passed; then it aborts the rest and waits up to
    /// [`Tasks::ABANDON_AFTER`] for them to be dropped. It therefore resolves
    /// by `grace + ABANDON_AFTER` whatever the tasks do. Calling it again
    /// reports again.
    ///
    /// # Cancel safety
    ///
    /// The close and the stop signals happen on the first poll; dropping the
    /// future later skips the abort and the report, not the stop.
    ///
    /// # Caveats
    ///
    /// An abort drops a task on its executor the next time it is polled; a
    /// task that blocks its thread (a synchronous call, a blocking flush, a
    /// `std::thread::sleep`) cannot be dropped until the call returns. The
    /// report does not wait for it: after [`Tasks::ABANDON_AFTER`] it is
    /// reported [`Exit::Abandoned`] (unnamed ones are counted in
    /// [`Report::abandoned_unnamed`]) and keeps its thread, which the
    /// runtime's own shutdown must then give up on (the adapters' `App`
    /// does). It stays aborted: once its thread comes back, it is dropped
    /// before it is polled again (the poll that blocked may still finish
    /// it), never run on, and a later report has it as aborted. Time can still be lost where no future is polled: a blocking
    /// call inside a task's `Drop` runs during the abort, on the executor's
    /// thread, and the report is then late by as long as it blocks, up to
    /// `ABANDON_AFTER`.
    ///
    /// # Examples
    ///
    /// See [`Report`].
    pub fn shutdown(&self, grace: Duration) -> StopAll {
        // From the call on, `reopen` refuses: a shutdown is final.
        self.inner.tracker.seal();
        StopAll {
            inner: Box::pin(stop::stop_all(Arc::clone(&self.inner), grace)),
        }
    }

    /// Closes the registry: no task can be spawned or started any more.
    ///
    /// Returns whether this call closed it. [`shield`](Tasks::shield) still
    /// runs its future when closed: cleanup must not be refused.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// assert!(tasks.close());
    /// assert!(!tasks.close());
    /// assert!(tasks.is_closed());
    /// # }
    /// ```
    pub fn close(&self) -> bool {
        self.inner.tracker.close()
    }

    /// Whether the registry is closed.
    ///
    /// # Examples
    ///
    /// See [`Tasks::close`].
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.inner.tracker.is_closed()
    }

    /// Waits until the registry is closed and every tracked task has ended.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it unregisters its listener.
    ///
    /// # Caveats
    ///
    /// As with tokio-util's `TaskTracker`, it never completes while the
    /// registry is open, so that an empty registry between two spawns is not
    /// mistaken for the end: call [`close`](Tasks::close) first.
    ///
    /// It completes once it has seen one moment when the registry was closed
    /// and empty, as tokio-util's does: a [`shield`](Tasks::shield), a
    /// [`token`](Tasks::token) or a [`reopen`](Tasks::reopen) that comes
    /// after that moment does not put it back to waiting. A `wait` begun
    /// after them waits for them.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// let clock = rt.handle();
    /// tasks.spawn(async move { clock.sleep(Duration::from_secs(1)).await })?;
    /// tasks.close();
    /// rt.block_on(tasks.wait());
    /// assert_eq!(rt.elapsed(), Duration::from_secs(1));
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            inner: &self.inner,
            listener: None,
        }
    }

    /// How many tasks are running: named, unnamed and shielded.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// tasks.spawn(async {})?;
    /// assert_eq!(tasks.len(), 1);
    /// rt.run_until_idle();
    /// assert_eq!(tasks.len(), 0);
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner.tracker.len()
    }

    /// Whether no task is running.
    ///
    /// # Examples
    ///
    /// See [`Tasks::new`].
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The names of the named tasks running now, in the order they were
    /// first started.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// tasks.start("b", |stop| async move { stop.triggered().await })?;
    /// tasks.start("a", |stop| async move { stop.triggered().await })?;
    /// assert_eq!(tasks.names(), ["b", "a"]);
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.inner.names()
    }

    /// Whether a task named `name` is running.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// tasks.start("once", |_| async {})?;
    /// assert!(tasks.is_running("once"));
    /// rt.run_until_idle();
    /// assert!(!tasks.is_running("once"));
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    #[must_use]
    pub fn is_running(&self, name: &str) -> bool {
        self.inner.running(name).is_some()
    }

    /// Sets the hook called whenever a task fails, panics or is aborted
    /// (each failed run of a supervised or periodic task included), with its
    /// name and how it ended; it replaces any previous hook.
    ///
    /// The hook runs on the task's executor thread, after the `tracing`
    /// event; a panic in it is caught and logged.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::{Arc, Mutex};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = seen.clone();
    /// tasks.on_failure(move |name, exit| log.lock().unwrap().push(format!("{name}: {exit}")));
    /// tasks.start("db", |_| async { Err::<(), _>("timeout") })?;
    /// rt.run_until_idle();
    /// assert_eq!(*seen.lock().unwrap(), ["db: failed: timeout"]);
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub fn on_failure<F>(&self, hook: F)
    where
        F: Fn(&str, &Exit) + Send + Sync + 'static,
    {
        self.inner.set_hook(Arc::new(hook));
    }

    /// The names of the tasks that triggered the service's shutdown: a
    /// supervised task past its restart budget, or a critical task that
    /// ended. Empty while all is well; a liveness check fails when it is not.
    ///
    /// # Examples
    ///
    /// See [`Restart`] and [`TaskBuilder::critical`].
    #[must_use]
    pub fn escalated(&self) -> Vec<String> {
        self.inner.escalated()
    }

    /// Whether two handles refer to the same registry.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// assert!(tasks.ptr_eq(&tasks.clone()));
    /// # }
    /// ```
    #[must_use]
    pub fn ptr_eq(&self, other: &Tasks) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Registers a named task and spawns `body`, which produces its exit.
    pub(crate) fn spawn_named<B, Fut>(
        &self,
        name: String,
        critical: bool,
        body: B,
    ) -> Result<(), StartError>
    where
        B: FnOnce(Arc<Inner>, Arc<Control>) -> Fut,
        Fut: Future<Output = Exit> + Send + 'static,
    {
        let control = self.inner.register(name, critical)?;
        let future = body(Arc::clone(&self.inner), Arc::clone(&control));
        let mut finish = Finish {
            inner: Arc::clone(&self.inner),
            control,
            exit: None,
        };
        self.inner.rt.spawn(async move {
            let control = Arc::clone(&finish.control);
            let exit = match Guarded::new(&control.abort, OPEN_EPOCH, future).await {
                Outcome::Done(exit) => exit,
                Outcome::Panicked(msg) => {
                    let exit = Exit::Panicked(msg);
                    finish.inner.report_failure(&control.name, &exit);
                    exit
                }
                Outcome::Aborted => Exit::Aborted,
            };
            finish.set(exit);
        });
        Ok(())
    }
}

impl fmt::Debug for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tasks")
            .field("len", &self.len())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

/// Describes a named task before it starts: returned by [`Tasks::task`].
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::{testing::TestRuntime, Reason, Shutdown, Tasks};
///
/// let rt = TestRuntime::new();
/// let service = Shutdown::new();
/// let tasks = Tasks::new(rt.handle(), service.clone());
/// tasks.task("server").critical().start(|_stop| async {
///     Err::<(), _>("address in use")
/// })?;
/// rt.block_on(service.triggered());
/// assert_eq!(
///     service.reason(),
///     Some(Reason::TaskFailed {
///         task: "server".into(),
///         error: "critical task ended: failed: address in use".into(),
///     })
/// );
/// assert_eq!(tasks.escalated(), ["server"]);
/// # }
/// # Ok::<(), steward_core::StartError>(())
/// ```
#[must_use = "a task builder does nothing until started"]
pub struct TaskBuilder<'a> {
    pub(crate) tasks: &'a Tasks,
    pub(crate) name: String,
    pub(crate) critical: bool,
}

impl TaskBuilder<'_> {
    /// Marks the task critical: when it ends for any cause other than a stop
    /// asked for (completed, failed past its restarts, panicked), the
    /// service's shutdown is triggered with
    /// [`Reason::TaskFailed`](crate::Reason::TaskFailed). It escalates once,
    /// and not at all when it ends after the service's shutdown was
    /// triggered for another cause.
    ///
    /// # Examples
    ///
    /// See [`TaskBuilder`].
    pub fn critical(mut self) -> Self {
        self.critical = true;
        self
    }

    /// Runs the task once; see [`Tasks::start`].
    ///
    /// # Errors
    ///
    /// As [`Tasks::start`].
    ///
    /// # Examples
    ///
    /// See [`TaskBuilder`].
    pub fn start<F, Fut>(self, task: F) -> Result<(), StartError>
    where
        F: FnOnce(Shutdown) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        self.tasks
            .spawn_named(self.name, self.critical, move |inner, control| async move {
                let stop = control.stop.clone();
                attempt(&inner, &control, async move { task(stop).await }).await
            })
    }

    /// Runs the task under a restart policy; see [`Tasks::supervise`].
    ///
    /// # Errors
    ///
    /// As [`Tasks::start`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::{testing::TestRuntime, Restart, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// tasks
    ///     .task("consumer")
    ///     .critical()
    ///     .supervise(Restart::on_failure(), |stop| async move { stop.triggered().await })?;
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub fn supervise<F, Fut>(self, policy: Restart, make: F) -> Result<(), StartError>
    where
        F: FnMut(Shutdown) -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        self.tasks
            .spawn_named(self.name, self.critical, move |inner, control| {
                supervise::supervise(inner, control, policy, make)
            })
    }
}

impl fmt::Debug for TaskBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskBuilder")
            .field("name", &self.name)
            .field("critical", &self.critical)
            .finish_non_exhaustive()
    }
}
