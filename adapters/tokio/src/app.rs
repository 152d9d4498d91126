use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use steward_core::app::Platform;
use steward_core::http::Endpoints;
use steward_core::runtime::RuntimeHandle;
use steward_core::signal::SignalHandler;
use steward_core::Shutdown;
use steward_hyper::Server;

use crate::{ProbeServer, TokioRuntime};

/// tokio as a [`Platform`]: a multi-thread runtime, `tokio::time`,
/// `tokio::signal`, and the probe server on a tokio listener.
///
/// At the end the runtime is shut down with the time left before the
/// deadline (`Runtime::shutdown_timeout`), never dropped: work that still
/// holds a thread then (a task blocking its worker, an outstanding
/// `spawn_blocking`) is abandoned and named in the report, and the process
/// exits without it. Time can still be lost when every worker thread is
/// blocked (tokio's timers are driven by its workers, so no deadline of the
/// sequence fires) or on the thread that calls `run` (a blocking call in the
/// body or in a destructor there): the App's watchdog then ends the process
/// (exit code 1) at the grace + 750 ms.
#[derive(Debug)]
pub struct Tokio {
    /// `Some` until `shutdown_by` (or the drop) shuts it down.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Tokio {
    fn rt(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives until the platform is shut down")
    }
}

impl Drop for Tokio {
    fn drop(&mut self) {
        // Not shut down through `shutdown_by` (a setup error): bounded too.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

impl Platform for Tokio {
    fn new() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    fn runtime(&self) -> RuntimeHandle {
        TokioRuntime::new(self.rt().handle().clone()).handle()
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
        let _enter = self.rt().enter();
        let server = ProbeServer::bind(addr, Server::new(endpoints).close_on(stop))?;
        let bound = server.local_addr()?;
        self.rt().spawn(server.run());
        Ok(bound)
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.rt().block_on(future)
    }

    fn shutdown_by(mut self, deadline: Instant) -> Option<String> {
        let runtime = self.runtime.take()?;
        // At least a few milliseconds, so that a clean shutdown is told
        // apart from one that used all its time.
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(50));
        let began = Instant::now();
        runtime.shutdown_timeout(left);
        // tokio does not say whether it gave up: it did if it took the
        // whole time it was given.
        (began.elapsed() >= left).then(|| {
            "threads still busy at the deadline (a task blocking its worker, or outstanding \
             blocking work): abandoned"
                .to_owned()
        })
    }
}
