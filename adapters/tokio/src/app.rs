use std::future::Future;
use std::io;
use std::net::SocketAddr;

use steward_core::app::Platform;
use steward_core::http::Endpoints;
use steward_core::runtime::RuntimeHandle;
use steward_core::signal::SignalHandler;
use steward_core::Shutdown;
use steward_hyper::Server;

use crate::{ProbeServer, TokioRuntime};

/// tokio as a [`Platform`]: a multi-thread runtime, `tokio::time`,
/// `tokio::signal`, and the probe server on a tokio listener.
#[derive(Debug)]
pub struct Tokio {
    runtime: tokio::runtime::Runtime,
}

impl Platform for Tokio {
    fn new() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        Ok(Self { runtime })
    }

    fn runtime(&self) -> RuntimeHandle {
        TokioRuntime::new(self.runtime.handle().clone()).handle()
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
        let _enter = self.runtime.enter();
        let server = ProbeServer::bind(addr, Server::new(endpoints).close_on(stop))?;
        let bound = server.local_addr()?;
        self.runtime.spawn(server.run());
        Ok(bound)
    }

    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}
