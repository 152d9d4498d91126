//! The production lifecycle of an async Rust service, on any runtime.
//!
//! steward gives a service graceful shutdown, tracked background tasks and
//! the rest of its lifecycle without naming an async runtime: this crate
//! depends on none, and thin adapters (`steward-smol`, `steward-tokio`) give
//! it one.
//!
//! # Examples
//!
//! A whole graceful-shutdown program, runtime-neutral: a worker finishes
//! what it holds when shutdown is triggered, and `main` waits for it to drain.
//!
//! ```
//! use steward::{Reason, Shutdown};
//! # futures_lite::future::block_on(async {
//! let shutdown = Shutdown::new();
//!
//! let worker = {
//!     let stop = shutdown.child();
//!     let guard = stop.guard(); // the scope is not drained while this lives
//!     std::thread::spawn(move || {
//!         stop.wait_blocking(); // until the trigger
//!         let flushed = "journal flushed"; // finish the item in hand
//!         drop(guard); // now the scope may drain
//!         flushed
//!     })
//! };
//!
//! shutdown.trigger(Reason::Signal(15)); // what a SIGTERM handler does
//! shutdown.drained().await;
//! assert_eq!(worker.join().unwrap(), "journal flushed");
//! # });
//! ```
//!
//! # Features
//!
//! - `test-util`: [`testing`], a deterministic runtime with virtual time.
//!
//! # Runtime adapters
//!
//! - `steward-smol`: smol's executor, async-io timers, signals.
//! - `steward-tokio`: a tokio `Handle`, `tokio::time`, `tokio::signal`.
//!
//! Both implement [`runtime::Runtime`], the three-method contract (spawn,
//! sleep, now) that is all steward asks of a runtime.

#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

pub mod runtime;
mod shutdown;
pub mod signal;
mod sync;
#[cfg(feature = "test-util")]
pub mod testing;

pub use runtime::RuntimeHandle;
pub use shutdown::{
    Drained, Reason, RunUntilTriggered, Shutdown, ShutdownGuard, Triggered, TriggeredOwned,
    UntilTriggered,
};
pub use signal::{SignalAction, SignalHandler};
