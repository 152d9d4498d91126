use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use event_listener::Event;
use futures_lite::future;
use hyper::rt::Write as _;
use hyper::server::conn::http1;
use steward_core::http::Endpoints;
use steward_core::runtime::BoxFuture;
use steward_core::{Reason, RuntimeHandle, Shutdown};

use crate::linger::Lingering;
use crate::{ProbeService, RuntimeTimer};

/// A source of connections: what an adapter gives the [`Server`].
///
/// `steward-smol` and `steward-tokio` implement it on their `TcpListener`s;
/// implement it for any other transport (a Unix socket, an in-memory pipe).
///
/// # Examples
///
/// ```
/// use std::io;
/// use std::net::SocketAddr;
/// use steward_hyper::Listener;
///
/// /// A listener that never has a connection (for a server that only drains).
/// struct Nothing;
///
/// impl Listener for Nothing {
///     type Io = Never;
///     async fn accept(&mut self) -> io::Result<(Never, SocketAddr)> {
///         futures_lite::future::pending().await
///     }
/// }
/// # use std::{pin::Pin, task::{Context, Poll}};
/// # enum Never {}
/// # impl hyper::rt::Read for Never {
/// #     fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: hyper::rt::ReadBufCursor<'_>) -> Poll<io::Result<()>> { match *self {} }
/// # }
/// # impl hyper::rt::Write for Never {
/// #     fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> { match *self {} }
/// #     fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> { match *self {} }
/// #     fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> { match *self {} }
/// # }
/// ```
pub trait Listener: Send + 'static {
    /// A connection.
    type Io: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static;

    /// Waits for the next connection.
    ///
    /// # Cancel safety
    ///
    /// Must be cancel-safe: the server drops it when it stops accepting.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Io, SocketAddr)>> + Send;
}

/// The HTTP/1 server of the probe endpoints, with the listener's limits on.
///
/// | limit | default | on breach |
/// |---|---|---|
/// | [header-read timeout](Server::header_read_timeout) | 5 s | the connection is closed (slowloris, idle keep-alive) |
/// | [header size](Server::max_header_bytes) | 16 KiB | 431, and the connection is closed |
/// | [connections](Server::max_connections) | 256 | a new one gets 503 without its request being read, and is closed |
/// | [close timeout](Server::close_timeout) | 1 s | connections still open that long after the close are dropped |
///
/// With [`close_on`](Server::close_on), the server serves while the
/// service drains (readiness answers 503 then, which is the point) and
/// closes once that scope is drained: it stops accepting, lets each
/// connection finish the request in hand, and returns.
///
/// Connections are spawned on the runtime of the endpoints' health
/// registry, so the server runs on any runtime; the adapters only bring a
/// [`Listener`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use steward_core::http::Endpoints;
/// use steward_hyper::Server;
///
/// # let rt = steward_core::testing::TestRuntime::new();
/// # let probes = steward_core::probes::Probes::new(steward_core::health::Health::new(rt.handle()), steward_core::Shutdown::new());
/// let shutdown = steward_core::Shutdown::new();
/// let server = Server::new(Endpoints::new(probes))
///     .header_read_timeout(Duration::from_secs(2))
///     .max_connections(64)
///     .close_on(shutdown.clone());
/// assert_eq!(server.connection_limit(), 64);
/// ```
#[derive(Clone)]
pub struct Server {
    endpoints: Endpoints,
    header_read_timeout: Duration,
    max_header_bytes: usize,
    max_connections: usize,
    close_timeout: Duration,
    close_on: Option<Shutdown>,
}

/// hyper refuses buffers smaller than this.
const MIN_BUF: usize = 8192;

impl Server {
    /// The default header-read timeout.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default limit of a request's head (request line and headers), in bytes.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub const DEFAULT_MAX_HEADER_BYTES: usize = 16 * 1024;
    /// The default limit of open connections.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
    /// The default time connections get to finish once the server closes.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

    /// A server of `endpoints` with the default limits, never closing by itself.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    #[must_use]
    pub fn new(endpoints: Endpoints) -> Self {
        Self {
            endpoints,
            header_read_timeout: Self::DEFAULT_HEADER_READ_TIMEOUT,
            max_header_bytes: Self::DEFAULT_MAX_HEADER_BYTES,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            close_timeout: Self::DEFAULT_CLOSE_TIMEOUT,
            close_on: None,
        }
    }

    /// How long a client may take to send a request's head, from the moment
    /// the server starts waiting for it (so also how long an idle keep-alive
    /// connection stays open).
    ///
    /// # Examples
    ///
    /// See [`Server`].
    #[must_use]
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// The largest request head accepted, in bytes (at least 8 KiB are
    /// buffered whatever the limit: hyper's floor).
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = steward_core::testing::TestRuntime::new();
    /// # let probes = steward_core::probes::Probes::new(steward_core::health::Health::new(rt.handle()), steward_core::Shutdown::new());
    /// let server = steward_hyper::Server::new(steward_core::http::Endpoints::new(probes)).max_header_bytes(4096);
    /// # drop(server);
    /// ```
    #[must_use]
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// The most connections open at once; past it, a new connection is
    /// answered 503 and closed without its request being read. As many
    /// refusals may be in flight at once; past that, accepting waits for one
    /// to end (within 3 s), so that every client gets an answer.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// The limit of open connections.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    #[must_use]
    pub fn connection_limit(&self) -> usize {
        self.max_connections
    }

    /// How long open connections get to finish once the server closes.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = steward_core::testing::TestRuntime::new();
    /// # let probes = steward_core::probes::Probes::new(steward_core::health::Health::new(rt.handle()), steward_core::Shutdown::new());
    /// let server = steward_hyper::Server::new(steward_core::http::Endpoints::new(probes))
    ///     .close_timeout(std::time::Duration::from_millis(200));
    /// # drop(server);
    /// ```
    #[must_use]
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Closes the server once `shutdown` is drained (not when it is merely
    /// triggered: the probes must answer "not ready" while the service drains).
    ///
    /// # Examples
    ///
    /// See [`Server`].
    #[must_use]
    pub fn close_on(mut self, shutdown: Shutdown) -> Self {
        self.close_on = Some(shutdown);
        self
    }

    /// Serves the connections of `listener` until the scope given to
    /// [`close_on`](Server::close_on) is drained (or forever), then closes.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future stops accepting; connections already open are
    /// tasks of their own and end by their own limits.
    ///
    /// # Examples
    ///
    /// The adapters' `ProbeServer`s call this with a TCP listener; see them
    /// for a complete server.
    pub fn serve<L: Listener>(self, listener: L) -> Serve {
        Serve {
            inner: Box::pin(self.run(listener)),
        }
    }

    async fn run<L: Listener>(self, mut listener: L) {
        let rt = self.endpoints.probes().health().runtime().clone();
        let this = Arc::new(self);
        // The connections' scope: each holds a guard; triggered to close them.
        let connections = Shutdown::new();
        let open = Slots::new(this.max_connections);
        let refusing = Slots::new(this.max_connections);
        loop {
            let next = match &this.close_on {
                Some(scope) => {
                    let drained = async {
                        scope.drained().await;
                        None
                    };
                    // The close first: a flood of connections must not starve it.
                    future::or(drained, async { Some(listener.accept().await) }).await
                }
                None => Some(listener.accept().await),
            };
            let Some(accepted) = next else { break };
            match accepted {
                Ok((io, peer)) => {
                    let io = Lingering::new(io, rt.clone());
                    if let Some(slot) = open.try_take() {
                        let guard = connections.guard();
                        let conn =
                            Arc::clone(&this).connection(io, connections.clone(), rt.clone());
                        rt.spawn(async move {
                            conn.await;
                            drop((slot, guard));
                        });
                        continue;
                    }
                    tracing::debug!(%peer, "probe server: connection limit reached, refusing");
                    // Past both limits, accepting waits (the kernel queues
                    // new connections meanwhile): every client gets an
                    // answer, late rather than never.
                    let slot = refusing.take().await;
                    let refusal = rt.timeout(REFUSAL_TIMEOUT, refuse(io));
                    rt.spawn(async move {
                        let _ = refusal.await;
                        drop(slot);
                    });
                }
                Err(e) => accept_failed(&rt, &e).await,
            }
        }
        tracing::debug!("probe server: closing");
        connections.trigger(Reason::Requested);
        let closed = rt.timeout(this.close_timeout, connections.drained()).await;
        if closed.is_err() {
            tracing::debug!("probe server: connections dropped at the close timeout");
        }
    }

    /// Serves one connection; on close, lets it finish the request in hand
    /// for up to the close timeout.
    async fn connection<I>(self: Arc<Self>, io: I, closing: Shutdown, rt: RuntimeHandle)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let mut builder = http1::Builder::new();
        builder
            .timer(RuntimeTimer::new(rt.clone()))
            .header_read_timeout(self.header_read_timeout)
            .max_header_size(self.max_header_bytes)
            .max_buf_size(self.max_header_bytes.max(MIN_BUF))
            .keep_alive(true);
        let service = ProbeService::new(self.endpoints.clone());
        let mut conn = pin!(builder.serve_connection(io, service));
        let mut close = pin!(closing.triggered());
        let mut deadline = None;
        let result = future::poll_fn(|cx| {
            if deadline.is_none() && close.as_mut().poll(cx).is_ready() {
                conn.as_mut().graceful_shutdown();
                deadline = Some(rt.sleep(self.close_timeout));
            }
            if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                return Poll::Ready(Some(result));
            }
            match deadline.as_mut().map(|sleep| Pin::new(sleep).poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(None),
                _ => Poll::Pending,
            }
        })
        .await;
        match result {
            Some(Ok(())) => {}
            Some(Err(e)) => tracing::debug!(error = %e, "probe server: connection ended"),
            None => tracing::debug!("probe server: connection dropped at the close timeout"),
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("max_connections", &self.max_connections)
            .field("close_timeout", &self.close_timeout)
            .field("closes", &self.close_on.is_some())
            .finish_non_exhaustive()
    }
}

/// A counting semaphore: connections (or refusals) in flight against a limit.
struct Slots {
    used: AtomicUsize,
    limit: usize,
    /// Notified (one) whenever a slot is given back.
    freed: Event,
}

impl Slots {
    fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            used: AtomicUsize::new(0),
            limit,
            freed: Event::new(),
        })
    }

    fn try_take(self: &Arc<Self>) -> Option<Slot> {
        // SeqCst here and in `Slot::drop`: a waiter checks the count, listens,
        // and checks again; the count and the event must agree for no wake-up
        // to be lost (the cost is nothing at an accept loop's rate).
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                (used < self.limit).then_some(used + 1)
            })
            .ok()
            .map(|_| Slot(Arc::clone(self)))
    }

    async fn take(self: &Arc<Self>) -> Slot {
        loop {
            if let Some(slot) = self.try_take() {
                return slot;
            }
            let listener = self.freed.listen();
            if let Some(slot) = self.try_take() {
                return slot;
            }
            listener.await;
        }
    }
}

/// One slot taken; given back when dropped.
struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        // SeqCst: see `Slots::try_take`.
        self.0.used.fetch_sub(1, Ordering::SeqCst);
        self.0.freed.notify(1);
    }
}

const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: text/plain; charset=utf-8\r\n\
content-length: 21\r\n\
cache-control: no-store\r\n\
x-content-type-options: nosniff\r\n\
connection: close\r\n\
\r\n\
too many connections\n";

/// How long a refusal may take (writing 503, lingering).
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(3);

/// Answers 503 to a connection over the limit, without reading its request,
/// and closes it (lingering, so that the answer is not lost to a reset).
/// Refusals in flight are bounded like connections.
async fn refuse<I: hyper::rt::Read + hyper::rt::Write + Unpin>(mut io: Lingering<I>) {
    let mut written = 0;
    while written < REFUSAL.len() {
        match future::poll_fn(|cx| Pin::new(&mut io).poll_write(cx, &REFUSAL[written..])).await {
            Ok(0) | Err(_) => return,
            Ok(n) => written += n,
        }
    }
    let _ = future::poll_fn(|cx| Pin::new(&mut io).poll_shutdown(cx)).await;
}

/// After a failed accept: per-connection errors are retried at once; others
/// (out of file descriptors, most often) after a pause, so that the loop
/// does not spin.
async fn accept_failed(rt: &RuntimeHandle, error: &io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset, Interrupted};
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset | Interrupted
    ) {
        tracing::debug!(%error, "probe server: accept failed");
        return;
    }
    tracing::warn!(%error, "probe server: accept failed; pausing 100 ms");
    rt.sleep(Duration::from_millis(100)).await;
}

/// Future returned by [`Server::serve`]: resolves once the server closed.
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct Serve {
    // Boxed at the edge: it owns a listener of an erased type and the accept loop.
    inner: BoxFuture<()>,
}

impl Future for Serve {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Serve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Serve").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn handles_and_futures_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<super::Server>();
        send_sync::<crate::ProbeService>();
        send_sync::<crate::RuntimeTimer>();
        send::<super::Serve>();
        send::<crate::ResponseFuture>();
    }
}
