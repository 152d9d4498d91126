//! service-tokio: the job processor of `service`, on tokio, with axum.
//!
//! ```text
//! service-tokio [--listen ADDR] [--probe-addr ADDR] [--data DIR] [--work-ms N]
//!               [--workers N] [--pre-stop-ms N] [--grace-ms N] [--queue N]
//!               [--max-connections N] [--idle-ms N] [--compact-after N]
//!               [--stuck-ms N] [--redis-url URL] [--postgres-url URL]
//! ```
//!
//! The same jobs, protocol and files as `service` (see
//! `steward_examples::jobs`). What differs is tokio's: the `App`, the TCP
//! listener, and an axum router on `--probe-addr` that mounts the probe
//! routes beside one of its own, `GET /jobs/stats`, served with the probe
//! server's limits (`steward_tokio::axum::serve`). With `--redis-url` or
//! `--postgres-url`, Redis (`PING`) and PostgreSQL (`SELECT 1`) are checked
//! too, as critical readiness checks: readiness fails while either is down.
//!
//! `STEWARD_GRACE`, `STEWARD_PRE_STOP` and `STEWARD_SHOW_ERRORS` override
//! the flags (see `steward_core::app::env`). `STEWARD_PROBE_ADDR` starts the
//! App's own probe server on that address, beside the axum router on
//! `--probe-addr`: give it another port (the same one fails to bind).
//!
//! ```text
//! cargo run -p steward-examples --bin service-tokio -- --redis-url redis://127.0.0.1:6379
//! curl -i 'localhost:8080/readyz?verbose'
//! curl localhost:8080/jobs/stats
//! ```

use std::error::Error;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use steward_core::health::Check;
use steward_core::http::Endpoints;
use steward_core::{Context, Reason, RuntimeHandle, Shutdown};
use steward_examples::checks::{PostgresCheck, RedisCheck};
use steward_examples::jobs::{self, Jobs, Options, UsageError};
use steward_hyper::Server;
use steward_tokio::{App, ProbeServer};
use tokio::net::TcpListener;
use tokio_util::compat::TokioAsyncReadCompatExt;

/// The errors startup may return: any, boxed.
type StartupError = Box<dyn Error + Send + Sync>;

/// How often Redis and PostgreSQL are checked: a dependency that goes away
/// takes readiness down within about this long.
const DEPENDENCY_CHECK_EVERY: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let (options, redis, postgres) = match parse(std::env::args().skip(1)) {
        Ok(parsed) => parsed,
        Err(e) => return usage(&e),
    };
    // No `probe_addr`: axum serves the probes, as the first resource.
    let app = App::from(options.configure(App::new().into()));

    app.run(|cx| async move {
        let stats = Arc::new(OnceLock::new());
        let http = serve_http(&cx, options.probe_addr, Arc::clone(&stats));
        let rt = cx.runtime().clone();
        let stop = move |server| stop_http(server, rt);
        cx.lifespan().start("http", http, stop).await?;
        jobs::register_watchdog(&cx)?;
        if let Some(redis) = redis {
            let check = move || {
                let redis = redis.clone();
                async move { redis.check().await }
            };
            cx.health().register(
                Check::new("redis", check)
                    .ready()
                    .every(DEPENDENCY_CHECK_EVERY),
            )?;
        }
        if let Some(postgres) = postgres {
            let check = move || {
                let postgres = postgres.clone();
                async move { postgres.check().await }
            };
            cx.health().register(
                Check::new("postgres", check)
                    .ready()
                    .every(DEPENDENCY_CHECK_EVERY),
            )?;
        }

        // The journal, the workers, the listener: as in `service`.
        let jobs = Jobs::open(&cx, &options).await?;
        jobs.register_checks(&cx)?;
        let _ = stats.set(jobs.clone());
        jobs.start_workers(options.workers, options.work)?;
        jobs.log_throughput(Duration::from_secs(10))?;
        let listen = async {
            let listener = TcpListener::from_std(jobs::bind(options.listen)?)?;
            let bound = listener.local_addr()?;
            cx.tasks().start("listener", move |stop| async move {
                let accept = || async {
                    let (stream, peer) = listener.accept().await?;
                    Ok((stream.compat(), peer)) // tokio's socket as a futures-io stream
                };
                jobs.serve(stop, accept).await;
            })?;
            Ok::<_, StartupError>(bound)
        };
        let bound = cx
            .lifespan()
            .start("listener", listen, |_| async {})
            .await?;

        cx.health().refresh().await;
        jobs::announce(&cx, bound);
        Ok::<_, StartupError>(())
    })
}

/// Binds `addr` and serves the probe routes and `/jobs/stats` there, with
/// the probe server's limits (`steward_tokio::axum::serve`: the same as
/// `service`'s probes get), until the first scope returned is triggered;
/// the server holds a guard on the second until it has closed.
async fn serve_http(
    cx: &Context,
    addr: SocketAddr,
    stats: Arc<OnceLock<Jobs>>,
) -> Result<(Shutdown, Shutdown), String> {
    let stop = Shutdown::new();
    let limits = Server::new(Endpoints::new(cx.probes().clone())).close_on(stop.clone());
    let server = ProbeServer::bind(addr, limits).map_err(|e| format!("{addr}: {e}"))?;
    let bound = server.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(addr = %bound, "serving probes and /jobs/stats (axum)");
    let stats = move || async move {
        match stats.get() {
            Some(jobs) => jobs_stats(jobs),
            None => (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response(),
        }
    };
    let router = steward_tokio::axum::router(Endpoints::new(cx.probes().clone()))
        .route("/jobs/stats", axum::routing::get(stats));
    let closed = Shutdown::new();
    let guard = closed.guard();
    let serving = steward_tokio::axum::serve(server, router);
    cx.runtime().spawn(async move {
        serving.await;
        drop(guard);
    });
    Ok((stop, closed))
}

fn jobs_stats(jobs: &Jobs) -> Response {
    let json = [(header::CONTENT_TYPE, "application/json")];
    (json, jobs.stats().to_json()).into_response()
}

/// The teardown of the HTTP server: it stops accepting and lets the
/// requests in flight finish (for the server's close timeout, a second); a
/// connection still open past two is left to the process's exit rather than
/// failing the teardown.
async fn stop_http((stop, closed): (Shutdown, Shutdown), rt: RuntimeHandle) {
    stop.trigger(Reason::Requested);
    closed.trigger(Reason::Requested);
    if rt
        .timeout(Duration::from_secs(2), closed.drained())
        .await
        .is_err()
    {
        tracing::info!("probe connections still open; they close with the process");
    }
}

type Parsed = (Options, Option<RedisCheck>, Option<PostgresCheck>);

fn parse(args: impl Iterator<Item = String>) -> Result<Parsed, UsageError> {
    let (options, rest) = Options::parse(args)?;
    let (mut redis, mut postgres) = (None, None);
    for (flag, url) in rest {
        let invalid = |e: &dyn Error| UsageError::Invalid(format!("{flag} {url}: {e}"));
        match flag.as_str() {
            "--redis-url" => {
                let client = redis::Client::open(url.as_str()).map_err(|e| invalid(&e))?;
                redis = Some(RedisCheck::new(client));
            }
            "--postgres-url" => {
                let config = url.parse().map_err(|e| invalid(&e))?;
                postgres = Some(PostgresCheck::new(config));
            }
            _ => return Err(UsageError::Invalid(format!("unknown flag {flag}"))),
        }
    }
    Ok((options, redis, postgres))
}

fn usage(e: &UsageError) -> ExitCode {
    let usage = format!(
        "usage: service-tokio {} [--redis-url URL] [--postgres-url URL]",
        Options::USAGE
    );
    match e {
        UsageError::Help => {
            println!("{usage}");
            ExitCode::SUCCESS
        }
        UsageError::Invalid(why) => {
            eprintln!("service-tokio: {why}\n{usage}");
            ExitCode::from(2)
        }
    }
}
