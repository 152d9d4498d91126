use std::fmt;
use std::sync::Arc;

use super::{CheckOutcome, HealthCheck};
use crate::sync::{lock, Mutex};
use crate::Shutdown;

/// A check that is healthy until something trips it, and then stays unhealthy.
///
/// The hook for failing liveness from code that is not a check: a
/// supervisor that gave up restarting a task trips it with the task's
/// failure, and the next liveness probe fails. It can also watch a
/// [`Shutdown`] scope: then it is tripped when that scope is triggered, with
/// the scope's [`Reason`](crate::Reason) (give it a scope that only
/// escalations trigger, not the service's whole shutdown, which readiness
/// handles).
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::health::{Check, Health, Select, Status, Tripwire};
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let health = Health::new(rt.handle());
/// let escalated = Tripwire::new();
/// health.register(Check::new("tasks", escalated.clone()).live()).unwrap();
/// assert_eq!(rt.block_on(health.refresh()).status(), Status::Healthy);
///
/// escalated.trip("task `mailer` failed 5 times in 60 s");
/// let report = rt.block_on(health.refresh());
/// assert_eq!(report.status(), Status::Unhealthy);
/// assert_eq!(report.checks()[0].error(), Some("task `mailer` failed 5 times in 60 s"));
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Tripwire {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    reason: Mutex<Option<String>>,
    scope: Option<Shutdown>,
}

impl Tripwire {
    /// An untripped wire.
    ///
    /// # Examples
    ///
    /// See [`Tripwire`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A wire that is also tripped when `scope` is triggered.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::health::Tripwire;
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let escalations = Shutdown::new();
    /// let wire = Tripwire::watching(escalations.clone());
    /// assert!(!wire.is_tripped());
    /// escalations.trigger(Reason::TaskFailed { task: "mailer".into(), error: "gave up".into() });
    /// assert_eq!(wire.reason().as_deref(), Some("task `mailer` failed: gave up"));
    /// ```
    #[must_use]
    pub fn watching(scope: Shutdown) -> Self {
        Self {
            inner: Arc::new(Inner {
                reason: Mutex::new(None),
                scope: Some(scope),
            }),
        }
    }

    /// Trips the wire; the first reason is kept. Returns whether this call tripped it.
    ///
    /// # Examples
    ///
    /// ```
    /// let wire = steward_core::health::Tripwire::new();
    /// assert!(wire.trip("first"));
    /// assert!(!wire.trip("second"));
    /// assert_eq!(wire.reason().as_deref(), Some("first"));
    /// ```
    pub fn trip(&self, reason: impl Into<String>) -> bool {
        let mut slot = lock(&self.inner.reason);
        if slot.is_some() {
            return false;
        }
        *slot = Some(reason.into());
        true
    }

    /// Whether the wire is tripped.
    ///
    /// # Examples
    ///
    /// See [`Tripwire::watching`].
    #[must_use]
    pub fn is_tripped(&self) -> bool {
        self.reason().is_some()
    }

    /// Why the wire was tripped, if it was.
    ///
    /// # Examples
    ///
    /// See [`Tripwire::trip`].
    #[must_use]
    pub fn reason(&self) -> Option<String> {
        if let Some(reason) = lock(&self.inner.reason).clone() {
            return Some(reason);
        }
        let reason = self.inner.scope.as_ref()?.reason()?;
        Some(reason.to_string())
    }

    /// Whether two handles are the same wire.
    ///
    /// # Examples
    ///
    /// ```
    /// let wire = steward_core::health::Tripwire::new();
    /// assert!(wire.ptr_eq(&wire.clone()));
    /// ```
    #[must_use]
    pub fn ptr_eq(&self, other: &Tripwire) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl HealthCheck for Tripwire {
    async fn check(&self) -> CheckOutcome {
        match self.reason() {
            Some(reason) => CheckOutcome::unhealthy(reason),
            None => CheckOutcome::healthy(),
        }
    }
}

impl fmt::Debug for Tripwire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tripwire")
            .field("watching_scope", &self.inner.scope.is_some())
            .finish_non_exhaustive()
    }
}
