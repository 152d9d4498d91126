//! How each task ended: [`Exit`], [`TaskReport`] and the shutdown's [`Report`].

use crate::duration::Human;
use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The error a task returned, shared so that reports can be cloned.
///
/// # Examples
///
/// ```
/// let error: steward_core::TaskError = std::sync::Arc::new(std::io::Error::other("disk full"));
/// assert_eq!(error.to_string(), "disk full");
/// ```
pub type TaskError = Arc<dyn Error + Send + Sync + 'static>;

/// How a task ended.
///
/// # Examples
///
/// ```
/// use steward_core::Exit;
///
/// let exit = Exit::Panicked("index out of bounds".into());
/// assert!(exit.is_failure());
/// assert_eq!(exit.to_string(), "panicked: index out of bounds");
/// assert!(!Exit::Stopped.is_failure());
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum Exit {
    /// It returned on its own, before anyone asked it to stop.
    Completed,
    /// It returned an error.
    Failed(TaskError),
    /// It panicked, with this message.
    Panicked(String),
    /// It returned after it was asked to stop, within its grace period.
    Stopped,
    /// It was still running when its grace period ran out, and was dropped.
    Aborted,
    /// It returned after it was asked to stop, but only after its grace
    /// period had run out: a synchronous call held its thread past the
    /// deadline, so the abort could not drop it in time.
    Overran,
    /// It had not ended when the shutdown gave up on it: still running past
    /// its grace period and past [`Tasks::ABANDON_AFTER`](crate::Tasks::ABANDON_AFTER)
    /// after its abort (its thread is blocked, so it cannot even be dropped).
    /// The shutdown reports it and goes on without it. The abort stays: when
    /// its thread comes back, the task is dropped before it is polled again.
    Abandoned,
}

impl Exit {
    /// Whether the task failed, panicked or had to be aborted.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::Exit;
    ///
    /// assert!(Exit::Aborted.is_failure());
    /// assert!(!Exit::Completed.is_failure());
    /// ```
    #[must_use]
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Exit::Failed(_) | Exit::Panicked(_) | Exit::Aborted | Exit::Overran | Exit::Abandoned
        )
    }

    /// The error of a [`Exit::Failed`] task.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::Exit;
    ///
    /// let exit = Exit::Failed(std::sync::Arc::from(Box::<dyn std::error::Error + Send + Sync>::from("gone")));
    /// assert_eq!(exit.error().unwrap().to_string(), "gone");
    /// assert!(Exit::Stopped.error().is_none());
    /// ```
    #[must_use]
    pub fn error(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        match self {
            Exit::Failed(e) => Some(&**e),
            _ => None,
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Completed => f.write_str("completed"),
            Exit::Failed(e) => write!(f, "failed: {e}"),
            Exit::Panicked(msg) => write!(f, "panicked: {msg}"),
            Exit::Stopped => f.write_str("stopped"),
            Exit::Aborted => f.write_str("aborted after its grace period"),
            Exit::Overran => f.write_str("ended only after its grace period"),
            Exit::Abandoned => f.write_str("abandoned: still running after its grace period"),
        }
    }
}

impl fmt::Debug for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Completed => f.write_str("Completed"),
            Exit::Failed(e) => f.debug_tuple("Failed").field(&format_args!("{e}")).finish(),
            Exit::Panicked(msg) => f.debug_tuple("Panicked").field(msg).finish(),
            Exit::Stopped => f.write_str("Stopped"),
            Exit::Aborted => f.write_str("Aborted"),
            Exit::Overran => f.write_str("Overran"),
            Exit::Abandoned => f.write_str("Abandoned"),
        }
    }
}

/// The end of one task: its name, how it ended, how long it ran and how long
/// it took to stop.
///
/// Named tasks are reported under their name. An unnamed task (from
/// [`Tasks::spawn`](crate::Tasks::spawn) or [`Tasks::shield`](crate::Tasks::shield))
/// only appears in a [`Report`] when it had to be aborted, under a name that
/// says where it was spawned, such as `shield at src/main.rs:42:5`.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::time::Duration;
/// use steward_core::testing::TestRuntime;
/// use steward_core::{Exit, Shutdown, Tasks};
///
/// let rt = TestRuntime::new();
/// let tasks = Tasks::new(rt.handle(), Shutdown::new());
/// tasks.start("worker", |stop| async move { stop.triggered().await }).unwrap();
///
/// let report = rt.block_on(tasks.shutdown(Duration::from_secs(5)));
/// let worker = report.get("worker").unwrap();
/// assert_eq!(worker.name(), "worker");
/// assert!(matches!(worker.exit(), Exit::Stopped));
/// assert_eq!(worker.stop_took(), Some(Duration::ZERO));
/// assert_eq!(worker.restarts(), 0);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct TaskReport {
    pub(crate) name: String,
    pub(crate) exit: Exit,
    pub(crate) ran: Option<Duration>,
    pub(crate) stop_took: Option<Duration>,
    pub(crate) restarts: u32,
}

impl TaskReport {
    /// The task's name.
    ///
    /// # Examples
    ///
    /// See [`TaskReport`].
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the task ended (for a supervised task: its last run).
    ///
    /// # Examples
    ///
    /// See [`TaskReport`].
    #[must_use]
    pub fn exit(&self) -> &Exit {
        &self.exit
    }

    /// How long the task ran, from its start (the first, for a supervised
    /// task) to its end. `None` for unnamed tasks, whose start is not
    /// timed so that spawning stays one atomic operation.
    ///
    /// # Examples
    ///
    /// See [`TaskReport`].
    #[must_use]
    pub fn ran(&self) -> Option<Duration> {
        self.ran
    }

    /// How long the task took to end once asked to stop; `None` when it
    /// ended before anyone asked.
    ///
    /// # Examples
    ///
    /// See [`TaskReport`].
    #[must_use]
    pub fn stop_took(&self) -> Option<Duration> {
        self.stop_took
    }

    /// How many times the task was restarted by its supervisor.
    ///
    /// # Examples
    ///
    /// See [`TaskReport`].
    #[must_use]
    pub fn restarts(&self) -> u32 {
        self.restarts
    }
}

impl fmt::Display for TaskReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.name)?;
        match (&self.exit, self.stop_took) {
            (Exit::Stopped, Some(took)) => write!(f, "stopped in {}", Human(took))?,
            (Exit::Aborted, Some(took)) => write!(f, "aborted after {}", Human(took))?,
            (Exit::Overran, Some(took)) => {
                write!(f, "ended only after {}, past its grace", Human(took))?;
            }
            (Exit::Abandoned, Some(took)) => {
                write!(f, "abandoned: still running after {}", Human(took))?;
            }
            (exit, _) => write!(f, "{exit}")?,
        }
        let mut extra = Vec::new();
        if let Some(ran) = self.ran {
            extra.push(format!("ran {}", Human(ran)));
        }
        match self.restarts {
            0 => {}
            1 => extra.push("1 restart".to_owned()),
            n => extra.push(format!("{n} restarts")),
        }
        if !extra.is_empty() {
            write!(f, " ({})", extra.join(", "))?;
        }
        Ok(())
    }
}

/// What [`Tasks::shutdown`](crate::Tasks::shutdown) found: how every task ended.
///
/// It lists each named task (its last run, in the order they were first
/// started) and each unnamed task that had to be aborted. Unnamed tasks that
/// failed or panicked were logged when it happened and are counted in
/// [`Report::unnamed_failures`]. Print it with `{}` to log the shutdown.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::time::Duration;
/// use steward_core::testing::TestRuntime;
/// use steward_core::{Shutdown, Tasks};
///
/// let rt = TestRuntime::new();
/// let tasks = Tasks::new(rt.handle(), Shutdown::new());
/// tasks.start("polite", |stop| async move { stop.triggered().await }).unwrap();
/// tasks.start("stubborn", |_stop| futures_lite::future::pending::<()>()).unwrap();
///
/// let report = rt.block_on(tasks.shutdown(Duration::from_secs(5)));
/// assert!(!report.is_clean());
/// assert_eq!(report.aborted().count(), 1);
/// assert_eq!(report.took(), Duration::from_secs(5));
/// assert_eq!(
///     report.to_string(),
///     "2 tasks: 1 stopped, 1 aborted; shutdown took 5s (grace 5s)\n\
///      \x20 polite: stopped in 0ns (ran 0ns)\n\
///      \x20 stubborn: aborted after 5s (ran 5s)"
/// );
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Report {
    pub(crate) tasks: Vec<TaskReport>,
    pub(crate) took: Duration,
    pub(crate) grace: Duration,
    pub(crate) unnamed_failures: usize,
    pub(crate) abandoned_unnamed: usize,
}

impl Report {
    /// Every reported task.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// tasks.start("a", |_| async {}).unwrap();
    /// let report = rt.block_on(tasks.shutdown(Duration::from_secs(1)));
    /// assert_eq!(report.tasks().len(), 1);
    /// # }
    /// ```
    #[must_use]
    pub fn tasks(&self) -> &[TaskReport] {
        &self.tasks
    }

    /// The report of the task named `name`.
    ///
    /// # Examples
    ///
    /// See [`Report`].
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&TaskReport> {
        self.tasks.iter().find(|t| t.name == name)
    }

    /// The tasks that had to be aborted.
    ///
    /// # Examples
    ///
    /// See [`Report`].
    pub fn aborted(&self) -> impl Iterator<Item = &TaskReport> {
        self.tasks
            .iter()
            .filter(|t| matches!(t.exit, Exit::Aborted))
    }

    /// Whether every task ended in time without failing, panicking or being
    /// aborted, no unnamed task failed and none was abandoned: the condition
    /// for exit code 0.
    ///
    /// # Examples
    ///
    /// See [`Report`].
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.unnamed_failures == 0
            && self.abandoned_unnamed == 0
            && self.tasks.iter().all(|t| !t.exit.is_failure())
    }

    /// The tasks that had not ended when the shutdown gave up on them
    /// ([`Exit::Abandoned`]): named tasks by name. Unnamed ones are only
    /// counted, in [`Report::abandoned_unnamed`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// tasks.start("polite", |stop| async move { stop.triggered().await }).unwrap();
    /// let report = rt.block_on(tasks.shutdown(Duration::from_secs(1)));
    /// assert_eq!(report.abandoned().count(), 0);
    /// assert_eq!(report.abandoned_unnamed(), 0);
    /// # }
    /// ```
    pub fn abandoned(&self) -> impl Iterator<Item = &TaskReport> {
        self.tasks
            .iter()
            .filter(|t| matches!(t.exit, Exit::Abandoned))
    }

    /// How many unnamed tasks (spawned, tracked or shielded) had not ended
    /// when the shutdown gave up on them. Unnamed tasks are counted, not
    /// listed, so that spawning one stays one atomic operation. One that is
    /// dropped after that is not also listed as aborted in this report; a
    /// later report lists it.
    ///
    /// # Examples
    ///
    /// See [`Report::abandoned`].
    #[must_use]
    pub fn abandoned_unnamed(&self) -> usize {
        self.abandoned_unnamed
    }

    /// How long the shutdown took, from the stop signal to the last task's end.
    ///
    /// # Examples
    ///
    /// See [`Report`].
    #[must_use]
    pub fn took(&self) -> Duration {
        self.took
    }

    /// The grace period the shutdown was given.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// let report = rt.block_on(tasks.shutdown(Duration::from_secs(3)));
    /// assert_eq!(report.grace(), Duration::from_secs(3));
    /// # }
    /// ```
    #[must_use]
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// How many unnamed tasks failed or panicked over the registry's life
    /// (each was logged when it happened).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// tasks.spawn(async { Err::<(), _>("no route to host") }).unwrap();
    /// let report = rt.block_on(tasks.shutdown(Duration::from_secs(1)));
    /// assert_eq!(report.unnamed_failures(), 1);
    /// assert!(!report.is_clean());
    /// # }
    /// ```
    #[must_use]
    pub fn unnamed_failures(&self) -> usize {
        self.unnamed_failures
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.tasks.len();
        write!(f, "{n} task{}", if n == 1 { "" } else { "s" })?;
        let kinds = [
            (
                "completed",
                count(&self.tasks, |e| matches!(e, Exit::Completed)),
            ),
            (
                "stopped",
                count(&self.tasks, |e| matches!(e, Exit::Stopped)),
            ),
            (
                "failed",
                count(&self.tasks, |e| matches!(e, Exit::Failed(_))),
            ),
            (
                "panicked",
                count(&self.tasks, |e| matches!(e, Exit::Panicked(_))),
            ),
            (
                "aborted",
                count(&self.tasks, |e| matches!(e, Exit::Aborted)),
            ),
            (
                "overran",
                count(&self.tasks, |e| matches!(e, Exit::Overran)),
            ),
            (
                "abandoned",
                count(&self.tasks, |e| matches!(e, Exit::Abandoned)),
            ),
        ];
        let mut sep = ": ";
        for (kind, k) in kinds {
            if k > 0 {
                write!(f, "{sep}{k} {kind}")?;
                sep = ", ";
            }
        }
        write!(
            f,
            "; shutdown took {} (grace {})",
            Human(self.took),
            Human(self.grace)
        )?;
        for task in &self.tasks {
            write!(f, "\n  {task}")?;
        }
        match self.unnamed_failures {
            0 => {}
            1 => f.write_str("\n  1 unnamed task failed or panicked (see the log)")?,
            k => write!(f, "\n  {k} unnamed tasks failed or panicked (see the log)")?,
        }
        match self.abandoned_unnamed {
            0 => {}
            1 => f.write_str("\n  1 unnamed task abandoned: still running after its grace")?,
            k => write!(
                f,
                "\n  {k} unnamed tasks abandoned: still running after their grace"
            )?,
        }
        Ok(())
    }
}

fn count(tasks: &[TaskReport], pred: impl Fn(&Exit) -> bool) -> usize {
    tasks.iter().filter(|t| pred(&t.exit)).count()
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn report_display_lists_every_task() {
        let report = Report {
            tasks: vec![
                TaskReport {
                    name: "a".into(),
                    exit: Exit::Failed(Arc::from(Box::<dyn Error + Send + Sync>::from("x"))),
                    ran: Some(Duration::from_secs(3)),
                    stop_took: None,
                    restarts: 2,
                },
                TaskReport {
                    name: "shield at x.rs:1:1".into(),
                    exit: Exit::Aborted,
                    ran: None,
                    stop_took: Some(Duration::from_secs(1)),
                    restarts: 0,
                },
            ],
            took: Duration::from_secs(1),
            grace: Duration::from_secs(1),
            unnamed_failures: 2,
            abandoned_unnamed: 0,
        };
        assert_eq!(
            report.to_string(),
            "2 tasks: 1 failed, 1 aborted; shutdown took 1s (grace 1s)\n  \
             a: failed: x (ran 3s, 2 restarts)\n  \
             shield at x.rs:1:1: aborted after 1s\n  \
             2 unnamed tasks failed or panicked (see the log)"
        );
        assert!(!report.is_clean());
    }
}
