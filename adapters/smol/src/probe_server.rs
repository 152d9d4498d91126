use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use smol::net::{TcpListener, TcpStream};
use smol_hyper::rt::FuturesIo;
use steward_hyper::{Listener, Serve, Server};

/// The probe endpoints served over HTTP/1 on an async-io TCP listener.
///
/// The serving itself, with its limits (header-read timeout, header size,
/// write timeout, requests per connection, connection count), its way of
/// keeping the probes answered under pressure and its graceful close, is
/// [`steward_hyper::Server`]'s; this binds the socket and hands it over.
/// Connections run on the runtime of the endpoints' health registry (a
/// [`SmolRuntime`](crate::SmolRuntime) handle, for a smol service).
///
/// # Examples
///
/// ```no_run
/// use steward_core::health::Health;
/// use steward_core::http::Endpoints;
/// use steward_core::probes::Probes;
/// use steward_core::Shutdown;
/// use steward_smol::{ProbeServer, SmolRuntime};
/// use steward_hyper::Server;
///
/// let rt = SmolRuntime::global().handle();
/// let shutdown = Shutdown::new();
/// let probes = Probes::new(Health::new(rt.clone()), shutdown.clone());
/// let server = Server::new(Endpoints::new(probes.clone())).close_on(shutdown.clone());
/// let server = ProbeServer::bind("127.0.0.1:8080", server).unwrap();
/// println!("probes on http://{}", server.local_addr().unwrap());
/// probes.set_running();
/// smol::block_on(server.run()); // until `shutdown` is drained
/// ```
pub struct ProbeServer {
    listener: TcpListener,
    server: Server,
}

impl ProbeServer {
    /// Binds `addr` (port 0 picks a free one) for `server`, with a queue of
    /// [`DEFAULT_BACKLOG`](steward_hyper::DEFAULT_BACKLOG) connections.
    ///
    /// # Errors
    ///
    /// When the address cannot be resolved or bound.
    ///
    /// # Examples
    ///
    /// See [`ProbeServer`].
    pub fn bind(addr: impl ToSocketAddrs, server: Server) -> io::Result<Self> {
        let listener = TcpListener::try_from(steward_hyper::bind_tcp(
            addr,
            steward_hyper::DEFAULT_BACKLOG,
        )?)?;
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
        self.server.serve(SmolListener(self.listener))
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

struct SmolListener(TcpListener);

impl Listener for SmolListener {
    // async-net's stream, not a bare `Async<TcpStream>`: its close sends FIN,
    // which the server's lingering close waits on.
    type Io = FuturesIo<TcpStream>;

    async fn accept(&mut self) -> io::Result<(Self::Io, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        // Probe answers are small: send them at once.
        stream.set_nodelay(true)?;
        Ok((FuturesIo::new(stream), peer))
    }
}
