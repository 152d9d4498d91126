//! The conformance harness: one scenario, written once against steward's
//! runtime contract, run on smol, on tokio and on the virtual-time runtime.
//!
//! ```
//! use steward_core::{Reason, Shutdown};
//!
//! steward_tests::on_each_runtime(|env| async move {
//!     let shutdown = Shutdown::new();
//!     let stop = shutdown.clone();
//!     env.rt.spawn(async move { stop.trigger(Reason::Requested); });
//!     shutdown.triggered().await;
//! });
//! ```
//!
//! Tests use [`conformance!`] to get one `#[test]` per runtime, so a failure
//! names the runtime it failed on.
//!
//! [`process`] drives real programs for the process-level tests: builds an
//! example, starts it, waits for its lines, signals it, talks HTTP to it.

#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

pub mod process;

use std::future::Future;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use steward_core::testing::TestRuntime;
use steward_core::RuntimeHandle;

/// Real time a scenario may take on any runtime before it is declared hung.
pub const WATCHDOG: Duration = Duration::from_secs(120);

/// Which runtime a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// smol: an `async_executor::Executor` run by two threads, async-io timers.
    Smol,
    /// tokio: a multi-thread runtime with two workers.
    Tokio,
    /// steward's deterministic virtual-time runtime.
    Virtual,
}

/// What a scenario gets: the runtime handle and which runtime it is.
#[derive(Debug, Clone)]
pub struct Env {
    /// The runtime under test.
    pub rt: RuntimeHandle,
    /// Which runtime `rt` is, for scenarios that assert exact virtual times.
    pub kind: Kind,
}

impl Env {
    /// Whether the clock is virtual (exact times may be asserted).
    #[must_use]
    pub fn is_virtual(&self) -> bool {
        self.kind == Kind::Virtual
    }
}

/// Runs `scenario` on `kind`, failing if it takes longer than [`WATCHDOG`].
///
/// # Panics
///
/// When the scenario panics (the panic is propagated) or hangs.
pub fn run<S, F>(kind: Kind, scenario: S)
where
    S: FnOnce(Env) -> F + Send + 'static,
    F: Future<Output = ()>,
{
    let (done_tx, done_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(format!("scenario-{kind:?}"))
        .spawn(move || {
            match kind {
                Kind::Smol => run_smol(scenario),
                Kind::Tokio => run_tokio(scenario),
                Kind::Virtual => run_virtual(scenario),
            }
            let _ = done_tx.send(());
        })
        .expect("spawn scenario thread");
    match done_rx.recv_timeout(WATCHDOG) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("scenario on {kind:?} hung for more than {WATCHDOG:?}")
        }
    }
}

/// Runs `scenario` on smol, tokio and the virtual-time runtime in turn.
///
/// # Panics
///
/// As [`run`].
pub fn on_each_runtime<S, F>(scenario: S)
where
    S: Fn(Env) -> F + Send + Sync + Clone + 'static,
    F: Future<Output = ()>,
{
    for kind in [Kind::Smol, Kind::Tokio, Kind::Virtual] {
        run(kind, scenario.clone());
    }
}

fn run_smol<S, F>(scenario: S)
where
    S: FnOnce(Env) -> F,
    F: Future<Output = ()>,
{
    let ex = Arc::new(async_executor::Executor::new());
    let (stop_tx, stop_rx) = stop_signal();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let ex = Arc::clone(&ex);
            let stop = stop_rx.clone();
            std::thread::spawn(move || futures_lite::future::block_on(ex.run(stop.recv())))
        })
        .collect();
    let env = Env {
        rt: steward_smol::SmolRuntime::new(Arc::clone(&ex)).handle(),
        kind: Kind::Smol,
    };
    futures_lite::future::block_on(ex.run(scenario(env)));
    drop(stop_tx);
    for w in workers {
        let _ = w.join();
    }
}

fn run_tokio<S, F>(scenario: S)
where
    S: FnOnce(Env) -> F,
    F: Future<Output = ()>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("build tokio runtime");
    let env = Env {
        rt: steward_tokio::TokioRuntime::new(rt.handle().clone()).handle(),
        kind: Kind::Tokio,
    };
    rt.block_on(scenario(env));
    rt.shutdown_timeout(Duration::from_secs(5));
}

fn run_virtual<S, F>(scenario: S)
where
    S: FnOnce(Env) -> F,
    F: Future<Output = ()>,
{
    let rt = TestRuntime::new();
    let env = Env {
        rt: rt.handle(),
        kind: Kind::Virtual,
    };
    rt.block_on(scenario(env));
}

/// A stop signal for the smol worker threads: they run until the sender drops.
fn stop_signal() -> (StopTx, StopRx) {
    let shutdown = steward_core::Shutdown::new();
    (StopTx(shutdown.clone()), StopRx(shutdown))
}

struct StopTx(steward_core::Shutdown);

impl Drop for StopTx {
    fn drop(&mut self) {
        self.0.trigger(steward_core::Reason::Requested);
    }
}

#[derive(Clone)]
struct StopRx(steward_core::Shutdown);

impl StopRx {
    async fn recv(self) {
        self.0.triggered().await;
    }
}

/// Defines one `#[test]` per runtime (`smol`, `tokio`, `virtual_time`) in a
/// module named after the scenario.
///
/// ```
/// steward_tests::conformance!(spawn_runs, |env| async move {
///     let (tx, rx) = std::sync::mpsc::channel();
///     env.rt.spawn(async move { tx.send(1).unwrap(); });
///     while rx.try_recv().is_err() {
///         env.rt.sleep(std::time::Duration::from_millis(1)).await;
///     }
/// });
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! conformance {
    ($(#[$meta:meta])* $name:ident, |$env:ident| $body:expr) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn smol() {
                $crate::run($crate::Kind::Smol, |$env: $crate::Env| $body);
            }

            #[test]
            fn tokio() {
                $crate::run($crate::Kind::Tokio, |$env: $crate::Env| $body);
            }

            #[test]
            fn virtual_time() {
                $crate::run($crate::Kind::Virtual, |$env: $crate::Env| $body);
            }
        }
    };
}
