use std::error::Error;
use std::fmt;
use std::time::Duration;

use steward_core::ShieldError;

#[cfg(doc)]
use super::Batcher;

/// Why [`Batcher::push`] refused an item; the item is handed back.
#[derive(Clone, PartialEq, Eq)]
pub enum PushError<T> {
    /// The buffer is full ([`Batcher::try_push`] only; `push` waits).
    Full(T),
    /// The batcher is closed: nothing will be written any more.
    Closed(T),
}

impl<T> PushError<T> {
    /// The item that was refused.
    #[must_use]
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(item) | PushError::Closed(item) => item,
        }
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushError::Full(_) => "Full(..)",
            PushError::Closed(_) => "Closed(..)",
        })
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushError::Full(_) => "the batcher's buffer is full",
            PushError::Closed(_) => "the batcher is closed",
        })
    }
}

impl<T> Error for PushError<T> {}

/// Why a flush did not write everything it set out to write.
#[derive(Debug)]
#[non_exhaustive]
pub enum FlushError<E> {
    /// The sink refused a batch; it is written again at the next flush.
    Write(E),
    /// A write took longer than the write timeout; written again as above.
    TimedOut(Duration),
    /// The final flush panicked, or was still running when the shutdown's
    /// grace ran out.
    Cut(ShieldError),
}

impl<E: fmt::Display> fmt::Display for FlushError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlushError::Write(e) => write!(f, "the sink refused a batch: {e}"),
            FlushError::TimedOut(limit) => write!(f, "a write timed out after {limit:?}"),
            FlushError::Cut(e) => write!(f, "the final flush was cut: {e}"),
        }
    }
}

impl<E: Error + 'static> Error for FlushError<E> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            FlushError::Write(e) => Some(e),
            FlushError::TimedOut(_) => None,
            FlushError::Cut(e) => Some(e),
        }
    }
}
