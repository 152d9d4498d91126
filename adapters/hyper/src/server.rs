use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_lite::future;
use hyper::body::Incoming;
use hyper::rt::ReadBuf;
use hyper::server::conn::http1;
use hyper::Request;
use steward_core::http::Endpoints;
use steward_core::runtime::BoxFuture;
use steward_core::{Reason, RuntimeHandle, Shutdown};

use crate::deadline::WriteDeadline;
use crate::linger::Lingering;
use crate::table::{Table, Ticket, SILENT_GRACE};
use crate::tracked::Tracked;
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
/// | [write timeout](Server::write_timeout) | 5 s | the connection is closed (a client that does not read its answers) |
/// | [requests per connection](Server::max_requests_per_connection) | 100 | the last answer says `Connection: close`, and the connection is closed |
/// | [connections](Server::max_connections) | 256 | a newcomer takes the slot of an idle connection, which is closed (see below) |
/// | [close timeout](Server::close_timeout) | 1 s | connections still open that long after the close are dropped |
///
/// # Under pressure
///
/// The probes keep answering while slow clients, a flood or clients that
/// never read hold every slot. When the table is full, a new connection
/// takes the slot of the connection least likely to be a probe waiting for
/// its answer, which is closed at once, without an answer: first one that
/// was answered and is idle (a keep-alive between requests, a client that
/// does not read), the longest idle first; then one that sent a part of a
/// request head and not the rest (a slow client), the oldest first; last
/// one from which nothing was read yet, the oldest first, once it is 250 ms
/// old (and one whose task has not run yet only after yielding to it). A
/// probe sends its head at once, so its request is in hand before it could
/// be chosen; a connection with a request in hand is never closed before
/// its answer (chosen in the instant its head arrived, it finishes that
/// request and then closes). Accepting waits only while no connection may
/// be chosen (the kernel queues newcomers meanwhile, up to the listen
/// backlog).
///
/// While the table is full, a newcomer is also judged by what it sent
/// before it was accepted: a part of a request head and not the rest is a
/// slow client, closed at once; a whole head is served; nothing yet waits
/// outside the table, for 250 ms at most, for its first bytes, and is
/// closed if they do not come or are not a whole head (at most half as many
/// wait as the table holds: past that, the one waiting longest is closed;
/// with those closed and not yet gone, at most as many as the table holds:
/// past that, a silent newcomer is closed at once). Slow
/// clients that reconnect cost the server little that way, and a probe
/// behind a crowd of them is reached soon.
///
/// So a connection is refused only by being closed without an answer, and
/// only a slow, silent or idle one; never with a `503`, which a kubelet
/// reads on `/livez` as "restart me". A probe that sends its head in one
/// piece is at worst kept waiting, which a kubelet counts as a timeout.
/// Connections being closed after an eviction count apart, up to the same
/// limit: the server holds at most three times the limit of sockets (open,
/// closing, waiting).
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
    write_timeout: Duration,
    max_requests: usize,
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
    /// The default write timeout.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default limit of requests on one connection.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    pub const DEFAULT_MAX_REQUESTS_PER_CONNECTION: usize = 100;
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
            write_timeout: Self::DEFAULT_WRITE_TIMEOUT,
            max_requests: Self::DEFAULT_MAX_REQUESTS_PER_CONNECTION,
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

    /// How long an answer may wait to be written: a connection on which no
    /// byte could be written for that long (its client does not read) is
    /// closed. Any byte written starts the wait again.
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = steward_core::testing::TestRuntime::new();
    /// # let probes = steward_core::probes::Probes::new(steward_core::health::Health::new(rt.handle()), steward_core::Shutdown::new());
    /// let server = steward_hyper::Server::new(steward_core::http::Endpoints::new(probes))
    ///     .write_timeout(std::time::Duration::from_secs(2));
    /// # drop(server);
    /// ```
    #[must_use]
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// The most requests answered on one connection (at least 1): the last
    /// one's answer carries `Connection: close`, further pipelined requests
    /// are not read, and the connection is closed once it is written. This
    /// bounds what a client that pipelines without reading can take (a
    /// kubelet opens a connection for each probe).
    ///
    /// # Examples
    ///
    /// ```
    /// # let rt = steward_core::testing::TestRuntime::new();
    /// # let probes = steward_core::probes::Probes::new(steward_core::health::Health::new(rt.handle()), steward_core::Shutdown::new());
    /// let server = steward_hyper::Server::new(steward_core::http::Endpoints::new(probes))
    ///     .max_requests_per_connection(10);
    /// # drop(server);
    /// ```
    #[must_use]
    pub fn max_requests_per_connection(mut self, requests: usize) -> Self {
        self.max_requests = requests.max(1);
        self
    }

    /// The most connections open at once (at least 1); past it, a new
    /// connection takes the slot of an idle one, as [`Server`] describes
    /// under *Under pressure*.
    ///
    /// # Examples
    ///
    /// See [`Server`].
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections.max(1);
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

    /// Serves the probe endpoints on the connections of `listener` until the
    /// scope given to [`close_on`](Server::close_on) is drained (or
    /// forever), then closes.
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
        let service = ProbeService::new(self.endpoints.clone());
        self.serve_with(listener, service)
    }

    /// Serves `service` rather than the probe endpoints alone, with the same
    /// limits: for an application's own router that mounts the probe paths
    /// beside its own (as `steward_tokio::axum::serve` does). The runtime is
    /// still the endpoints' health registry's.
    ///
    /// # Cancel safety
    ///
    /// As [`serve`](Server::serve).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use http_body_util::Full;
    /// use steward_core::http::Endpoints;
    /// use steward_hyper::{Server, Serve};
    ///
    /// # let rt = steward_core::testing::TestRuntime::new();
    /// # let probes = steward_core::probes::Probes::new(steward_core::health::Health::new(rt.handle()), steward_core::Shutdown::new());
    /// # struct Nothing;
    /// # impl steward_hyper::Listener for Nothing {
    /// #     type Io = hyper_util_free::Never;
    /// #     async fn accept(&mut self) -> std::io::Result<(Self::Io, std::net::SocketAddr)> { futures_lite::future::pending().await }
    /// # }
    /// # mod hyper_util_free {
    /// #     use std::{io, pin::Pin, task::{Context, Poll}};
    /// #     pub enum Never {}
    /// #     impl hyper::rt::Read for Never {
    /// #         fn poll_read(self: Pin<&mut Self>, _: &mut Context<'_>, _: hyper::rt::ReadBufCursor<'_>) -> Poll<io::Result<()>> { match *self {} }
    /// #     }
    /// #     impl hyper::rt::Write for Never {
    /// #         fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> { match *self {} }
    /// #         fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> { match *self {} }
    /// #         fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> { match *self {} }
    /// #     }
    /// # }
    /// let hello = hyper::service::service_fn(|_request| async {
    ///     Ok::<_, Infallible>(hyper::Response::new(Full::new(bytes::Bytes::from("hello"))))
    /// });
    /// let serve: Serve = Server::new(Endpoints::new(probes)).serve_with(Nothing, hello);
    /// # drop(serve);
    /// ```
    pub fn serve_with<L, S, B>(self, listener: L, service: S) -> Serve
    where
        L: Listener,
        S: hyper::service::Service<Request<Incoming>, Response = hyper::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Serve {
            inner: Box::pin(self.run(listener, service)),
        }
    }

    async fn run<L, S, B>(self, mut listener: L, service: S)
    where
        L: Listener,
        S: hyper::service::Service<Request<Incoming>, Response = hyper::Response<B>>
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let rt = self.endpoints.probes().health().runtime().clone();
        let this = Arc::new(self);
        // The connections' scope: each holds a guard; triggered to close them.
        let connections = Shutdown::new();
        let table = Table::new(this.max_connections);
        let lobby = Lobby::new(this.max_connections);
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
                Ok((mut io, _peer)) => {
                    // Under pressure, what the newcomer sent already decides
                    // (a probe sends its head in one piece): a part of a head
                    // and not the rest is a slow client, closed at once; a
                    // whole head is served; nothing yet waits in the lobby.
                    let early = if table.is_full() {
                        match first_bytes(&mut io) {
                            First::Bytes(early) if !early.is_empty() => early,
                            First::Bytes(_) => {
                                let Some(seat) = lobby.enter() else {
                                    tracing::debug!(
                                        "probe server: lobby full, closing a silent newcomer"
                                    );
                                    continue;
                                };
                                let guard = connections.guard();
                                let (this, table, service) =
                                    (Arc::clone(&this), Arc::clone(&table), service.clone());
                                let (connections, rt2) = (connections.clone(), rt.clone());
                                rt.spawn(async move {
                                    let kicked = async {
                                        seat.kicked.triggered().await;
                                        First::Closed
                                    };
                                    let first = future::or(kicked, read_first(&mut io));
                                    let early = match rt2.timeout(SILENT_GRACE, first).await {
                                        Ok(First::Bytes(early)) if !early.is_empty() => early,
                                        _ => return, // slow, silent or gone: closed
                                    };
                                    drop(seat);
                                    let ticket = table.admit(&rt2).await;
                                    this.connection(io, early, service, ticket, connections, rt2)
                                        .await;
                                    drop(guard);
                                });
                                continue;
                            }
                            First::Partial | First::Closed => {
                                tracing::debug!(
                                    "probe server: table full, closing a slow newcomer"
                                );
                                continue;
                            }
                        }
                    } else {
                        Vec::new()
                    };
                    // Waits only while every connection has a request in
                    // hand (the kernel queues newcomers meanwhile).
                    let ticket = table.admit(&rt).await;
                    let guard = connections.guard();
                    let conn = Arc::clone(&this).connection(
                        io,
                        early,
                        service.clone(),
                        ticket,
                        connections.clone(),
                        rt.clone(),
                    );
                    rt.spawn(async move {
                        conn.await;
                        drop(guard);
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

    /// Serves one connection until it ends, is evicted, or (on close) has
    /// finished the request in hand, for up to the close timeout.
    async fn connection<I, S, B>(
        self: Arc<Self>,
        io: I,
        early: Vec<u8>,
        service: S,
        ticket: Ticket,
        closing: Shutdown,
        rt: RuntimeHandle,
    ) where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
        S: hyper::service::Service<Request<Incoming>, Response = hyper::Response<B>>,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: hyper::body::Body + 'static,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        ticket.polled();
        let io = WriteDeadline::new(
            Lingering::new(io, rt.clone()),
            rt.clone(),
            self.write_timeout,
            ticket.tracker(),
            early,
        );
        let mut builder = http1::Builder::new();
        builder
            .timer(RuntimeTimer::new(rt.clone()))
            .header_read_timeout(self.header_read_timeout)
            .max_header_size(self.max_header_bytes)
            .max_buf_size(self.max_header_bytes.max(MIN_BUF))
            .keep_alive(true);
        let service = Tracked::new(service, ticket.tracker(), self.max_requests);
        let mut conn = pin!(builder.serve_connection(io, service));
        let mut evicted = pin!(ticket.evicted().triggered());
        let mut close = pin!(closing.triggered());
        let mut deadline = None;
        let result = future::poll_fn(|cx| {
            if deadline.is_none() && evicted.as_mut().poll(cx).is_ready() {
                if !ticket.is_busy() {
                    return Poll::Ready(End::Evicted);
                }
                // Chosen in the instant between its head's first bytes and
                // the whole head: it finishes that request, then closes.
                conn.as_mut().graceful_shutdown();
                deadline = Some(rt.sleep(self.close_timeout));
            }
            if deadline.is_none() && close.as_mut().poll(cx).is_ready() {
                conn.as_mut().graceful_shutdown();
                deadline = Some(rt.sleep(self.close_timeout));
            }
            if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                return Poll::Ready(End::Served(result));
            }
            match deadline.as_mut().map(|sleep| Pin::new(sleep).poll(cx)) {
                Some(Poll::Ready(())) => Poll::Ready(End::CloseTimeout),
                _ => Poll::Pending,
            }
        })
        .await;
        match result {
            End::Served(Ok(())) => {}
            End::Served(Err(e)) => tracing::debug!(error = %e, "probe server: connection ended"),
            End::Evicted => tracing::debug!("probe server: connection evicted"),
            End::CloseTimeout => {
                tracing::debug!("probe server: connection dropped at the close timeout");
            }
        }
    }
}

/// How a connection ended.
enum End {
    Served(hyper::Result<()>),
    Evicted,
    CloseTimeout,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("write_timeout", &self.write_timeout)
            .field("max_requests_per_connection", &self.max_requests)
            .field("max_connections", &self.max_connections)
            .field("close_timeout", &self.close_timeout)
            .field("closes", &self.close_on.is_some())
            .finish_non_exhaustive()
    }
}

/// What a newcomer sent before it was accepted, read without waiting.
enum First {
    /// Nothing yet, a whole head, or more than [`PEEK`] bytes of one.
    Bytes(Vec<u8>),
    /// A part of a head, and not the rest.
    Partial,
    /// The client closed, or the socket failed.
    Closed,
}

/// The most read of a newcomer before it is served.
const PEEK: usize = 4096;

/// What the newcomer sent so far, read without waiting.
fn first_bytes<I: hyper::rt::Read + Unpin>(io: &mut I) -> First {
    // Polled once, not awaited: a waker that does nothing is enough, and the
    // connection's task registers its own at its next read.
    let mut cx = Context::from_waker(Waker::noop());
    match poll_first(io, &mut cx) {
        Poll::Ready(first) => first,
        Poll::Pending => First::Bytes(Vec::new()),
    }
}

/// Waits for the newcomer's first bytes.
async fn read_first<I: hyper::rt::Read + Unpin>(io: &mut I) -> First {
    future::poll_fn(|cx| poll_first(io, cx)).await
}

fn poll_first<I: hyper::rt::Read + Unpin>(io: &mut I, cx: &mut Context<'_>) -> Poll<First> {
    let mut buf = vec![0u8; PEEK];
    let mut read = ReadBuf::new(&mut buf);
    match Pin::new(io).poll_read(cx, read.unfilled()) {
        Poll::Pending => Poll::Pending,
        Poll::Ready(Err(_)) => Poll::Ready(First::Closed),
        Poll::Ready(Ok(())) => {
            let bytes = read.filled();
            let whole = bytes.windows(4).any(|w| w == b"\r\n\r\n")
                || bytes.windows(2).any(|w| w == b"\n\n");
            Poll::Ready(match bytes.len() {
                0 => First::Closed,
                n if n < PEEK && !whole => First::Partial,
                _ => First::Bytes(bytes.to_vec()),
            })
        }
    }
}

/// Newcomers waiting for their first bytes while the table is full: at
/// most half as many as the table holds (past that, the one waiting longest
/// is closed to make room), and with those closed but not yet gone, at most
/// as many as the table holds (past that, a newcomer is closed at once).
struct Lobby {
    state: Mutex<LobbyState>,
    limit: usize,
    next: AtomicU64,
}

struct LobbyState {
    /// Seats waiting, oldest first, each with its trigger to close it.
    waiting: VecDeque<(u64, Shutdown)>,
    /// Seats not yet dropped: waiting, or closed and not yet gone.
    alive: usize,
}

impl Lobby {
    fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(LobbyState {
                waiting: VecDeque::new(),
                alive: 0,
            }),
            limit,
            next: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LobbyState> {
        // Nothing panics while holding it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A seat, or `None` when too many are taken (the newcomer is closed).
    fn enter(self: &Arc<Self>) -> Option<Seat> {
        // Relaxed: a unique number, guarding no other data.
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let kicked = Shutdown::new();
        let mut state = self.lock();
        if state.alive >= self.limit {
            return None;
        }
        let oldest = if state.waiting.len() >= (self.limit / 2).max(1) {
            state.waiting.pop_front()
        } else {
            None
        };
        state.waiting.push_back((id, kicked.clone()));
        state.alive += 1;
        drop(state);
        if let Some((_, oldest)) = oldest {
            tracing::debug!("probe server: lobby full, closing the newcomer waiting longest");
            oldest.trigger(Reason::Requested);
        }
        Some(Seat {
            lobby: Arc::clone(self),
            id,
            kicked,
        })
    }
}

/// A seat in the lobby; given back when dropped.
struct Seat {
    lobby: Arc<Lobby>,
    id: u64,
    kicked: Shutdown,
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut state = self.lobby.lock();
        if let Some(at) = state.waiting.iter().position(|(id, _)| *id == self.id) {
            state.waiting.remove(at);
        }
        state.alive -= 1;
    }
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
