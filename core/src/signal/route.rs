//! The process's side of signals: one listener for the whole process, and
//! the one [`SignalHandler`] it delivers to.
//!
//! Signals belong to the process, not to a runtime. Whichever adapter
//! installs first starts the process's one listener (through
//! [`install_with`]); every later install, by the same adapter or by another
//! (a library on tokio inside a smol service, or the reverse), only
//! [routes](SignalHandler::route) the signals to its handler. Were there two
//! listeners, each would deliver every signal, and the second delivery
//! would force the exit.
//!
//! # Invariants
//!
//! - `ROUTE` holds the handler the listener delivers to, or none (no
//!   service is running: the signal's default action, exit `128 + n`).
//! - `LISTENING` becomes `true` once, when a `listen` returned `Ok`; it is
//!   never reset (the listener lives until the process exits). While it is
//!   `false`, no listener runs: a `listen` that failed started none.
//! - The two locks never nest: an install routes before it takes
//!   `LISTENING`, and releases it before it unroutes. `listen` runs under
//!   `LISTENING` alone, so a listener's first delivery (which takes
//!   `ROUTE`) never waits for it; no lock is held while a signal is acted
//!   on.
//!
//! Both are plain std mutexes (not the loom-switched ones): they are
//! `static`s, taken for a clone, a store or one start, never on a hot path.

use std::io;
use std::sync::{Mutex, PoisonError};

use super::{exit_code_for, SignalHandler};
use crate::Shutdown;

/// The handler this process's signals go to.
static ROUTE: Mutex<Option<SignalHandler>> = Mutex::new(None);

/// Whether the process's one listener has been started, by any adapter.
static LISTENING: Mutex<bool> = Mutex::new(false);

/// Installs steward's rule for this process's termination signals on
/// `shutdown`: routes the signals to a new [`SignalHandler`] bound to it, and
/// starts the process's one listener with `listen` if no adapter has yet.
///
/// This is the whole of an adapter's `install` (`steward_smol::signal::install`,
/// `steward_tokio::signal::install`); the adapter's part is `listen`, which
/// starts its runtime's listener: it registers for the signals, so that
/// they are caught once it returns, and starts receiving them (on a thread
/// of its own, not on the application's executor), handing each number to
/// [`deliver_routed`]. `listen` is called at most once per process while it
/// succeeds, whichever adapter's it is, so two adapters in one process share
/// one listener and each signal is delivered once.
///
/// The handler is routed before the listener starts, so that a signal that
/// comes once the listener runs finds it. It stays routed until
/// [`unroute`](SignalHandler::unroute)d or until a later install routes
/// another: the last install receives the signals.
///
/// # Errors
///
/// What `listen` returned, when it failed: the handler is then unrouted
/// (the previous one, if any, is not restored), and the next install calls
/// its `listen` again.
///
/// # Examples
///
/// A listener that reads signal numbers from a channel, standing in for the
/// operating system:
///
/// ```
/// use steward_core::signal::{deliver_routed, install_with, SIGTERM};
/// use steward_core::{Reason, Shutdown};
/// # fn main() -> std::io::Result<()> {
///
/// let (os, signals) = std::sync::mpsc::channel::<i32>();
/// let listen = move || {
///     std::thread::Builder::new()
///         .name("steward-signals".into())
///         .spawn(move || signals.into_iter().for_each(deliver_routed))?;
///     Ok(())
/// };
///
/// let shutdown = Shutdown::new();
/// let handler = install_with(&shutdown, listen)?;
/// // A second install starts nothing: its `listen` is not called.
/// let again = install_with(&shutdown, || unreachable!("one listener a process"))?;
/// assert!(again.is_routed() && !handler.is_routed());
///
/// os.send(SIGTERM).unwrap();
/// futures_lite::future::block_on(shutdown.triggered());
/// assert_eq!(shutdown.reason(), Some(Reason::Signal(SIGTERM)));
/// # Ok(())
/// # }
/// ```
pub fn install_with<L>(shutdown: &Shutdown, listen: L) -> io::Result<SignalHandler>
where
    L: FnOnce() -> io::Result<()>,
{
    let handler = SignalHandler::new(shutdown);
    // Routed first: a signal that arrives once the listener runs finds it.
    handler.route();
    let mut listening = LISTENING.lock().unwrap_or_else(PoisonError::into_inner);
    if !*listening {
        if let Err(err) = listen() {
            drop(listening);
            handler.unroute();
            return Err(err);
        }
        *listening = true;
    }
    Ok(handler)
}

impl SignalHandler {
    /// Makes this handler the one the process's signals are delivered to by
    /// [`deliver_routed`], in place of any other.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::signal::SignalHandler;
    ///
    /// let first = SignalHandler::new(&steward_core::Shutdown::new());
    /// first.route();
    /// assert!(first.is_routed());
    /// let second = SignalHandler::new(&steward_core::Shutdown::new());
    /// second.route(); // a second service in the same process takes over
    /// assert!(!first.is_routed() && second.is_routed());
    /// second.unroute();
    /// ```
    pub fn route(&self) {
        let previous = ROUTE
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(self.clone());
        drop(previous);
    }

    /// Stops routing the process's signals to this handler, if it is the
    /// routed one (a later [`route`](SignalHandler::route) by another
    /// handler is left alone).
    ///
    /// # Examples
    ///
    /// ```
    /// let signals = steward_core::signal::SignalHandler::new(&steward_core::Shutdown::new());
    /// signals.route();
    /// signals.unroute();
    /// assert!(!signals.is_routed());
    /// ```
    pub fn unroute(&self) {
        let mut route = ROUTE.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = match &*route {
            Some(current) if current.ptr_eq(self) => route.take(),
            _ => None,
        };
        drop(route);
        drop(previous);
    }

    /// Whether this handler is the one the process's signals go to.
    ///
    /// # Examples
    ///
    /// See [`SignalHandler::route`].
    #[must_use]
    pub fn is_routed(&self) -> bool {
        ROUTE
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|current| current.ptr_eq(self))
    }
}

/// What the process's one signal listener does with each signal it receives:
/// [`deliver`](SignalHandler::deliver)s it to the
/// [routed](SignalHandler::route) handler, or, when none is routed (no
/// service is running), ends the process with `128 + n` as the signal's
/// default action would.
///
/// # Examples
///
/// ```
/// use steward_core::signal::{deliver_routed, SignalHandler, SIGTERM};
///
/// let shutdown = steward_core::Shutdown::new();
/// let signals = SignalHandler::new(&shutdown);
/// signals.route();
/// deliver_routed(SIGTERM);
/// assert!(shutdown.is_triggered());
/// signals.unroute();
/// ```
pub fn deliver_routed(signo: i32) {
    let current = ROUTE.lock().unwrap_or_else(PoisonError::into_inner).clone();
    match current {
        Some(handler) => handler.deliver(signo),
        None => {
            let code = exit_code_for(signo);
            tracing::warn!(
                signal = signo,
                exit_code = code,
                "received signal {signo} with no service running: exiting"
            );
            std::process::exit(code);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::cell::Cell;

    use super::*;

    /// The only unit test that installs (the statics are the process's):
    /// a failing start unroutes and is tried again; a started listener is
    /// never started twice.
    #[test]
    fn install_starts_one_listener_and_retries_a_failed_start() {
        let shutdown = Shutdown::new();
        let starts = Cell::new(0);
        let listen = |result: io::Result<()>| {
            let starts = &starts;
            move || {
                starts.set(starts.get() + 1);
                result
            }
        };

        let refused = io::Error::from(io::ErrorKind::PermissionDenied);
        let err = install_with(&shutdown, listen(Err(refused))).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(starts.get(), 1);

        let first = install_with(&shutdown, listen(Ok(()))).unwrap();
        assert_eq!(starts.get(), 2, "a failed start is tried again");
        assert!(first.is_routed());

        let second = install_with(&shutdown, listen(Ok(()))).unwrap();
        assert_eq!(starts.get(), 2, "one listener a process");
        assert!(second.is_routed() && !first.is_routed());
        second.unroute();
    }
}
