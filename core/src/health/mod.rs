//! Health checks: [`HealthCheck`], the registry [`Health`], and the
//! [`Report`] of a set of checks.
//!
//! A check looks at one component and returns a [`CheckOutcome`]: healthy,
//! degraded or unhealthy, with an error text and optional details. The
//! registry runs each check under a timeout (default 5 s), catches its
//! panics, refreshes it in the background (default every 10 s) or on request
//! with a short cache, and never runs the same check twice at once. A probe
//! reads the last results; the [`Report`] of a set is the worst of its
//! members, where a non-critical check's failure only degrades it.
//!
//! | what a probe sees | when |
//! |---|---|
//! | the check's own result | the last run finished within 3 refresh intervals |
//! | unhealthy, `pending: not run yet` | the check has not finished a run yet |
//! | unhealthy, `stale: …` | the last result is older than 3 intervals |
//! | unhealthy, `timed out after …` | the run passed its timeout and was dropped |
//! | unhealthy, `panicked: …` | the run panicked |
//!
//! Changes of a check's status are logged with `tracing` (warn when it
//! fails, info when it recovers), with the error text that the HTTP face
//! withholds by default.
//!
//! Built-in checks: [`StallWatchdog`] (is the runtime scheduling tasks on
//! time?), [`Tripwire`] (liveness fails once something, such as a
//! supervisor that gave up, trips it). The adapters add a TCP connect check.
//!
//! # Examples
//!
//! ```
//! # #[cfg(feature = "test-util")] {
//! use std::time::Duration;
//! use steward_core::health::{Check, CheckOutcome, Health, Select, Status};
//! use steward_core::testing::TestRuntime;
//!
//! let rt = TestRuntime::new(); // in a service: the adapter's runtime handle
//! let health = Health::new(rt.handle());
//!
//! health.register(Check::new("db", || async { Ok::<(), String>(()) }).ready()).unwrap();
//! health
//!     .register(
//!         Check::new("cache", || async { CheckOutcome::unhealthy("connection refused") })
//!             .critical(false)
//!             .ready()
//!             .timeout(Duration::from_secs(1)),
//!     )
//!     .unwrap();
//!
//! let report = rt.block_on(async {
//!     health.refresh().await; // or wait for the background refresh
//!     health.report(&Select::tagged("ready")).await
//! });
//! assert_eq!(report.status(), Status::Degraded);
//! assert_eq!(report.get("cache").unwrap().error(), Some("connection refused"));
//! # }
//! ```

mod check;
mod entry;
mod join;
mod report;
mod spec;
mod tcp;
mod tripwire;
mod watchdog;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::runtime::{BoxFuture, RuntimeHandle};
use crate::sync::{lock, Mutex};
use crate::{Reason, Shutdown};

pub use check::{CheckOutcome, HealthCheck, Status};
pub use report::{CheckResult, Report};
pub use spec::{
    Check, Refresh, RegisterError, DEFAULT_INLINE_CACHE, DEFAULT_INTERVAL, DEFAULT_TIMEOUT, LIVE,
    READY,
};
pub use tcp::{Connector, TcpCheck};
pub use tripwire::Tripwire;
pub use watchdog::StallWatchdog;

use entry::Entry;
use join::join_all;

/// The registry of a service's health checks: a cloneable handle.
///
/// Checks are added with [`register`](Health::register) and read with
/// [`report`](Health::report). Background checks start running as soon as
/// they are registered, on the runtime given to [`Health::new`]; they stop
/// when the last handle is dropped.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::health::{Check, Health, Select, Status};
/// use steward_core::testing::TestRuntime;
///
/// let rt = TestRuntime::new();
/// let health = Health::new(rt.handle());
/// health.register(Check::new("db", || async { Status::Healthy }).ready()).unwrap();
///
/// // Before its first run, a check is "pending" (unhealthy).
/// let report = rt.block_on(health.report(&Select::all()));
/// assert_eq!(report.checks()[0].error(), Some("pending: not run yet"));
///
/// // The background refresh runs it at once.
/// rt.run_until_idle();
/// let report = rt.block_on(health.report(&Select::all()));
/// assert_eq!(report.status(), Status::Healthy);
/// # }
/// ```
#[derive(Clone)]
pub struct Health {
    inner: Arc<Registry>,
}

struct Registry {
    rt: RuntimeHandle,
    /// In registration order; names unique.
    entries: Mutex<Vec<Arc<Entry>>>,
    /// Triggered when the registry is dropped: stops the refresh loops.
    stop: Shutdown,
}

impl Health {
    /// An empty registry whose checks run on `rt`.
    ///
    /// # Examples
    ///
    /// See [`Health`].
    #[must_use]
    pub fn new(rt: RuntimeHandle) -> Self {
        Self {
            inner: Arc::new(Registry {
                rt,
                entries: Mutex::new(Vec::new()),
                stop: Shutdown::new(),
            }),
        }
    }

    /// Adds a check; a background check starts its first run at once.
    ///
    /// # Errors
    ///
    /// [`RegisterError`] when the name is empty, contains `/` or a control
    /// character, is one the probes use (`startup`, `shutdown`), or is taken;
    /// or when a background interval is zero.
    ///
    /// # Examples
    ///
    /// See [`Health`] and [`RegisterError`].
    pub fn register(&self, check: Check) -> Result<(), RegisterError> {
        check.validate()?;
        let entry = Arc::new(Entry::new(check, self.inner.rt.clone()));
        {
            let mut entries = lock(&self.inner.entries);
            if entries.iter().any(|e| e.name == entry.name) {
                return Err(RegisterError::DuplicateName {
                    name: entry.name.to_string(),
                });
            }
            entries.push(Arc::clone(&entry));
        }
        tracing::debug!(check = &*entry.name, "health check registered");
        entry.spawn_refresh(self.inner.stop.clone());
        Ok(())
    }

    /// Stops the background refresh of every check, for good: the
    /// [`App`](crate::App) calls it when the drain starts, so that no check
    /// probes a resource that is being closed. Checks registered later run
    /// once. Reports then answer from the last results (a background result
    /// goes stale, so unhealthy, after three of its intervals); inline checks
    /// still run when a report asks.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use steward_core::health::{Check, Health, Status};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = Health::new(rt.handle());
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let count = runs.clone();
    /// let check = move || {
    ///     count.fetch_add(1, Ordering::SeqCst);
    ///     async { Status::Healthy }
    /// };
    /// health.register(Check::new("db", check).every(Duration::from_secs(1)))?;
    /// rt.advance(Duration::from_millis(2500)); // runs at 0, 1 and 2 s
    /// health.stop_refresh();
    /// rt.advance(Duration::from_secs(10));
    /// assert_eq!(runs.load(Ordering::SeqCst), 3);
    /// # }
    /// # Ok::<(), steward_core::health::RegisterError>(())
    /// ```
    pub fn stop_refresh(&self) {
        self.inner.stop.trigger(crate::Reason::Requested);
    }

    /// The current results of the selected checks.
    ///
    /// Background checks answer from their cache at once; inline checks whose
    /// last result is older than their cache run (once, however many reports
    /// ask at the same time), concurrently, and the report waits for them.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future leaves the runs it started going, and
    /// their results are cached for the next report.
    ///
    /// # Examples
    ///
    /// See [`Select`].
    pub fn report(&self, select: &Select) -> ReportFuture {
        let (entries, excluded, unmatched) = self.select(select);
        let results = join_all(entries.into_iter().map(Entry::current));
        ReportFuture {
            inner: Box::pin(async move {
                let mut report = Report::new(results.await);
                report.excluded = excluded;
                report.unmatched_excludes = unmatched;
                report
            }),
        }
    }

    /// Runs every check now, concurrently, and reports on all of them.
    ///
    /// A check already running is not started again: its run in flight
    /// answers.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Health::report`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use steward_core::health::{Check, Health};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = Health::new(rt.handle());
    /// let runs = Arc::new(AtomicUsize::new(0));
    /// let counter = runs.clone();
    /// let check = move || {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    ///     async { Ok::<(), String>(()) }
    /// };
    /// health.register(Check::new("db", check).inline(Duration::from_secs(60))).unwrap();
    /// rt.block_on(health.refresh());
    /// rt.block_on(health.refresh()); // refresh ignores the cache
    /// assert_eq!(runs.load(Ordering::SeqCst), 2);
    /// # }
    /// ```
    pub fn refresh(&self) -> ReportFuture {
        let (entries, _, _) = self.select(&Select::all());
        let results = join_all(entries.into_iter().map(|e| e.fresh(None)));
        ReportFuture {
            inner: Box::pin(async move { Report::new(results.await) }),
        }
    }

    /// Whether a check named `name` is registered (and, given a tag, carries it).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::health::{Check, Health, READY};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = Health::new(rt.handle());
    /// health.register(Check::new("db", || async { Ok::<(), String>(()) }).ready()).unwrap();
    /// assert!(health.contains("db", None));
    /// assert!(health.contains("db", Some(READY)));
    /// assert!(!health.contains("db", Some("live")));
    /// assert!(!health.contains("cache", None));
    /// # }
    /// ```
    #[must_use]
    pub fn contains(&self, name: &str, tag: Option<&str>) -> bool {
        lock(&self.inner.entries)
            .iter()
            .any(|e| &*e.name == name && tag.is_none_or(|t| e.has_tag(t)))
    }

    /// How many checks are registered.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// assert_eq!(steward_core::health::Health::new(rt.handle()).len(), 0);
    /// # }
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        lock(&self.inner.entries).len()
    }

    /// Whether no check is registered.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// assert!(steward_core::health::Health::new(rt.handle()).is_empty());
    /// # }
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The runtime the checks run on.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let handle = rt.handle();
    /// let health = steward_core::health::Health::new(handle.clone());
    /// assert!(health.runtime().ptr_eq(&handle));
    /// # }
    /// ```
    #[must_use]
    pub fn runtime(&self) -> &RuntimeHandle {
        &self.inner.rt
    }

    /// Whether two handles refer to the same registry.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = steward_core::health::Health::new(rt.handle());
    /// assert!(health.ptr_eq(&health.clone()));
    /// # }
    /// ```
    #[must_use]
    pub fn ptr_eq(&self, other: &Health) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The matching entries, the excluded names and the excludes that matched nothing.
    fn select(&self, select: &Select) -> (Vec<Arc<Entry>>, Vec<Arc<str>>, Vec<String>) {
        let entries = lock(&self.inner.entries);
        let matching = entries.iter().filter(|e| {
            select.tag.as_deref().is_none_or(|t| e.has_tag(t))
                && select.only.as_deref().is_none_or(|n| &*e.name == n)
        });
        let mut kept = Vec::new();
        let mut excluded = Vec::new();
        for entry in matching {
            if select.exclude.iter().any(|x| *x == *entry.name) {
                excluded.push(Arc::clone(&entry.name));
            } else {
                kept.push(Arc::clone(entry));
            }
        }
        drop(entries);
        let mut unmatched: Vec<String> = Vec::new();
        for name in &select.exclude {
            if !excluded.iter().any(|x| **x == **name) && !unmatched.contains(name) {
                unmatched.push(name.clone());
            }
        }
        (kept, excluded, unmatched)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop.trigger(Reason::Requested);
    }
}

impl fmt::Debug for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Health").finish_non_exhaustive()
    }
}

/// Which checks a report covers: all, those with a tag, or one by name;
/// minus some excluded by name.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::health::{Check, Health, Select, Status};
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let health = Health::new(rt.handle());
/// for name in ["db", "cache", "queue"] {
///     health.register(Check::new(name, || async { Status::Healthy }).ready()).unwrap();
/// }
/// rt.block_on(health.refresh());
///
/// let select = Select::tagged("ready").exclude("cache").exclude("nope");
/// let report = rt.block_on(health.report(&select));
/// let names: Vec<_> = report.checks().iter().map(|c| c.name()).collect();
/// assert_eq!(names, ["db", "queue"]);
/// assert_eq!(&*report.excluded()[0], "cache");
/// assert_eq!(report.unmatched_excludes(), ["nope"]);
///
/// let one = rt.block_on(health.report(&Select::all().only("queue")));
/// assert_eq!(one.checks().len(), 1);
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Select {
    tag: Option<String>,
    only: Option<String>,
    exclude: Vec<String>,
}

impl Select {
    /// Every check.
    ///
    /// # Examples
    ///
    /// See [`Select`].
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    /// The checks carrying `tag`.
    ///
    /// # Examples
    ///
    /// See [`Select`].
    #[must_use]
    pub fn tagged(tag: impl Into<String>) -> Self {
        Self {
            tag: Some(tag.into()),
            ..Self::default()
        }
    }

    /// Narrows the selection to the check named `name`.
    ///
    /// # Examples
    ///
    /// See [`Select`].
    #[must_use]
    pub fn only(mut self, name: impl Into<String>) -> Self {
        self.only = Some(name.into());
        self
    }

    /// Leaves the check named `name` out (listed in [`Report::excluded`], or
    /// in [`Report::unmatched_excludes`] when no selected check has that name).
    ///
    /// # Examples
    ///
    /// See [`Select`].
    #[must_use]
    pub fn exclude(mut self, name: impl Into<String>) -> Self {
        self.exclude.push(name.into());
        self
    }

    /// The tag selected on, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::health::Select::tagged("live").tag(), Some("live"));
    /// ```
    #[must_use]
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The one name selected, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::health::Select::all().only("db").name(), Some("db"));
    /// ```
    #[must_use]
    pub fn name(&self) -> Option<&str> {
        self.only.as_deref()
    }

    /// The names excluded.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::health::Select::all().exclude("db").excluded(), ["db"]);
    /// ```
    #[must_use]
    pub fn excluded(&self) -> &[String] {
        &self.exclude
    }

    pub(crate) fn with_tag(mut self, tag: &str) -> Self {
        self.tag = Some(tag.to_owned());
        self
    }
}

/// Future returned by [`Health::report`] and [`Health::refresh`].
///
/// # Examples
///
/// See [`Health`].
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct ReportFuture {
    // Boxed at the registry's edge: it joins a number of erased checks.
    inner: BoxFuture<Report>,
}

impl ReportFuture {
    pub(crate) fn new(future: impl Future<Output = Report> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(future),
        }
    }

    pub(crate) fn ready(report: Report) -> Self {
        Self::new(std::future::ready(report))
    }
}

impl Future for ReportFuture {
    type Output = Report;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Report> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for ReportFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportFuture").finish_non_exhaustive()
    }
}
