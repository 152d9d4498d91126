use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_executor::Executor;
use steward_core::app::Platform;
use steward_core::http::Endpoints;
use steward_core::runtime::RuntimeHandle;
use steward_core::signal::SignalHandler;
use steward_core::{Reason, Shutdown};
use steward_hyper::Server;

use crate::{ProbeServer, SmolRuntime};

/// smol as a [`Platform`]: an executor run by one thread per core (at least
/// two), async-io timers, signals through async-signal, and the probe server
/// on an async-io listener.
///
/// The thread that calls `run` polls only the service's sequence (and drives
/// async-io's timers), never the executor's tasks: a task that blocks its
/// thread cannot stop the sequence from keeping its deadlines. At the end,
/// executor threads still blocked in a task at the deadline are not joined
/// but left behind (and named in the report); the process exits without them.
/// Time can still be lost on the thread that calls `run`: a blocking call in
/// the body, or in a destructor that runs there, holds the sequence, and the
/// App's watchdog then ends the process (exit code 1) at the grace + 750 ms.
pub struct Smol {
    executor: Arc<Executor<'static>>,
    stop: Shutdown,
    threads: Vec<JoinHandle<()>>,
}

impl Platform for Smol {
    fn new() -> io::Result<Self> {
        let executor = Arc::new(Executor::new());
        let stop = Shutdown::new();
        let count = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
        let threads = (0..count)
            .map(|i| {
                let (ex, stop) = (Arc::clone(&executor), stop.clone());
                std::thread::Builder::new()
                    .name(format!("steward-smol-{i}"))
                    .spawn(move || async_io::block_on(ex.run(stop.triggered())))
            })
            .collect::<io::Result<_>>()?;
        Ok(Self {
            executor,
            stop,
            threads,
        })
    }

    fn runtime(&self) -> RuntimeHandle {
        SmolRuntime::new(Arc::clone(&self.executor)).handle()
    }

    fn install_signals(&self, shutdown: &Shutdown) -> io::Result<SignalHandler> {
        crate::signal::install(shutdown)
    }

    fn serve_probes(
        &self,
        addr: SocketAddr,
        endpoints: Endpoints,
        stop: Shutdown,
    ) -> io::Result<SocketAddr> {
        let server = ProbeServer::bind(addr, Server::new(endpoints).close_on(stop))?;
        let bound = server.local_addr()?;
        self.executor.spawn(server.run()).detach();
        Ok(bound)
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_io::block_on(future)
    }

    fn shutdown_by(mut self, deadline: Instant) -> Option<String> {
        let blocked = self.stop_threads(deadline);
        (blocked > 0).then(|| {
            format!("{blocked} executor thread(s) still busy at the deadline (a task blocking its thread): abandoned")
        })
    }
}

impl Smol {
    /// Stops the executor threads and joins those that end by `deadline`;
    /// returns how many were left behind, still running a task.
    fn stop_threads(&mut self, deadline: Instant) -> usize {
        self.stop.trigger(Reason::Requested);
        // Bounded: one check every few milliseconds until the deadline.
        while self.threads.iter().any(|t| !t.is_finished()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        let (done, blocked): (Vec<_>, Vec<_>) =
            self.threads.drain(..).partition(JoinHandle::is_finished);
        for thread in done {
            let _ = thread.join();
        }
        // Dropping a `JoinHandle` detaches its thread.
        blocked.len()
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        // Not run through `shutdown_by` (a setup error): the same, bounded.
        if !self.threads.is_empty() {
            self.stop_threads(Instant::now() + Duration::from_secs(1));
        }
    }
}

impl fmt::Debug for Smol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smol")
            .field("threads", &self.threads.len())
            .finish_non_exhaustive()
    }
}
