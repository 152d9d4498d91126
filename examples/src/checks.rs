//! Health checks of real dependencies: Redis answers `PING`, PostgreSQL
//! answers `SELECT 1`.
//!
//! Each check keeps one connection across runs, so a probe every few seconds
//! does not open a connection every time, and makes a new one when the old
//! one is gone: after a failure, and when a server restart killed it between
//! two checks (a check on a connection made by an earlier check that fails
//! with a connection error tries once more on a fresh connection, so a server
//! that is back up passes at once). Connecting and the query each have a
//! timeout, so a server that accepts connections but never answers fails the
//! check instead of hanging it.
//!
//! Both use the ecosystem's clients ([`redis`] and [`tokio_postgres`]) and
//! need a tokio runtime. A check is a cheap handle: clones share the
//! connection.
//!
//! # Examples
//!
//! ```no_run
//! use steward_examples::checks::{PostgresCheck, RedisCheck};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let redis = RedisCheck::new(redis::Client::open("redis://127.0.0.1:6379")?);
//! let postgres = PostgresCheck::new("postgres://app:secret@127.0.0.1/app".parse()?);
//! redis.check().await?;
//! postgres.check().await?;
//! # Ok(()) }
//! ```

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;
use tokio_postgres::{NoTls, SimpleQueryMessage};

/// How long connecting may take by default (TCP, TLS-less handshake, login).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the check's query may take by default.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// Which part of a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Opening a connection: TCP connect, handshake, authentication.
    Connect,
    /// The check's query on an open connection.
    Query,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Query => "query",
        })
    }
}

/// Why a dependency check failed.
///
/// # Examples
///
/// ```
/// use steward_examples::checks::{CheckError, RedisCheck, Stage};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// // Nothing listens on port 1: connecting is refused at once.
/// let check = RedisCheck::new(redis::Client::open("redis://127.0.0.1:1").unwrap());
/// let err = check.check().await.unwrap_err();
/// assert!(matches!(err, CheckError::Redis { stage: Stage::Connect, .. }));
/// assert_eq!(err.stage(), Stage::Connect);
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckError {
    /// The Redis client reported an error.
    Redis {
        /// Where it failed.
        stage: Stage,
        /// The client's error.
        source: redis::RedisError,
    },
    /// The PostgreSQL client reported an error.
    Postgres {
        /// Where it failed.
        stage: Stage,
        /// The client's error.
        source: tokio_postgres::Error,
    },
    /// A step did not finish within its timeout.
    Timeout {
        /// The step that ran out of time.
        stage: Stage,
        /// The timeout.
        after: Duration,
    },
    /// The server answered, but not what the check asked for.
    UnexpectedReply(String),
}

impl CheckError {
    /// The step that failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use steward_examples::checks::{CheckError, Stage};
    ///
    /// let err = CheckError::Timeout { stage: Stage::Query, after: Duration::from_secs(2) };
    /// assert_eq!(err.stage(), Stage::Query);
    /// ```
    #[must_use]
    pub fn stage(&self) -> Stage {
        match self {
            CheckError::Redis { stage, .. }
            | CheckError::Postgres { stage, .. }
            | CheckError::Timeout { stage, .. } => *stage,
            CheckError::UnexpectedReply(_) => Stage::Query,
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Redis { stage, source } => write!(f, "redis {stage} failed: {source}"),
            CheckError::Postgres { stage, source } => {
                write!(f, "postgres {stage} failed: {source}")
            }
            CheckError::Timeout { stage, after } => write!(f, "{stage} timed out after {after:?}"),
            CheckError::UnexpectedReply(reply) => write!(f, "unexpected reply: {reply}"),
        }
    }
}

impl Error for CheckError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            CheckError::Redis { source, .. } => Some(source),
            CheckError::Postgres { source, .. } => Some(source),
            CheckError::Timeout { .. } | CheckError::UnexpectedReply(_) => None,
        }
    }
}

/// Runs `step` for at most `after`, a timeout being a [`CheckError::Timeout`].
async fn within<T>(
    stage: Stage,
    after: Duration,
    step: impl Future<Output = Result<T, CheckError>>,
) -> Result<T, CheckError> {
    match tokio::time::timeout(after, step).await {
        Ok(result) => result,
        Err(_elapsed) => Err(CheckError::Timeout { stage, after }),
    }
}

/// Checks that a Redis server answers `PING` with `PONG`.
///
/// Keeps one multiplexed connection across checks (see the [module
/// docs](self) for when it reconnects).
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use steward_examples::checks::RedisCheck;
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let check = RedisCheck::new(redis::Client::open("redis://127.0.0.1:6379")?)
///     .with_timeouts(Duration::from_secs(1), Duration::from_millis(500));
/// check.check().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisCheck {
    client: redis::Client,
    connection: Arc<Mutex<Option<MultiplexedConnection>>>,
    connect_timeout: Duration,
    query_timeout: Duration,
}

impl RedisCheck {
    /// A check of the server `client` connects to, with the default
    /// [`CONNECT_TIMEOUT`] and [`QUERY_TIMEOUT`]. Connects on the first
    /// check, not here.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_examples::checks::RedisCheck;
    ///
    /// let check = RedisCheck::new(redis::Client::open("redis://127.0.0.1:6379").unwrap());
    /// # drop(check);
    /// ```
    #[must_use]
    pub fn new(client: redis::Client) -> RedisCheck {
        RedisCheck {
            client,
            connection: Arc::new(Mutex::new(None)),
            connect_timeout: CONNECT_TIMEOUT,
            query_timeout: QUERY_TIMEOUT,
        }
    }

    /// Sets how long connecting and the `PING` may each take.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use steward_examples::checks::RedisCheck;
    ///
    /// let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    /// let check = RedisCheck::new(client).with_timeouts(Duration::from_secs(1), Duration::from_secs(1));
    /// # drop(check);
    /// ```
    #[must_use]
    pub fn with_timeouts(mut self, connect: Duration, query: Duration) -> RedisCheck {
        self.connect_timeout = connect;
        self.query_timeout = query;
        self
    }

    /// Sends `PING`; passes when the server answers `PONG`.
    ///
    /// Takes at most the connect timeout plus the query timeout, twice that
    /// when a stale connection is replaced. Concurrent checks on clones run
    /// one at a time.
    ///
    /// # Errors
    ///
    /// [`CheckError::Redis`] when connecting or the `PING` fails,
    /// [`CheckError::Timeout`] when either takes too long,
    /// [`CheckError::UnexpectedReply`] for an answer other than `PONG`.
    ///
    /// # Panics
    ///
    /// When not run within a tokio runtime (the connection's driver is a
    /// tokio task).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the connection it was using (the next check
    /// makes a new one); nothing else is left behind.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use steward_examples::checks::RedisCheck;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let check = RedisCheck::new(redis::Client::open("redis://127.0.0.1:6379")?);
    /// check.check().await?;
    /// # Ok(()) }
    /// ```
    pub async fn check(&self) -> Result<(), CheckError> {
        let mut slot = self.connection.lock().await;
        // Taken out while in use: a dropped check leaves `None`, not a
        // connection with a request of unknown fate on it.
        let (mut connection, reused) = match slot.take() {
            Some(connection) => (connection, true),
            None => (self.connect().await?, false),
        };
        match self.ping(&mut connection).await {
            Ok(()) => {}
            Err(CheckError::Redis { .. }) if reused => {
                // Likely a connection the server closed since the last check
                // (a restart): a fresh one tells whether it is up now.
                connection = self.connect().await?;
                self.ping(&mut connection).await?;
            }
            Err(err) => return Err(err),
        }
        *slot = Some(connection);
        Ok(())
    }

    async fn connect(&self) -> Result<MultiplexedConnection, CheckError> {
        within(Stage::Connect, self.connect_timeout, async {
            self.client
                .get_multiplexed_async_connection()
                .await
                .map_err(|source| CheckError::Redis {
                    stage: Stage::Connect,
                    source,
                })
        })
        .await
    }

    async fn ping(&self, connection: &mut MultiplexedConnection) -> Result<(), CheckError> {
        let reply: String = within(Stage::Query, self.query_timeout, async {
            redis::cmd("PING")
                .query_async(connection)
                .await
                .map_err(|source| CheckError::Redis {
                    stage: Stage::Query,
                    source,
                })
        })
        .await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(CheckError::UnexpectedReply(reply))
        }
    }
}

impl fmt::Debug for RedisCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The address only: the connection info may hold a password.
        f.debug_struct("RedisCheck")
            .field("addr", &self.client.get_connection_info().addr.to_string())
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .finish_non_exhaustive()
    }
}

/// Checks that a PostgreSQL server answers `SELECT 1`.
///
/// Keeps one client across checks (see the [module docs](self) for when it
/// reconnects); its connection runs on a task spawned with `tokio::spawn`,
/// which ends when the client is dropped. Connects without TLS, as suits a
/// server on loopback or a sidecar; a service reaching its database across a
/// network should check through its own TLS-enabled client instead.
///
/// # Examples
///
/// ```no_run
/// use steward_examples::checks::PostgresCheck;
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let check = PostgresCheck::new("postgres://app:secret@127.0.0.1:5432/app".parse()?);
/// check.check().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresCheck {
    config: tokio_postgres::Config,
    client: Arc<Mutex<Option<tokio_postgres::Client>>>,
    connect_timeout: Duration,
    query_timeout: Duration,
}

impl PostgresCheck {
    /// A check of the server `config` names, with the default
    /// [`CONNECT_TIMEOUT`] and [`QUERY_TIMEOUT`]. Connects on the first
    /// check, not here.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_examples::checks::PostgresCheck;
    ///
    /// let config = "host=127.0.0.1 user=app dbname=app".parse().unwrap();
    /// let check = PostgresCheck::new(config);
    /// # drop(check);
    /// ```
    #[must_use]
    pub fn new(config: tokio_postgres::Config) -> PostgresCheck {
        PostgresCheck {
            config,
            client: Arc::new(Mutex::new(None)),
            connect_timeout: CONNECT_TIMEOUT,
            query_timeout: QUERY_TIMEOUT,
        }
    }

    /// Sets how long connecting and the `SELECT 1` may each take.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use steward_examples::checks::PostgresCheck;
    ///
    /// let config = "postgres://app@127.0.0.1/app".parse().unwrap();
    /// let check = PostgresCheck::new(config).with_timeouts(Duration::from_secs(1), Duration::from_secs(1));
    /// # drop(check);
    /// ```
    #[must_use]
    pub fn with_timeouts(mut self, connect: Duration, query: Duration) -> PostgresCheck {
        self.connect_timeout = connect;
        self.query_timeout = query;
        self
    }

    /// Runs `SELECT 1`; passes when the server answers `1`.
    ///
    /// Takes at most the connect timeout plus the query timeout, twice that
    /// when a stale connection is replaced. Concurrent checks on clones run
    /// one at a time.
    ///
    /// # Errors
    ///
    /// [`CheckError::Postgres`] when connecting (including logging in) or the
    /// query fails, [`CheckError::Timeout`] when either takes too long,
    /// [`CheckError::UnexpectedReply`] for an answer other than one row `1`.
    ///
    /// # Panics
    ///
    /// When not run within a tokio runtime (the connection is a tokio task).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the client it was using, which closes its
    /// connection (the next check makes a new one); nothing else is left
    /// behind.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use steward_examples::checks::PostgresCheck;
    ///
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let check = PostgresCheck::new("postgres://app:secret@127.0.0.1/app".parse()?);
    /// check.check().await?;
    /// # Ok(()) }
    /// ```
    pub async fn check(&self) -> Result<(), CheckError> {
        let mut slot = self.client.lock().await;
        // A client whose connection task has ended (the server closed it) is
        // replaced before use rather than failing the check.
        let (mut client, reused) = match slot.take() {
            Some(client) if !client.is_closed() => (client, true),
            _ => (self.connect().await?, false),
        };
        match self.select_one(&client).await {
            Ok(()) => {}
            Err(CheckError::Postgres { .. }) if reused => {
                // The server may have closed it after `is_closed` was read,
                // or the connection died silently: try a fresh one.
                client = self.connect().await?;
                self.select_one(&client).await?;
            }
            Err(err) => return Err(err),
        }
        *slot = Some(client);
        Ok(())
    }

    async fn connect(&self) -> Result<tokio_postgres::Client, CheckError> {
        let (client, connection) = within(Stage::Connect, self.connect_timeout, async {
            self.config
                .connect(NoTls)
                .await
                .map_err(|source| CheckError::Postgres {
                    stage: Stage::Connect,
                    source,
                })
        })
        .await?;
        tokio::spawn(async move {
            // Its error, if any, is what the client's next query returns.
            let _ = connection.await;
        });
        Ok(client)
    }

    async fn select_one(&self, client: &tokio_postgres::Client) -> Result<(), CheckError> {
        let messages = within(Stage::Query, self.query_timeout, async {
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|source| CheckError::Postgres {
                    stage: Stage::Query,
                    source,
                })
        })
        .await?;
        let mut rows = messages.iter().filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row.get(0)),
            _ => None,
        });
        match (rows.next(), rows.next()) {
            (Some(Some("1")), None) => Ok(()),
            (first, second) => Err(CheckError::UnexpectedReply(format!(
                "SELECT 1 returned {first:?}, then {second:?}"
            ))),
        }
    }
}

impl fmt::Debug for PostgresCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Where it connects, never the password.
        f.debug_struct("PostgresCheck")
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("user", &self.config.get_user())
            .field("dbname", &self.config.get_dbname())
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .finish_non_exhaustive()
    }
}
