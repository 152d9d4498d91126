//! What a termination signal means to a service, written once for every runtime.
//!
//! The rule: the first SIGTERM or SIGINT (on Windows: Ctrl-C, Ctrl-Break,
//! console close, system shutdown; see the adapters) triggers the
//! service's [`Shutdown`] with [`Reason::Signal`], and the service drains. A
//! second one while it drains means "stop waiting": the process exits at once
//! with the shell's convention for a death by signal, `128 + n` (143 for
//! SIGTERM, 130 for SIGINT).
//!
//! [`SignalHandler`] holds that rule and its state. It knows no runtime and
//! no operating system. The process's side is written here too, once for
//! every adapter: [`install_with`] routes the signals to a handler and starts
//! the process's one listener, whichever adapter asks first, so that two
//! adapters in one process still deliver each signal once. An adapter
//! (`steward_smol::signal::install`, `steward_tokio::signal::install`) only
//! starts its runtime's listener, which hands each number to
//! [`deliver_routed`]. The rest of the program can learn that a second
//! signal came with [`SignalHandler::forced`] (for example to skip a
//! pre-stop delay).
//!
//! # Invariants
//!
//! - `received` counts the signals handed to [`SignalHandler::on_signal`];
//!   whoever takes it from 0 triggers the scope, every later one forces.
//! - `forced` is 0 until the first forcing signal stores its exit code
//!   (never 0 itself, see [`exit_code_for`]); the first code stays. It is
//!   stored before the `forced` event is notified, and a [`Forced`] future
//!   listens before it checks a second time: no lost wake-up.
//!
//! # Examples
//!
//! ```
//! use steward_core::signal::{SignalAction, SignalHandler, SIGTERM};
//! use steward_core::{Reason, Shutdown};
//!
//! let shutdown = Shutdown::new();
//! let signals = SignalHandler::new(&shutdown);
//!
//! assert_eq!(signals.on_signal(SIGTERM), SignalAction::Triggered);
//! assert_eq!(shutdown.reason(), Some(Reason::Signal(SIGTERM)));
//!
//! // Still draining: a second signal forces the exit.
//! assert_eq!(signals.on_signal(SIGTERM), SignalAction::ForceExit(143));
//! assert!(signals.is_forced());
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use event_listener::{Event, EventListener};

use crate::sync::{AtomicUsize, Ordering};
use crate::{Reason, Shutdown};

mod route;

pub use route::{deliver_routed, install_with};

/// The interrupt signal, 2: Ctrl-C in a terminal (and on Windows).
///
/// The same number on every unix and in Windows' C runtime, so steward names
/// it without libc.
///
/// # Examples
///
/// ```
/// assert_eq!(steward_core::signal::SIGINT, 2);
/// ```
pub const SIGINT: i32 = 2;

/// The termination signal, 15: what `kill` and Kubernetes send first.
///
/// # Examples
///
/// ```
/// assert_eq!(steward_core::signal::SIGTERM, 15);
/// ```
pub const SIGTERM: i32 = 15;

/// The signals an adapter listens for: SIGTERM and SIGINT (on Windows, only
/// Ctrl-C, which reads as SIGINT).
///
/// # Examples
///
/// ```
/// use steward_core::signal::{SIGINT, SIGTERM, TERMINATION_SIGNALS};
///
/// assert!(TERMINATION_SIGNALS.contains(&SIGTERM));
/// assert!(TERMINATION_SIGNALS.contains(&SIGINT));
/// ```
pub const TERMINATION_SIGNALS: [i32; 2] = [SIGTERM, SIGINT];

/// The exit code of a process that a signal `signo` ended: `128 + signo`.
///
/// `signo` is clamped to `1..=127`, so the code is always a valid,
/// non-zero exit status (129 to 255) whatever number a caller passes.
///
/// # Examples
///
/// ```
/// use steward_core::signal::{exit_code_for, SIGINT, SIGTERM};
///
/// assert_eq!(exit_code_for(SIGTERM), 143);
/// assert_eq!(exit_code_for(SIGINT), 130);
/// ```
#[must_use]
pub const fn exit_code_for(signo: i32) -> i32 {
    let signo = if signo < 1 {
        1
    } else if signo > 127 {
        127
    } else {
        signo
    };
    128 + signo
}

/// What to do about a signal, as decided by [`SignalHandler::on_signal`].
///
/// # Examples
///
/// ```
/// use steward_core::signal::{SignalAction, SignalHandler, SIGINT};
///
/// let signals = SignalHandler::new(&steward_core::Shutdown::new());
/// match signals.on_signal(SIGINT) {
///     SignalAction::Triggered => println!("draining; Ctrl-C again to force"),
///     SignalAction::ForceExit(code) => std::process::exit(code),
///     _ => {} // `#[non_exhaustive]`: a later version may decide more
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignalAction {
    /// The first signal: the shutdown is triggered and the service drains.
    Triggered,
    /// A second signal while draining: exit now, with this code (`128 + n`).
    ForceExit(i32),
}

/// The rule for termination signals, bound to one [`Shutdown`].
///
/// Cloneable: all clones share the count of signals received (compare them
/// with [`SignalHandler::ptr_eq`]). An adapter's `install` makes one and
/// returns it, so that the program can watch [`forced`](SignalHandler::forced).
///
/// # Examples
///
/// ```
/// use steward_core::signal::{SignalHandler, SIGINT};
/// use steward_core::Shutdown;
/// # futures_lite::future::block_on(async {
/// let shutdown = Shutdown::new();
/// let signals = SignalHandler::new(&shutdown);
///
/// signals.deliver(SIGINT); // what an adapter does with each signal it receives
/// shutdown.triggered().await;
/// assert!(!signals.is_forced());
/// # });
/// ```
#[derive(Clone)]
pub struct SignalHandler {
    inner: Arc<Inner>,
}

struct Inner {
    shutdown: Shutdown,
    /// How many signals were handed to `on_signal` (saturating in practice:
    /// a process does not receive `usize::MAX` signals).
    received: AtomicUsize,
    /// 0, or the exit code of the first forcing signal.
    forced: AtomicUsize,
    /// Notified (all) once `forced` is set.
    forced_event: Event,
}

impl SignalHandler {
    /// Binds the rule to `shutdown`: the first signal will trigger it.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let signals = steward_core::signal::SignalHandler::new(&shutdown);
    /// assert!(signals.shutdown().ptr_eq(&shutdown));
    /// ```
    #[must_use]
    pub fn new(shutdown: &Shutdown) -> Self {
        Self {
            inner: Arc::new(Inner {
                shutdown: shutdown.clone(),
                received: AtomicUsize::new(0),
                forced: AtomicUsize::new(0),
                forced_event: Event::new(),
            }),
        }
    }

    /// Applies the rule to the signal `signo` and says what the caller must do.
    ///
    /// The first signal triggers the shutdown with [`Reason::Signal`]`(signo)`
    /// and returns [`SignalAction::Triggered`]; if the scope was triggered
    /// already for another reason, that reason stays and the drain goes on.
    /// Every later signal returns [`SignalAction::ForceExit`] with the code of
    /// the first forcing one ([`exit_code_for`]), marks the handler
    /// [forced](SignalHandler::is_forced) and wakes [`forced`](SignalHandler::forced).
    ///
    /// It only decides: exiting is the caller's job (see
    /// [`deliver`](SignalHandler::deliver)). Any signal number counts; the
    /// adapters hand it only [`TERMINATION_SIGNALS`]. Never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::signal::{SignalAction, SignalHandler, SIGINT, SIGTERM};
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let signals = SignalHandler::new(&shutdown);
    /// assert_eq!(signals.on_signal(SIGINT), SignalAction::Triggered);
    /// assert_eq!(signals.on_signal(SIGTERM), SignalAction::ForceExit(143));
    /// assert_eq!(shutdown.reason(), Some(Reason::Signal(SIGINT)));
    /// ```
    pub fn on_signal(&self, signo: i32) -> SignalAction {
        let inner = &self.inner;
        // Relaxed: the count orders nothing else; read-modify-writes of one
        // atomic are totally ordered, so exactly one caller sees 0.
        if inner.received.fetch_add(1, Ordering::Relaxed) == 0 {
            inner.shutdown.trigger(Reason::Signal(signo));
            return SignalAction::Triggered;
        }
        // Lossless: exit codes are 129..=255.
        let code = exit_code_for(signo) as usize;
        // Release: whoever reads the code (Acquire in `exit_code`) sees what
        // this thread did before, such as the trigger when it also handled the
        // first signal (as an adapter's one listener does). Relaxed on
        // failure: only the code already stored is read.
        let forced = &inner.forced;
        let stored = forced.compare_exchange(0, code, Ordering::Release, Ordering::Relaxed);
        let code = match stored {
            Ok(_) => {
                inner.forced_event.notify(usize::MAX);
                code
            }
            Err(first) => first,
        };
        SignalAction::ForceExit(code as i32)
    }

    /// Applies the rule and acts on it: logs the signal and, when it forces
    /// the exit, ends the process with `128 + n`.
    ///
    /// This is what the adapters call for each signal they receive. The log
    /// lines go through `tracing` (info on the first signal, warn before a
    /// forced exit).
    ///
    /// # Caveats
    ///
    /// A forcing signal calls [`std::process::exit`]: destructors of other
    /// threads' values do not run and buffered writers that are not flushed
    /// lose their contents. That is the point of a forced exit; a program that
    /// must do something first calls [`on_signal`](SignalHandler::on_signal)
    /// and exits itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::signal::{SignalHandler, SIGTERM};
    ///
    /// let shutdown = steward_core::Shutdown::new();
    /// let signals = SignalHandler::new(&shutdown);
    /// signals.deliver(SIGTERM); // the first one only triggers
    /// assert!(shutdown.is_triggered());
    /// ```
    pub fn deliver(&self, signo: i32) {
        let reason = Reason::Signal(signo);
        match self.on_signal(signo) {
            SignalAction::Triggered => {
                tracing::info!(
                    signal = signo,
                    "received {reason}: shutting down (send it again to exit at once)"
                );
            }
            SignalAction::ForceExit(code) => {
                tracing::warn!(
                    signal = signo,
                    exit_code = code,
                    "received {reason} while shutting down: exiting now"
                );
                std::process::exit(code);
            }
        }
    }

    /// Whether a second signal has come, so the process is to exit at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let signals = steward_core::signal::SignalHandler::new(&steward_core::Shutdown::new());
    /// signals.on_signal(steward_core::signal::SIGTERM);
    /// assert!(!signals.is_forced());
    /// signals.on_signal(steward_core::signal::SIGTERM);
    /// assert!(signals.is_forced());
    /// ```
    #[must_use]
    pub fn is_forced(&self) -> bool {
        self.exit_code().is_some()
    }

    /// The exit code a second signal asked for (`128 + n`), or `None` while
    /// there was none.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::signal::{SignalHandler, SIGINT};
    ///
    /// let signals = SignalHandler::new(&steward_core::Shutdown::new());
    /// signals.on_signal(SIGINT);
    /// assert_eq!(signals.exit_code(), None);
    /// signals.on_signal(SIGINT);
    /// assert_eq!(signals.exit_code(), Some(130));
    /// ```
    #[must_use]
    pub fn exit_code(&self) -> Option<i32> {
        self.inner.exit_code()
    }

    /// Waits until a second signal forces the exit; resolves to its exit code.
    ///
    /// Ready at once when that has happened already. Useful to cut short
    /// something that only makes sense while the shutdown is graceful, such
    /// as a pre-stop delay.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future unregisters its listener and loses
    /// nothing; a new call waits again.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::signal::{SignalHandler, SIGTERM};
    /// # futures_lite::future::block_on(async {
    /// let signals = SignalHandler::new(&steward_core::Shutdown::new());
    /// let sender = signals.clone();
    /// std::thread::spawn(move || {
    ///     sender.on_signal(SIGTERM);
    ///     sender.on_signal(SIGTERM);
    /// });
    /// assert_eq!(signals.forced().await, 143);
    /// # });
    /// ```
    pub fn forced(&self) -> Forced<'_> {
        Forced {
            inner: &self.inner,
            listener: None,
        }
    }

    /// The shutdown scope that the first signal triggers.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let signals = steward_core::signal::SignalHandler::new(&shutdown);
    /// signals.on_signal(steward_core::signal::SIGINT);
    /// assert!(signals.shutdown().is_triggered());
    /// ```
    #[must_use]
    pub fn shutdown(&self) -> &Shutdown {
        &self.inner.shutdown
    }

    /// Whether two handles share their state.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::signal::SignalHandler;
    ///
    /// let shutdown = steward_core::Shutdown::new();
    /// let a = SignalHandler::new(&shutdown);
    /// assert!(a.ptr_eq(&a.clone()));
    /// assert!(!a.ptr_eq(&SignalHandler::new(&shutdown)));
    /// ```
    #[must_use]
    pub fn ptr_eq(&self, other: &SignalHandler) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Inner {
    fn exit_code(&self) -> Option<i32> {
        // Acquire: pairs with the Release in `on_signal`.
        match self.forced.load(Ordering::Acquire) {
            0 => None,
            // Lossless: only codes from `exit_code_for` are stored.
            code => Some(code as i32),
        }
    }
}

impl fmt::Debug for SignalHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignalHandler")
            .field("received", &self.inner.received.load(Ordering::Relaxed))
            .field("exit_code", &self.exit_code())
            .finish_non_exhaustive()
    }
}

/// Future returned by [`SignalHandler::forced`].
///
/// Dropping it unregisters its listener.
///
/// # Examples
///
/// See [`SignalHandler::forced`].
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct Forced<'a> {
    inner: &'a Inner,
    listener: Option<EventListener>,
}

impl Future for Forced<'_> {
    type Output = i32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<i32> {
        let this = self.get_mut();
        // Check → listen → check → wait.
        loop {
            if let Some(code) = this.inner.exit_code() {
                this.listener = None;
                return Poll::Ready(code);
            }
            match &mut this.listener {
                None => this.listener = Some(this.inner.forced_event.listen()),
                Some(listener) => {
                    ready!(Pin::new(listener).poll(cx));
                    this.listener = None;
                }
            }
        }
    }
}

impl fmt::Debug for Forced<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Forced")
            .field("exit_code", &self.inner.exit_code())
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::task::{Wake, Waker};

    use super::*;

    struct CountWakes(AtomicUsize);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn wakes(counter: &Arc<CountWakes>) -> usize {
        counter.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn first_signal_triggers_with_its_number() {
        let shutdown = Shutdown::new();
        let signals = SignalHandler::new(&shutdown);
        assert!(!shutdown.is_triggered());
        assert_eq!(signals.on_signal(SIGTERM), SignalAction::Triggered);
        assert_eq!(shutdown.reason(), Some(Reason::Signal(15)));
        assert_eq!(signals.exit_code(), None);
    }

    #[test]
    fn second_signal_forces_with_128_plus_its_number() {
        for (first, second, code) in [
            (SIGTERM, SIGTERM, 143),
            (SIGINT, SIGINT, 130),
            (SIGINT, SIGTERM, 143),
            (SIGTERM, SIGINT, 130),
        ] {
            let shutdown = Shutdown::new();
            let signals = SignalHandler::new(&shutdown);
            assert_eq!(signals.on_signal(first), SignalAction::Triggered);
            assert_eq!(signals.on_signal(second), SignalAction::ForceExit(code));
            assert_eq!(signals.exit_code(), Some(code));
            // The reason is the first signal's.
            assert_eq!(shutdown.reason(), Some(Reason::Signal(first)));
        }
    }

    #[test]
    fn the_first_forcing_code_stays() {
        let signals = SignalHandler::new(&Shutdown::new());
        signals.on_signal(SIGTERM);
        assert_eq!(signals.on_signal(SIGINT), SignalAction::ForceExit(130));
        assert_eq!(signals.on_signal(SIGTERM), SignalAction::ForceExit(130));
        assert_eq!(signals.exit_code(), Some(130));
    }

    #[test]
    fn a_scope_triggered_for_another_reason_keeps_it_and_drains_on() {
        let shutdown = Shutdown::new();
        shutdown.trigger(Reason::Requested);
        let signals = SignalHandler::new(&shutdown);
        assert_eq!(signals.on_signal(SIGTERM), SignalAction::Triggered);
        assert_eq!(shutdown.reason(), Some(Reason::Requested));
        assert_eq!(signals.on_signal(SIGTERM), SignalAction::ForceExit(143));
    }

    #[test]
    fn clones_share_the_count() {
        let signals = SignalHandler::new(&Shutdown::new());
        let other = signals.clone();
        assert_eq!(other.on_signal(SIGINT), SignalAction::Triggered);
        assert_eq!(signals.on_signal(SIGINT), SignalAction::ForceExit(130));
        assert!(other.is_forced());
    }

    #[test]
    fn exit_codes_stay_in_range() {
        assert_eq!(exit_code_for(1), 129);
        assert_eq!(exit_code_for(127), 255);
        assert_eq!(exit_code_for(0), 129);
        assert_eq!(exit_code_for(-5), 129);
        assert_eq!(exit_code_for(i32::MAX), 255);
        assert_eq!(exit_code_for(i32::MIN), 129);
    }

    #[test]
    fn forced_waits_for_the_second_signal_and_is_woken_once() {
        let signals = SignalHandler::new(&Shutdown::new());
        let counter = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let mut cx = Context::from_waker(&waker);
        let mut forced = signals.forced();

        assert_eq!(Pin::new(&mut forced).poll(&mut cx), Poll::Pending);
        signals.on_signal(SIGTERM);
        assert_eq!(wakes(&counter), 0, "the first signal does not force");
        assert_eq!(Pin::new(&mut forced).poll(&mut cx), Poll::Pending);

        signals.on_signal(SIGINT);
        assert_eq!(wakes(&counter), 1);
        assert_eq!(Pin::new(&mut forced).poll(&mut cx), Poll::Ready(130));

        // Later calls are ready at once, and a third signal wakes no one twice.
        signals.on_signal(SIGTERM);
        assert_eq!(wakes(&counter), 1);
        assert_eq!(futures_lite::future::block_on(signals.forced()), 130);
    }

    #[test]
    fn dropping_forced_unregisters_it() {
        let signals = SignalHandler::new(&Shutdown::new());
        let counter = Arc::new(CountWakes(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&counter));
        let mut forced = signals.forced();
        let poll = Pin::new(&mut forced).poll(&mut Context::from_waker(&waker));
        assert_eq!(poll, Poll::Pending);
        drop(forced);
        signals.on_signal(SIGTERM);
        signals.on_signal(SIGTERM);
        assert_eq!(wakes(&counter), 0);
    }

    #[test]
    fn concurrent_signals_trigger_once_and_force_the_rest() {
        let shutdown = Shutdown::new();
        let signals = SignalHandler::new(&shutdown);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let signals = signals.clone();
                std::thread::spawn(move || signals.on_signal(SIGTERM))
            })
            .collect();
        let actions: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        let triggered = actions
            .iter()
            .filter(|a| **a == SignalAction::Triggered)
            .count();
        assert_eq!(triggered, 1);
        assert_eq!(
            actions.len() - triggered,
            actions
                .iter()
                .filter(|a| **a == SignalAction::ForceExit(143))
                .count()
        );
        assert!(shutdown.is_triggered());
    }

    #[test]
    fn debug_shows_observable_state() {
        let signals = SignalHandler::new(&Shutdown::new());
        signals.on_signal(SIGTERM);
        signals.on_signal(SIGINT);
        let text = format!("{signals:?}");
        assert!(text.contains("received: 2"), "{text}");
        assert!(text.contains("exit_code: Some(130)"), "{text}");
        assert!(format!("{:?}", signals.forced()).contains("Some(130)"));
    }

    #[test]
    fn handles_and_futures_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SignalHandler>();
        assert_send_sync::<Forced<'_>>();
        assert_send_sync::<SignalAction>();
    }
}
