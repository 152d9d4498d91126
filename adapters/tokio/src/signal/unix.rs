use std::io;

use steward_core::signal::{SIGINT, SIGTERM};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// SIGTERM and SIGINT, as one source of signal numbers.
pub(super) struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Registers both; must run inside a tokio runtime with I/O enabled.
    pub(super) fn new() -> io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// The number of the next signal; `None` once neither can arrive any more.
    pub(super) async fn recv(&mut self) -> Option<i32> {
        tokio::select! {
            Some(()) = self.term.recv() => Some(SIGTERM),
            Some(()) = self.int.recv() => Some(SIGINT),
            else => None,
        }
    }
}
