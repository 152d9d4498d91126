use std::fmt;

/// Where a scope is in its life, from [`Shutdown::state`](crate::Shutdown::state).
///
/// # Examples
///
/// ```
/// use steward_core::{Reason, ScopeState, Shutdown};
///
/// let shutdown = Shutdown::new();
/// assert_eq!(shutdown.state(), ScopeState::Running);
/// shutdown.trigger(Reason::Requested);
/// assert_eq!(shutdown.state(), ScopeState::Drained); // no guard held it
/// assert_eq!(ScopeState::Drained.to_string(), "drained");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ScopeState {
    /// Not triggered.
    Running,
    /// Triggered, and a guard of the scope or of a child still lives.
    Draining,
    /// Triggered, and no guard of the scope or its children lives.
    Drained,
}

impl fmt::Display for ScopeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScopeState::Running => "running",
            ScopeState::Draining => "draining",
            ScopeState::Drained => "drained",
        })
    }
}

/// What a shutdown scope refuses.
///
/// # Examples
///
/// ```
/// use steward_core::{Reason, Shutdown, ShutdownError};
///
/// let shutdown = Shutdown::new();
/// shutdown.trigger(Reason::Requested);
/// let err = shutdown.try_guard().unwrap_err();
/// assert_eq!(err, ShutdownError::Drained);
/// assert_eq!(err.to_string(), "the shutdown scope has drained");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShutdownError {
    /// The scope is drained: [`Shutdown::try_guard`](crate::Shutdown::try_guard)
    /// takes no more guards.
    Drained,
    /// The scope is triggered: a writer wrapped by
    /// [`Shutdown::until_triggered`](crate::Shutdown::until_triggered) takes
    /// no more bytes (inside an [`std::io::Error`] of kind
    /// [`BrokenPipe`](std::io::ErrorKind::BrokenPipe)).
    Triggered,
}

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShutdownError::Drained => "the shutdown scope has drained",
            ShutdownError::Triggered => "the shutdown scope was triggered",
        })
    }
}

impl std::error::Error for ShutdownError {}
