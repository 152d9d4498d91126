use std::fmt;
use std::time::Duration;

use crate::duration::Human;
use crate::lifespan::LifespanReport;
use crate::tasks::Report as TasksReport;
use crate::Reason;

/// How the service's startup (the body given to [`App`](super::App)) ended.
///
/// # Examples
///
/// See [`AppReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Startup {
    /// The body returned `Ok` after this long: the service was ready.
    Done(Duration),
    /// The body returned an error or panicked (the text).
    Failed(String),
    /// The shutdown was triggered (a signal) before the body returned.
    Interrupted,
}

impl Startup {
    /// Whether startup finished and the service became ready.
    ///
    /// # Examples
    ///
    /// See [`AppReport`].
    #[must_use]
    pub fn is_done(&self) -> bool {
        matches!(self, Startup::Done(_))
    }
}

/// The shutdown report: why the service stopped, how each task and resource
/// ended and how long each phase took; and the exit code that follows.
///
/// Printed (its `Display`) by `App::run`, and logged through `tracing`.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::{App, Reason};
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let report = rt.block_on(App::new().serve(rt.handle(), |cx| async move {
///     cx.shutdown().trigger(Reason::Signal(15));
///     Ok::<_, std::io::Error>(())
/// }));
/// assert_eq!(report.exit_code(), 0);
/// assert_eq!(report.reason(), Some(&Reason::Signal(15)));
/// assert!(report.startup().is_done());
/// assert!(report.tasks().is_clean() && report.lifespan().is_clean());
/// assert!(report.to_string().starts_with("stopped after signal 15 (SIGTERM)"));
/// # }
/// ```
#[derive(Debug)]
pub struct AppReport {
    reason: Option<Reason>,
    startup: Startup,
    tasks: TasksReport,
    guards: Vec<String>,
    lifespan: LifespanReport,
    runtime_abandoned: Option<String>,
    uptime: Duration,
    took: Duration,
    budget: Duration,
}

impl AppReport {
    #[allow(clippy::too_many_arguments)] // one private constructor, each field named at its one call
    pub(super) fn new(
        reason: Option<Reason>,
        startup: Startup,
        tasks: TasksReport,
        guards: Vec<String>,
        lifespan: LifespanReport,
        uptime: Duration,
        took: Duration,
        budget: Duration,
    ) -> Self {
        Self {
            reason,
            startup,
            tasks,
            guards,
            lifespan,
            runtime_abandoned: None,
            uptime,
            took,
            budget,
        }
    }

    /// Why the service stopped.
    ///
    /// # Examples
    ///
    /// See [`AppReport`].
    #[must_use]
    pub fn reason(&self) -> Option<&Reason> {
        self.reason.as_ref()
    }

    /// How startup ended.
    ///
    /// # Examples
    ///
    /// See [`AppReport`].
    #[must_use]
    pub fn startup(&self) -> &Startup {
        &self.startup
    }

    /// How each task ended.
    ///
    /// # Examples
    ///
    /// See [`AppReport`].
    #[must_use]
    pub fn tasks(&self) -> &TasksReport {
        &self.tasks
    }

    /// Where the [`Shutdown`](crate::Shutdown)'s guards still held at their
    /// deadline were taken (`file:line:column`): the App stopped waiting for
    /// them. Empty when every guard was released in time.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// use steward_core::{App, Reason};
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let report = rt.block_on(App::new().grace(Duration::from_secs(2)).serve(rt.handle(), |cx| async move {
    ///     let guard = cx.shutdown().guard(); // work in flight, never released
    ///     std::mem::forget(guard);
    ///     cx.shutdown().trigger(Reason::Requested);
    ///     Ok::<_, std::io::Error>(())
    /// }));
    /// assert_eq!(report.guards().len(), 1);
    /// assert!(report.guards()[0].contains(file!()));
    /// assert_eq!(report.exit_code(), 1);
    /// assert_eq!(report.took(), Duration::from_secs(2));
    /// # }
    /// ```
    #[must_use]
    pub fn guards(&self) -> &[String] {
        &self.guards
    }

    /// What the runtime's shutdown had to leave behind (threads still
    /// blocked at the deadline), as the adapter described it; `None` when
    /// the runtime stopped cleanly, or when it ran without a platform
    /// ([`Lifecycle::serve`](super::Lifecycle::serve)).
    ///
    /// # Examples
    ///
    /// See [`AppReport`].
    #[must_use]
    pub fn runtime_abandoned(&self) -> Option<&str> {
        self.runtime_abandoned.as_deref()
    }

    pub(super) fn set_runtime_abandoned(&mut self, what: String) {
        self.runtime_abandoned = Some(what);
    }

    /// How each resource started and stopped.
    ///
    /// # Examples
    ///
    /// See [`AppReport`].
    #[must_use]
    pub fn lifespan(&self) -> &LifespanReport {
        &self.lifespan
    }

    /// From the start of the sequence to the trigger.
    ///
    /// # Examples
    ///
    /// See [`AppReport`].
    #[must_use]
    pub fn uptime(&self) -> Duration {
        self.uptime
    }

    /// From the trigger to the end of the teardown.
    ///
    /// # Examples
    ///
    /// See [`AppReport`].
    #[must_use]
    pub fn took(&self) -> Duration {
        self.took
    }

    /// The exit code, fixed for scripts and orchestrators: 0 after a clean shutdown (an
    /// interrupted startup included); 1 when startup failed, a task failed,
    /// was aborted, ended past its grace or was abandoned, a guard was still
    /// held, the runtime left threads behind, a resource failed to stop, or
    /// a task's failure brought the service down.
    ///
    /// # Examples
    ///
    /// See [`AppReport`].
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        let faulted = matches!(
            self.reason,
            Some(Reason::TaskFailed { .. } | Reason::Fatal(_))
        );
        let clean = matches!(self.startup, Startup::Done(_) | Startup::Interrupted)
            && self.tasks.is_clean()
            && self.guards.is_empty()
            && self.runtime_abandoned.is_none()
            && self.lifespan.is_clean()
            && !faulted;
        i32::from(!clean)
    }
}

impl fmt::Display for AppReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Some(reason) => write!(f, "stopped after {reason}")?,
            None => f.write_str("stopped")?,
        }
        writeln!(
            f,
            " in {} of a {} budget, exit code {}",
            Human(self.took),
            Human(self.budget),
            self.exit_code()
        )?;
        match &self.startup {
            Startup::Done(took) => writeln!(
                f,
                "startup: ready in {}, up {}",
                Human(*took),
                Human(self.uptime)
            )?,
            Startup::Failed(error) => writeln!(f, "startup: failed: {error}")?,
            Startup::Interrupted => writeln!(f, "startup: interrupted")?,
        }
        writeln!(f, "tasks:")?;
        for line in self.tasks.to_string().lines() {
            writeln!(f, "  {line}")?;
        }
        if !self.guards.is_empty() {
            writeln!(f, "guards still held at the deadline, abandoned:")?;
            for at in &self.guards {
                writeln!(f, "  taken at {at}")?;
            }
        }
        writeln!(f, "resources:")?;
        if self.lifespan.steps().is_empty() {
            writeln!(f, "  none")?;
        }
        for line in self.lifespan.to_string().lines() {
            writeln!(f, "  {line}")?;
        }
        if let Some(what) = &self.runtime_abandoned {
            writeln!(f, "runtime: {what}")?;
        }
        Ok(())
    }
}
