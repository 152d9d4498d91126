use std::fmt;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::net::SocketAddr;

use super::{CheckOutcome, HealthCheck};

/// How a runtime opens a TCP connection: the one thing [`TcpCheck`] needs
/// from an adapter (`steward_smol::SmolConnector`, `steward_tokio::TokioConnector`).
///
/// # Examples
///
/// A connector on std's blocking connect (fine for a test; an adapter's
/// connector does not block a thread):
///
/// ```
/// use std::net::SocketAddr;
/// use steward_core::health::{Connector, HealthCheck, Status, TcpCheck};
///
/// struct Blocking;
///
/// impl Connector for Blocking {
///     async fn connect(addr: &str) -> std::io::Result<SocketAddr> {
///         std::net::TcpStream::connect(addr)?.peer_addr()
///     }
/// }
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let check = TcpCheck::<Blocking>::new(listener.local_addr().unwrap().to_string());
/// let outcome = futures_lite::future::block_on(check.check());
/// assert_eq!(outcome.status(), Status::Healthy);
/// ```
pub trait Connector: Send + Sync + 'static {
    /// Connects to `addr` (a `host:port`, resolved now), closes the
    /// connection and returns the peer's address.
    fn connect(addr: &str) -> impl Future<Output = io::Result<SocketAddr>> + Send;
}

/// A health check that opens a TCP connection to an address, and closes it.
///
/// The address (`host:port`) is resolved again on every run, so a service
/// that moves is followed. The registry's timeout bounds the run. Healthy
/// with the peer's address as details; unhealthy with the connect error.
/// The adapters name it for their runtime (`steward_smol::TcpCheck`).
///
/// # Examples
///
/// See [`Connector`].
pub struct TcpCheck<C> {
    addr: String,
    connector: PhantomData<fn() -> C>,
}

impl<C> TcpCheck<C> {
    /// A check connecting to `addr`, a `host:port`.
    ///
    /// # Examples
    ///
    /// See [`Connector`].
    #[must_use]
    pub fn new(addr: impl Into<String>) -> Self {
        Self {
            addr: addr.into(),
            connector: PhantomData,
        }
    }

    /// The address it connects to.
    ///
    /// # Examples
    ///
    /// ```
    /// struct Never;
    /// impl steward_core::health::Connector for Never {
    ///     async fn connect(_: &str) -> std::io::Result<std::net::SocketAddr> {
    ///         Err(std::io::ErrorKind::Unsupported.into())
    ///     }
    /// }
    /// let check = steward_core::health::TcpCheck::<Never>::new("db:5432");
    /// assert_eq!(check.addr(), "db:5432");
    /// ```
    #[must_use]
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl<C: Connector> HealthCheck for TcpCheck<C> {
    async fn check(&self) -> CheckOutcome {
        match C::connect(&self.addr).await {
            Ok(peer) => CheckOutcome::healthy().with_details(format!("connected to {peer}")),
            Err(e) => CheckOutcome::unhealthy(format!("connect to {}: {e}", self.addr)),
        }
    }
}

impl<C> Clone for TcpCheck<C> {
    fn clone(&self) -> Self {
        Self::new(self.addr.clone())
    }
}

impl<C> fmt::Debug for TcpCheck<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpCheck")
            .field("addr", &self.addr)
            .finish()
    }
}
