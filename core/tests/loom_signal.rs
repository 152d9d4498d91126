//! loom models of the signal rule: every interleaving of signals racing each
//! other and a [`SignalHandler::forced`] waiter.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p steward-core --release --test loom_signal
//! ```
//!
//! Each model keeps its handler (and so its scope) on the main thread until
//! every thread is joined (see `loom_shutdown.rs` on why).

#![cfg(loom)]

use loom::future::block_on;
use loom::thread;
use steward_core::signal::{exit_code_for, SignalAction, SignalHandler, SIGINT, SIGTERM};
use steward_core::{Reason, Shutdown};

/// Two signals at once: exactly one triggers, with its own number as the
/// reason; the other forces, with its own exit code; a `forced()` waiter on
/// a third thread always wakes, with that code.
#[test]
fn two_racing_signals_trigger_once_and_force_once() {
    loom::model(|| {
        let shutdown = Shutdown::new();
        let signals = SignalHandler::new(&shutdown);

        let send = |signo| {
            let signals = signals.clone();
            thread::spawn(move || (signo, signals.on_signal(signo)))
        };
        let term = send(SIGTERM);
        let int = send(SIGINT);
        let code = block_on(signals.forced());

        let outcomes = [term.join().unwrap(), int.join().unwrap()];
        let triggered: Vec<i32> = outcomes
            .iter()
            .filter(|(_, action)| *action == SignalAction::Triggered)
            .map(|(signo, _)| *signo)
            .collect();
        assert_eq!(triggered.len(), 1, "exactly one trigger: {outcomes:?}");
        let (forcing, action) = outcomes
            .iter()
            .find(|(_, action)| *action != SignalAction::Triggered)
            .copied()
            .expect("the other signal forces");
        assert_eq!(action, SignalAction::ForceExit(exit_code_for(forcing)));
        assert_eq!(code, exit_code_for(forcing));
        assert_eq!(shutdown.reason(), Some(Reason::Signal(triggered[0])));
        assert_eq!(signals.exit_code(), Some(code));
    });
}

/// The second signal races a `forced()` waiter that is polled before, during
/// and after it on another thread: the waiter always wakes, with the code of
/// the second signal, and a waiter that comes after is ready at once.
#[test]
fn forced_waiter_races_the_second_signal() {
    loom::model(|| {
        let shutdown = Shutdown::new();
        let signals = SignalHandler::new(&shutdown);
        assert_eq!(signals.on_signal(SIGINT), SignalAction::Triggered);

        let waiter = thread::spawn({
            let signals = signals.clone();
            move || block_on(signals.forced())
        });
        assert_eq!(
            signals.on_signal(SIGTERM),
            SignalAction::ForceExit(exit_code_for(SIGTERM))
        );
        assert_eq!(waiter.join().unwrap(), exit_code_for(SIGTERM));
        assert_eq!(block_on(signals.forced()), exit_code_for(SIGTERM));
        assert_eq!(shutdown.reason(), Some(Reason::Signal(SIGINT)));
    });
}

/// Two forcing signals at once, after the first: the first code stored
/// stays, both callers are told that same code, and the waiter gets it too.
#[test]
fn racing_forcing_signals_agree_on_one_code() {
    loom::model(|| {
        let shutdown = Shutdown::new();
        let signals = SignalHandler::new(&shutdown);
        assert_eq!(signals.on_signal(SIGTERM), SignalAction::Triggered);

        let send = |signo| {
            let signals = signals.clone();
            thread::spawn(move || signals.on_signal(signo))
        };
        let int = send(SIGINT);
        let term = send(SIGTERM);
        let code = block_on(signals.forced());

        let actions = [int.join().unwrap(), term.join().unwrap()];
        assert!(
            [exit_code_for(SIGINT), exit_code_for(SIGTERM)].contains(&code),
            "{code}"
        );
        assert_eq!(actions, [SignalAction::ForceExit(code); 2]);
        assert_eq!(signals.exit_code(), Some(code));
    });
}
