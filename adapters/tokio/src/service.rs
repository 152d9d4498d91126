//! [`App`]: the adapter's own type over [`Lifecycle<Tokio>`], so that its page
//! lists every method (a type alias of a generic type would show none).

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use steward_core::app::Lifecycle;
use steward_core::{AppReport, Context};

use crate::Tokio;

/// A service on tokio, from `main` in one call: signals, probes, the drain and
/// the report.
///
/// The settings are a builder ([`grace`](App::grace),
/// [`pre_stop`](App::pre_stop), [`teardown_reserve`](App::teardown_reserve),
/// [`probe_addr`](App::probe_addr),
/// [`signals`](App::signals), [`show_errors`](App::show_errors)); then
/// [`run`](App::run) runs the whole sequence drawn in
/// [`steward_core::app`] on the [`Tokio`] platform. Each method forwards to
/// [`Lifecycle<Tokio>`](Lifecycle), which it converts to and from.
///
/// # Examples
///
/// ```no_run
/// # // no_run: it waits for SIGTERM.
/// use std::process::ExitCode;
/// use std::time::Duration;
/// use steward_tokio::{App, StartError};
///
/// fn main() -> ExitCode {
///     App::new()
///         .grace(Duration::from_secs(25))
///         .probe_addr(([127, 0, 0, 1], 8080).into())
///         .run(|cx| async move {
///             cx.tasks().start("worker", |stop| async move {
///                 stop.triggered().await; // work until asked to stop
///             })?;
///             Ok::<_, StartError>(())
///         })
/// }
/// ```
#[must_use = "an App does nothing until `run` or `try_run`"]
#[derive(Clone, Default)]
pub struct App(Lifecycle<Tokio>);

impl App {
    /// The defaults: a 25 s budget, no pre-stop delay (5 s when
    /// `KUBERNETES_SERVICE_HOST` is set), signals on, no probe server.
    /// See [`Lifecycle::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_tokio::App::new();
    /// assert_eq!(app.budget(), steward_tokio::core::app::DEFAULT_GRACE);
    /// ```
    pub fn new() -> Self {
        Self(Lifecycle::new())
    }

    /// The budget from the trigger to the exit, covering the pre-stop delay,
    /// the tasks' stop and the teardown. See [`Lifecycle::grace`].
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_tokio::App::new().grace(std::time::Duration::from_secs(10));
    /// assert_eq!(app.budget().as_secs(), 10);
    /// ```
    pub fn grace(self, budget: Duration) -> Self {
        Self(self.0.grace(budget))
    }

    /// The delay between readiness failing and the tasks being stopped,
    /// during which the service keeps serving (taken from the budget). See
    /// [`Lifecycle::pre_stop`].
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_tokio::App::new().pre_stop(std::time::Duration::from_secs(5));
    /// # drop(app);
    /// ```
    pub fn pre_stop(self, delay: Duration) -> Self {
        Self(self.0.pre_stop(delay))
    }

    /// The share of the budget kept for the teardown of the resources (a
    /// fifth of the grace by default): a task that ignores its stop cannot
    /// take it. See [`Lifecycle::teardown_reserve`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let app = steward_tokio::App::new()
    ///     .grace(Duration::from_secs(10))
    ///     .teardown_reserve(Duration::from_secs(4));
    /// assert_eq!(app.reserve(), Duration::from_secs(4));
    /// ```
    pub fn teardown_reserve(self, reserve: Duration) -> Self {
        Self(self.0.teardown_reserve(reserve))
    }

    /// The teardown's reserve: as set with
    /// [`teardown_reserve`](App::teardown_reserve), or a fifth of the grace.
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_tokio::App::new().grace(std::time::Duration::from_secs(10));
    /// assert_eq!(app.reserve().as_secs(), 2);
    /// ```
    #[must_use]
    pub fn reserve(&self) -> Duration {
        self.0.reserve()
    }

    /// Serves the probe endpoints (`/livez`, `/readyz`, `/startupz`,
    /// `/healthz`, `/health`) on `addr`. See [`Lifecycle::probe_addr`].
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_tokio::App::new().probe_addr(([127, 0, 0, 1], 8080).into());
    /// # drop(app);
    /// ```
    pub fn probe_addr(self, addr: SocketAddr) -> Self {
        Self(self.0.probe_addr(addr))
    }

    /// Whether [`run`](App::run) listens for SIGTERM and SIGINT (on
    /// Windows: Ctrl-C, Ctrl-Break, console close and system shutdown); on
    /// by default. See [`Lifecycle::signals`].
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_tokio::App::new().signals(false);
    /// # drop(app);
    /// ```
    pub fn signals(self, on: bool) -> Self {
        Self(self.0.signals(on))
    }

    /// Whether the probe endpoints show checks' error texts (withheld by
    /// default). See [`Lifecycle::show_errors`].
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_tokio::App::new().show_errors(true);
    /// # drop(app);
    /// ```
    pub fn show_errors(self, show: bool) -> Self {
        Self(self.0.show_errors(show))
    }

    /// The service's `version`, `releaseId`, `serviceId` and `description`
    /// in the `/health` document; pass
    /// [`service_info!()`](steward_core::service_info) for the package's own.
    /// See [`Lifecycle::service_info`].
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_tokio::App::new().service_info(steward_tokio::core::service_info!());
    /// # drop(app);
    /// ```
    pub fn service_info(self, info: steward_core::http::ServiceInfo) -> Self {
        Self(self.0.service_info(info))
    }

    /// Serves `/metrics` on the probe port with the text `render` returns,
    /// such as a metrics exporter's. See [`Lifecycle::metrics`].
    ///
    /// # Examples
    ///
    /// ```
    /// let app = steward_tokio::App::new().metrics(|| "up 1\n".to_owned());
    /// # drop(app);
    /// ```
    pub fn metrics(self, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        Self(self.0.metrics(render))
    }

    /// The budget set with [`grace`](App::grace).
    ///
    /// # Examples
    ///
    /// See [`App::grace`].
    #[must_use]
    pub fn budget(&self) -> Duration {
        self.0.budget()
    }

    /// Runs the service: builds the tokio runtime (multi-thread), installs the signal
    /// handlers, serves the probes, runs `body` as the startup, then waits
    /// for the trigger and drains; prints the report and returns the exit
    /// code for `main` to return (0 clean, 1 failed or aborted, 128 + n
    /// after a second signal). See [`Lifecycle::run`].
    ///
    /// # Examples
    ///
    /// See [`App`].
    pub fn run<B, Fut, E>(self, body: B) -> ExitCode
    where
        B: FnOnce(Context) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        self.0.run(body)
    }

    /// As [`run`](App::run), returning the report instead of printing it.
    /// See [`Lifecycle::try_run`].
    ///
    /// # Errors
    ///
    /// When the runtime, the signal handlers or the probe listener cannot
    /// be set up (nothing of the body has run then).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # // no_run: it waits for a signal.
    /// let report = steward_tokio::App::new()
    ///     .try_run(|cx| async move {
    ///         cx.tasks().start("worker", |stop| async move { stop.triggered().await })?;
    ///         Ok::<_, steward_tokio::StartError>(())
    ///     })
    ///     .expect("the service could not start");
    /// println!("{report}");
    /// std::process::exit(report.exit_code());
    /// ```
    pub fn try_run<B, Fut, E>(self, body: B) -> io::Result<AppReport>
    where
        B: FnOnce(Context) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Into<Box<dyn Error + Send + Sync>>,
    {
        self.0.try_run(body)
    }
}

impl From<Lifecycle<Tokio>> for App {
    fn from(lifecycle: Lifecycle<Tokio>) -> Self {
        Self(lifecycle)
    }
}

impl From<App> for Lifecycle<Tokio> {
    fn from(app: App) -> Self {
        app.0
    }
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("App").field(&self.0).finish()
    }
}
