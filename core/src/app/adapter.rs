//! The adapters' `App`: one newtype over [`Lifecycle`](super::Lifecycle), written
//! once here and stamped out by each adapter with [`__adapter_app!`](crate::__adapter_app),
//! so that every builder method is forwarded (and documented) in one place.
//! A type alias of the generic `Lifecycle` would show no methods on the
//! adapter's page.

/// Defines an adapter's `App`: a newtype over `Lifecycle<$platform>` with
/// every method of the builder forwarded. For the adapters of this
/// workspace; not a public API.
///
/// `krate` is the adapter's crate name as written in paths (for the doc
/// examples), `runtime` its runtime's name, `builds` what `run` builds,
/// `setup` what `try_run` fails to set up.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_app {
    (
        platform: $platform:ident,
        krate: $krate:literal,
        runtime: $runtime:literal,
        builds: $builds:literal,
        setup: $setup:literal $(,)?
    ) => {
        #[doc = concat!(" A service ", "on ", $runtime, ", from `main` in one call: signals, probes, the drain and")]
        /// the report.
        ///
        /// The settings are a builder ([`grace`](App::grace),
        /// [`pre_stop`](App::pre_stop), [`teardown_reserve`](App::teardown_reserve),
        /// [`probe_addr`](App::probe_addr), [`signals`](App::signals),
        /// [`show_errors`](App::show_errors), [`service_info`](App::service_info),
        /// [`metrics`](App::metrics); the environment's `STEWARD_*` variables
        /// over them: [`from_env`](App::from_env)); then
        /// [`run`](App::run) runs the whole sequence drawn in
        #[doc = concat!(" [`steward_core::app`] on the ", "[`", stringify!($platform), "`]", " platform. Each method forwards to")]
        #[doc = concat!(" [`", "Lifecycle<", stringify!($platform), ">", "`](steward_core::app::Lifecycle), which it converts to and from.")]
        ///
        /// # Examples
        ///
        /// ```no_run
        /// # // no_run: it waits for SIGTERM.
        /// use std::process::ExitCode;
        /// use std::time::Duration;
        #[doc = concat!(" use ", $krate, "::{App, StartError};")]
        ///
        /// fn main() -> ::std::process::ExitCode {
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
        pub struct App($crate::app::Lifecycle<$platform>);

        impl App {
            /// The defaults: a 25 s budget, no pre-stop delay (5 s when
            /// `KUBERNETES_SERVICE_HOST` is set), signals on, no probe server.
            /// See [`Lifecycle::new`](steward_core::app::Lifecycle::new).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!(" let app = ", $krate, "::App::new();")]
            #[doc = concat!(" assert_eq!(app.budget(), ", $krate, "::core::app::DEFAULT_GRACE);")]
            /// ```
            pub fn new() -> Self {
                Self($crate::app::Lifecycle::new())
            }

            /// The budget from the trigger to the exit, covering the pre-stop delay,
            /// the tasks' stop and the teardown. See [`Lifecycle::grace`](steward_core::app::Lifecycle::grace).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!(" let app = ", $krate, "::App::new().grace(std::time::Duration::from_secs(10));")]
            /// assert_eq!(app.budget().as_secs(), 10);
            /// ```
            pub fn grace(self, budget: ::std::time::Duration) -> Self {
                Self(self.0.grace(budget))
            }

            /// The delay between readiness failing and the tasks being stopped,
            /// during which the service keeps serving (taken from the budget). See
            /// [`Lifecycle::pre_stop`](steward_core::app::Lifecycle::pre_stop).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!(" let app = ", $krate, "::App::new().pre_stop(std::time::Duration::from_secs(5));")]
            /// # drop(app);
            /// ```
            pub fn pre_stop(self, delay: ::std::time::Duration) -> Self {
                Self(self.0.pre_stop(delay))
            }

            /// The share of the budget kept for the teardown of the resources (a
            /// fifth of the grace by default): a task that ignores its stop cannot
            /// take it. See [`Lifecycle::teardown_reserve`](steward_core::app::Lifecycle::teardown_reserve).
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!(" let app = ", $krate, "::App::new()")]
            ///     .grace(Duration::from_secs(10))
            ///     .teardown_reserve(Duration::from_secs(4));
            /// assert_eq!(app.reserve(), Duration::from_secs(4));
            /// ```
            pub fn teardown_reserve(self, reserve: ::std::time::Duration) -> Self {
                Self(self.0.teardown_reserve(reserve))
            }

            /// The teardown's reserve: as set with
            /// [`teardown_reserve`](App::teardown_reserve), or a fifth of the grace.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!(" let app = ", $krate, "::App::new().grace(std::time::Duration::from_secs(10));")]
            /// assert_eq!(app.reserve().as_secs(), 2);
            /// ```
            #[must_use]
            pub fn reserve(&self) -> ::std::time::Duration {
                self.0.reserve()
            }

            /// Serves the probe endpoints (`/livez`, `/readyz`, `/startupz`,
            /// `/healthz`, `/health`) on `addr`. See [`Lifecycle::probe_addr`](steward_core::app::Lifecycle::probe_addr).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!(" let app = ", $krate, "::App::new().probe_addr(([127, 0, 0, 1], 8080).into());")]
            /// # drop(app);
            /// ```
            pub fn probe_addr(self, addr: ::std::net::SocketAddr) -> Self {
                Self(self.0.probe_addr(addr))
            }

            /// Whether [`run`](App::run) listens for SIGTERM and SIGINT (on
            /// Windows: Ctrl-C, Ctrl-Break, console close and system shutdown); on
            /// by default. See [`Lifecycle::signals`](steward_core::app::Lifecycle::signals).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!(" let app = ", $krate, "::App::new().signals(false);")]
            /// # drop(app);
            /// ```
            pub fn signals(self, on: bool) -> Self {
                Self(self.0.signals(on))
            }

            /// Whether the probe endpoints show checks' error texts (withheld by
            /// default). See [`Lifecycle::show_errors`](steward_core::app::Lifecycle::show_errors).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!(" let app = ", $krate, "::App::new().show_errors(true);")]
            /// # drop(app);
            /// ```
            pub fn show_errors(self, show: bool) -> Self {
                Self(self.0.show_errors(show))
            }

            /// The service's `version`, `releaseId`, `serviceId` and `description`
            /// in the `/health` document; pass
            /// [`service_info!()`](steward_core::service_info) for the package's own.
            /// See [`Lifecycle::service_info`](steward_core::app::Lifecycle::service_info).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!(" let app = ", $krate, "::App::new().service_info(", $krate, "::core::service_info!());")]
            /// # drop(app);
            /// ```
            pub fn service_info(self, info: $crate::http::ServiceInfo) -> Self {
                Self(self.0.service_info(info))
            }

            /// Serves `/metrics` on the probe port with the text `render` returns,
            /// such as a metrics exporter's. See [`Lifecycle::metrics`](steward_core::app::Lifecycle::metrics).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!(" let app = ", $krate, "::App::new().metrics(|| \"up 1\\n\".to_owned());")]
            /// # drop(app);
            /// ```
            pub fn metrics(self, render: impl ::std::ops::Fn() -> ::std::string::String + ::std::marker::Send + ::std::marker::Sync + 'static) -> Self {
                Self(self.0.metrics(render))
            }

            /// Overrides the settings with those of the environment that are set
            /// (`STEWARD_GRACE`, `STEWARD_PRE_STOP`, `STEWARD_PROBE_ADDR`,
            /// `STEWARD_SHOW_ERRORS`: see [`steward_core::app::env`]); [`run`](App::run)
            /// and [`try_run`](App::try_run) call it themselves. See
            /// [`Lifecycle::from_env`](steward_core::app::Lifecycle::from_env).
            ///
            /// # Errors
            ///
            /// An [`EnvError`](steward_core::app::EnvError) naming the first
            /// variable that is set but does not parse.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!(" let app = ", $krate, "::App::new().grace(std::time::Duration::from_secs(10));")]
            /// // Nothing set in this doctest's environment: the code's settings stay.
            /// assert_eq!(app.from_env().unwrap().budget().as_secs(), 10);
            /// ```
            pub fn from_env(self) -> ::std::result::Result<Self, $crate::app::EnvError> {
                self.0.from_env().map(Self)
            }

            /// [`from_env`](App::from_env) with the variables read through
            /// `lookup` rather than from the process's environment. See
            /// [`Lifecycle::from_vars`](steward_core::app::Lifecycle::from_vars).
            ///
            /// # Errors
            ///
            /// As [`from_env`](App::from_env).
            ///
            /// # Examples
            ///
            /// ```
            /// let lookup = |name: &str| (name == "STEWARD_GRACE").then(|| "1m30s".into());
            #[doc = concat!(" let app = ", $krate, "::App::new().from_vars(lookup).unwrap();")]
            /// assert_eq!(app.budget().as_secs(), 90);
            /// ```
            pub fn from_vars(
                self,
                lookup: impl ::std::ops::FnMut(&str) -> ::std::option::Option<::std::ffi::OsString>,
            ) -> ::std::result::Result<Self, $crate::app::EnvError> {
                self.0.from_vars(lookup).map(Self)
            }

            /// The budget set with [`grace`](App::grace).
            ///
            /// # Examples
            ///
            /// See [`App::grace`].
            #[must_use]
            pub fn budget(&self) -> ::std::time::Duration {
                self.0.budget()
            }

            #[doc = concat!(" Runs the service: builds ", $builds, ", installs the signal")]
            /// handlers, serves the probes, runs `body` as the startup, then waits
            /// for the trigger and drains; logs the report (on stderr when no
            /// `tracing` subscriber is set) and returns the exit code for `main` to
            /// return (0 clean, 1 failed or aborted, 128 + n after a second
            /// signal). The `STEWARD_*` variables are applied first
            /// ([`from_env`](App::from_env)): a bad value exits 1 before anything
            /// starts. Under systemd (`NOTIFY_SOCKET` set) it tells systemd where
            /// the service is. See [`Lifecycle::run`](steward_core::app::Lifecycle::run).
            ///
            /// # Examples
            ///
            /// See [`App`].
            pub fn run<B, Fut, E>(self, body: B) -> ::std::process::ExitCode
            where
                B: ::std::ops::FnOnce($crate::Context) -> Fut,
                Fut: ::std::future::Future<Output = ::std::result::Result<(), E>>,
                E: ::std::convert::Into<::std::boxed::Box<dyn ::std::error::Error + ::std::marker::Send + ::std::marker::Sync>>,
            {
                self.0.run(body)
            }

            /// As [`run`](App::run), returning the report instead of printing it.
            /// See [`Lifecycle::try_run`](steward_core::app::Lifecycle::try_run).
            ///
            /// # Errors
            ///
            /// When a `STEWARD_*` variable does not parse (an
            /// [`InvalidInput`](std::io::ErrorKind::InvalidInput) error wrapping the
            /// [`EnvError`](steward_core::app::EnvError)), or
            #[doc = concat!(" when ", $setup, ", the signal handlers or the probe listener cannot")]
            /// be set up (nothing of the body has run then).
            ///
            /// # Examples
            ///
            /// ```no_run
            /// # // no_run: it waits for a signal.
            #[doc = concat!(" let report = ", $krate, "::App::new()")]
            ///     .try_run(|cx| async move {
            ///         cx.tasks().start("worker", |stop| async move { stop.triggered().await })?;
            #[doc = concat!("         Ok::<_, ", $krate, "::StartError>(())")]
            ///     })
            ///     .expect("the service could not start");
            /// println!("{report}");
            /// std::process::exit(report.exit_code());
            /// ```
            pub fn try_run<B, Fut, E>(self, body: B) -> ::std::io::Result<$crate::AppReport>
            where
                B: ::std::ops::FnOnce($crate::Context) -> Fut,
                Fut: ::std::future::Future<Output = ::std::result::Result<(), E>>,
                E: ::std::convert::Into<::std::boxed::Box<dyn ::std::error::Error + ::std::marker::Send + ::std::marker::Sync>>,
            {
                self.0.try_run(body)
            }
        }

        impl ::std::convert::From<$crate::app::Lifecycle<$platform>> for App {
            fn from(lifecycle: $crate::app::Lifecycle<$platform>) -> Self {
                Self(lifecycle)
            }
        }

        impl ::std::convert::From<App> for $crate::app::Lifecycle<$platform> {
            fn from(app: App) -> Self {
                app.0
            }
        }

        impl ::std::fmt::Debug for App {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_tuple("App").field(&self.0).finish()
            }
        }
    };
}

/// Re-exports, in an adapter's root, what a service's body uses, so that
/// the adapter is the service's one dependency. Written once here so that
/// the two adapters offer the same names. For the adapters of this
/// workspace; not a public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __adapter_reexports {
    () => {
        #[doc(no_inline)]
        pub use $crate::{
            health, http, probes, AppReport, Context, Health, HealthCheck, Lifespan, Periodic,
            Probes, Reason, Report, Restart, RuntimeHandle, Shielded, Shutdown, ShutdownGuard,
            StartError, TaskError, Tasks,
        };
    };
}
