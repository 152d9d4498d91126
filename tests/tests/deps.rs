//! The dependency checks of `steward_examples::checks`, against real servers.
//!
//! `bash .ci/test` starts Redis and PostgreSQL on loopback (`.ci/services`)
//! and sets `REDIS_URL` and `POSTGRES_URL`. Without them these tests fail and
//! say so, unless `STEWARD_SKIP_SERVICES=1` is set.
//!
//! The shared servers are only ever queried. To see a check fail and recover,
//! a test stops and starts a Redis server of its own on a free port, or puts
//! a proxy of its own in front of PostgreSQL and takes it down and up; so no
//! test disturbs another.

#![cfg(unix)]

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use steward_examples::checks::{CheckError, PostgresCheck, RedisCheck, Stage};
use steward_tests::process::{free_port, Process};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Timeouts of the checks under test: a failure that is not a timeout came
/// faster than this.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Real time any one check may take before the test calls it hung.
const WATCHDOG: Duration = Duration::from_secs(30);

/// The URL in `var`, `None` (skip the test) with `STEWARD_SKIP_SERVICES=1`.
///
/// # Panics
///
/// When the variable is unset and the services are not skipped.
fn service_url(var: &str) -> Option<String> {
    if std::env::var("STEWARD_SKIP_SERVICES").as_deref() == Ok("1") {
        eprintln!("skipped: STEWARD_SKIP_SERVICES=1");
        return None;
    }
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => panic!(
            "{var} is not set. Run the tests with `bash .ci/test`, which starts Redis and \
             PostgreSQL on loopback and sets REDIS_URL and POSTGRES_URL (or \
             `eval \"$(bash .ci/services)\"` before `cargo test`); set STEWARD_SKIP_SERVICES=1 \
             to skip the tests that need them"
        ),
    }
}

/// Runs one check, failing the test if it hangs; returns how long it took.
async fn timed<T>(check: impl Future<Output = T>) -> (T, Duration) {
    let started = Instant::now();
    match tokio::time::timeout(WATCHDOG, check).await {
        Ok(result) => (result, started.elapsed()),
        Err(_) => panic!("a check hung for {WATCHDOG:?}"),
    }
}

fn redis_check(url: &str) -> RedisCheck {
    RedisCheck::new(redis::Client::open(url).expect("a valid Redis URL"))
        .with_timeouts(TIMEOUT, TIMEOUT)
}

fn postgres_check(config: tokio_postgres::Config) -> PostgresCheck {
    PostgresCheck::new(config).with_timeouts(TIMEOUT, TIMEOUT)
}

fn postgres_config(url: &str) -> tokio_postgres::Config {
    url.parse().expect("a valid PostgreSQL URL")
}

/// A check that failed because connecting was refused, not because it ran
/// out of time.
fn assert_refused(result: Result<(), CheckError>, took: Duration) {
    match result {
        Err(err @ (CheckError::Redis { .. } | CheckError::Postgres { .. })) => {
            assert_eq!(err.stage(), Stage::Connect, "{err}");
            assert!(took < TIMEOUT, "failing took {took:?}");
        }
        other => panic!("expected a refused connection, got {other:?}"),
    }
}

#[test]
fn the_checks_their_futures_and_errors_are_send() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let redis = RedisCheck::new(redis::Client::open("redis://127.0.0.1:1").unwrap());
    let postgres = PostgresCheck::new(postgres_config("postgres://u@127.0.0.1:1/d"));
    send_sync(&redis);
    send_sync(&postgres);
    send(&redis.check());
    send(&postgres.check());
    let err = CheckError::UnexpectedReply("PANG".into());
    send_sync(&err);
    assert_eq!(err.to_string(), "unexpected reply: PANG");
}

#[test]
fn debug_never_shows_a_password() {
    let redis = RedisCheck::new(redis::Client::open("redis://:hunter2@127.0.0.1:6379").unwrap());
    let postgres = PostgresCheck::new(postgres_config("postgres://u:hunter2@127.0.0.1/d"));
    for debug in [format!("{redis:?}"), format!("{postgres:?}")] {
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("127.0.0.1"), "{debug}");
    }
}

// ------------------------------------------------------------------ Redis

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_check_passes_against_the_server() {
    let Some(url) = service_url("REDIS_URL") else {
        return;
    };
    let check = redis_check(&url);
    for _ in 0..3 {
        let (result, _) = timed(check.check()).await;
        result.expect("PING against REDIS_URL");
    }
}

/// A Redis server of the test's own, so that stopping it disturbs nothing.
fn start_redis(port: u16) -> Process {
    let mut redis = Process::start(
        Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--logfile", ""])
            .arg("--dir")
            .arg(std::env::temp_dir()),
    );
    redis.wait_for_line("Ready to accept connections");
    redis
}

fn stop_redis(mut redis: Process) {
    redis.signal("TERM");
    let exit = redis.wait_exit();
    assert!(exit.status.success(), "{exit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_check_fails_while_the_server_is_down_and_passes_when_it_is_back() {
    if service_url("REDIS_URL").is_none() {
        return;
    }
    let port = free_port();
    let check = redis_check(&format!("redis://127.0.0.1:{port}"));

    let redis = start_redis(port);
    timed(check.check()).await.0.expect("PING while up");

    stop_redis(redis);
    let (result, took) = timed(check.check()).await;
    assert_refused(result, took);
    let (result, took) = timed(check.check()).await;
    assert_refused(result, took);

    // The same check object connects again.
    let redis = start_redis(port);
    timed(check.check()).await.0.expect("PING once back");

    // A restart between two checks: the connection the check keeps is dead,
    // and the check replaces it instead of failing.
    stop_redis(redis);
    let redis = start_redis(port);
    timed(check.check()).await.0.expect("PING after a restart");
    stop_redis(redis);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_check_fails_at_once_on_a_closed_port() {
    // Needs no server: runs even without the services.
    let check = redis_check(&format!("redis://127.0.0.1:{}", free_port()));
    let (result, took) = timed(check.check()).await;
    assert_refused(result, took);
}

// ------------------------------------------------------- a silent server

/// A server that accepts connections and never answers: the checks must
/// time out rather than wait for it.
async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream); // open, unanswered, until the test's runtime ends
        }
    });
    addr
}

fn assert_timed_out(result: Result<(), CheckError>, timeout: Duration, took: Duration) {
    match result {
        Err(CheckError::Timeout { after, .. }) => {
            assert_eq!(after, timeout);
            assert!(took >= timeout, "timed out after {took:?}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_check_times_out_on_a_server_that_never_answers() {
    let addr = silent_server().await;
    let short = Duration::from_millis(300);
    let check = RedisCheck::new(redis::Client::open(format!("redis://{addr}")).unwrap())
        .with_timeouts(short, short);
    let (result, took) = timed(check.check()).await;
    assert_timed_out(result, short, took);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_check_times_out_on_a_server_that_never_answers() {
    let addr = silent_server().await;
    let short = Duration::from_millis(300);
    let config = postgres_config(&format!("postgres://u@{addr}/d"));
    let check = PostgresCheck::new(config).with_timeouts(short, short);
    let (result, took) = timed(check.check()).await;
    assert_timed_out(result, short, took);
}

// -------------------------------------------------------------- PostgreSQL

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_check_passes_against_the_server() {
    let Some(url) = service_url("POSTGRES_URL") else {
        return;
    };
    let check = postgres_check(postgres_config(&url));
    for _ in 0..3 {
        let (result, _) = timed(check.check()).await;
        result.expect("SELECT 1 against POSTGRES_URL");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_check_fails_on_a_wrong_password() {
    let Some(url) = service_url("POSTGRES_URL") else {
        return;
    };
    let mut config = postgres_config(&url);
    config.password("not-the-password");
    let (result, took) = timed(postgres_check(config).check()).await;
    match result {
        Err(CheckError::Postgres {
            stage: Stage::Connect,
            source,
        }) => {
            assert!(
                source.as_db_error().is_some(),
                "the server refused: {source}"
            );
            assert!(took < TIMEOUT);
        }
        other => panic!("expected a refused login, got {other:?}"),
    }
}

/// The server's process ids of the sessions named `name`.
async fn sessions(admin: &tokio_postgres::Client, name: &str) -> Vec<i32> {
    let rows = admin
        .query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .await
        .expect("pg_stat_activity");
    rows.iter().map(|row| row.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_check_reconnects_after_the_server_ends_its_session() {
    let Some(url) = service_url("POSTGRES_URL") else {
        return;
    };
    // A name of its own, to find the check's session on the server.
    let name = format!("steward-deps-{}-{}", std::process::id(), free_port());
    let mut config = postgres_config(&url);
    config.application_name(&name);
    let check = postgres_check(config);
    timed(check.check()).await.0.expect("SELECT 1");

    let (admin, connection) = postgres_config(&url)
        .connect(tokio_postgres::NoTls)
        .await
        .expect("an admin connection");
    tokio::spawn(connection);
    let before = sessions(&admin, &name).await;
    assert_eq!(before.len(), 1, "one session of the check: {before:?}");
    let ended: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&before[0]])
        .await
        .expect("pg_terminate_backend")
        .get(0);
    assert!(ended);

    // Its connection is gone; the check connects again and passes.
    timed(check.check())
        .await
        .0
        .expect("SELECT 1 after the session ended");
    let after = sessions(&admin, &name).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "a new session");
}

/// A TCP proxy on loopback in front of `upstream`, which the test takes
/// down (listener closed, every connection cut) and brings back up.
struct Proxy {
    addr: SocketAddr,
    upstream: SocketAddr,
    accepting: Option<JoinHandle<()>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    fn new(upstream: SocketAddr) -> Proxy {
        Proxy {
            addr: (Ipv4Addr::LOCALHOST, free_port()).into(),
            upstream,
            accepting: None,
            connections: Arc::default(),
        }
    }

    async fn up(&mut self) {
        // Tokio sets SO_REUSEADDR: the port binds again after `down`.
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("binding the proxy");
        let (upstream, connections) = (self.upstream, Arc::clone(&self.connections));
        self.accepting = Some(tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let forward = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections.lock().unwrap().push(forward);
            }
        }));
    }

    /// Returns once the listener and every connection are closed.
    async fn down(&mut self) {
        if let Some(accepting) = self.accepting.take() {
            accepting.abort();
            let _ = accepting.await;
        }
        let connections = std::mem::take(&mut *self.connections.lock().unwrap());
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_check_fails_while_the_server_is_unreachable_and_passes_when_it_is_back() {
    let Some(url) = service_url("POSTGRES_URL") else {
        return;
    };
    let server = postgres_config(&url);
    let host = match server.get_hosts() {
        [tokio_postgres::config::Host::Tcp(host)] => host.clone(),
        hosts => panic!("POSTGRES_URL should name one TCP host, not {hosts:?}"),
    };
    let port = server.get_ports().first().copied().unwrap_or(5432);
    let upstream = (host.as_str(), port)
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let mut proxy = Proxy::new(upstream);
    // The server's login, through the proxy (`host` and `port` add to a
    // config's list: a new config, not the server's with one more host).
    let mut config = tokio_postgres::Config::new();
    config.host("127.0.0.1").port(proxy.addr.port());
    if let Some(user) = server.get_user() {
        config.user(user);
    }
    if let Some(password) = server.get_password() {
        config.password(password);
    }
    if let Some(dbname) = server.get_dbname() {
        config.dbname(dbname);
    }
    let check = postgres_check(config);

    proxy.up().await;
    timed(check.check())
        .await
        .0
        .expect("SELECT 1 through the proxy");

    proxy.down().await;
    let (result, took) = timed(check.check()).await;
    assert_refused(result, took);

    // The same check object connects again.
    proxy.up().await;
    timed(check.check()).await.0.expect("SELECT 1 once back");

    // Cut and back between two checks: the kept client is dead, and the
    // check replaces it instead of failing.
    proxy.down().await;
    proxy.up().await;
    timed(check.check()).await.0.expect("SELECT 1 after a cut");
    proxy.down().await;
}
