use std::io;

use steward_core::signal::SIGINT;
use tokio::signal::windows::{ctrl_c, CtrlC};

/// Ctrl-C, the one termination signal of a Windows console, read as SIGINT.
pub(super) struct Signals {
    ctrl_c: CtrlC,
}

impl Signals {
    /// Registers the handler; must run inside a tokio runtime with I/O enabled.
    pub(super) fn new() -> io::Result<Self> {
        Ok(Self { ctrl_c: ctrl_c()? })
    }

    /// The number of the next signal; `None` once none can arrive any more.
    pub(super) async fn recv(&mut self) -> Option<i32> {
        self.ctrl_c.recv().await.map(|()| SIGINT)
    }
}
