use std::fmt;

use steward::health::{CheckOutcome, HealthCheck};

/// A health check that opens a TCP connection to an address, and closes it.
///
/// The address (`host:port`) is resolved again on every run, so a service
/// that moves is followed. The registry's timeout bounds the run.
///
/// # Examples
///
/// ```
/// use steward::health::{HealthCheck, Status};
/// use steward_tokio::TcpCheck;
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() {
///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
///     let check = TcpCheck::new(listener.local_addr().unwrap().to_string());
///     assert_eq!(check.check().await.status(), Status::Healthy);
/// }
/// ```
#[derive(Clone)]
pub struct TcpCheck {
    addr: String,
}

impl TcpCheck {
    /// A check connecting to `addr`, a `host:port`.
    ///
    /// # Examples
    ///
    /// See [`TcpCheck`].
    #[must_use]
    pub fn new(addr: impl Into<String>) -> Self {
        Self { addr: addr.into() }
    }
}

impl HealthCheck for TcpCheck {
    async fn check(&self) -> CheckOutcome {
        match tokio::net::TcpStream::connect(self.addr.as_str()).await {
            Ok(stream) => match stream.peer_addr() {
                Ok(peer) => CheckOutcome::healthy().with_details(format!("connected to {peer}")),
                Err(_) => CheckOutcome::healthy(),
            },
            Err(e) => CheckOutcome::unhealthy(format!("connect to {}: {e}", self.addr)),
        }
    }
}

impl fmt::Debug for TcpCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpCheck")
            .field("addr", &self.addr)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use steward::health::Status;

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
