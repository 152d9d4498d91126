use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use async_executor::Executor;
use steward_core::app::Platform;
use steward_core::http::Endpoints;
use steward_core::runtime::RuntimeHandle;
use steward_core::signal::SignalHandler;
use steward_core::{Reason, Shutdown};
use steward_hyper::Server;

use crate::{ProbeServer, SmolRuntime};

/// smol as a [`Platform`]: an executor run by one thread per core (at least
/// two) plus the thread that calls `run`, async-io timers, signals through
/// async-signal, and the probe server on an async-io listener.
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
        async_io::block_on(self.executor.run(future))
    }
}

impl Drop for Smol {
    fn drop(&mut self) {
        self.stop.trigger(Reason::Requested);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
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
