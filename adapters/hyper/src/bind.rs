use std::io;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

/// The default depth of a probe listener's queue of connections not yet
/// accepted (the kernel caps it: Linux at `net.core.somaxconn`, 4096 since
/// Linux 5.4).
///
/// Deep, because a connection that finds the queue full is not refused: its
/// SYN is dropped, and its client retries only a second or more later, past
/// a kubelet's default probe timeout. The server empties the queue quickly
/// (a full table of connections evicts an idle one), so the depth matters
/// only in bursts: 2,000 connections arriving at once fit.
///
/// # Examples
///
/// See [`bind_tcp`].
pub const DEFAULT_BACKLOG: u16 = 4096;

/// Binds a TCP listener on the first address of `addr` that works, with a
/// queue of `backlog` connections not yet accepted (std's `bind` uses 128,
/// which a burst of probes or a flood overflows: the kernel then drops
/// connection attempts, and clients wait a second or more to retry).
///
/// The listener is blocking, as std's; the adapters make it async.
///
/// # Errors
///
/// When `addr` resolves to nothing, or no address can be bound.
///
/// # Examples
///
/// ```
/// let listener = steward_hyper::bind_tcp("127.0.0.1:0", steward_hyper::DEFAULT_BACKLOG).unwrap();
/// assert!(listener.local_addr().unwrap().ip().is_loopback());
/// ```
pub fn bind_tcp(addr: impl ToSocketAddrs, backlog: u16) -> io::Result<TcpListener> {
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match bind_one(addr, backlog) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to nothing",
        )
    }))
}

fn bind_one(addr: SocketAddr, backlog: u16) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As std does on Unix: a restarted service can bind again at once. (On
    // Windows the option means something else, and std leaves it off.)
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::from(backlog))?;
    Ok(socket.into())
}
