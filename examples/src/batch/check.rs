use std::fmt;
use std::future::Future;
use std::sync::Arc;

use steward_core::health::{CheckOutcome, HealthCheck};

use super::flush::Shared;
use super::Sink;

/// The batcher's health, for the user's registry: returned by
/// [`Batcher::check`](super::Batcher::check).
///
/// | status | when |
/// |---|---|
/// | unhealthy | the last `unhealthy_after` flushes in a row failed, or the batcher is closed |
/// | degraded | the last flush failed, or the buffer is 90% full (pushes are about to wait) |
/// | healthy | otherwise; the details say how much is buffered and written |
///
/// It reads the batcher's counters and never touches the sink, so it is
/// cheap enough for any probe period.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use steward_core::health::{Check, Health, Select, Status};
/// use steward_core::testing::TestRuntime;
/// use steward_core::{Shutdown, Tasks};
/// use steward_examples::batch::{Batcher, Options, Sink};
///
/// struct Discard;
/// impl Sink for Discard {
///     type Item = u32;
///     type Error = std::convert::Infallible;
///     async fn write(&self, _batch: &[u32]) -> Result<(), Self::Error> { Ok(()) }
/// }
///
/// let rt = TestRuntime::new();
/// let tasks = Tasks::new(rt.handle(), Shutdown::new());
/// let health = Health::new(rt.handle());
/// let batcher = Batcher::start(rt.handle(), &tasks, Discard, Options::new("events"))?;
/// health.register(Check::new("events", batcher.check()).ready())?;
///
/// let report = rt.block_on(async {
///     health.refresh().await;
///     health.report(&Select::tagged("ready")).await
/// });
/// assert_eq!(report.status(), Status::Healthy);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BatcherCheck<S: Sink> {
    pub(super) shared: Arc<Shared<S>>,
}

impl<S: Sink> BatcherCheck<S> {
    /// What the check finds now.
    fn assess(&self) -> CheckOutcome {
        let stats = self.shared.stats();
        let options = &self.shared.options;
        let error = stats.last_error.as_deref().unwrap_or_default();
        if self.shared.intake.is_closed() {
            CheckOutcome::unhealthy("closed: no longer accepting items")
        } else if stats.failing >= options.unhealthy_after {
            let n = stats.failing;
            CheckOutcome::unhealthy(format!("the last {n} flushes failed: {error}"))
        } else if stats.failing > 0 {
            CheckOutcome::degraded(format!("the last flush failed: {error}"))
        } else if stats.buffered * 10 >= options.capacity * 9 {
            let (n, cap) = (stats.buffered, options.capacity);
            CheckOutcome::degraded(format!("{n} of {cap} buffered: pushes are about to wait"))
        } else {
            CheckOutcome::healthy().with_details(format!(
                "{} buffered, {} written in {} batches",
                stats.buffered, stats.written, stats.batches
            ))
        }
    }
}

impl<S: Sink> HealthCheck for BatcherCheck<S> {
    fn check(&self) -> impl Future<Output = CheckOutcome> + Send {
        std::future::ready(self.assess())
    }
}

impl<S: Sink> fmt::Debug for BatcherCheck<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatcherCheck")
            .field("name", &self.shared.options.name)
            .finish_non_exhaustive()
    }
}
