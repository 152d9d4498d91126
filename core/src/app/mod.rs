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
//!   lifespan's teardown: the tasks' deadline is the grace minus the
//!   reserve, when a task still running is aborted, so that a stuck task
//!   cannot take the time the resources need to close.
//! - The report is printed and the process exits within the grace, plus a
//!   slack of at most 1 s for the runtime to wind down; under Kubernetes'
//!   default `terminationGracePeriodSeconds` of 30 s, the default 25 s
//!   grace leaves room for it.
//!
//! The steps:
//!
//! 1. **Starting.** The probe server (if an address is set) answers at once:
//!    `/livez` 200, `/readyz` and `/startupz` 503. The body runs: it starts
//!    resources on the [`Lifespan`](crate::Lifespan), tasks on the
//!    [`Tasks`](crate::Tasks) registry and registers checks on
//!    [`Health`](crate::health::Health), then returns. A signal during
//!    startup stops the body where it is.
//! 2. **Running.** The body returned `Ok`: ready. The service runs until its
//!    [`Shutdown`] is triggered: a signal, [`Shutdown::trigger`], a critical
//!    task ending, a supervised task past its restart budget.
//! 3. **Draining.** Readiness fails at once. The pre-stop delay lets load
//!    balancers notice (a second signal cuts it, and exits). Tasks get their
//!    stop signal and the rest of the budget; then the lifespan is torn down
//!    in reverse order, with whatever budget is left.
//! 4. **Report.** Every task and resource, how it ended and how long it took,
//!    logged through `tracing` (on stderr when no subscriber is set: see
//!    [`Lifecycle::run`]) and returned as an [`AppReport`], whose
//!    [`exit_code`](AppReport::exit_code) is 0 when all ended in time, 1
//!    when startup failed, a task failed or was aborted, a teardown step
//!    failed, or a task's failure brought the service down. A second signal
//!    exits at once with 128 + its number.

mod context;
mod report;
mod stderr;

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use futures_lite::FutureExt as _;

use crate::http::Endpoints;
use crate::runtime::RuntimeHandle;
use crate::signal::SignalHandler;
use crate::{Reason, Shutdown};

pub use context::{Context, TASKS_CHECK};
pub use report::{AppReport, Startup};

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
    probe_addr: Option<SocketAddr>,
    signals: bool,
    show_errors: bool,
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
            probe_addr: None,
            signals: true,
            show_errors: false,
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
            inner: Box::pin(self.sequence(cx, None, body)),
        }
    }

    fn endpoints(&self, cx: &Context) -> Endpoints {
        Endpoints::new(cx.probes().clone()).show_errors(self.show_errors)
    }

    /// The sequence itself: the one place where its rules are written.
    async fn sequence<B, Fut, E>(
        self,
        cx: Context,
        signals: Option<SignalHandler>,
        body: B,
    ) -> AppReport
    where
        B: FnOnce(Context) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        let rt = cx.runtime().clone();
        let shutdown = cx.shutdown().clone();
        let started = rt.now();

        // 1. Starting: the body, raced against the trigger.
        let startup = {
            let body = AssertUnwindSafe(body(cx.clone())).catch_unwind();
            match shutdown.run_until_triggered(body).await {
                None => Startup::Interrupted,
                Some(Ok(Ok(()))) => Startup::Done(rt.now() - started),
                Some(Ok(Err(e))) => Startup::Failed(e.into().to_string()),
                Some(Err(panic)) => Startup::Failed(format!(
                    "panicked: {}",
                    crate::tasks::catch::panic_message(&*panic)
                )),
            }
        };
        match &startup {
            Startup::Done(took) => {
                cx.probes().set_running();
                tracing::info!(took = ?took, "service ready");
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
        let deadline = triggered_at + self.grace;
        let reason = shutdown.reason();
        cx.probes().set_draining();
        tracing::info!(
            reason = %reason.as_ref().map_or_else(String::new, ToString::to_string),
            budget = ?self.grace,
            "shutting down"
        );
        if startup.is_done() && !self.pre_stop.is_zero() {
            let delay = self.pre_stop.min(remaining(&rt, deadline));
            let sleep = rt.sleep(delay);
            match &signals {
                Some(signals) => {
                    // A second signal cuts the delay (and the adapter exits).
                    sleep.or(async { _ = signals.forced().await }).await;
                }
                None => sleep.await,
            }
        }
        let tasks = cx.tasks().shutdown(remaining(&rt, deadline)).await;
        let lifespan = cx.lifespan().teardown_until(deadline).await;

        // 4. Report.
        let report = AppReport::new(
            reason,
            startup,
            tasks,
            lifespan,
            triggered_at - started,
            rt.now() - triggered_at,
            self.grace,
        );
        if report.exit_code() == 0 {
            tracing::info!("shutdown report\n{report}");
        } else {
            tracing::warn!("shutdown report\n{report}");
        }
        report
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
                    eprintln!("{report}");
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
    /// # Errors
    ///
    /// When the runtime, the signal handlers or the probe listener cannot
    /// be set up (nothing of the body has run then).
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
        let platform = P::new()?;
        let shutdown = Shutdown::new();
        let signals = if self.signals {
            Some(platform.install_signals(&shutdown)?)
        } else {
            None
        };
        let mut cx = Context::new(platform.runtime(), shutdown);
        let server_stop = Shutdown::new();
        if let Some(addr) = self.probe_addr {
            let bound = platform.serve_probes(addr, self.endpoints(&cx), server_stop.clone())?;
            tracing::info!(addr = %bound, "serving probes");
            cx.set_probe_addr(bound);
        }
        let report = platform.block_on(self.sequence(cx, signals, body));
        server_stop.trigger(Reason::Requested);
        Ok(report)
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
            .field("probe_addr", &self.probe_addr)
            .field("signals", &self.signals)
            .finish_non_exhaustive()
    }
}

impl<P> Clone for Lifecycle<P> {
    fn clone(&self) -> Self {
        Self {
            platform: PhantomData,
            ..*self
        }
    }
}
