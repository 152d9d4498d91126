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
    lifespan: LifespanReport,
    uptime: Duration,
    took: Duration,
    budget: Duration,
}

impl AppReport {
    pub(super) fn new(
        reason: Option<Reason>,
        startup: Startup,
        tasks: TasksReport,
        lifespan: LifespanReport,
        uptime: Duration,
        took: Duration,
        budget: Duration,
    ) -> Self {
        Self {
            reason,
            startup,
            tasks,
            lifespan,
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

    /// The exit code, fixed for scripts and orchestrators: 0 after a clean shutdown; 1 when
    /// startup failed, a task failed or had to be aborted, a resource failed
    /// to stop, or a task's failure brought the service down.
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
        writeln!(f, "resources:")?;
        if self.lifespan.steps().is_empty() {
            writeln!(f, "  none")?;
        }
        for line in self.lifespan.to_string().lines() {
            writeln!(f, "  {line}")?;
        }
        Ok(())
    }
}
