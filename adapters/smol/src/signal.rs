//! Termination signals on smol: SIGTERM and SIGINT (Ctrl-C on Windows).
//!
//! The rule (first signal drains, second forces the exit with `128 + n`) is
//! steward's [`SignalHandler`], and so is the rule of the process (one
//! listener, whichever adapter installs first; signals routed to the last
//! install: [`install_with`]); this module only starts this runtime's
//! listener, which receives the signals and hands each on.
//!
//! The source is [`async_signal`], smol's own signal crate, rather than
//! signal-hook directly: it is built on signal-hook's registry on unix, it is
//! a `Stream` that async-io wakes, all without `unsafe` on our side. On
//! Windows, where async-signal knows only Ctrl-C, the console events come
//! from tokio's handler instead (`signal/windows.rs`).

#[cfg(windows)]
mod windows;

use std::io;

#[cfg(unix)]
use async_signal::{Signal, Signals};
#[cfg(unix)]
use smol::stream::StreamExt;
#[cfg(unix)]
use steward_core::signal::deliver_routed;
use steward_core::signal::{install_with, SignalHandler};
use steward_core::Shutdown;
#[cfg(windows)]
use windows::listen;

/// The signals listened for on unix.
#[cfg(unix)]
const LISTENED: &[Signal] = &[Signal::Term, Signal::Int];

/// Listens for SIGTERM and SIGINT (Windows: Ctrl-C as SIGINT; Ctrl-Break,
/// console close and system shutdown as SIGTERM), applying steward's rule
/// to `shutdown`, until another call re-targets the listener (or the `App`
/// that called it ends).
///
/// The first signal triggers `shutdown` with
/// [`Reason::Signal`](steward_core::Reason::Signal); a second one while it drains
/// logs a warning through `tracing` and exits the process at once with
/// `128 + n` (143 for SIGTERM, 130 for SIGINT). Returns the
/// [`SignalHandler`], which tells the program when that second signal came.
///
/// From the moment this returns, these signals no longer kill the process by
/// themselves. Call it before announcing readiness. It needs no running
/// executor: it may be called before `smol::block_on`.
///
/// Signals belong to the process, and so does steward's one listener
/// ([`install_with`]): the first install in the process, this adapter's or
/// `steward-tokio`'s, starts it, and every install
/// [routes](SignalHandler::route) it to the new handler. So a second service
/// in the same process drains on its first signal, no thread is added per
/// call, and a program that uses both adapters receives each signal once.
/// This adapter's listener is a dedicated thread (named `steward-signals`,
/// driving async-io with its own `block_on`), which lives until the process
/// exits. The thread is not an executor's: a second signal is the way out of
/// a drain that is stuck, and a drain is often stuck because a task blocks
/// the executor's threads.
///
/// # Errors
///
/// When the signal handlers cannot be registered, or the thread cannot be
/// started (the next call tries again).
///
/// # Examples
///
/// ```no_run
/// use steward_core::Shutdown;
///
/// # fn main() -> std::io::Result<()> {
/// let shutdown = Shutdown::new();
/// steward_smol::signal::install(&shutdown)?;
/// smol::block_on(async {
///     println!("ready");
///     shutdown.triggered().await;
///     println!("stopping: {}", shutdown.reason().unwrap());
///     shutdown.drained().await;
/// });
/// # Ok(())
/// # }
/// ```
pub fn install(shutdown: &Shutdown) -> io::Result<SignalHandler> {
    install_with(shutdown, listen)
}

/// Starts the process's one listener, which hands every signal to
/// [`deliver_routed`]; [`install_with`] calls it once a process.
#[cfg(unix)]
fn listen() -> io::Result<()> {
    // Registered here, so that the signals are caught once this returns.
    let mut signals = Signals::new(LISTENED)?;
    std::thread::Builder::new()
        .name("steward-signals".into())
        .spawn(move || {
            async_io::block_on(async move {
                while let Some(signal) = signals.next().await {
                    match signal {
                        // The enum's discriminant is the signal's number.
                        Ok(signal) => deliver_routed(signal as i32),
                        // Reading from async-signal's own socket pair does not
                        // fail in practice; should it, stop rather than spin.
                        Err(err) => {
                            tracing::error!("cannot read signals any more: {err}");
                            break;
                        }
                    }
                }
            });
        })?;
    Ok(())
}
