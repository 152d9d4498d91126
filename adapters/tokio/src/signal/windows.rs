//! Windows' console control events, read as the signals of steward's rule.
//!
//! | event | what sends it | read as |
//! |---|---|---|
//! | `CTRL_C_EVENT` | Ctrl-C in the console | SIGINT (2): exit 130 when forced |
//! | `CTRL_BREAK_EVENT` | Ctrl-Break, `GenerateConsoleCtrlEvent` | SIGTERM (15): exit 143 |
//! | `CTRL_CLOSE_EVENT` | the console window closed, End Task | SIGTERM (15) |
//! | `CTRL_SHUTDOWN_EVENT` | system shutdown; a Windows container's stop | SIGTERM (15) |
//!
//! For close and shutdown, Windows ends the process once the handler
//! returns or its own timeout passes (about 5 s for close; for shutdown,
//! the system's or the container's timeout). tokio's handler does not
//! return for these, so the drain runs until the service exits or that
//! timeout comes, whichever is first: keep the budget under it.

use std::io;

use steward_core::signal::{SIGINT, SIGTERM};
use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close, ctrl_shutdown};
use tokio::signal::windows::{CtrlBreak, CtrlC, CtrlClose, CtrlShutdown};

/// The four console events that ask a process to stop, as one source of
/// signal numbers.
pub(super) struct Signals {
    ctrl_c: CtrlC,
    ctrl_break: CtrlBreak,
    close: CtrlClose,
    shutdown: CtrlShutdown,
}

impl Signals {
    /// Registers the handlers; must run inside a tokio runtime with I/O enabled.
    pub(super) fn new() -> io::Result<Self> {
        Ok(Self {
            ctrl_c: ctrl_c()?,
            ctrl_break: ctrl_break()?,
            close: ctrl_close()?,
            shutdown: ctrl_shutdown()?,
        })
    }

    /// The number of the next signal; `None` once none can arrive any more.
    pub(super) async fn recv(&mut self) -> Option<i32> {
        tokio::select! {
            Some(()) = self.ctrl_c.recv() => Some(SIGINT),
            Some(()) = self.ctrl_break.recv() => Some(SIGTERM),
            Some(()) = self.close.recv() => Some(SIGTERM),
            Some(()) = self.shutdown.recv() => Some(SIGTERM),
            else => None,
        }
    }
}
