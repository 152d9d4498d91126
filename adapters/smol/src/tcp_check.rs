use std::io;
use std::net::SocketAddr;

use steward_core::health::Connector;

/// A health check that opens a TCP connection to an address, and closes it:
/// [`steward_core::health::TcpCheck`] on smol.
///
/// The address (`host:port`) is resolved again on every run, so a service
/// that moves is followed. The registry's timeout bounds the run.
///
/// # Examples
///
/// ```
/// use steward_smol::health::{HealthCheck, Status};
/// use steward_smol::TcpCheck;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let check = TcpCheck::new(listener.local_addr().unwrap().to_string());
/// assert_eq!(smol::block_on(check.check()).status(), Status::Healthy);
/// ```
pub type TcpCheck = steward_core::health::TcpCheck<SmolConnector>;

/// [`steward_core::health::Connector`] on smol's `TcpStream`.
///
/// # Examples
///
/// See [`TcpCheck`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SmolConnector;

impl Connector for SmolConnector {
    async fn connect(addr: &str) -> io::Result<SocketAddr> {
        smol::net::TcpStream::connect(addr).await?.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_core::health::{HealthCheck, Status};

    #[test]
    fn healthy_while_something_listens_unhealthy_after() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let check = TcpCheck::new(addr.to_string());
        let up = smol::block_on(check.check());
        assert_eq!(up.status(), Status::Healthy);
        assert_eq!(up.details(), Some(format!("connected to {addr}").as_str()));

        drop(listener);
        let down = smol::block_on(check.check());
        assert_eq!(down.status(), Status::Unhealthy);
        let error = down.error().unwrap();
        assert!(
            error.starts_with(&format!("connect to {addr}: ")),
            "{error}"
        );
    }

    #[test]
    fn an_address_that_does_not_parse_is_unhealthy() {
        let down = smol::block_on(TcpCheck::new("no port here").check());
        assert_eq!(down.status(), Status::Unhealthy);
    }
}
