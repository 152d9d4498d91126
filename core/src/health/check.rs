use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::runtime::BoxFuture;

/// How healthy a component, or a set of them, is.
///
/// Ordered from best to worst, so the status of a set is the
/// [`max`](Ord::max) of its members' (after non-critical failures are capped
/// at [`Degraded`](Status::Degraded), see [`Report`](crate::health::Report)).
///
/// Unlike steward's other enums, not `#[non_exhaustive]`: the three are the
/// health document's `pass`, `warn` and `fail` and Kubernetes' ok / not ok,
/// a fixed set, so a `match` on them may list them all.
///
/// # Examples
///
/// ```
/// use steward_core::health::Status;
///
/// assert!(Status::Healthy < Status::Degraded && Status::Degraded < Status::Unhealthy);
/// assert_eq!(Status::Healthy.max(Status::Degraded), Status::Degraded);
/// assert_eq!(Status::Unhealthy.to_string(), "unhealthy");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Status {
    /// Working as it should.
    #[default]
    Healthy,
    /// Working, but not fully: the service can still do its job.
    Degraded,
    /// Not working.
    Unhealthy,
}

impl Status {
    /// The lower-case name: `healthy`, `degraded` or `unhealthy`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::health::Status::Degraded.as_str(), "degraded");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one run of a [`HealthCheck`] found: a status, an error text when it
/// is not healthy, and optional details.
///
/// A check's function returns this, or anything that converts into it:
/// a [`Status`], or a `Result<(), E>` whose error is displayable (`Ok` is
/// healthy, `Err` unhealthy with the error's text).
///
/// # Examples
///
/// ```
/// use steward_core::health::{CheckOutcome, Status};
///
/// let ok = CheckOutcome::healthy().with_details("3 connections idle");
/// assert_eq!(ok.status(), Status::Healthy);
/// assert_eq!(ok.details(), Some("3 connections idle"));
///
/// let slow = CheckOutcome::degraded("replica lag 12 s");
/// assert_eq!(slow.error(), Some("replica lag 12 s"));
///
/// let down: CheckOutcome = Err::<(), _>("connection refused").into();
/// assert_eq!(down.status(), Status::Unhealthy);
/// assert_eq!(down.error(), Some("connection refused"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckOutcome {
    status: Status,
    error: Option<String>,
    details: Option<String>,
}

impl CheckOutcome {
    /// The component is healthy.
    ///
    /// # Examples
    ///
    /// ```
    /// let ok = steward_core::health::CheckOutcome::healthy();
    /// assert_eq!(ok.error(), None);
    /// ```
    #[must_use]
    pub const fn healthy() -> Self {
        Self {
            status: Status::Healthy,
            error: None,
            details: None,
        }
    }

    /// The component works, but not fully; `reason` says how.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::health::{CheckOutcome, Status};
    ///
    /// let lag = CheckOutcome::degraded("replica lag 12 s");
    /// assert_eq!(lag.status(), Status::Degraded);
    /// ```
    #[must_use]
    pub fn degraded(reason: impl Into<String>) -> Self {
        Self {
            status: Status::Degraded,
            error: Some(reason.into()),
            details: None,
        }
    }

    /// The component does not work; `error` says why.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::health::{CheckOutcome, Status};
    ///
    /// let down = CheckOutcome::unhealthy("connection refused");
    /// assert_eq!(down.status(), Status::Unhealthy);
    /// ```
    #[must_use]
    pub fn unhealthy(error: impl Into<String>) -> Self {
        Self {
            status: Status::Unhealthy,
            error: Some(error.into()),
            details: None,
        }
    }

    /// Adds details: a free text served (when the service allows details) as
    /// the check's `output`, whatever its status.
    ///
    /// # Examples
    ///
    /// ```
    /// let ok = steward_core::health::CheckOutcome::healthy().with_details("v15.2");
    /// assert_eq!(ok.details(), Some("v15.2"));
    /// ```
    #[must_use]
    pub fn with_details(mut self, details: impl Into<String>) -> Self {
        self.details = Some(details.into());
        self
    }

    /// The status found.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::health::{CheckOutcome, Status};
    /// assert_eq!(CheckOutcome::healthy().status(), Status::Healthy);
    /// ```
    #[must_use]
    pub fn status(&self) -> Status {
        self.status
    }

    /// Why the component is not healthy, if it is not.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::health::CheckOutcome;
    /// assert_eq!(CheckOutcome::unhealthy("down").error(), Some("down"));
    /// ```
    #[must_use]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    /// The details, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::health::CheckOutcome;
    /// assert_eq!(CheckOutcome::healthy().details(), None);
    /// ```
    #[must_use]
    pub fn details(&self) -> Option<&str> {
        self.details.as_deref()
    }

    pub(crate) fn into_parts(self) -> (Status, Option<String>, Option<String>) {
        (self.status, self.error, self.details)
    }
}

impl From<Status> for CheckOutcome {
    fn from(status: Status) -> Self {
        Self {
            status,
            error: None,
            details: None,
        }
    }
}

impl<E: fmt::Display> From<Result<(), E>> for CheckOutcome {
    fn from(result: Result<(), E>) -> Self {
        match result {
            Ok(()) => Self::healthy(),
            Err(e) => Self::unhealthy(e.to_string()),
        }
    }
}

/// An async check of one component: a database, a queue, a downstream service,
/// the runtime itself.
///
/// Implement it for a type of your own, or pass a closure: any
/// `Fn() -> impl Future<Output = O>` where `O` converts into a
/// [`CheckOutcome`] (a `CheckOutcome`, a [`Status`], or `Result<(), E>` with
/// `E: Display`) is a check.
///
/// The registry ([`Health`](crate::health::Health)) bounds each run with a
/// timeout, catches its panics and runs it concurrently with the others, so
/// a check only has to look at its component once.
///
/// # Examples
///
/// A type of its own:
///
/// ```
/// use steward_core::health::{CheckOutcome, HealthCheck};
///
/// struct QueueDepth {
///     limit: usize,
/// }
///
/// impl HealthCheck for QueueDepth {
///     async fn check(&self) -> CheckOutcome {
///         let depth = 12; // ask the queue
///         if depth > self.limit {
///             CheckOutcome::degraded(format!("{depth} jobs waiting"))
///         } else {
///             CheckOutcome::healthy()
///         }
///     }
/// }
/// # futures_lite::future::block_on(async {
/// assert_eq!(QueueDepth { limit: 10 }.check().await.error(), Some("12 jobs waiting"));
/// # });
/// ```
///
/// A closure:
///
/// ```
/// use steward_core::health::{HealthCheck, Status};
///
/// let ping = || async { Ok::<(), std::io::Error>(()) };
/// # futures_lite::future::block_on(async {
/// assert_eq!(ping.check().await.status(), Status::Healthy);
/// # });
/// ```
pub trait HealthCheck: Send + Sync + 'static {
    /// Looks at the component once.
    ///
    /// # Cancel safety
    ///
    /// The registry drops the future when the check's timeout runs out; a
    /// check must leave its component in a usable state when dropped at any
    /// await point (as a connection pool's checkout does).
    fn check(&self) -> impl Future<Output = CheckOutcome> + Send;
}

impl<F, Fut> HealthCheck for F
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send,
    Fut::Output: Into<CheckOutcome>,
{
    fn check(&self) -> impl Future<Output = CheckOutcome> + Send {
        let run = self();
        async move { run.await.into() }
    }
}

/// The type-erased face of a [`HealthCheck`], as the registry stores it.
pub(crate) trait DynCheck: Send + Sync + 'static {
    /// One run; nothing of the check's own code runs before the first poll,
    /// so a panic anywhere in it is caught around the poll.
    fn run(self: Arc<Self>) -> BoxFuture<CheckOutcome>;
}

impl<C: HealthCheck> DynCheck for C {
    fn run(self: Arc<Self>) -> BoxFuture<CheckOutcome> {
        Box::pin(async move { self.check().await })
    }
}
