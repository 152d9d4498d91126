//! The notification socket: a connected, non-blocking Unix datagram socket
//! from std. An address starting with `@` is an abstract name (Linux).

use std::os::unix::net::UnixDatagram;
use std::sync::Arc;

use super::{NotifyError, Sink};

pub(super) fn connect(address: &str) -> Result<Sink, NotifyError> {
    let socket = UnixDatagram::unbound().map_err(NotifyError::Connect)?;
    if let Some(name) = address.strip_prefix('@') {
        connect_abstract(&socket, name, address)?;
    } else if address.starts_with('/') {
        socket.connect(address).map_err(NotifyError::Connect)?;
    } else {
        return Err(NotifyError::Address(address.to_owned()));
    }
    // Non-blocking: a full queue on systemd's side drops one message
    // rather than stalling a runtime thread.
    socket.set_nonblocking(true).map_err(NotifyError::Connect)?;
    Ok(Arc::new(move |message: &str| {
        if let Err(error) = socket.send(message.as_bytes()) {
            tracing::warn!(%error, message, "systemd notification not sent");
        }
    }))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn connect_abstract(socket: &UnixDatagram, name: &str, _: &str) -> Result<(), NotifyError> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;

    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())
        .map_err(NotifyError::Connect)?;
    socket.connect_addr(&addr).map_err(NotifyError::Connect)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn connect_abstract(_: &UnixDatagram, _: &str, address: &str) -> Result<(), NotifyError> {
    Err(NotifyError::Address(address.to_owned()))
}
