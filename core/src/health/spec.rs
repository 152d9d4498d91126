use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::check::DynCheck;
use super::HealthCheck;

/// The tag of checks folded into liveness (`/livez`).
///
/// # Examples
///
/// ```
/// use steward_core::health::{Check, LIVE};
/// let check = Check::new("runtime", || async { Ok::<(), String>(()) }).tag(LIVE);
/// assert!(check.has_tag("live"));
/// ```
pub const LIVE: &str = "live";
/// The tag of checks folded into readiness (`/readyz`).
///
/// # Examples
///
/// ```
/// use steward_core::health::{Check, READY};
/// let check = Check::new("db", || async { Ok::<(), String>(()) }).tag(READY);
/// assert!(check.has_tag("ready"));
/// ```
pub const READY: &str = "ready";

/// Names the probes use for their own state; a check may not take them.
pub(crate) const RESERVED: [&str; 2] = ["startup", "shutdown"];

/// The default timeout of one run of a check.
///
/// # Examples
///
/// ```
/// assert_eq!(steward_core::health::DEFAULT_TIMEOUT.as_secs(), 5);
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default interval between background runs of a check.
///
/// # Examples
///
/// ```
/// use steward_core::health::{Check, Refresh, DEFAULT_INTERVAL};
/// let check = Check::new("db", || async { Ok::<(), String>(()) });
/// assert_eq!(check.refresh_mode(), Refresh::Background { every: DEFAULT_INTERVAL });
/// ```
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// The default age under which an inline check's last result is served again
/// (a suggestion: [`Check::inline`] takes the cache explicitly).
///
/// # Examples
///
/// ```
/// use steward_core::health::{Check, DEFAULT_INLINE_CACHE};
/// let check = Check::new("db", || async { Ok::<(), String>(()) }).inline(DEFAULT_INLINE_CACHE);
/// # drop(check);
/// ```
pub const DEFAULT_INLINE_CACHE: Duration = Duration::from_secs(1);

/// When a check runs.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use steward_core::health::{Check, Refresh};
///
/// let check = Check::new("db", || async { Ok::<(), std::io::Error>(()) })
///     .refresh(Refresh::Inline { cache: Duration::from_millis(500) });
/// assert_eq!(check.refresh_mode(), Refresh::Inline { cache: Duration::from_millis(500) });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refresh {
    /// In a background task, once now and then every `every` after the last
    /// run ended; probes read the last result. A result older than three
    /// intervals counts as unhealthy ("stale").
    Background {
        /// The interval between runs (default 10 s).
        every: Duration,
    },
    /// On request: a probe that finds no result younger than `cache` runs
    /// the check (once, however many probes ask at the same time) and waits
    /// for it.
    Inline {
        /// How long a result is served again (default 1 s).
        cache: Duration,
    },
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh::Background {
            every: DEFAULT_INTERVAL,
        }
    }
}

/// A check and how to run it: the builder that [`Health::register`] takes.
///
/// Defaults: critical, no tags (so only in `/healthz` and `/health`), a 5 s
/// timeout, refreshed in the background every 10 s.
///
/// [`Health::register`]: crate::health::Health::register
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use steward_core::health::Check;
///
/// let cache = Check::new("cache", || async { Ok::<(), std::io::Error>(()) })
///     .critical(false)
///     .ready()
///     .tag("storage")
///     .timeout(Duration::from_secs(1))
///     .every(Duration::from_secs(5));
/// assert_eq!(cache.name(), "cache");
/// assert!(!cache.is_critical());
/// assert!(cache.has_tag("ready") && cache.has_tag("storage"));
/// ```
#[must_use = "a check does nothing until it is registered"]
pub struct Check {
    pub(crate) name: String,
    pub(crate) check: Arc<dyn DynCheck>,
    pub(crate) critical: bool,
    pub(crate) tags: Vec<String>,
    pub(crate) timeout: Duration,
    pub(crate) refresh: Refresh,
}

impl Check {
    /// A check named `name` (validated when registered: not empty, no `/`,
    /// no control characters such as CR or LF).
    ///
    /// # Examples
    ///
    /// See [`Check`].
    pub fn new(name: impl Into<String>, check: impl HealthCheck) -> Self {
        Self {
            name: name.into(),
            check: Arc::new(check),
            critical: true,
            tags: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            refresh: Refresh::default(),
        }
    }

    /// Whether the check's failure makes its reports unhealthy (`true`, the
    /// default) or only degraded.
    ///
    /// # Examples
    ///
    /// See [`Check`].
    pub fn critical(mut self, critical: bool) -> Self {
        self.critical = critical;
        self
    }

    /// Adds a tag: [`LIVE`] and [`READY`] fold the check into the probes;
    /// any other tag selects it with [`Select::tagged`].
    ///
    /// [`Select::tagged`]: crate::health::Select::tagged
    ///
    /// # Examples
    ///
    /// See [`Check`].
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        let tag = tag.into();
        if !self.tags.contains(&tag) {
            self.tags.push(tag);
        }
        self
    }

    /// Tags the check [`LIVE`]: its failure fails liveness ("restart me").
    /// Only for what a restart fixes, never a shared dependency.
    ///
    /// # Examples
    ///
    /// ```
    /// let check = steward_core::health::Check::new("runtime", || async { Ok::<(), String>(()) }).live();
    /// assert!(check.has_tag(steward_core::health::LIVE));
    /// ```
    pub fn live(self) -> Self {
        self.tag(LIVE)
    }

    /// Tags the check [`READY`]: its failure fails readiness ("send me no traffic").
    ///
    /// # Examples
    ///
    /// ```
    /// let check = steward_core::health::Check::new("db", || async { Ok::<(), String>(()) }).ready();
    /// assert!(check.has_tag(steward_core::health::READY));
    /// ```
    pub fn ready(self) -> Self {
        self.tag(READY)
    }

    /// The longest one run may take (default 5 s, keep it below the probe's
    /// period); past it the run is dropped and the check is unhealthy,
    /// "timed out".
    ///
    /// # Examples
    ///
    /// See [`Check`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Refreshes in the background every `every` (the default mode, every 10 s).
    ///
    /// # Examples
    ///
    /// See [`Check`].
    pub fn every(self, every: Duration) -> Self {
        self.refresh(Refresh::Background { every })
    }

    /// Runs on request, serving a result younger than `cache` again.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use steward_core::health::{Check, Refresh};
    ///
    /// let check = Check::new("db", || async { Ok::<(), String>(()) }).inline(Duration::from_secs(1));
    /// assert_eq!(check.refresh_mode(), Refresh::Inline { cache: Duration::from_secs(1) });
    /// ```
    pub fn inline(self, cache: Duration) -> Self {
        self.refresh(Refresh::Inline { cache })
    }

    /// Sets when the check runs.
    ///
    /// # Examples
    ///
    /// See [`Refresh`].
    pub fn refresh(mut self, refresh: Refresh) -> Self {
        self.refresh = refresh;
        self
    }

    /// The check's name.
    ///
    /// # Examples
    ///
    /// See [`Check`].
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the check is critical.
    ///
    /// # Examples
    ///
    /// See [`Check`].
    #[must_use]
    pub fn is_critical(&self) -> bool {
        self.critical
    }

    /// Whether the check carries `tag`.
    ///
    /// # Examples
    ///
    /// See [`Check`].
    #[must_use]
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// When the check runs.
    ///
    /// # Examples
    ///
    /// See [`Refresh`].
    #[must_use]
    pub fn refresh_mode(&self) -> Refresh {
        self.refresh
    }

    pub(crate) fn validate(&self) -> Result<(), RegisterError> {
        let invalid = |why| {
            Err(RegisterError::InvalidName {
                name: self.name.clone(),
                why,
            })
        };
        if self.name.is_empty() {
            return invalid("it is empty");
        }
        if self.name.contains('/') {
            return invalid("it contains `/`");
        }
        if self.name.chars().any(char::is_control) {
            return invalid("it contains a control character (such as CR or LF)");
        }
        if RESERVED.contains(&self.name.as_str()) {
            return invalid("the probes use it for their own state");
        }
        let zero_interval = match self.refresh {
            Refresh::Background { every } => every.is_zero(),
            Refresh::Inline { .. } => false,
        };
        if zero_interval {
            return Err(RegisterError::ZeroInterval {
                name: self.name.clone(),
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .field("critical", &self.critical)
            .field("tags", &self.tags)
            .field("timeout", &self.timeout)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

/// Why [`Health::register`](crate::health::Health::register) refused a check.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::health::{Check, Health, RegisterError};
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let health = Health::new(rt.handle());
/// let ok = || async { Ok::<(), String>(()) };
/// health.register(Check::new("db", ok)).unwrap();
/// assert!(matches!(
///     health.register(Check::new("db", ok)),
///     Err(RegisterError::DuplicateName { .. })
/// ));
/// assert!(matches!(
///     health.register(Check::new("a/b", ok)),
///     Err(RegisterError::InvalidName { .. })
/// ));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegisterError {
    /// The name cannot be used.
    InvalidName {
        /// The name given.
        name: String,
        /// Why it cannot.
        why: &'static str,
    },
    /// A check of that name is registered already.
    DuplicateName {
        /// The name given.
        name: String,
    },
    /// A background refresh interval of zero would run the check in a busy loop.
    ZeroInterval {
        /// The check's name.
        name: String,
    },
}

impl fmt::Display for RegisterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegisterError::InvalidName { name, why } => {
                write!(f, "invalid health check name {name:?}: {why}")
            }
            RegisterError::DuplicateName { name } => {
                write!(f, "a health check named {name:?} is registered already")
            }
            RegisterError::ZeroInterval { name } => {
                write!(f, "health check {name:?} has a refresh interval of zero")
            }
        }
    }
}

impl std::error::Error for RegisterError {}
