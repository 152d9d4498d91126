use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Status;

/// The last known result of one check, as served to a probe.
///
/// Besides what the check itself returned, a result can be one the registry
/// made up: `pending` (never run yet), `stale` (older than three refresh
/// intervals), `timed out` or `panicked`; all of these are
/// [`Unhealthy`](Status::Unhealthy).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::health::{Check, Health, Status};
/// use steward_core::testing::TestRuntime;
///
/// let rt = TestRuntime::new();
/// let health = Health::new(rt.handle());
/// health.register(Check::new("db", || async { Status::Healthy })).unwrap();
/// let report = rt.block_on(health.refresh());
/// let db = &report.checks()[0];
/// assert_eq!((db.name(), db.status(), db.error()), ("db", Status::Healthy, None));
/// assert!(db.checked_at().is_some());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub(crate) name: Arc<str>,
    pub(crate) critical: bool,
    pub(crate) status: Status,
    pub(crate) latency: Duration,
    pub(crate) error: Option<String>,
    pub(crate) details: Option<String>,
    pub(crate) checked_at: Option<SystemTime>,
}

impl CheckResult {
    /// The check's name.
    ///
    /// # Examples
    ///
    /// See [`CheckResult`].
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The check's own status (a non-critical check may be unhealthy while
    /// its report is only degraded).
    ///
    /// # Examples
    ///
    /// See [`CheckResult`].
    #[must_use]
    pub fn status(&self) -> Status {
        self.status
    }

    /// Whether the check is critical: its failure makes the whole report
    /// unhealthy rather than degraded.
    ///
    /// # Examples
    ///
    /// See [`Report`].
    #[must_use]
    pub fn is_critical(&self) -> bool {
        self.critical
    }

    /// How long the run took (the timeout, for a run that timed out; zero
    /// for a check never run).
    ///
    /// # Examples
    ///
    /// See [`CheckResult`].
    #[must_use]
    pub fn latency(&self) -> Duration {
        self.latency
    }

    /// Why the component is not healthy, if it is not.
    ///
    /// # Examples
    ///
    /// See [`CheckResult`].
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The details the check gave, if any.
    ///
    /// # Examples
    ///
    /// See [`CheckResult`].
    #[must_use]
    pub fn details(&self) -> Option<&str> {
        self.details.as_deref()
    }

    /// The wall-clock time the run finished, or `None` for a check never run.
    ///
    /// # Examples
    ///
    /// See [`CheckResult`].
    #[must_use]
    pub fn checked_at(&self) -> Option<SystemTime> {
        self.checked_at
    }

    /// What this result weighs in a report: its status, capped at degraded
    /// when the check is not critical.
    pub(crate) fn weight(&self) -> Status {
        if self.critical {
            self.status
        } else {
            self.status.min(Status::Degraded)
        }
    }

    /// A result that no run produced (pending, or the probes' own state).
    pub(crate) fn synthetic(name: Arc<str>, status: Status, error: Option<String>) -> Self {
        Self {
            name,
            critical: true,
            status,
            latency: Duration::ZERO,
            error,
            details: None,
            checked_at: None,
        }
    }
}

/// The results of a set of checks and their aggregate status.
///
/// The aggregate is the worst of the members, where a non-critical check
/// weighs at most [`Degraded`](Status::Degraded); an empty set is
/// [`Healthy`](Status::Healthy). Checks are listed in the order they were
/// registered.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::health::{Check, Health, Status};
/// use steward_core::testing::TestRuntime;
///
/// let rt = TestRuntime::new();
/// let health = Health::new(rt.handle());
/// health.register(Check::new("db", || async { Status::Healthy })).unwrap();
/// health
///     .register(Check::new("cache", || async { Err::<(), _>("refused") }).critical(false))
///     .unwrap();
///
/// let report = rt.block_on(health.refresh());
/// assert_eq!(report.status(), Status::Degraded); // a non-critical failure degrades
/// assert_eq!(report.checks()[1].status(), Status::Unhealthy);
/// assert!(!report.checks()[1].is_critical());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    pub(crate) status: Status,
    pub(crate) checks: Vec<CheckResult>,
    pub(crate) excluded: Vec<Arc<str>>,
    pub(crate) unmatched_excludes: Vec<String>,
}

impl Report {
    pub(crate) fn new(checks: Vec<CheckResult>) -> Self {
        let mut report = Self {
            checks,
            ..Self::default()
        };
        report.status = report.aggregate();
        report
    }

    fn aggregate(&self) -> Status {
        self.checks
            .iter()
            .map(CheckResult::weight)
            .max()
            .unwrap_or(Status::Healthy)
    }

    /// Puts results ahead of the checks (the probes' own state comes first).
    pub(crate) fn prepend(&mut self, front: Vec<CheckResult>) {
        self.checks.splice(0..0, front);
        self.status = self.aggregate();
    }

    /// The aggregate status.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::health::{Health, Select, Status};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = Health::new(rt.handle());
    /// let report = rt.block_on(health.report(&Select::all()));
    /// assert_eq!(report.status(), Status::Healthy); // an empty set is healthy
    /// # }
    /// ```
    #[must_use]
    pub fn status(&self) -> Status {
        self.status
    }

    /// Every selected check's result, in registration order.
    ///
    /// # Examples
    ///
    /// See [`Report`].
    #[must_use]
    pub fn checks(&self) -> &[CheckResult] {
        &self.checks
    }

    /// One check's result by name.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::health::{Check, Health, Status};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = Health::new(rt.handle());
    /// health.register(Check::new("db", || async { Status::Healthy })).unwrap();
    /// let report = rt.block_on(health.refresh());
    /// assert_eq!(report.get("db").map(|r| r.status()), Some(Status::Healthy));
    /// assert!(report.get("nope").is_none());
    /// # }
    /// ```
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&CheckResult> {
        self.checks.iter().find(|c| &*c.name == name)
    }

    /// The checks the selection matched but excluded by name.
    ///
    /// # Examples
    ///
    /// See [`Select::exclude`](crate::health::Select::exclude).
    #[must_use]
    pub fn excluded(&self) -> &[Arc<str>] {
        &self.excluded
    }

    /// Names asked to be excluded that matched no check.
    ///
    /// # Examples
    ///
    /// See [`Select::exclude`](crate::health::Select::exclude).
    #[must_use]
    pub fn unmatched_excludes(&self) -> &[String] {
        &self.unmatched_excludes
    }
}
