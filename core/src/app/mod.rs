//! The whole life of a service in one place: start → ready → run → signal →
//! not ready → pre-stop delay → stop tasks → tear down → report → exit code.
//!
//! [`App`] is the runtime-neutral sequence. An adapter gives it a runtime, a
//! signal source and a probe server by implementing [`Platform`] (a handful
//! of thin functions); `steward_smol::App` and `steward_tokio::App` are
//! [`Lifecycle`] on their platform. Every rule of the sequence lives here,
//! once.
//!
//! # The sequence
//!
//! All of [`Lifecycle::run`] on one line, with the budget set by
//! [`grace`](Lifecycle::grace) (25 s by default) counted from the trigger:
//!
//! ```text
//!  start       ready           trigger: a signal, Shutdown::trigger, an escalation
//!   |            |               |
//! --+------------+---- ... ------+----------+----------------+-----------+--> time
//!   | body runs: | serving       | pre-stop | tasks: stop    | teardown, | report,
//!   | resources, |               | delay    | signal, finish | reverse   | exit code
//!   | tasks,     |               | (still   | the item in    | order     |
//!   | checks     |               | serving) | hand; aborted  |           |
//!   |            |               |          | at the deadline|           |
//!   | /readyz 503| /readyz 200   | /readyz 503: "[-]shutdown draining"
//!   | /livez 200 | /livez: checks| /livez 200                            |
//!   |            |               |                           |<-reserve->|
//!   |            |               |                           | grace / 5 |
//!   |            |               |<-------- grace (default 25 s) ------->| + <= 1 s
//!                                |
//!                                +-- a second signal: exit at once with 128 + n
//! ```
//!
//! - The **grace** is one deadline for everything after the trigger: the
//!   pre-stop delay comes out of it, not on top of it.
//! - The **teardown reserve**, a fifth of the grace, is kept for the
//!   lifespan's teardown when the lifespan holds a resource at the trigger
//!   (otherwise the tasks may use the whole grace): the tasks' deadline is
//!   the grace minus the reserve, when a task still running is aborted, so
//!   that a stuck task cannot take the time the resources need to close.
//! - The report is printed and the process exits within the grace, plus a
//!   slack of at most 1 s for the runtime to wind down; under Kubernetes'
//!   default `terminationGracePeriodSeconds` of 30 s, the default 25 s
//!   grace leaves room for it.
//!
//! The steps:
//!
//! 0. **Set-up** ([`Lifecycle::run`] only). The `STEWARD_*` variables of
//!    [the environment](mod@env) override the code's settings (a bad value:
//!    exit 1, nothing started); the runtime, the signal handlers and the
//!    probe server are set up; under systemd (`NOTIFY_SOCKET` set) the
//!    service's notifications start (`STATUS=starting`, then
//!    `STATUS=starting (<step>)` as each lifespan step begins, `READY=1`,
//!    `STOPPING=1`, the drain's `STATUS=` and `EXTEND_TIMEOUT_USEC=`, and
//!    `WATCHDOG=1` while the live checks pass).
//! 1. **Starting.** The probe server (if an address is set) answers at once:
//!    `/livez` 200, `/readyz` and `/startupz` 503. The body runs: it starts
//!    resources on the [`Lifespan`](crate::Lifespan), tasks on the
//!    [`Tasks`](crate::Tasks) registry and registers checks on
//!    [`Health`](crate::health::Health), then returns. A signal during
//!    startup stops the body where it is; that is not a failure (an error the body
//!    returns once the shutdown was triggered, such as an interrupted
//!    lifespan step, counts as the interruption, not as a failed startup).
//! 2. **Running.** The body returned `Ok`: ready. The service runs until its
//!    [`Shutdown`] is triggered: a signal, [`Shutdown::trigger`], a critical
//!    task ending, a supervised task past its restart budget.
//! 3. **Draining**, within one budget, [`grace`](Lifecycle::grace), counted
//!    from the trigger. Readiness fails at once and the health checks'
//!    background refresh stops. The pre-stop delay lets load balancers
//!    notice (a second signal cuts it, and exits). Tasks get their stop
//!    signal and the time left, minus the teardown's
//!    [reserve](Lifecycle::teardown_reserve); a task still running then is
//!    aborted, and one whose thread is blocked is abandoned
//!    [`Tasks::ABANDON_AFTER`](crate::Tasks::ABANDON_AFTER) (100 ms) later. Then the
//!    App waits for the [`Shutdown`]'s guards ([`Shutdown::drained`]) until
//!    the same point, and gives up on those still held. Last, the lifespan is
//!    torn down in reverse order, by the end of the budget (each step within
//!    its own stop timeout too).
//! 4. **Report.** Every task, guard and resource, how it ended and how long
//!    it took, logged through `tracing` (on stderr when no subscriber is
//!    set: see [`Lifecycle::run`]) and returned as an [`AppReport`],
//!    whose [`exit_code`](AppReport::exit_code) is 0 when all
//!    ended in time, 1 when startup failed, a task failed, was aborted, ended
//!    past its grace or was abandoned, a guard was still held, the runtime
//!    left threads behind, a teardown step failed or timed out, or a task's
//!    failure brought the service down.
//!    A second signal exits at once with 128 + its number.
//!
//! # The budget is a deadline
//!
//! With [`Lifecycle::run`], the process exits by `grace` +
//! [`EXIT_SLACK`] (1 s) after the trigger, whatever the tasks, threads,
//! guards, checks and resources do: nothing in the sequence waits without a
//! deadline, work still running at its deadline is abandoned (named in the
//! report, exit code 1), and the adapter shuts its runtime down with the
//! time left (tokio's `shutdown_timeout`; smol stops joining its executor
//! threads), reporting threads it had to leave behind. Time can still be lost
//! where no future is polled: a synchronous call on the thread that runs the
//! sequence (a blocking `Drop`, a blocking call in the body), or every
//! runtime thread blocked so that no timer fires. For that, a watchdog thread
//! armed at the trigger prints what is still running, flushes stderr and
//! ends the process with exit code 1 at `grace` + 750 ms.

mod adapter;
mod context;
pub mod env;
mod report;
mod stderr;
mod systemd;
mod watchdog;

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io::{self, Write as _};
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use futures_lite::FutureExt as _;

use crate::http::{Endpoints, ServiceInfo};
use crate::runtime::RuntimeHandle;
use crate::signal::SignalHandler;
use crate::{Reason, Shutdown};

pub use context::{Context, TASKS_CHECK};
pub use env::{DurationError, EnvError};
pub use report::{AppReport, Startup};

use watchdog::Watchdog;

/// The default budget from the trigger to the exit: under Kubernetes' 30 s
/// `terminationGracePeriodSeconds`, with room for the process to exit.
///
/// # Examples
///
/// See [`Lifecycle::new`].
pub const DEFAULT_GRACE: Duration = Duration::from_secs(25);

/// The pre-stop delay when `KUBERNETES_SERVICE_HOST` is set: time for the
/// endpoints controller to take the pod out of rotation.
///
/// # Examples
///
/// See [`Lifecycle::new`].
pub const KUBERNETES_PRE_STOP: Duration = Duration::from_secs(5);

/// How long past its [`grace`](Lifecycle::grace) a service run by
/// [`Lifecycle::run`] may take to exit, at most: 1 s. The sequence ends by
/// the grace (plus [`Tasks::ABANDON_AFTER`](crate::Tasks::ABANDON_AFTER) when a
/// task's thread is blocked), the runtime's shutdown by grace + 500 ms, and
/// the watchdog ends the process at grace + 750 ms if neither happened.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert!(steward_core::app::EXIT_SLACK <= Duration::from_secs(1));
/// ```
pub const EXIT_SLACK: Duration = Duration::from_secs(1);

/// What an adapter provides so that [`Lifecycle::run`] can run a service: a
/// runtime, a signal source and a probe server. Each method is a few lines
/// around the adapter's own types.
///
/// # Examples
///
/// A platform on the virtual-time runtime, with no OS signals and no probe
/// server (`steward_smol::Smol` and `steward_tokio::Tokio` are the real ones):
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::future::Future;
/// use std::net::SocketAddr;
/// use steward_core::app::{Lifecycle, Platform};
/// use steward_core::http::Endpoints;
/// use steward_core::signal::SignalHandler;
/// use steward_core::{RuntimeHandle, Shutdown};
///
/// struct Virtual(steward_core::testing::TestRuntime);
///
/// impl Platform for Virtual {
///     fn new() -> std::io::Result<Self> {
///         Ok(Virtual(steward_core::testing::TestRuntime::new()))
///     }
///     fn runtime(&self) -> RuntimeHandle {
///         self.0.handle()
///     }
///     fn install_signals(&self, shutdown: &Shutdown) -> std::io::Result<SignalHandler> {
///         Ok(SignalHandler::new(shutdown)) // nothing delivers to it but the test
///     }
///     fn serve_probes(&self, _: SocketAddr, _: Endpoints, _: Shutdown) -> std::io::Result<SocketAddr> {
///         Err(std::io::ErrorKind::Unsupported.into())
///     }
///     fn block_on<F: Future>(&self, future: F) -> F::Output {
///         self.0.block_on(future)
///     }
/// }
///
/// let report = Lifecycle::<Virtual>::new()
///     .try_run(|cx| async move {
///         cx.shutdown().trigger(steward_core::Reason::Requested);
///         Ok::<_, std::io::Error>(())
///     })
///     .unwrap();
/// assert_eq!(report.exit_code(), 0);
/// # }
/// ```
pub trait Platform: Sized {
    /// Builds the runtime (executor threads, timers).
    ///
    /// # Errors
    ///
    /// When the runtime cannot be built.
    fn new() -> io::Result<Self>;

    /// The runtime, as steward's types take it.
    fn runtime(&self) -> RuntimeHandle;

    /// Listens for SIGTERM and SIGINT (on Windows, Ctrl-C as SIGINT and Ctrl-Break,
    /// console close and system shutdown as SIGTERM), applying
    /// [`SignalHandler`]'s rule to `shutdown`.
    ///
    /// # Errors
    ///
    /// When the handlers cannot be installed.
    fn install_signals(&self, shutdown: &Shutdown) -> io::Result<SignalHandler>;

    /// Binds `addr` and serves `endpoints` on it in the background until
    /// `stop` is triggered; returns the bound address.
    ///
    /// # Errors
    ///
    /// When the address cannot be bound.
    fn serve_probes(
        &self,
        addr: SocketAddr,
        endpoints: Endpoints,
        stop: Shutdown,
    ) -> io::Result<SocketAddr>;

    /// Runs `future` to completion on this runtime, blocking the thread.
    fn block_on<F: Future>(&self, future: F) -> F::Output;

    /// Shuts the runtime down by `deadline` (real time): whatever still runs
    /// then (a thread blocked in a synchronous call, outstanding blocking
    /// work) is abandoned, not waited for. Returns a description of what was
    /// abandoned, which the App adds to its report (and which makes its exit
    /// code 1), or `None` when everything ended.
    ///
    /// The default drops the platform, which may wait without limit: a real
    /// platform overrides it.
    ///
    /// # Examples
    ///
    /// See [`Platform`].
    fn shutdown_by(self, deadline: Instant) -> Option<String> {
        let _ = deadline;
        drop(self);
        None
    }
}

/// A service's lifecycle: its settings, then one call that runs it.
///
/// `P` is the adapter's [`Platform`]: `steward_smol::App` and
/// `steward_tokio::App` wrap `Lifecycle<their platform>`, and can
/// [`run`](Lifecycle::run) a service from `main`. [`App`] is
/// `Lifecycle<NoPlatform>`: it runs the same sequence with
/// [`serve`](Lifecycle::serve) on any [`RuntimeHandle`], without signals or a
/// probe server (for a library's own tests, or a test runtime).
///
/// # Examples
///
/// The sequence on the virtual-time runtime: startup, a trigger, the drain,
/// the report.
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::time::Duration;
/// use steward_core::{App, Reason};
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let report = rt.block_on(App::new().grace(Duration::from_secs(10)).serve(
///     rt.handle(),
///     |cx| async move {
///         cx.tasks().start("worker", |stop| async move { stop.triggered().await })?;
///         cx.shutdown().trigger(Reason::Requested); // a signal, in a real service
///         Ok::<_, steward_core::StartError>(())
///     },
/// ));
/// assert_eq!(report.exit_code(), 0);
/// assert_eq!(report.reason(), Some(&Reason::Requested));
/// # }
/// ```
pub struct Lifecycle<P> {
    grace: Duration,
    pre_stop: Duration,
    reserve: Option<Duration>,
    probe_addr: Option<SocketAddr>,
    signals: bool,
    show_errors: bool,
    service: ServiceInfo,
    metrics: Option<Arc<dyn Fn() -> String + Send + Sync>>,
    platform: PhantomData<fn() -> P>,
}

/// The lifecycle with no platform: run it with [`Lifecycle::serve`] on any
/// runtime. Adapters name their own (`steward_smol::App`).
///
/// # Examples
///
/// See [`Lifecycle`].
pub type App = Lifecycle<NoPlatform>;

/// The platform of an [`App`]: none, so it runs only through [`Lifecycle::serve`].
///
/// # Examples
///
/// See [`Lifecycle`].
#[derive(Debug, Clone, Copy, Default)]
pub struct NoPlatform;

impl<P> Lifecycle<P> {
    /// The defaults: a 25 s budget, no pre-stop delay (5 s when
    /// `KUBERNETES_SERVICE_HOST` is set), signals on, no probe server.
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_core::App::new();
    /// assert_eq!(app.budget(), steward_core::app::DEFAULT_GRACE);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        Self::defaults()
    }

    fn defaults() -> Self {
        let in_kubernetes = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
        Self {
            grace: DEFAULT_GRACE,
            pre_stop: if in_kubernetes {
                KUBERNETES_PRE_STOP
            } else {
                Duration::ZERO
            },
            reserve: None,
            probe_addr: None,
            signals: true,
            show_errors: false,
            service: ServiceInfo::new(),
            metrics: None,
            platform: PhantomData,
        }
    }

    /// The budget from the trigger to the exit, covering the pre-stop delay,
    /// the tasks' stop and the teardown.
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_core::App::new().grace(std::time::Duration::from_secs(10));
    /// assert_eq!(app.budget().as_secs(), 10);
    /// ```
    #[must_use]
    pub fn grace(mut self, budget: Duration) -> Self {
        self.grace = budget;
        self
    }

    /// The delay between readiness failing and the tasks being stopped,
    /// during which the service keeps serving (taken from the budget).
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_core::App::new().pre_stop(std::time::Duration::from_secs(5));
    /// # drop(app);
    /// ```
    #[must_use]
    pub fn pre_stop(mut self, delay: Duration) -> Self {
        self.pre_stop = delay;
        self
    }

    /// The share of the budget kept for the teardown: the tasks' phase (with
    /// the pre-stop delay and the wait for guards) ends this long before the
    /// budget does, so that a task that ignores its stop cannot leave the
    /// resources' stops no time. Default: a fifth of the grace. It applies
    /// only when there is something to tear down (the lifespan holds a
    /// resource when the drain starts); each step's own stop timeout still
    /// bounds it. `Duration::ZERO` lets the tasks use the whole budget.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let app = steward_core::App::new().grace(Duration::from_secs(10));
    /// assert_eq!(app.reserve(), Duration::from_secs(2)); // a fifth by default
    /// let app = app.teardown_reserve(Duration::from_secs(4));
    /// assert_eq!(app.reserve(), Duration::from_secs(4));
    /// ```
    #[must_use]
    pub fn teardown_reserve(mut self, reserve: Duration) -> Self {
        self.reserve = Some(reserve);
        self
    }

    /// The teardown's reserve: as set with [`Lifecycle::teardown_reserve`],
    /// or a fifth of the grace; never more than the grace.
    ///
    /// # Examples
    ///
    /// See [`Lifecycle::teardown_reserve`].
    #[must_use]
    pub fn reserve(&self) -> Duration {
        self.reserve.unwrap_or(self.grace / 5).min(self.grace)
    }

    /// Serves the probe endpoints on `addr` (with [`Lifecycle::run`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_core::App::new().probe_addr(([127, 0, 0, 1], 8080).into());
    /// # drop(app);
    /// ```
    #[must_use]
    pub fn probe_addr(mut self, addr: SocketAddr) -> Self {
        self.probe_addr = Some(addr);
        self
    }

    /// Whether [`Lifecycle::run`] listens for SIGTERM and SIGINT (on by default).
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_core::App::new().signals(false);
    /// # drop(app);
    /// ```
    #[must_use]
    pub fn signals(mut self, on: bool) -> Self {
        self.signals = on;
        self
    }

    /// Whether the probe endpoints show checks' error texts (withheld by default).
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_core::App::new().show_errors(true);
    /// # drop(app);
    /// ```
    #[must_use]
    pub fn show_errors(mut self, show: bool) -> Self {
        self.show_errors = show;
        self
    }

    /// The service's `version`, `releaseId`, `serviceId` and `description`
    /// in the `/health` document. None by default: a library cannot read
    /// the application's `Cargo.toml`; pass
    /// [`service_info!()`](crate::service_info) for the package's own.
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_core::App::new().service_info(steward_core::service_info!());
    /// # drop(app);
    /// ```
    #[must_use]
    pub fn service_info(mut self, info: ServiceInfo) -> Self {
        self.service = info;
        self
    }

    /// Serves `/metrics` on the probe port with the text `render` returns
    /// (see [`Endpoints::metrics`]): pass a metrics exporter's render
    /// function, such as `metrics-exporter-prometheus`'s
    /// `PrometheusHandle::render`. With the core's `metrics` feature, the
    /// figures of [`observe`](crate::observe) are among them.
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_core::App::new().metrics(|| "up 1\n".to_owned());
    /// # drop(app);
    /// ```
    #[must_use]
    pub fn metrics(mut self, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.metrics = Some(Arc::new(render));
        self
    }

    /// The budget set with [`Lifecycle::grace`].
    ///
    /// # Examples
    ///
    /// See [`Lifecycle::grace`].
    #[must_use]
    pub fn budget(&self) -> Duration {
        self.grace
    }

    /// Runs the whole sequence on `rt`, without signals or a probe server, and
    /// returns the report. See [`App`] and [the module](self).
    ///
    /// `body` is the startup: once it returns `Ok`, the service is ready and
    /// runs until its shutdown is triggered.
    ///
    /// # Examples
    ///
    /// See [`Lifecycle`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: dropping the future midway drops the body or stops
    /// waiting for the drain; the lifespan then hands its teardown to the runtime.
    pub fn serve<'a, B, Fut, E>(self, rt: RuntimeHandle, body: B) -> Serve<'a>
    where
        P: 'a,
        B: FnOnce(Context) -> Fut + 'a,
        Fut: Future<Output = Result<(), E>> + 'a,
        E: Into<Box<dyn Error + Send + Sync>> + 'a,
    {
        let cx = Context::new(rt, Shutdown::new());
        Serve {
            inner: Box::pin(async move {
                let (report, _) = self.sequence(cx, None, None, body).await;
                log_report(&report);
                report
            }),
        }
    }

    fn endpoints(&self, cx: &Context) -> Endpoints {
        let endpoints = Endpoints::new(cx.probes().clone())
            .show_errors(self.show_errors)
            .service_info(self.service.clone());
        match &self.metrics {
            Some(render) => {
                let render = Arc::clone(render);
                endpoints.metrics(move || render())
            }
            None => endpoints,
        }
    }

    /// The sequence itself: the one place where its rules are written.
    async fn sequence<B, Fut, E>(
        self,
        cx: Context,
        signals: Option<SignalHandler>,
        watchdog: Option<&Watchdog>,
        body: B,
    ) -> (AppReport, Option<Instant>)
    where
        B: FnOnce(Context) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        let rt = cx.runtime().clone();
        let shutdown = cx.shutdown().clone();
        let started = rt.now();
        let phase = |name| {
            if let Some(watchdog) = watchdog {
                watchdog.phase(name);
            }
        };

        // 1. Starting: the body, raced against the trigger.
        let startup = {
            let body = AssertUnwindSafe(body(cx.clone())).catch_unwind();
            match shutdown.run_until_triggered(body).await {
                None => Startup::Interrupted,
                Some(Ok(Ok(()))) => Startup::Done(rt.now() - started),
                // The trigger came first: the error is its consequence (an
                // interrupted lifespan step), not a failed startup.
                Some(Ok(Err(e))) if shutdown.is_triggered() && !is_fault(&shutdown) => {
                    let e = e.into();
                    tracing::info!(error = %e, "startup interrupted by the shutdown");
                    Startup::Interrupted
                }
                Some(Ok(Err(e))) => Startup::Failed(e.into().to_string()),
                Some(Err(panic)) => Startup::Failed(format!(
                    "panicked: {}",
                    crate::tasks::catch::panic_message(&*panic)
                )),
            }
        };
        match &startup {
            Startup::Done(took) => {
                crate::observe::startup(*took);
                cx.probes().set_running();
                tracing::info!(took = ?took, "service ready");
                phase("running");
                // 2. Running.
                shutdown.triggered().await;
            }
            Startup::Failed(error) => {
                tracing::error!(%error, "startup failed");
                shutdown.trigger(Reason::Fatal(format!("startup failed: {error}")));
            }
            Startup::Interrupted => tracing::warn!("shutdown triggered during startup"),
        }

        // 3. Draining, within one budget.
        let triggered_at = rt.now();
        let platform_deadline = watchdog.map(Watchdog::arm);
        let deadline = triggered_at + self.grace;
        let reason = shutdown.reason();
        cx.probes().set_draining();
        cx.health().stop_refresh();
        // The teardown's reserve, when there is something to tear down.
        let reserve = if cx.lifespan().is_empty() {
            Duration::ZERO
        } else {
            self.reserve()
        };
        let tasks_deadline = deadline - reserve;
        tracing::info!(
            reason = %reason.as_ref().map_or_else(String::new, ToString::to_string),
            budget = ?self.grace,
            reserve = ?reserve,
            "shutting down"
        );
        if startup.is_done() && !self.pre_stop.is_zero() {
            phase("in the pre-stop delay");
            let delay = self.pre_stop.min(remaining(&rt, tasks_deadline));
            let sleep = rt.sleep(delay);
            match &signals {
                Some(signals) => {
                    // A second signal cuts the delay (and the adapter exits).
                    sleep.or(async { _ = signals.forced().await }).await;
                }
                None => sleep.await,
            }
        }
        crate::observe::shutdown_phase("pre_stop", rt.now() - triggered_at);
        phase("stopping the tasks");
        let tasks_began = rt.now();
        // A task whose thread is blocked costs up to `ABANDON_AFTER` more,
        // taken from the reserve (or past the budget, within `EXIT_SLACK`).
        let tasks = cx.tasks().shutdown(remaining(&rt, tasks_deadline)).await;
        phase("waiting for the shutdown's guards");
        let drained = rt.timeout(remaining(&rt, tasks_deadline), shutdown.drained());
        let guards = match drained.await {
            Ok(()) => Vec::new(),
            Err(_) => {
                let holders: Vec<String> =
                    shutdown.holders().iter().map(ToString::to_string).collect();
                tracing::warn!(held_at = ?holders, "shutdown guards still held at their deadline: abandoned");
                holders
            }
        };
        crate::observe::shutdown_phase("tasks", rt.now() - tasks_began);
        phase("tearing the resources down");
        let teardown_began = rt.now();
        let lifespan = cx.lifespan().teardown_until(deadline).await;
        crate::observe::shutdown_phase("teardown", rt.now() - teardown_began);
        phase("reporting");

        // 4. Report.
        let report = AppReport::new(
            reason,
            startup,
            tasks,
            guards,
            lifespan,
            triggered_at - started,
            rt.now() - triggered_at,
            self.grace,
        );
        (report, platform_deadline)
    }
}

/// Whether the service's shutdown was triggered by a fault (a task's
/// failure, a fatal error) rather than asked for.
fn is_fault(shutdown: &Shutdown) -> bool {
    matches!(
        shutdown.reason(),
        Some(Reason::TaskFailed { .. } | Reason::Fatal(_))
    )
}

fn log_report(report: &AppReport) {
    if report.exit_code() == 0 {
        tracing::info!("shutdown report\n{report}");
    } else {
        tracing::warn!("shutdown report\n{report}");
    }
}

impl<P: Platform> Lifecycle<P> {
    /// Runs the service: builds the runtime, installs the signal handlers,
    /// serves the probes, runs the sequence, logs the report through
    /// `tracing` and returns the exit code for `main` to return.
    ///
    /// When no global `tracing` subscriber is set, `run` installs a small
    /// one of its own that writes WARN and ERROR events to stderr, one line
    /// each (`WARN steward_core::tasks: task failed task=consumer ...`), so
    /// that a failed task, a restart, an escalation or a check turning
    /// unhealthy is never silent; the report is printed to stderr once,
    /// whatever the exit code. Install a subscriber before `run` (for
    /// example `tracing_subscriber::fmt::init()`) to get INFO events too
    /// (startup, readiness, the signal, each step), timestamps and your own
    /// format: the fallback then stays out.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # // no_run: it waits for a signal. The adapters' docs show it with a runtime.
    /// # fn example<P: steward_core::app::Platform>() -> std::process::ExitCode {
    /// steward_core::app::Lifecycle::<P>::new().run(|cx| async move {
    ///     cx.tasks().start("worker", |stop| async move { stop.triggered().await })?;
    ///     Ok::<_, steward_core::StartError>(())
    /// })
    /// # }
    /// ```
    pub fn run<B, Fut, E>(self, body: B) -> ExitCode
    where
        B: FnOnce(Context) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        // With no subscriber, warnings and errors still reach stderr.
        let fallback = stderr::install_if_unset();
        match self.try_run(body) {
            Ok(report) => {
                // The sequence logged the report through `tracing`: at WARN
                // when the exit code is not 0, which the fallback printed.
                // At INFO it did not: print it, once.
                if fallback && report.exit_code() == 0 {
                    let mut stderr = std::io::stderr().lock();
                    let _ = writeln!(stderr, "{report}");
                    let _ = stderr.flush();
                }
                ExitCode::from(u8::try_from(report.exit_code()).unwrap_or(1))
            }
            Err(e) => {
                tracing::error!(error = %e, "the service could not start");
                if !fallback {
                    eprintln!("the service could not start: {e}");
                }
                ExitCode::FAILURE
            }
        }
    }

    /// As [`Lifecycle::run`], returning the report instead of printing it.
    ///
    /// It keeps the same deadline: it returns by `grace` + [`EXIT_SLACK`]
    /// after the trigger, and its watchdog ends the process (exit code 1,
    /// what still runs printed on stderr) when the sequence cannot.
    ///
    /// # Errors
    ///
    /// When a `STEWARD_*` variable is set to a value that does not parse
    /// (an [`io::ErrorKind::InvalidInput`] error wrapping the [`EnvError`]
    /// that names it; see [`mod@env`]), or when the runtime, the signal handlers
    /// or the probe listener cannot be set up. Nothing of the body has run
    /// then.
    ///
    /// # Examples
    ///
    /// See [`Lifecycle::run`].
    pub fn try_run<B, Fut, E>(self, body: B) -> io::Result<AppReport>
    where
        B: FnOnce(Context) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        // The environment first: a bad value stops everything before it starts.
        let this = self
            .from_env()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let platform = P::new()?;
        let shutdown = Shutdown::new();
        let signals = if this.signals {
            Some(platform.install_signals(&shutdown)?)
        } else {
            None
        };
        // Unroutes the signals however this returns.
        let _routed = signals.clone().map(Routed);
        let mut cx = Context::new(platform.runtime(), shutdown.clone());
        let server_stop = Shutdown::new();
        if let Some(addr) = this.probe_addr {
            let bound = platform.serve_probes(addr, this.endpoints(&cx), server_stop.clone())?;
            tracing::info!(addr = %bound, "serving probes");
            cx.set_probe_addr(bound);
        }
        systemd::start(&cx, this.grace, &server_stop);
        let watchdog = Watchdog::spawn(this.grace, cx.tasks().clone(), shutdown)?;
        let grace = this.grace;
        let (mut report, deadline) =
            platform.block_on(this.sequence(cx, signals, Some(&watchdog), body));
        server_stop.trigger(Reason::Requested);
        watchdog.phase("shutting the runtime down");
        let deadline = deadline.unwrap_or_else(|| Instant::now() + grace);
        if let Some(abandoned) = platform.shutdown_by(deadline) {
            tracing::warn!("runtime: {abandoned}");
            report.set_runtime_abandoned(abandoned);
        }
        watchdog.done();
        log_report(&report);
        Ok(report)
    }
}

/// Unroutes a [`SignalHandler`] when dropped: the App's signals end with it.
struct Routed(SignalHandler);

impl Drop for Routed {
    fn drop(&mut self) {
        self.0.unroute();
    }
}

/// Future returned by [`Lifecycle::serve`]: the whole sequence, resolving
/// to its report.
///
/// Boxed: it holds the body's future, whose type the caller wrote inline.
/// It is `Send` only as far as the body is, so it is not declared `Send`.
///
/// # Examples
///
/// See [`Lifecycle`].
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct Serve<'a> {
    inner: Pin<Box<dyn Future<Output = AppReport> + 'a>>,
}

impl Future for Serve<'_> {
    type Output = AppReport;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<AppReport> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Serve<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve").finish_non_exhaustive()
    }
}

fn remaining(rt: &RuntimeHandle, deadline: Instant) -> Duration {
    deadline.saturating_duration_since(rt.now())
}

impl<P> Default for Lifecycle<P> {
    fn default() -> Self {
        Self::defaults()
    }
}

impl<P> fmt::Debug for Lifecycle<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lifecycle")
            .field("grace", &self.grace)
            .field("pre_stop", &self.pre_stop)
            .field("reserve", &self.reserve())
            .field("probe_addr", &self.probe_addr)
            .field("signals", &self.signals)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl<P> Clone for Lifecycle<P> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            metrics: self.metrics.clone(),
            platform: PhantomData,
            ..*self
        }
    }
}
