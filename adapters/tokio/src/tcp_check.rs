use std::io;
use std::net::SocketAddr;

use steward_core::health::Connector;

/// A health check that opens a TCP connection to an address, and closes it:
/// [`steward_core::health::TcpCheck`] on tokio.
///
/// The address (`host:port`) is resolved again on every run, so a service
/// that moves is followed. The registry's timeout bounds the run.
///
/// # Examples
///
/// ```
/// use steward_tokio::health::{HealthCheck, Status};
/// use steward_tokio::TcpCheck;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let check = TcpCheck::new(listener.local_addr().unwrap().to_string());
///     assert_eq!(check.check().await.status(), Status::Healthy);
/// }
/// ```
pub type TcpCheck = steward_core::health::TcpCheck<TokioConnector>;

/// [`steward_core::health::Connector`] on tokio's `TcpStream`.
///
/// # Examples
///
/// See [`TcpCheck`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioConnector;

impl Connector for TokioConnector {
    async fn connect(addr: &str) -> io::Result<SocketAddr> {
        tokio::net::TcpStream::connect(addr).await?.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward_core::health::{HealthCheck, Status};

    #[tokio::test]
    async fn healthy_while_something_listens_unhealthy_after() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let check = TcpCheck::new(addr.to_string());
        let up = check.check().await;
        assert_eq!(up.status(), Status::Healthy);
        assert_eq!(up.details(), Some(format!("connected to {addr}").as_str()));

        drop(listener);
        let down = check.check().await;
        assert_eq!(down.status(), Status::Unhealthy);
        let error = down.error().unwrap();
        assert!(
            error.starts_with(&format!("connect to {addr}: ")),
            "{error}"
        );
    }

    #[tokio::test]
    async fn an_address_that_does_not_parse_is_unhealthy() {
        let down = TcpCheck::new("no port here").check().await;
        assert_eq!(down.status(), Status::Unhealthy);
    }
}
