//! Windows' console control events, read as the signals of steward's rule.
//!
//! | event | what sends it | read as |
//! |---|---|---|
//! | `CTRL_C_EVENT` | Ctrl-C in the console | SIGINT (2): exit 130 when forced |
//! | `CTRL_BREAK_EVENT` | Ctrl-Break, `GenerateConsoleCtrlEvent` | SIGTERM (15): exit 143 |
//! | `CTRL_CLOSE_EVENT` | the console window closed, End Task | SIGTERM (15) |
//! | `CTRL_SHUTDOWN_EVENT` | system shutdown; a Windows container's stop | SIGTERM (15) |
//!
//! The source is tokio's `signal::windows`, on a current-thread tokio
//! runtime of its own on the `steward-signals` thread (the application's
//! executor stays smol's). async-signal, used on unix, reports only Ctrl-C
//! on Windows; and for close and shutdown Windows ends the process as soon
//! as the handler returns, which tokio's handler does not do (it parks), so
//! the drain runs until the service exits or Windows' own timeout comes
//! (about 5 s for close; the system's or the container's for shutdown):
//! keep the budget under it. Both without `unsafe` on our side.

use std::io;

use steward_core::signal::{deliver_routed, SIGINT, SIGTERM};
use tokio::signal::windows::{ctrl_break, ctrl_c, ctrl_close, ctrl_shutdown};

/// Starts the process's one listener, as the unix `listen`: every event
/// goes to [`deliver_routed`].
pub(super) fn listen() -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    // Registered here, so that the events are caught once this returns.
    let (mut int, mut brk, mut close, mut off) = {
        let _enter = runtime.enter();
        (ctrl_c()?, ctrl_break()?, ctrl_close()?, ctrl_shutdown()?)
    };
    std::thread::Builder::new()
        .name("steward-signals".into())
        .spawn(move || {
            runtime.block_on(async move {
                loop {
                    let signo = tokio::select! {
                        Some(()) = int.recv() => SIGINT,
                        Some(()) = brk.recv() => SIGTERM,
                        Some(()) = close.recv() => SIGTERM,
                        Some(()) = off.recv() => SIGTERM,
                        else => break,
                    };
                    deliver_routed(signo);
                }
            });
        })?;
    Ok(())
}
