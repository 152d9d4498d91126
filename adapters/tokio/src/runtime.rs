use std::time::{Duration, Instant};

use steward_core::runtime::{BoxBlocking, BoxFuture, Runtime, RuntimeHandle};
use tokio::runtime::Handle;

/// steward's runtime contract on tokio.
///
/// Spawns on a tokio [`Handle`]; sleeps with `tokio::time::sleep` and reads
/// `tokio::time::Instant`, so tokio's paused clock (`start_paused`) is
/// honoured; runs blocking work with [`Handle::spawn_blocking`] (a runtime
/// shutting down drops it unrun).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use steward_tokio::TokioRuntime;
///
/// let tokio = tokio::runtime::Builder::new_multi_thread()
///     .worker_threads(2)
///     .enable_all()
///     .build()
///     .unwrap();
/// let rt = TokioRuntime::new(tokio.handle().clone()).handle();
/// let start = rt.now();
/// tokio.block_on(rt.sleep(Duration::from_millis(1)));
/// assert!(rt.now() - start >= Duration::from_millis(1));
/// ```
#[derive(Debug, Clone)]
pub struct TokioRuntime {
    handle: Handle,
}

impl TokioRuntime {
    /// Spawns on the runtime behind `handle`.
    #[must_use]
    pub fn new(handle: Handle) -> Self {
        Self { handle }
    }

    /// The runtime this thread is running in.
    ///
    /// # Panics
    ///
    /// When called outside a tokio runtime, as [`Handle::current`].
    #[must_use]
    pub fn current() -> Self {
        Self::new(Handle::current())
    }

    /// The type-erased handle that steward's types take.
    #[must_use]
    pub fn handle(&self) -> RuntimeHandle {
        RuntimeHandle::new(self.clone())
    }
}

impl Runtime for TokioRuntime {
    fn spawn(&self, task: BoxFuture<()>) {
        drop(self.handle.spawn(task));
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        // Entering the handle lets the timer be created (and then polled) from
        // any thread, not only from the runtime's own.
        let _enter = self.handle.enter();
        Box::pin(tokio::time::sleep(duration))
    }

    fn now(&self) -> Instant {
        let _enter = self.handle.enter();
        tokio::time::Instant::now().into_std()
    }

    fn spawn_blocking(&self, job: BoxBlocking) {
        drop(self.handle.spawn_blocking(job));
    }
}
