use std::fmt;

/// Why a shutdown scope was triggered.
///
/// The first reason given to [`Shutdown::trigger`](crate::Shutdown::trigger)
/// wins; children triggered by their parent carry the parent's reason.
///
/// # Examples
///
/// ```
/// use steward_core::{Reason, Shutdown};
///
/// let shutdown = Shutdown::new();
/// shutdown.trigger(Reason::Signal(15));
/// assert_eq!(shutdown.reason(), Some(Reason::Signal(15)));
/// assert_eq!(Reason::Signal(15).to_string(), "signal 15 (SIGTERM)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// Shutdown was asked for by the program itself.
    Requested,
    /// A signal arrived (its number; Ctrl-C on Windows reads as SIGINT, 2).
    Signal(i32),
    /// A supervised task failed past its restart budget, or a critical task ended.
    TaskFailed {
        /// The task's name.
        task: String,
        /// What happened to it.
        error: String,
    },
    /// The service cannot go on.
    Fatal(String),
}

impl Reason {
    /// The conventional name of a signal number, if steward knows it.
    #[must_use]
    pub fn signal_name(signo: i32) -> Option<&'static str> {
        Some(match signo {
            1 => "SIGHUP",
            2 => "SIGINT",
            3 => "SIGQUIT",
            15 => "SIGTERM",
            _ => return None,
        })
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Requested => f.write_str("requested"),
            Reason::Signal(n) => match Reason::signal_name(*n) {
                Some(name) => write!(f, "signal {n} ({name})"),
                None => write!(f, "signal {n}"),
            },
            Reason::TaskFailed { task, error } => write!(f, "task `{task}` failed: {error}"),
            Reason::Fatal(msg) => write!(f, "fatal: {msg}"),
        }
    }
}
