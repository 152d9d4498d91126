//! What happened to each step of a lifespan: [`StepReport`], [`LifespanReport`],
//! and the error of a failed start, [`LifespanError`].

use crate::duration::Human;
use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::Reason;

/// An error as a step's report keeps it: shared, so reports stay `Clone`.
pub(crate) type SharedError = Arc<dyn Error + Send + Sync + 'static>;

/// Which half of a resource's life a [`StepReport`] is about.
///
/// # Examples
///
/// ```
/// use steward_core::StepPhase;
///
/// assert_eq!(StepPhase::Start.to_string(), "start");
/// assert_eq!(StepPhase::Stop.to_string(), "stop");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StepPhase {
    /// Starting the resource, during startup.
    Start,
    /// Stopping it, during teardown.
    Stop,
}

impl fmt::Display for StepPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StepPhase::Start => "start",
            StepPhase::Stop => "stop",
        })
    }
}

/// How one step ended.
///
/// # Examples
///
/// ```
/// use steward_core::StepOutcome;
///
/// assert!(StepOutcome::Completed.is_completed());
/// assert!(!StepOutcome::TimedOut.is_completed());
/// assert_eq!(StepOutcome::Panicked("boom".into()).to_string(), "panicked: boom");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StepOutcome {
    /// The step finished: the resource started, or it stopped cleanly.
    Completed,
    /// The start or stop future returned an error.
    Failed(Arc<dyn Error + Send + Sync + 'static>),
    /// The step ran past its timeout (or the teardown's budget) and was cut.
    TimedOut,
    /// The step panicked; the panic was caught and its message kept.
    Panicked(String),
    /// A start was cut because shutdown was triggered while it ran.
    Interrupted(Reason),
}

impl StepOutcome {
    /// Whether the step finished as it should.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(steward_core::StepOutcome::Completed.is_completed());
    /// ```
    #[must_use]
    pub fn is_completed(&self) -> bool {
        matches!(self, StepOutcome::Completed)
    }
}

impl fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepOutcome::Completed => f.write_str("completed"),
            StepOutcome::Failed(e) => {
                f.write_str("failed: ")?;
                write_one_line(f, &e.to_string())
            }
            StepOutcome::TimedOut => f.write_str("timed out"),
            StepOutcome::Panicked(msg) => {
                f.write_str("panicked: ")?;
                write_one_line(f, msg)
            }
            StepOutcome::Interrupted(reason) => {
                f.write_str("interrupted by shutdown: ")?;
                write_one_line(f, &reason.to_string())
            }
        }
    }
}

/// The outcome and duration of one step of a lifespan.
///
/// A plain record, meant to be merged with other reports (the `App` puts the
/// lifespan's steps beside its tasks' ends in one shutdown report). Its
/// `Display` is one line, e.g. `db: started in 12ms` or
/// `cache: stop timed out after 5s`; CR and LF in names and messages print
/// as spaces so that a report line can never forge another.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use steward_core::{StepOutcome, StepPhase, StepReport};
///
/// let step = StepReport::new("db", StepPhase::Stop, StepOutcome::TimedOut, Duration::from_secs(5));
/// assert_eq!(step.to_string(), "db: stop timed out after 5s");
/// let step = StepReport::new("db", StepPhase::Start, StepOutcome::Completed, Duration::from_millis(12));
/// assert_eq!(step.to_string(), "db: started in 12ms");
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StepReport {
    /// The step's name, as given to [`Lifespan::start`](crate::Lifespan::start).
    pub name: String,
    /// Start or stop.
    pub phase: StepPhase,
    /// How it ended.
    pub outcome: StepOutcome,
    /// How long it ran, on the runtime's clock.
    pub duration: Duration,
}

impl StepReport {
    /// A report of one step (for merging reports, or for tests).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use steward_core::{StepOutcome, StepPhase, StepReport};
    ///
    /// let step = StepReport::new("db", StepPhase::Start, StepOutcome::Completed, Duration::ZERO);
    /// assert_eq!(step.name, "db");
    /// ```
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        phase: StepPhase,
        outcome: StepOutcome,
        duration: Duration,
    ) -> Self {
        Self {
            name: name.into(),
            phase,
            outcome,
            duration,
        }
    }
}

impl fmt::Display for StepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_one_line(f, &self.name)?;
        let d = self.duration;
        match (&self.outcome, self.phase) {
            (StepOutcome::Completed, StepPhase::Start) => write!(f, ": started in {}", Human(d)),
            (StepOutcome::Completed, StepPhase::Stop) => write!(f, ": stopped in {}", Human(d)),
            (StepOutcome::TimedOut, phase) => write!(f, ": {phase} timed out after {}", Human(d)),
            (outcome, phase) => {
                write!(f, ": {phase} after {} ", Human(d))?;
                fmt::Display::fmt(outcome, f)
            }
        }
    }
}

/// Every step of a lifespan so far, in the order they happened.
///
/// Returned by [`Lifespan::report`](crate::Lifespan::report) and by
/// [`Teardown`](crate::Teardown). `Display` prints one [`StepReport`] a line.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::testing::TestRuntime;
/// use steward_core::{Lifespan, Shutdown, StepPhase};
///
/// let rt = TestRuntime::new();
/// let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
/// let report = rt.block_on(async {
///     lifespan.start("db", async { Ok::<_, std::io::Error>(()) }, |()| async {}).await?;
///     Ok::<_, steward_core::LifespanError>(lifespan.teardown().await)
/// })
/// .unwrap();
/// assert!(report.is_clean());
/// assert_eq!(report.to_string(), "db: started in 0ns\ndb: stopped in 0ns");
/// let phases: Vec<StepPhase> = report.steps().iter().map(|s| s.phase).collect();
/// assert_eq!(phases, [StepPhase::Start, StepPhase::Stop]);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct LifespanReport {
    steps: Vec<StepReport>,
}

impl LifespanReport {
    pub(crate) fn new(steps: Vec<StepReport>) -> Self {
        Self { steps }
    }

    /// The steps, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(steward_core::LifespanReport::default().steps().is_empty());
    /// ```
    #[must_use]
    pub fn steps(&self) -> &[StepReport] {
        &self.steps
    }

    /// The steps, owned: to merge them into a larger report.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut all = Vec::new();
    /// all.extend(steward_core::LifespanReport::default().into_steps());
    /// assert!(all.is_empty());
    /// ```
    #[must_use]
    pub fn into_steps(self) -> Vec<StepReport> {
        self.steps
    }

    /// Whether every step completed or was interrupted by the shutdown (an
    /// empty report is clean). A start cut because the service was asked to
    /// stop is not a failure: nothing went wrong, the service was told to go
    /// away while it was starting.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use steward_core::{testing::TestRuntime, Lifespan, Reason, Shutdown, StepOutcome};
    ///
    /// assert!(steward_core::LifespanReport::default().is_clean());
    /// let rt = TestRuntime::new();
    /// let shutdown = Shutdown::new();
    /// let lifespan = Lifespan::new(rt.handle(), shutdown.clone());
    /// shutdown.trigger(Reason::Signal(15)); // SIGTERM while starting
    /// let start = lifespan.start("db", futures_lite::future::pending::<Result<(), String>>(), |()| async {});
    /// assert!(rt.block_on(start).is_err());
    /// let report = lifespan.report();
    /// assert!(matches!(report.steps()[0].outcome, StepOutcome::Interrupted(_)));
    /// assert!(report.is_clean());
    /// # }
    /// ```
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.steps.iter().all(|s| {
            matches!(
                s.outcome,
                StepOutcome::Completed | StepOutcome::Interrupted(_)
            )
        })
    }
}

impl fmt::Display for LifespanReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            fmt::Display::fmt(step, f)?;
        }
        Ok(())
    }
}

/// Why [`Lifespan::start`](crate::Lifespan::start) did not hand back its resource.
///
/// Every variant names the step. The body of a lifespan usually returns it
/// with `?`; [`Lifespan::run`](crate::Lifespan::run) (and the `App`) then
/// tear down what had started, in reverse order.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::io;
/// use steward_core::testing::TestRuntime;
/// use steward_core::{Lifespan, LifespanError, Shutdown};
///
/// let rt = TestRuntime::new();
/// let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
/// let err = rt
///     .block_on(lifespan.start(
///         "db",
///         async { Err::<(), _>(io::Error::other("connection refused")) },
///         |()| async {},
///     ))
///     .unwrap_err();
/// assert_eq!(err.step(), "db");
/// assert!(matches!(err, LifespanError::Failed { .. }));
/// assert_eq!(err.to_string(), "start of `db` failed: connection refused");
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LifespanError {
    /// The start future returned an error (kept as the [`Error::source`]).
    Failed {
        /// The step's name.
        step: String,
        /// The start future's error.
        source: Arc<dyn Error + Send + Sync + 'static>,
    },
    /// The start ran past its timeout.
    TimedOut {
        /// The step's name.
        step: String,
        /// The timeout it ran past.
        timeout: Duration,
    },
    /// The start panicked.
    Panicked {
        /// The step's name.
        step: String,
        /// The panic's message.
        message: String,
    },
    /// Shutdown was triggered while the step was starting (or before it began).
    Interrupted {
        /// The step's name.
        step: String,
        /// Why shutdown was triggered.
        reason: Reason,
    },
    /// The lifespan's teardown had begun: nothing more may start. A resource
    /// that finished starting just then is stopped at once, on the runtime.
    Closed {
        /// The step's name.
        step: String,
    },
}

impl LifespanError {
    /// The name of the step that did not start.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use steward_core::LifespanError;
    ///
    /// let err = LifespanError::TimedOut { step: "db".into(), timeout: Duration::from_secs(30) };
    /// assert_eq!(err.step(), "db");
    /// ```
    #[must_use]
    pub fn step(&self) -> &str {
        match self {
            LifespanError::Failed { step, .. }
            | LifespanError::TimedOut { step, .. }
            | LifespanError::Panicked { step, .. }
            | LifespanError::Interrupted { step, .. }
            | LifespanError::Closed { step } => step,
        }
    }
}

impl fmt::Display for LifespanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("start of `")?;
        write_one_line(f, self.step())?;
        match self {
            LifespanError::Failed { source, .. } => write!(f, "` failed: {source}"),
            LifespanError::TimedOut { timeout, .. } => {
                write!(f, "` timed out after {}", Human(*timeout))
            }
            LifespanError::Panicked { message, .. } => write!(f, "` panicked: {message}"),
            LifespanError::Interrupted { reason, .. } => {
                write!(f, "` interrupted by shutdown: {reason}")
            }
            LifespanError::Closed { .. } => f.write_str("` refused: the lifespan is tearing down"),
        }
    }
}

impl Error for LifespanError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            LifespanError::Failed { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

/// Writes `s` with CR and LF as spaces: one report line cannot forge another.
fn write_one_line(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let mut rest = s;
    while let Some(i) = rest.find(['\r', '\n']) {
        f.write_str(&rest[..i])?;
        f.write_str(" ")?;
        rest = &rest[i + 1..];
    }
    f.write_str(rest)
}
