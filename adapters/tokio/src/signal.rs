//! Termination signals on tokio: SIGTERM and SIGINT; on Windows, Ctrl-C,
//! Ctrl-Break, console close and system shutdown; received with
//! `tokio::signal`.
//!
//! The rule (first signal drains, second forces the exit with `128 + n`) is
//! steward's [`SignalHandler`], and so is the rule of the process (one
//! listener, whichever adapter installs first; signals routed to the last
//! install: [`install_with`]); this module only starts this runtime's
//! listener, which receives the signals and hands each on.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as sys;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as sys;

use std::io;

use steward_core::signal::{deliver_routed, install_with, SignalHandler};
use steward_core::Shutdown;

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
/// themselves. Call it before announcing readiness. It may be called inside
/// or outside a tokio runtime.
///
/// Signals belong to the process, and so does steward's one listener
/// ([`install_with`]): the first install in the process, this adapter's or
/// `steward-smol`'s, starts it, and every install
/// [routes](SignalHandler::route) it to the new handler. So a second service
/// in the same process drains on its first signal, no thread is added per
/// call, and a program that uses both adapters receives each signal once.
/// This adapter's listener is a dedicated thread running a small
/// current-thread tokio runtime of its own, which lives until the process
/// exits. The listener is not on the application's runtime: a second signal
/// is the way out of a drain that is stuck, and a drain is often stuck
/// because tasks block the runtime's threads (on a current-thread runtime,
/// one such task is enough). tokio's signal registry is process-wide, so no
/// signal is lost for the application's own listeners.
///
/// # Errors
///
/// When the runtime, the signal handlers or the thread cannot be made (the
/// next call tries again).
///
/// # Examples
///
/// ```no_run
/// use steward_core::Shutdown;
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let shutdown = Shutdown::new();
///     steward_tokio::signal::install(&shutdown)?;
///     println!("ready");
///     shutdown.triggered().await;
///     println!("stopping: {}", shutdown.reason().unwrap());
///     shutdown.drained().await;
///     Ok(())
/// }
/// ```
pub fn install(shutdown: &Shutdown) -> io::Result<SignalHandler> {
    install_with(shutdown, listen)
}

/// Starts the process's one listener, which hands every signal to
/// [`deliver_routed`]; [`install_with`] calls it once a process.
fn listen() -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    // Registered here, inside the new runtime, so that the signals are
    // caught once this returns.
    let mut signals = {
        let _enter = runtime.enter();
        sys::Signals::new()?
    };
    std::thread::Builder::new()
        .name("steward-signals".into())
        .spawn(move || {
            runtime.block_on(async move {
                while let Some(signo) = signals.recv().await {
                    deliver_routed(signo);
                }
            });
        })?;
    Ok(())
}
