//! A batching writer, as a library author would ship it: written against
//! `steward-core` alone, so it runs on whatever runtime the application picked.
//!
//! The application pushes items; the [`Batcher`] writes them to its [`Sink`]
//! in batches, in order, every `interval`. It never names a runtime: it takes
//! the application's [`RuntimeHandle`] (for its clock and write timeouts) and
//! [`Tasks`] registry (for its background work), so that the application's
//! shutdown stops it like any of its own tasks:
//!
//! - `<name>-flush`, a [`Periodic`] job: one flush every `interval`. Its run
//!   in progress finishes when the service stops.
//! - `<name>`, which waits for its stop signal and then [closes](Batcher::close)
//!   the batcher: no more items, a final flush of everything buffered. The
//!   final flush is [shielded](Tasks::shield): once begun it runs to its end
//!   (within the shutdown's grace) even if whoever waits for it goes away.
//!
//! A failed write is written again at the next flush, before anything newer,
//! and shows in the [health check](Batcher::check) the application
//! registers. A full buffer makes [`push`](Batcher::push) wait: backpressure
//! rather than unbounded memory.
//!
//! # Examples
//!
//! A service's startup (in `App::run`'s body, or `App::serve`'s as here, on
//! the virtual-time runtime):
//!
//! ```
//! use std::time::Duration;
//! use steward_core::health::Check;
//! use steward_core::{App, Reason};
//! use steward_examples::batch::{Batcher, Options, Sink};
//!
//! struct Stdout;
//! impl Sink for Stdout {
//!     type Item = String;
//!     type Error = std::io::Error;
//!     async fn write(&self, batch: &[String]) -> std::io::Result<()> {
//!         println!("{}", batch.join("\n"));
//!         Ok(())
//!     }
//! }
//!
//! let rt = steward_core::testing::TestRuntime::new();
//! let report = rt.block_on(App::new().serve(rt.handle(), |cx| async move {
//!     let options = Options::new("events").interval(Duration::from_secs(1));
//!     let events = Batcher::start(cx.runtime().clone(), cx.tasks(), Stdout, options)?;
//!     cx.health().register(Check::new("events", events.check()).ready())?;
//!     events.push("started".to_owned()).await?;
//!     cx.shutdown().trigger(Reason::Requested); // a SIGTERM, in a real service
//!     Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
//! }));
//! assert_eq!(report.exit_code(), 0, "{report}");
//! ```

mod check;
mod error;
mod flush;
mod handle;
mod sink;

use std::time::Duration;

#[cfg(doc)]
use steward_core::{Periodic, RuntimeHandle, Tasks};

pub use check::BatcherCheck;
pub use error::{FlushError, PushError};
pub use handle::Batcher;
pub use sink::Sink;

/// A [`Batcher`]'s settings.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use steward_examples::batch::Options;
///
/// let options = Options::new("audit")
///     .interval(Duration::from_millis(250))
///     .max_batch(500)
///     .capacity(50_000)
///     .write_timeout(Duration::from_secs(2))
///     .unhealthy_after(5);
/// # drop(options);
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    name: String,
    interval: Duration,
    max_batch: usize,
    capacity: usize,
    write_timeout: Duration,
    unhealthy_after: u32,
}

impl Options {
    /// The defaults: a flush every second, batches of at most 100 items, room
    /// for 10 000 items, 5 s for a write, unhealthy after 3 failed flushes in
    /// a row. `name` names the batcher's tasks (`<name>`, `<name>-flush`).
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            interval: Duration::from_secs(1),
            max_batch: 100,
            capacity: 10_000,
            write_timeout: Duration::from_secs(5),
            unhealthy_after: 3,
        }
    }

    /// The time between two flushes (not zero).
    #[must_use]
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every;
        self
    }

    /// The largest batch handed to the sink (at least 1).
    #[must_use]
    pub fn max_batch(mut self, items: usize) -> Self {
        self.max_batch = items.max(1);
        self
    }

    /// How many items wait at most; then `push` waits (at least 1).
    #[must_use]
    pub fn capacity(mut self, items: usize) -> Self {
        self.capacity = items.max(1);
        self
    }

    /// How long one write may take before it counts as failed.
    #[must_use]
    pub fn write_timeout(mut self, limit: Duration) -> Self {
        self.write_timeout = limit;
        self
    }

    /// How many flushes in a row must fail for the check to be unhealthy
    /// (one failure is degraded).
    #[must_use]
    pub fn unhealthy_after(mut self, flushes: u32) -> Self {
        self.unhealthy_after = flushes.max(1);
        self
    }
}

/// A snapshot of a [`Batcher`]'s counters: [`Batcher::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Items the sink accepted.
    pub written: u64,
    /// Batches the sink accepted.
    pub batches: u64,
    /// Writes that failed or timed out.
    pub failures: u64,
    /// Writes that failed in a row since the last success.
    pub failing: u32,
    /// Items pushed and not written yet.
    pub buffered: usize,
    /// The text of the last failed write's error.
    pub last_error: Option<String>,
    /// Time since the last successful write, if there was one.
    pub since_write: Option<Duration>,
}
