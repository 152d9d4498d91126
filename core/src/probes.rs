//! Kubernetes' three probes — liveness, readiness, startup — from the
//! service's phase and its health checks.
//!
//! | phase | liveness | readiness | startup |
//! |---|---|---|---|
//! | [`Starting`](Phase::Starting) | healthy | unhealthy | unhealthy |
//! | [`Running`](Phase::Running) | checks tagged [`LIVE`] | checks tagged [`READY`] | healthy |
//! | [`Draining`](Phase::Draining) | healthy | unhealthy at once, for good | healthy |
//!
//! The phase moves only forward. It becomes draining when
//! [`Probes::set_draining`] is called or the moment the [`Shutdown`] given to
//! [`Probes::new`] is triggered (read with one atomic load on every probe),
//! whichever comes first, and never goes back.
//!
//! Readiness lists the probes' own state as two checks of its own,
//! `startup` and `shutdown` (as Kubernetes' apiserver lists `shutdown`);
//! they can be asked for alone (`/readyz/shutdown`) but not excluded, and no
//! registered check may take their names. While draining, the text body
//! words the failing `shutdown` check as what it is: `[-]shutdown draining`
//! (with `show_errors`, `[-]shutdown draining: signal 15 (SIGTERM)`), where a
//! failed check reads `[-]db failed: reason withheld`.
//!
//! [`Probes::phase_changed`] waits for the phase to move on (the systemd
//! notifier and the gRPC health service follow the phase with it).
//!
//! # Invariants
//!
//! The phase is raised (`fetch_max`) before the `changed` event is notified;
//! a waiter listens, then reads the phase again, then waits: no change is
//! missed.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use event_listener::{Event, EventListener};
use pin_project_lite::pin_project;

use crate::health::{CheckResult, Health, Report, ReportFuture, Select, Status, LIVE, READY};
use crate::shutdown::TriggeredOwned;
use crate::sync::{AtomicUsize, Ordering};
use crate::Shutdown;

const STARTUP: &str = "startup";
/// The probes' own readiness check that fails once draining; the text
/// bodies word it as `[-]shutdown draining` (see `http::text`).
pub(crate) const SHUTDOWN: &str = "shutdown";

/// Where the service is in its life.
///
/// # Examples
///
/// ```
/// use steward_core::probes::Phase;
/// assert!(Phase::Starting < Phase::Running && Phase::Running < Phase::Draining);
/// assert_eq!(Phase::Draining.to_string(), "draining");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Startup has not finished.
    Starting,
    /// Startup finished; shutdown has not begun.
    Running,
    /// Shutdown was triggered.
    Draining,
}

impl Phase {
    fn from_usize(n: usize) -> Self {
        match n {
            0 => Phase::Starting,
            1 => Phase::Running,
            _ => Phase::Draining,
        }
    }

    /// The lower-case name.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::probes::Phase::Running.as_str(), "running");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::Draining => "draining",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which probe is asked.
///
/// # Examples
///
/// ```
/// use steward_core::probes::Probe;
/// assert_eq!(Probe::Ready.endpoint(), "readyz");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Probe {
    /// "Restart me": the checks tagged [`LIVE`], while running.
    Live,
    /// "Send me traffic": running, not draining, and the checks tagged [`READY`].
    Ready,
    /// "Don't judge liveness yet": startup finished.
    Startup,
    /// Every check, whatever its tags and the phase (`/healthz`, `/health`).
    All,
}

impl Probe {
    /// The probe's endpoint name (Kubernetes' convention): `livez`,
    /// `readyz`, `startupz` or `healthz`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::probes::Probe::All.endpoint(), "healthz");
    /// ```
    #[must_use]
    pub const fn endpoint(self) -> &'static str {
        match self {
            Probe::Live => "livez",
            Probe::Ready => "readyz",
            Probe::Startup => "startupz",
            Probe::All => "healthz",
        }
    }
}

/// The probes of one service: its phase, its shutdown scope and its checks.
///
/// A cloneable handle; the HTTP face ([`crate::http`]) serves it.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::health::{Health, Select, Status};
/// use steward_core::probes::{Phase, Probe, Probes};
/// use steward_core::{Reason, Shutdown};
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let shutdown = Shutdown::new();
/// let probes = Probes::new(Health::new(rt.handle()), shutdown.clone());
/// let ready = |p: &Probes| rt.block_on(p.report(Probe::Ready, &Select::all())).status();
///
/// assert_eq!(ready(&probes), Status::Unhealthy); // starting
/// probes.set_running();
/// assert_eq!(ready(&probes), Status::Healthy);
/// shutdown.trigger(Reason::Signal(15));
/// assert_eq!(ready(&probes), Status::Unhealthy); // draining, for good
/// assert_eq!(probes.phase(), Phase::Draining);
/// # }
/// ```
#[derive(Clone)]
pub struct Probes {
    inner: Arc<Inner>,
}

struct Inner {
    health: Health,
    shutdown: Shutdown,
    /// The `Phase` as a number; only ever raised (`fetch_max`).
    phase: AtomicUsize,
    /// Notified (all listeners) after the phase is raised.
    changed: Event,
}

impl Probes {
    /// The probes of a service with these checks, draining once `shutdown`
    /// is triggered. The phase starts as [`Phase::Starting`].
    ///
    /// # Examples
    ///
    /// See [`Probes`].
    #[must_use]
    pub fn new(health: Health, shutdown: Shutdown) -> Self {
        crate::observe::phase(Phase::Starting);
        Self {
            inner: Arc::new(Inner {
                health,
                shutdown,
                phase: AtomicUsize::new(Phase::Starting as usize),
                changed: Event::new(),
            }),
        }
    }

    /// The health checks.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = steward_core::health::Health::new(rt.handle());
    /// let probes = steward_core::probes::Probes::new(health.clone(), steward_core::Shutdown::new());
    /// assert!(probes.health().ptr_eq(&health));
    /// # }
    /// ```
    #[must_use]
    pub fn health(&self) -> &Health {
        &self.inner.health
    }

    /// The phase now.
    ///
    /// # Examples
    ///
    /// See [`Probes`].
    #[must_use]
    pub fn phase(&self) -> Phase {
        // Relaxed: the phase publishes no other data, and one atomic's
        // modification order alone keeps it from being seen going back.
        let phase = Phase::from_usize(self.inner.phase.load(Ordering::Relaxed));
        if phase < Phase::Draining && self.inner.shutdown.is_triggered() {
            self.raise(Phase::Draining);
            return Phase::Draining;
        }
        phase
    }

    /// Startup finished: the service is running (unless it is draining already).
    ///
    /// # Examples
    ///
    /// See [`Probes`].
    pub fn set_running(&self) {
        self.raise(Phase::Running);
    }

    /// Shutdown began, whether or not the scope given to [`Probes::new`] was
    /// triggered: readiness fails from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::probes::{Phase, Probes};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let probes = Probes::new(steward_core::health::Health::new(rt.handle()), steward_core::Shutdown::new());
    /// probes.set_draining();
    /// probes.set_running(); // too late: the phase never goes back
    /// assert_eq!(probes.phase(), Phase::Draining);
    /// # }
    /// ```
    pub fn set_draining(&self) {
        self.raise(Phase::Draining);
    }

    fn raise(&self, to: Phase) {
        // Relaxed: as in `phase`.
        let from = Phase::from_usize(self.inner.phase.fetch_max(to as usize, Ordering::Relaxed));
        if from < to {
            crate::observe::phase(to);
            self.inner.changed.notify(usize::MAX);
            tracing::info!(
                from = from.as_str(),
                to = to.as_str(),
                "service phase changed"
            );
        }
    }

    /// Waits until the phase is past `seen`, and returns the new phase.
    ///
    /// Ready at once when it is past `seen` already; a trigger of the
    /// [`Shutdown`] given to [`Probes::new`] counts as the move to
    /// [`Phase::Draining`]. Never ready when `seen` is
    /// [`Phase::Draining`] (the last phase).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future unregisters its listeners; the
    /// phase is state, so a new call with the phase last seen misses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::probes::{Phase, Probes};
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let shutdown = Shutdown::new();
    /// let probes = Probes::new(steward_core::health::Health::new(rt.handle()), shutdown.clone());
    /// probes.set_running();
    /// assert_eq!(rt.block_on(probes.phase_changed(Phase::Starting)), Phase::Running);
    /// shutdown.trigger(Reason::Requested);
    /// assert_eq!(rt.block_on(probes.phase_changed(Phase::Running)), Phase::Draining);
    /// # }
    /// ```
    pub fn phase_changed(&self, seen: Phase) -> PhaseChanged {
        PhaseChanged {
            probes: self.clone(),
            seen,
            listener: None,
            triggered: self.inner.shutdown.clone().triggered_owned(),
        }
    }

    /// Whether `probe` has a check named `name`, as `/readyz/<name>` asks.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::health::{Check, Health};
    /// use steward_core::probes::{Probe, Probes};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = Health::new(rt.handle());
    /// health.register(Check::new("db", || async { Ok::<(), String>(()) }).ready()).unwrap();
    /// let probes = Probes::new(health, steward_core::Shutdown::new());
    /// assert!(probes.has_check(Probe::Ready, "db"));
    /// assert!(probes.has_check(Probe::Ready, "shutdown"));
    /// assert!(!probes.has_check(Probe::Live, "db"));
    /// assert!(probes.has_check(Probe::All, "db"));
    /// # }
    /// ```
    #[must_use]
    pub fn has_check(&self, probe: Probe, name: &str) -> bool {
        let health = &self.inner.health;
        match probe {
            Probe::Live => health.contains(name, Some(LIVE)),
            Probe::Ready => {
                name == STARTUP || name == SHUTDOWN || health.contains(name, Some(READY))
            }
            Probe::Startup => name == STARTUP,
            Probe::All => health.contains(name, None),
        }
    }

    /// The report of `probe` on the checks `select` picks (its tag is
    /// replaced by the probe's), following the table in the [module
    /// docs](self).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Health::report`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::health::{Check, CheckOutcome, Health, Select, Status};
    /// use steward_core::probes::{Probe, Probes};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let health = Health::new(rt.handle());
    /// let down = || async { CheckOutcome::unhealthy("refused") };
    /// health.register(Check::new("db", down).ready()).unwrap();
    /// let probes = Probes::new(health.clone(), steward_core::Shutdown::new());
    /// probes.set_running();
    /// rt.block_on(health.refresh());
    ///
    /// let ready = rt.block_on(probes.report(Probe::Ready, &Select::all()));
    /// let names: Vec<_> = ready.checks().iter().map(|c| c.name()).collect();
    /// assert_eq!(names, ["startup", "shutdown", "db"]);
    /// assert_eq!(ready.status(), Status::Unhealthy);
    /// let live = rt.block_on(probes.report(Probe::Live, &Select::all()));
    /// assert_eq!(live.status(), Status::Healthy); // db is not tagged live
    /// # }
    /// ```
    pub fn report(&self, probe: Probe, select: &Select) -> ReportFuture {
        let phase = self.phase();
        let health = &self.inner.health;
        match probe {
            Probe::All => health.report(select),
            Probe::Live if phase == Phase::Running => health.report(&select.clone().with_tag(LIVE)),
            Probe::Live => ReportFuture::ready(Report::new(Vec::new())),
            Probe::Startup => {
                let own = self.own_checks(&[STARTUP], phase, select);
                ReportFuture::ready(Report::new(own))
            }
            Probe::Ready => {
                let own = self.own_checks(&[STARTUP, SHUTDOWN], phase, select);
                if select.name().is_some_and(|n| n == STARTUP || n == SHUTDOWN) {
                    return ReportFuture::ready(Report::new(own));
                }
                let checks = health.report(&select.clone().with_tag(READY));
                ReportFuture::new(async move {
                    let mut report = checks.await;
                    report.prepend(own);
                    report
                })
            }
        }
    }

    /// The probes' own checks among `names`, as `select` narrows them.
    fn own_checks(
        &self,
        names: &[&'static str],
        phase: Phase,
        select: &Select,
    ) -> Vec<CheckResult> {
        names
            .iter()
            .filter(|&&n| select.name().is_none_or(|only| only == n))
            .map(|&name| {
                let error = match name {
                    STARTUP if phase == Phase::Starting => {
                        Some("startup has not finished".to_owned())
                    }
                    SHUTDOWN if phase == Phase::Draining => {
                        Some(match self.inner.shutdown.reason() {
                            Some(reason) => format!("shutting down: {reason}"),
                            None => "shutting down".to_owned(),
                        })
                    }
                    _ => None,
                };
                let status = if error.is_some() {
                    Status::Unhealthy
                } else {
                    Status::Healthy
                };
                let mut result = CheckResult::synthetic(name.into(), status, error);
                result.checked_at = Some(SystemTime::now());
                result
            })
            .collect()
    }
}

pin_project! {
    /// Future returned by [`Probes::phase_changed`].
    ///
    /// # Examples
    ///
    /// See [`Probes::phase_changed`].
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct PhaseChanged {
        probes: Probes,
        seen: Phase,
        listener: Option<EventListener>,
        #[pin]
        triggered: TriggeredOwned,
    }
}

impl Future for PhaseChanged {
    type Output = Phase;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Phase> {
        let mut this = self.project();
        loop {
            let now = this.probes.phase();
            if now > *this.seen {
                return Poll::Ready(now);
            }
            if *this.seen < Phase::Draining && this.triggered.as_mut().poll(cx).is_ready() {
                // `phase` reads the trigger and raises the phase to draining.
                return Poll::Ready(this.probes.phase());
            }
            match this.listener.as_mut() {
                // Listen, then read the phase again: a raise between the
                // first read and `listen` is seen by the second read.
                None => *this.listener = Some(this.probes.inner.changed.listen()),
                Some(listener) => {
                    std::task::ready!(Pin::new(listener).poll(cx));
                    *this.listener = None;
                }
            }
        }
    }
}

impl fmt::Debug for PhaseChanged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhaseChanged")
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Probes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: as in `phase`; read without raising (no logging from Debug).
        let mut phase = Phase::from_usize(self.inner.phase.load(Ordering::Relaxed));
        if self.inner.shutdown.is_triggered() {
            phase = Phase::Draining;
        }
        f.debug_struct("Probes")
            .field("phase", &phase)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn handles_and_futures_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::Probes>();
        assert_send_sync::<super::PhaseChanged>();
    }
}
