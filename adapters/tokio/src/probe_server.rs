use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use hyper_util::rt::TokioIo;
use steward_hyper::{Listener, Serve, Server};
use tokio::net::{TcpListener, TcpStream};

/// The probe endpoints served over HTTP/1 on a tokio TCP listener.
///
/// The serving itself, with its limits (header-read timeout, header size,
/// write timeout, requests per connection, connection count), its way of
/// keeping the probes answered under pressure and its graceful close, is
/// [`steward_hyper::Server`]'s; this binds the socket and hands it over.
/// Connections run on the runtime of the endpoints' health registry (a
/// [`TokioRuntime`](crate::TokioRuntime) handle, for a tokio service).
///
/// # Examples
///
/// ```no_run
/// use steward_core::health::Health;
/// use steward_core::http::Endpoints;
/// use steward_core::probes::Probes;
/// use steward_core::Shutdown;
/// use steward_hyper::Server;
/// use steward_tokio::{ProbeServer, TokioRuntime};
///
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     let rt = TokioRuntime::current().handle();
///     let shutdown = Shutdown::new();
///     let probes = Probes::new(Health::new(rt), shutdown.clone());
///     let server = Server::new(Endpoints::new(probes.clone())).close_on(shutdown.clone());
///     let server = ProbeServer::bind("127.0.0.1:8080", server)?;
///     println!("probes on http://{}", server.local_addr()?);
///     probes.set_running();
///     server.run().await; // until `shutdown` is drained
///     Ok(())
/// }
/// ```
pub struct ProbeServer {
    listener: TcpListener,
    server: Server,
}

impl ProbeServer {
    /// Binds `addr` (port 0 picks a free one) for `server`, with a queue of
    /// [`DEFAULT_BACKLOG`](steward_hyper::DEFAULT_BACKLOG) connections.
    ///
    /// Call it from within a tokio runtime (the listener registers with its
    /// reactor).
    ///
    /// # Errors
    ///
    /// When the address cannot be resolved or bound, or when called outside
    /// a tokio runtime.
    ///
    /// # Examples
    ///
    /// See [`ProbeServer`].
    pub fn bind(addr: impl ToSocketAddrs, server: Server) -> io::Result<Self> {
        let handle = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let listener = steward_hyper::bind_tcp(addr, steward_hyper::DEFAULT_BACKLOG)?;
        listener.set_nonblocking(true)?;
        let _enter = handle.enter();
        let listener = TcpListener::from_std(listener)?;
        Ok(Self { listener, server })
    }

    /// The address bound.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::local_addr`].
    ///
    /// # Examples
    ///
    /// See [`ProbeServer`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the server's close scope is drained (see
    /// [`Server::close_on`]), or forever.
    ///
    /// # Cancel safety
    ///
    /// As [`Server::serve`]: dropping it stops accepting.
    ///
    /// # Examples
    ///
    /// See [`ProbeServer`].
    pub fn run(self) -> Serve {
        self.server.serve(TokioListener(self.listener))
    }

    /// The server, and the listener as the server takes it (for
    /// [`axum::serve`](crate::axum::serve)).
    #[cfg(feature = "axum")]
    pub(crate) fn into_parts(self) -> (Server, TokioListener) {
        (self.server, TokioListener(self.listener))
    }
}

impl fmt::Debug for ProbeServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProbeServer")
            .field("local_addr", &self.local_addr().ok())
            .field("server", &self.server)
            .finish()
    }
}

pub(crate) struct TokioListener(TcpListener);

impl Listener for TokioListener {
    type Io = TokioIo<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        // Probe answers are small: send them at once.
        stream.set_nodelay(true)?;
        Ok((TokioIo::new(stream), peer))
    }
}
