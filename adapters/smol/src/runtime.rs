use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_executor::Executor;
use steward_core::runtime::{BoxBlocking, BoxFuture, Runtime, RuntimeHandle};

/// steward's runtime contract on smol.
///
/// Spawns on the executor it was made with, or on smol's global executor;
/// sleeps with [`async_io::Timer`]; reads [`Instant::now`]; runs blocking
/// work on smol's blocking pool ([`smol::unblock`], the `blocking` crate).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use steward_smol::{Reason, Shutdown};
/// use steward_smol::SmolRuntime;
///
/// let ex = Arc::new(async_executor::Executor::new());
/// let rt = SmolRuntime::new(ex.clone()).handle();
/// let shutdown = Shutdown::new();
/// let stop = shutdown.clone();
/// rt.spawn(async move { stop.trigger(Reason::Requested); });
/// smol::block_on(ex.run(shutdown.triggered()));
/// ```
#[derive(Clone)]
pub struct SmolRuntime {
    executor: Option<Arc<Executor<'static>>>,
}

impl SmolRuntime {
    /// Spawns on `executor`; the caller runs it (for example with `Executor::run` on a few threads).
    #[must_use]
    pub fn new(executor: Arc<Executor<'static>>) -> Self {
        Self {
            executor: Some(executor),
        }
    }

    /// Spawns on smol's global executor (`smol::spawn`).
    #[must_use]
    pub fn global() -> Self {
        Self { executor: None }
    }

    /// The type-erased handle that steward's types take.
    #[must_use]
    pub fn handle(&self) -> RuntimeHandle {
        RuntimeHandle::new(self.clone())
    }
}

impl Runtime for SmolRuntime {
    fn spawn(&self, task: BoxFuture<()>) {
        match &self.executor {
            Some(ex) => ex.spawn(task).detach(),
            None => smol::spawn(task).detach(),
        }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        let timer = async_io::Timer::after(duration);
        Box::pin(async move {
            timer.await;
        })
    }

    fn now(&self) -> Instant {
        Instant::now()
    }

    fn spawn_blocking(&self, job: BoxBlocking) {
        smol::unblock(job).detach();
    }
}

impl fmt::Debug for SmolRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmolRuntime")
            .field("global", &self.executor.is_none())
            .finish_non_exhaustive()
    }
}
