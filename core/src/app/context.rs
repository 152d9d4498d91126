use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::health::{Check, Health};
use crate::lifespan::Lifespan;
use crate::probes::Probes;
use crate::runtime::RuntimeHandle;
use crate::tasks::Tasks;
use crate::Shutdown;

/// The name of the check every [`App`](super::App) registers: it fails once
/// a task escalated (see [`Tasks::escalated`]).
///
/// An escalation also triggers the service's shutdown, and a draining
/// service answers `/livez` healthy *without running its checks*: the
/// kubelet must not restart a pod that is already exiting within its grace
/// (a restart would cut its drain). So `/livez` never shows this check
/// failing; `/healthz`, `/health` and [`Health::report`] (every check,
/// whatever the phase) do, and the App's exit code (1) and report say
/// which task escalated.
///
/// # Examples
///
/// See [`Context`].
pub const TASKS_CHECK: &str = "tasks";

/// What a service's body gets from [`App`](super::App): its shutdown scope,
/// task registry, lifespan, health checks and runtime. Cheap to clone.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::health::{Check, Status};
/// use steward_core::{App, Reason};
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let report = rt.block_on(App::new().serve(rt.handle(), |cx| async move {
///     let db = cx.lifespan().start("db", async { Ok::<_, std::io::Error>(42) }, |_| async {}).await?;
///     assert_eq!(db, 42);
///     cx.health().register(Check::new("db", || async { Status::Healthy }).ready())?;
///     cx.shutdown().trigger(Reason::Requested);
///     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
/// }));
/// assert_eq!(report.lifespan().steps().len(), 2); // db started, db stopped
/// # }
/// ```
#[derive(Clone)]
pub struct Context {
    rt: RuntimeHandle,
    shutdown: Shutdown,
    tasks: Tasks,
    lifespan: Lifespan,
    health: Health,
    probes: Probes,
    probe_addr: Option<SocketAddr>,
}

impl Context {
    pub(super) fn new(rt: RuntimeHandle, shutdown: Shutdown) -> Self {
        let health = Health::new(rt.clone());
        let tasks = Tasks::new(rt.clone(), shutdown.clone());
        // Fails once a supervised task escalated (past its restart budget)
        // or a critical task ended: the task registry's own check. Tagged
        // live, but an escalation starts the drain, during which `/livez`
        // runs no check (see `TASKS_CHECK`).
        let registry = tasks.clone();
        let escalated = move || {
            let names = registry.escalated();
            async move {
                match names.as_slice() {
                    [] => Ok(()),
                    names => Err(format!("escalated: {}", names.join(", "))),
                }
            }
        };
        health
            .register(
                Check::new(TASKS_CHECK, escalated)
                    .live()
                    .inline(Duration::ZERO),
            )
            .expect("a fresh registry accepts the tasks check");
        Self {
            tasks,
            lifespan: Lifespan::new(rt.clone(), shutdown.clone()),
            probes: Probes::new(health.clone(), shutdown.clone()),
            health,
            rt,
            shutdown,
            probe_addr: None,
        }
    }

    pub(super) fn set_probe_addr(&mut self, addr: SocketAddr) {
        self.probe_addr = Some(addr);
    }

    /// The service's runtime.
    ///
    /// # Examples
    ///
    /// See [`Context`].
    #[must_use]
    pub fn runtime(&self) -> &RuntimeHandle {
        &self.rt
    }

    /// The service's root shutdown scope: trigger it to stop the service.
    ///
    /// # Examples
    ///
    /// See [`Context`].
    #[must_use]
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// The background tasks, stopped within the budget at shutdown.
    ///
    /// # Examples
    ///
    /// See [`Context`].
    #[must_use]
    pub fn tasks(&self) -> &Tasks {
        &self.tasks
    }

    /// The resources, torn down in reverse order after the tasks stopped.
    ///
    /// # Examples
    ///
    /// See [`Context`].
    #[must_use]
    pub fn lifespan(&self) -> &Lifespan {
        &self.lifespan
    }

    /// The health checks behind the probes.
    ///
    /// # Examples
    ///
    /// See [`Context`].
    #[must_use]
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The probe state (starting, running, draining).
    ///
    /// # Examples
    ///
    /// See [`Context`].
    #[must_use]
    pub fn probes(&self) -> &Probes {
        &self.probes
    }

    /// The address the probe server listens on, when it runs.
    ///
    /// # Examples
    ///
    /// See [`Context`].
    #[must_use]
    pub fn probe_addr(&self) -> Option<SocketAddr> {
        self.probe_addr
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("shutdown", &self.shutdown)
            .field("probe_addr", &self.probe_addr)
            .finish_non_exhaustive()
    }
}
