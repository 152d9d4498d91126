use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_channel::TrySendError;
use steward_core::{FirstRun, Periodic, RuntimeHandle, StartError, Tasks};

use super::flush::Shared;
use super::{BatcherCheck, FlushError, Options, PushError, Sink, Stats};

/// The grace given to the flush job when a failed start stops it again.
const UNDO_GRACE: Duration = Duration::from_secs(1);

/// A batching writer: a cheap handle, cloned into every producer.
///
/// See [the module](super) for how it runs and an example.
pub struct Batcher<S: Sink> {
    shared: Arc<Shared<S>>,
    tasks: Tasks,
}

impl<S: Sink> Batcher<S> {
    /// Starts a batcher writing to `sink`: its flush job and its closer run
    /// as tasks of `tasks`, on `rt`, and stop with the registry.
    ///
    /// # Errors
    ///
    /// [`StartError`] when `tasks` is closed, or a task named `<name>` or
    /// `<name>-flush` is running already (two batchers need two names).
    ///
    /// # Panics
    ///
    /// If the options' interval is zero.
    pub fn start(
        rt: RuntimeHandle,
        tasks: &Tasks,
        sink: S,
        options: Options,
    ) -> Result<Self, StartError> {
        let schedule = Periodic::new(options.interval).first_run(FirstRun::AfterInterval);
        let name = options.name.clone();
        let batcher = Self {
            shared: Shared::new(sink, rt.clone(), options),
            tasks: tasks.clone(),
        };

        let flusher = Arc::clone(&batcher.shared);
        tasks.periodic(format!("{name}-flush"), schedule, move || {
            let shared = Arc::clone(&flusher);
            async move { shared.flush().await.map(drop) }
        })?;

        let closer = batcher.clone();
        let closing = tasks.start(name.clone(), move |stop| async move {
            stop.triggered().await;
            closer.close().await.map(drop)
        });
        if let Err(e) = closing {
            // Undo the first task, so that a failed start leaves nothing
            // behind. It waits for its first tick: it ends at once, well
            // within the grace (a zero grace would read as an abort).
            let tasks = tasks.clone();
            rt.spawn(async move {
                let _ = tasks.stop(&format!("{name}-flush"), UNDO_GRACE).await;
            });
            return Err(e);
        }
        Ok(batcher)
    }

    /// Adds `item` to the next batch, waiting while the buffer is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] with the item, once the batcher is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropped while waiting for room, the item was not pushed
    /// (and is dropped with the future).
    pub async fn push(&self, item: S::Item) -> Result<(), PushError<S::Item>> {
        let sent = self.shared.intake.send(item).await;
        sent.map_err(|refused| PushError::Closed(refused.into_inner()))
    }

    /// Adds `item` to the next batch if there is room now.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] or [`PushError::Closed`], with the item.
    pub fn try_push(&self, item: S::Item) -> Result<(), PushError<S::Item>> {
        self.shared.intake.try_send(item).map_err(|e| match e {
            TrySendError::Full(item) => PushError::Full(item),
            TrySendError::Closed(item) => PushError::Closed(item),
        })
    }

    /// Writes what is buffered now, without waiting for the next interval.
    ///
    /// # Errors
    ///
    /// The first write that failed or timed out; its batch is kept.
    ///
    /// # Cancel safety
    ///
    /// Dropping it stops the flush between two writes, or cuts the write in
    /// progress; either way nothing is lost: an unwritten batch is written
    /// again, first, at the next flush.
    pub async fn flush(&self) -> Result<Stats, FlushError<S::Error>> {
        self.shared.flush().await
    }

    /// Closes the batcher and writes everything it holds: the final flush.
    ///
    /// Closing happens at once, when `close` is called: later pushes are
    /// refused. The final flush starts at once too, as shielded work of the
    /// registry ([`Tasks::shield`]); the returned future only waits for it.
    /// It resolves to the final counters. Calling it again flushes again
    /// (what a failed final flush left, or nothing).
    ///
    /// The batcher closes itself this way when the registry stops its tasks,
    /// so a service need not call it; a producer that is done may.
    ///
    /// # Cancel safety
    ///
    /// The point of it: dropping the future (a timeout around it, a `select`
    /// that went the other way) leaves the final flush running to its end;
    /// the registry's shutdown waits for it within its grace.
    pub fn close(&self) -> impl Future<Output = Result<Stats, FlushError<S::Error>>> + Send {
        self.shared.intake.close();
        let shared = Arc::clone(&self.shared);
        let flush = self.tasks.shield(async move { shared.flush().await });
        async move { flush.await.map_err(FlushError::Cut)? }
    }

    /// Whether [`close`](Self::close) was called.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.intake.is_closed()
    }

    /// The counters now.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// The health check to register in the application's registry.
    #[must_use]
    pub fn check(&self) -> BatcherCheck<S> {
        BatcherCheck {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S: Sink> Clone for Batcher<S> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            tasks: self.tasks.clone(),
        }
    }
}

impl<S: Sink> fmt::Debug for Batcher<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batcher")
            .field("name", &self.shared.options.name)
            .field("buffered", &self.shared.buffered())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}
