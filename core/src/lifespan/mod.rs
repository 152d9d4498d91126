//! The lifespan: resources started in order and torn down in reverse order.
//!
//! # Invariants
//!
//! - `State::entries` holds the stop of every resource started and not yet
//!   handed to a teardown, in start order. Setting `State::teardown` and
//!   taking `entries` happen under one lock, and a start registers its entry
//!   under that lock only while `teardown` is `None`: every stop is taken by
//!   exactly one teardown job.
//! - A teardown job fills its [`Slot`] when it ends or is dropped, so a
//!   waiter never waits for a job that is gone.
//!
//! # Lock order
//!
//! `Inner::state`, `Inner::log` and `Slot::report` are never held together,
//! and none is held while notifying, spawning or running user code.

mod future;
mod report;

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use event_listener::Event;
use futures_lite::FutureExt;
use tracing::Instrument;

use crate::runtime::{BoxFuture, RuntimeHandle};
use crate::sync::{lock, Mutex};
use crate::{Reason, Shutdown};

pub use future::{LifespanRun, Start, Teardown};
pub use report::{LifespanError, LifespanReport, StepOutcome, StepPhase, StepReport};

use crate::tasks::catch::panic_message;
use report::SharedError;

/// Resources started in order, each with a name, a start future and a stop
/// function, and torn down in reverse order on every exit path.
///
/// [`start`](Lifespan::start) runs one step and records its teardown;
/// [`teardown`](Lifespan::teardown) stops every resource in reverse order;
/// [`run`](Lifespan::run) wraps a body so that the teardown runs however it
/// ends (value, error, panic). Each step's outcome and duration go in the
/// [`report`](Lifespan::report).
///
/// A `Lifespan` is a cloneable handle: clones share the resources, the
/// report and the settings. When the last handle is dropped before the
/// teardown began, the teardown is spawned on the runtime (with a warning in
/// the log) rather than skipped.
///
/// How it is meant to be used, and why:
///
/// - **What `start` hands back.** A resource's start future resolves to a
///   value `T: Clone`; the body gets it, and the lifespan keeps one clone for
///   the stop function, which receives it by value when the teardown comes.
///   Resources are usually handles already (a pool, a client, a channel's
///   sender, a server's shutdown handle), cheap to clone; anything else is
///   returned as an `Arc<T>` from the start future. So the body holds the
///   resource without any borrow of the lifespan, the stop function owns what
///   it stops and can move it into its future, and neither needs a lock.
/// - **Who tears down after a failed start.** A start that fails, times out,
///   panics or is interrupted by shutdown returns a [`LifespanError`] naming
///   the step, and records it in the report; it does not tear down by itself.
///   The scope that owns the lifespan does, in reverse order: the body returns
///   the error with `?` and [`Lifespan::run`] (or the `App`) tears down, then
///   returns it. Tearing down inside `start` would pull the resources from
///   under the tasks the body already spawned, before the `App` stops them,
///   and would leave a body no way to carry on without an optional resource.
/// - **Order.** The teardown stops resources in the reverse of the order in
///   which their starts completed (the order of the `start` calls, when the
///   body awaits each in turn; clones may also start resources concurrently).
/// - **Shutdown during startup.** Each start races the lifespan's
///   [`Shutdown`]: once it is triggered no start future is polled again (nor
///   begun), so a signal during a slow start stops the startup at once.
/// - **Teardown runs on the runtime.** [`Lifespan::teardown`] spawns the
///   teardown and waits for it: dropping the waiting future cuts nothing. A
///   lifespan whose last handle is dropped before its teardown began (or a
///   dropped [`LifespanRun`]) spawns the same teardown and logs a warning.
///   While it runs, the teardown holds a [`ShutdownGuard`](crate::ShutdownGuard)
///   on the lifespan's scope, so `shutdown.drained()` waits for it.
/// - **Every step is bounded.** Each start has a timeout (default
///   [`Lifespan::DEFAULT_START_TIMEOUT`]), each stop too
///   ([`Lifespan::DEFAULT_STOP_TIMEOUT`]), both overridable per step; a
///   deadline can bound the whole teardown ([`Lifespan::teardown_until`]).
///   Past it, each remaining stop is still polled once (a stop that finishes
///   at once still runs) and then reported as timed out.
/// - **Panics.** A panic in a start or stop function is caught and reported
///   under the step's name; a panic in the body of [`Lifespan::run`] is
///   caught, the teardown runs, and the panic is resumed.
///
/// # Caveats
///
/// A stop function must not wait for the lifespan's own scope to drain
/// (`shutdown.drained()`): the teardown holds that scope open while it runs,
/// so the stop would wait until its own timeout cuts it.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::sync::{Arc, Mutex};
/// use steward_core::testing::TestRuntime;
/// use steward_core::{Lifespan, LifespanError, Shutdown};
///
/// let rt = TestRuntime::new();
/// let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
/// let stopped = Arc::new(Mutex::new(Vec::new()));
///
/// let sum = rt.block_on(lifespan.run(|lifespan| {
///     let (db_log, cache_log) = (stopped.clone(), stopped.clone());
///     async move {
///         let db = lifespan
///             .start("db", async { Ok::<_, std::io::Error>(40) }, move |_| async move {
///                 db_log.lock().unwrap().push("db");
///             })
///             .await?;
///         let cache = lifespan
///             .start("cache", async { Ok::<_, std::io::Error>(2) }, move |_| async move {
///                 cache_log.lock().unwrap().push("cache");
///             })
///             .await?;
///         Ok::<_, LifespanError>(db + cache)
///     }
/// }));
/// assert_eq!(sum.unwrap(), 42);
/// assert_eq!(*stopped.lock().unwrap(), ["cache", "db"]); // reverse order
/// assert!(lifespan.report().is_clean());
/// # }
/// ```
#[derive(Clone)]
pub struct Lifespan {
    inner: Arc<Inner>,
}

struct Inner {
    rt: RuntimeHandle,
    shutdown: Shutdown,
    state: Mutex<State>,
    /// Every step's report so far; shared with the teardown jobs, which may
    /// outlive this `Inner`.
    log: Arc<Log>,
}

struct State {
    entries: Vec<Entry>,
    /// Set when the teardown began: nothing may start after it.
    teardown: Option<Arc<Slot>>,
    start_timeout: Duration,
    stop_timeout: Duration,
    teardown_budget: Option<Duration>,
    /// Told the name of each start step as it begins (the App's systemd
    /// notifier, for `STATUS=`).
    on_start: Option<StepObserver>,
}

type Log = Mutex<Vec<StepReport>>;

/// See [`Lifespan::on_start`].
pub(crate) type StepObserver = Arc<dyn Fn(&str) + Send + Sync>;

/// The stop function of one started resource, with what it needs.
pub(crate) struct Entry {
    name: String,
    stop_timeout: Duration,
    stop: Box<dyn FnOnce() -> BoxFuture<Result<(), SharedError>> + Send>,
}

impl Lifespan {
    /// The start timeout when none is set: 30 s.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::Lifespan::DEFAULT_START_TIMEOUT.as_secs(), 30);
    /// ```
    pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);

    /// The stop timeout when none is set: 5 s (one step of a teardown that
    /// must fit, with the tasks' drain, in Kubernetes' 30 s grace).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::Lifespan::DEFAULT_STOP_TIMEOUT.as_secs(), 5);
    /// ```
    pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

    /// A lifespan on `rt`, whose starts are cut short when `shutdown` is triggered.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let lifespan = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new());
    /// assert!(lifespan.report().steps().is_empty());
    /// # }
    /// ```
    #[must_use]
    pub fn new(rt: RuntimeHandle, shutdown: Shutdown) -> Self {
        Self {
            inner: Arc::new(Inner {
                rt,
                shutdown,
                state: Mutex::new(State {
                    entries: Vec::new(),
                    teardown: None,
                    start_timeout: Self::DEFAULT_START_TIMEOUT,
                    stop_timeout: Self::DEFAULT_STOP_TIMEOUT,
                    teardown_budget: None,
                    on_start: None,
                }),
                log: Arc::new(Mutex::new(Vec::new())),
            }),
        }
    }

    /// Sets the start timeout of the steps started from now on (all handles).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let lifespan = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new())
    ///     .with_start_timeout(Duration::from_secs(120)); // slow migrations
    /// let never = futures_lite::future::pending::<Result<(), String>>();
    /// assert!(rt.block_on(lifespan.start("migrations", never, |()| async {})).is_err());
    /// assert_eq!(rt.elapsed(), Duration::from_secs(120));
    /// # }
    /// ```
    #[must_use]
    pub fn with_start_timeout(self, timeout: Duration) -> Self {
        lock(&self.inner.state).start_timeout = timeout;
        self
    }

    /// Sets the stop timeout of the steps started from now on (all handles).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let lifespan = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new())
    ///     .with_stop_timeout(Duration::from_secs(2));
    /// rt.block_on(async {
    ///     let hangs = |()| futures_lite::future::pending::<()>();
    ///     lifespan.start("db", async { Ok::<_, String>(()) }, hangs).await.unwrap();
    ///     lifespan.teardown().await;
    /// });
    /// assert_eq!(rt.elapsed(), Duration::from_secs(2));
    /// # }
    /// ```
    #[must_use]
    pub fn with_stop_timeout(self, timeout: Duration) -> Self {
        lock(&self.inner.state).stop_timeout = timeout;
        self
    }

    /// Bounds the whole of [`teardown`](Lifespan::teardown) (and so of
    /// [`run`](Lifespan::run)'s teardown) by `budget`, counted from its start.
    /// Unset, only each step's own timeout bounds it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let lifespan = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new())
    ///     .with_teardown_budget(Duration::from_secs(3));
    /// rt.block_on(async {
    ///     for name in ["a", "b"] {
    ///         let hangs = |()| futures_lite::future::pending::<()>();
    ///         lifespan.start(name, async { Ok::<_, String>(()) }, hangs).await.unwrap();
    ///     }
    ///     lifespan.teardown().await; // b is cut at 3 s (not 5 s), a at once
    /// });
    /// assert_eq!(rt.elapsed(), Duration::from_secs(3));
    /// # }
    /// ```
    #[must_use]
    pub fn with_teardown_budget(self, budget: Duration) -> Self {
        lock(&self.inner.state).teardown_budget = Some(budget);
        self
    }

    /// Starts one resource: runs `start`, and on success records `stop` for
    /// the teardown and hands back the resource.
    ///
    /// `start` resolves to `Ok(resource)` or an error. On success the
    /// lifespan keeps a clone of the resource, and the teardown calls
    /// `stop(clone)` and awaits it; the stop future may resolve to `()` or to
    /// a `Result` (see [`StopOutput`]). The returned [`Start`] can set this
    /// step's own timeouts before it is awaited:
    /// [`Start::start_timeout`], [`Start::stop_timeout`].
    ///
    /// # Errors
    ///
    /// A [`LifespanError`] naming the step when `start` returns an error,
    /// runs past its timeout or panics; when the lifespan's shutdown is
    /// triggered before it completes; or when the teardown has already begun.
    /// The resources started before it stay recorded: the caller's scope
    /// tears them down (as [`Lifespan::run`] does when the body returns the
    /// error).
    ///
    /// # Cancel safety
    ///
    /// Dropping the [`Start`] before it completes drops the start future; the
    /// step is then neither recorded nor reported. Once it has completed, the
    /// resource's stop is recorded and runs at the teardown.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use steward_core::testing::TestRuntime;
    /// use steward_core::{Lifespan, Shutdown};
    ///
    /// struct Journal;
    /// impl Journal {
    ///     async fn flush(&self) -> std::io::Result<()> { Ok(()) }
    /// }
    ///
    /// let rt = TestRuntime::new();
    /// let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
    /// rt.block_on(async {
    ///     // Not a handle type: returned in an Arc, one clone goes to `stop`.
    ///     let journal: Arc<Journal> = lifespan
    ///         .start(
    ///             "journal",
    ///             async { Ok::<_, std::io::Error>(Arc::new(Journal)) },
    ///             |journal| async move { journal.flush().await },
    ///         )
    ///         .stop_timeout(Duration::from_secs(10))
    ///         .await
    ///         .unwrap();
    ///     journal.flush().await.unwrap();
    ///     assert!(lifespan.teardown().await.is_clean());
    /// });
    /// # }
    /// ```
    pub fn start<T, E, F, S, SF>(&self, name: impl Into<String>, start: F, stop: S) -> Start<F, S>
    where
        F: Future<Output = Result<T, E>>,
        E: Into<Box<dyn Error + Send + Sync>>,
        T: Clone + Send + 'static,
        S: FnOnce(T) -> SF + Send + 'static,
        SF: Future + Send + 'static,
        SF::Output: StopOutput,
    {
        let (start_timeout, stop_timeout) = {
            let state = lock(&self.inner.state);
            (state.start_timeout, state.stop_timeout)
        };
        Start::new(
            self.clone(),
            name.into(),
            start,
            stop,
            start_timeout,
            stop_timeout,
        )
    }

    /// Stops every started resource, in reverse order of start, and resolves
    /// to the report of the whole lifespan.
    ///
    /// Each stop runs within its own timeout, and all within the
    /// [teardown budget](Lifespan::with_teardown_budget) when one is set. Once
    /// the teardown has begun nothing more may start. Calling it again, or
    /// from another handle, waits for the same teardown.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the teardown runs on the runtime and dropping the
    /// [`Teardown`] cuts nothing (a `Teardown` dropped before its first poll
    /// has not begun anything either).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::testing::TestRuntime;
    /// use steward_core::{Lifespan, Shutdown, StepPhase};
    ///
    /// let rt = TestRuntime::new();
    /// let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
    /// let report = rt.block_on(async {
    ///     for name in ["a", "b"] {
    ///         lifespan.start(name, async { Ok::<_, String>(()) }, |()| async {}).await.unwrap();
    ///     }
    ///     lifespan.teardown().await
    /// });
    /// let stops: Vec<&str> = report
    ///     .steps()
    ///     .iter()
    ///     .filter(|s| s.phase == StepPhase::Stop)
    ///     .map(|s| s.name.as_str())
    ///     .collect();
    /// assert_eq!(stops, ["b", "a"]);
    /// # }
    /// ```
    pub fn teardown(&self) -> Teardown {
        Teardown::new(self.clone(), None)
    }

    /// As [`teardown`](Lifespan::teardown), with the whole teardown bounded by
    /// `deadline` on the runtime's clock (the `App`'s one budget for every
    /// phase). A stop reached after the deadline is still polled once, then
    /// reported as timed out. If the teardown had already begun, this waits
    /// for it and `deadline` is ignored.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Lifespan::teardown`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// use steward_core::testing::TestRuntime;
    /// use steward_core::{Lifespan, Shutdown, StepOutcome};
    ///
    /// let rt = TestRuntime::new();
    /// let handle = rt.handle();
    /// let lifespan = Lifespan::new(handle.clone(), Shutdown::new());
    /// let report = rt.block_on(async {
    ///     let slow = handle.clone();
    ///     lifespan
    ///         .start("slow", async { Ok::<_, String>(()) }, move |()| async move {
    ///             slow.sleep(Duration::from_secs(4)).await;
    ///         })
    ///         .await
    ///         .unwrap();
    ///     lifespan.teardown_until(handle.now() + Duration::from_secs(1)).await
    /// });
    /// assert!(matches!(report.steps()[1].outcome, StepOutcome::TimedOut));
    /// assert_eq!(rt.elapsed(), Duration::from_secs(1));
    /// # }
    /// ```
    pub fn teardown_until(&self, deadline: Instant) -> Teardown {
        Teardown::new(self.clone(), Some(deadline))
    }

    /// Runs `body` with this lifespan, then tears it down however the body
    /// ended, and resolves to the body's output.
    ///
    /// The body gets a handle to the lifespan to start its resources; it
    /// typically returns a `Result` and uses `?` on
    /// [`start`](Lifespan::start). On a value or an error the teardown runs
    /// and the output is returned; on a panic the panic is caught, the
    /// teardown runs, and the panic is resumed. The report stays readable
    /// through [`Lifespan::report`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the [`LifespanRun`] drops the body, then hands the teardown
    /// to the runtime (with a warning in the log) if it had not begun.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::testing::TestRuntime;
    /// use steward_core::{Lifespan, LifespanError, Shutdown};
    ///
    /// let rt = TestRuntime::new();
    /// let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
    /// let out = rt.block_on(lifespan.run(|lifespan| async move {
    ///     lifespan.start("db", async { Ok::<_, String>(()) }, |()| async {}).await?;
    ///     lifespan.start("cache", async { Err::<(), _>("refused") }, |()| async {}).await?;
    ///     Ok::<_, LifespanError>(())
    /// }));
    /// assert_eq!(out.unwrap_err().step(), "cache");
    /// // db started, cache failed, db stopped: torn down before `run` returned.
    /// assert_eq!(lifespan.report().steps().len(), 3);
    /// # }
    /// ```
    pub fn run<B, Fut>(&self, body: B) -> LifespanRun<Fut>
    where
        B: FnOnce(Lifespan) -> Fut,
        Fut: Future,
    {
        LifespanRun::new(self.clone(), body(self.clone()))
    }

    /// Every step so far (starts and stops), oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let lifespan = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new());
    /// rt.block_on(lifespan.start("db", async { Ok::<_, String>(()) }, |()| async {})).unwrap();
    /// assert_eq!(lifespan.report().to_string(), "db: started in 0ns");
    /// # rt.block_on(lifespan.teardown());
    /// # }
    /// ```
    #[must_use]
    pub fn report(&self) -> LifespanReport {
        LifespanReport::new(lock(&self.inner.log).clone())
    }

    /// How many resources are started and not yet handed to a teardown.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let lifespan = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new());
    /// rt.block_on(lifespan.start("db", async { Ok::<_, String>(()) }, |()| async {})).unwrap();
    /// assert_eq!(lifespan.len(), 1);
    /// rt.block_on(lifespan.teardown());
    /// assert_eq!(lifespan.len(), 0);
    /// # }
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.inner.state).entries.len()
    }

    /// Whether no resource is started and waiting for a teardown.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// assert!(steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new()).is_empty());
    /// # }
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the teardown has begun (nothing more may start).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let lifespan = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new());
    /// assert!(!lifespan.is_closed());
    /// rt.block_on(lifespan.teardown());
    /// assert!(lifespan.is_closed());
    /// # }
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        lock(&self.inner.state).teardown.is_some()
    }

    /// Whether two handles refer to the same lifespan.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let a = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new());
    /// assert!(a.ptr_eq(&a.clone()));
    /// # }
    /// ```
    #[must_use]
    pub fn ptr_eq(&self, other: &Lifespan) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn rt(&self) -> &RuntimeHandle {
        &self.inner.rt
    }

    pub(crate) fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// Has `observer` told the name of every start step that begins from
    /// now on (on all handles).
    pub(crate) fn on_start(&self, observer: StepObserver) {
        lock(&self.inner.state).on_start = Some(observer);
    }

    /// A start step named `name` begins: tells the observer, if any (called
    /// outside the lock).
    pub(crate) fn step_began(&self, name: &str) {
        let observer = lock(&self.inner.state).on_start.clone();
        if let Some(observer) = observer {
            observer(name);
        }
    }

    pub(crate) fn record(&self, step: StepReport) {
        record(&self.inner.log, step);
    }

    /// Records the stop of a resource that finished starting; when the
    /// teardown has begun already, stops it at once on the runtime instead
    /// and gives back `false`.
    pub(crate) fn register(&self, entry: Entry) -> bool {
        let mut state = lock(&self.inner.state);
        if state.teardown.is_none() {
            state.entries.push(entry);
            return true;
        }
        drop(state);
        let slot = Arc::new(Slot::new());
        self.inner.spawn_teardown(vec![entry], None, slot);
        false
    }

    /// Begins the teardown (or joins the one that has begun).
    pub(crate) fn begin_teardown(&self, deadline: Option<Instant>) -> Arc<Slot> {
        let now = self.inner.rt.now();
        let (entries, slot, deadline) = {
            let mut state = lock(&self.inner.state);
            if let Some(slot) = &state.teardown {
                return Arc::clone(slot);
            }
            let slot = Arc::new(Slot::new());
            state.teardown = Some(Arc::clone(&slot));
            let deadline = deadline.or_else(|| state.teardown_budget.map(|b| now + b));
            (std::mem::take(&mut state.entries), slot, deadline)
        };
        self.inner
            .spawn_teardown(entries, deadline, Arc::clone(&slot));
        slot
    }

    /// Begins the teardown if nothing has, warning that `what` was dropped.
    pub(crate) fn detach_teardown(&self, what: &str) {
        let pending = {
            let state = lock(&self.inner.state);
            state.teardown.is_none() && !state.entries.is_empty()
        };
        if pending {
            tracing::warn!(
                "{what} dropped before its teardown: the teardown is handed to the runtime"
            );
            drop(self.begin_teardown(None));
        }
    }
}

impl fmt::Debug for Lifespan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (started, closed) = match self.inner.state.try_lock() {
            Ok(state) => (Some(state.entries.len()), Some(state.teardown.is_some())),
            Err(_) => (None, None),
        };
        f.debug_struct("Lifespan")
            .field("started", &started)
            .field("closed", &closed)
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Spawns a job that stops `entries` in reverse order and then fills `slot`.
    fn spawn_teardown(&self, entries: Vec<Entry>, deadline: Option<Instant>, slot: Arc<Slot>) {
        let fill = FillOnDrop {
            slot,
            log: Arc::clone(&self.log),
        };
        if entries.is_empty() {
            return; // `fill` is dropped here: nothing to wait for.
        }
        let rt = self.rt.clone();
        let guard = self.shutdown.guard();
        self.rt.spawn(async move {
            for entry in entries.into_iter().rev() {
                let step = stop_one(&rt, entry, deadline).await;
                record(&fill.log, step);
            }
            drop(fill); // the report is complete before the scope may drain
            drop(guard);
        });
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let entries = {
            let mut state = lock(&self.state);
            if state.teardown.is_some() {
                return;
            }
            std::mem::take(&mut state.entries)
        };
        if !entries.is_empty() {
            tracing::warn!(
                resources = entries.len(),
                "lifespan dropped before its teardown: the teardown is handed to the runtime"
            );
            self.spawn_teardown(entries, None, Arc::new(Slot::new()));
        }
    }
}

/// Runs one stop within its timeout and the deadline, catching its panic.
async fn stop_one(rt: &RuntimeHandle, entry: Entry, deadline: Option<Instant>) -> StepReport {
    let began = rt.now();
    let mut timeout = entry.stop_timeout;
    if let Some(deadline) = deadline {
        timeout = timeout.min(deadline.saturating_duration_since(began));
    }
    let stop = entry.stop;
    let span = tracing::info_span!("lifespan_step", name = %entry.name, phase = "stop");
    let outcome = match span.in_scope(|| catch_unwind(AssertUnwindSafe(stop))) {
        Err(panic) => StepOutcome::Panicked(panic_message(&*panic)),
        Ok(fut) => match rt
            .timeout(
                timeout,
                AssertUnwindSafe(fut).catch_unwind().instrument(span),
            )
            .await
        {
            Ok(Ok(Ok(()))) => StepOutcome::Completed,
            Ok(Ok(Err(e))) => StepOutcome::Failed(e),
            Ok(Err(panic)) => StepOutcome::Panicked(panic_message(&*panic)),
            Err(_elapsed) => StepOutcome::TimedOut,
        },
    };
    StepReport::new(entry.name, StepPhase::Stop, outcome, rt.now() - began)
}

/// Appends `step` to the log, and logs it through `tracing`.
fn record(log: &Log, step: StepReport) {
    match &step.outcome {
        StepOutcome::Completed => tracing::info!("{step}"),
        StepOutcome::Panicked(_) => tracing::error!("{step}"),
        _ => tracing::warn!("{step}"),
    }
    let phase = match step.phase {
        StepPhase::Start => "start",
        StepPhase::Stop => "stop",
    };
    crate::observe::lifespan_step(&step.name, phase, step.duration);
    lock(log).push(step);
}

/// Where a teardown job leaves the final report for its waiters.
pub(crate) struct Slot {
    report: Mutex<Option<LifespanReport>>,
    done: Event,
}

impl Slot {
    fn new() -> Self {
        Self {
            report: Mutex::new(None),
            done: Event::new(),
        }
    }

    pub(crate) fn report(&self) -> Option<LifespanReport> {
        lock(&self.report).clone()
    }
}

/// Fills the slot with the log when the job ends, or when it is dropped
/// unfinished (a runtime shutting down): waiters never wait for a lost job.
struct FillOnDrop {
    slot: Arc<Slot>,
    log: Arc<Log>,
}

impl Drop for FillOnDrop {
    fn drop(&mut self) {
        let report = LifespanReport::new(lock(&self.log).clone());
        *lock(&self.slot.report) = Some(report);
        self.slot.done.notify(usize::MAX);
    }
}

/// What a stop function's future may resolve to: `()`, or a `Result` whose
/// error becomes the step's [`StepOutcome::Failed`].
///
/// # Examples
///
/// ```
/// use steward_core::StopOutput;
///
/// assert!(().into_stop_result().is_ok());
/// assert!(Err::<(), _>("disk full").into_stop_result().is_err());
/// ```
pub trait StopOutput {
    /// The stop's outcome as a `Result`.
    ///
    /// # Errors
    ///
    /// The stop's own error, shared.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::StopOutput;
    /// let err = Err::<(), _>(std::io::Error::other("flush failed")).into_stop_result();
    /// assert_eq!(err.unwrap_err().to_string(), "flush failed");
    /// ```
    fn into_stop_result(self) -> Result<(), Arc<dyn Error + Send + Sync + 'static>>;
}

impl StopOutput for () {
    fn into_stop_result(self) -> Result<(), Arc<dyn Error + Send + Sync + 'static>> {
        Ok(())
    }
}

impl<E: Into<Box<dyn Error + Send + Sync>>> StopOutput for Result<(), E> {
    fn into_stop_result(self) -> Result<(), Arc<dyn Error + Send + Sync + 'static>> {
        self.map_err(|e| Arc::from(e.into()))
    }
}

impl Entry {
    pub(crate) fn new<T, S, SF>(name: String, stop_timeout: Duration, resource: T, stop: S) -> Self
    where
        T: Send + 'static,
        S: FnOnce(T) -> SF + Send + 'static,
        SF: Future + Send + 'static,
        SF::Output: StopOutput,
    {
        Self {
            name,
            stop_timeout,
            stop: Box::new(move || {
                let fut = stop(resource);
                Box::pin(async move { fut.await.into_stop_result() })
            }),
        }
    }
}

/// The reason shutdown was triggered, for a start it cut short.
pub(crate) fn shutdown_reason(shutdown: &Shutdown) -> Reason {
    shutdown.reason().unwrap_or(Reason::Requested)
}
