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
/// use steward_smol::TcpCheck;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let check = TcpCheck::new(listener.local_addr().unwrap().to_string());
/// assert_eq!(smol::block_on(check.check()).status(), Status::Healthy);
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
        match smol::net::TcpStream::connect(self.addr.as_str()).await {
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
