//! gRPC health (`steward-tonic`) with a real tonic client against a real
//! tonic server on loopback:
//!
//! - `check_and_watch_follow_readiness_and_the_drain` (in process, tokio):
//!   `Check` on `""`, on a check's name and on an unknown name
//!   (`NOT_FOUND`), a degraded check still serving; `Watch` on an unknown
//!   name streams `SERVICE_UNKNOWN`, stays open and follows the check once
//!   it is registered; `Watch` on
//!   `""` follows a readiness check, turns `NOT_SERVING` at
//!   `Shutdown::trigger` (pushed by the phase change: the re-check interval
//!   is an hour), and ends when the server stops.
//! - `service_grpc_under_sigterm` (the `service-grpc` example as a
//!   process): a `Watch` sees `SERVING`, then `NOT_SERVING` at SIGTERM while
//!   the pre-stop delay keeps the server up, then the stream ends and the
//!   process exits 0.
//! - `service_grpc_usage`: `--help`, and a bad flag's exit code 2.
//!
//! Waits are for messages with generous deadlines, never sleeps.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use steward_core::health::{Check, Health};
use steward_core::probes::Probes;
use steward_core::{Reason, Shutdown};
use steward_tonic::pb::health_check_response::ServingStatus;
use steward_tonic::pb::health_client::HealthClient;
use steward_tonic::pb::{HealthCheckRequest, HealthCheckResponse};
use steward_tonic::HealthService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Server};
use tonic::Streaming;

/// How long a message may take on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(20);

async fn connect(addr: &dyn std::fmt::Display) -> HealthClient<Channel> {
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap();
    HealthClient::new(channel.connect().await.expect("connected"))
}

fn request(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

async fn check(
    client: &mut HealthClient<Channel>,
    service: &str,
) -> Result<ServingStatus, tonic::Code> {
    match client.check(request(service)).await {
        Ok(r) => Ok(status(r.into_inner())),
        Err(e) => Err(e.code()),
    }
}

fn status(r: HealthCheckResponse) -> ServingStatus {
    ServingStatus::try_from(r.status).expect("a known status")
}

/// The next message of a `Watch`, `None` when the stream ended.
async fn next(watch: &mut Streaming<HealthCheckResponse>) -> Option<ServingStatus> {
    tokio::time::timeout(DEADLINE, watch.message())
        .await
        .expect("a Watch message within the deadline")
        .expect("no error on the stream")
        .map(status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_and_watch_follow_readiness_and_the_drain() {
    let rt = steward_tokio::TokioRuntime::new(tokio::runtime::Handle::current()).handle();
    let health = Health::new(rt);
    let db_up = Arc::new(AtomicBool::new(true));
    let up = Arc::clone(&db_up);
    let db = move || {
        let up = up.load(Ordering::SeqCst);
        async move {
            if up {
                Ok(())
            } else {
                Err("refused")
            }
        }
    };
    health
        .register(Check::new("db", db).ready().inline(Duration::ZERO))
        .unwrap();
    let shutdown = Shutdown::new();
    let probes = Probes::new(health.clone(), shutdown.clone());

    // Checks re-read every 20 ms, except on the service the drain is
    // watched on: there only a phase change can push NOT_SERVING.
    let stop = Shutdown::new();
    let fast = HealthService::new(probes.clone()).interval(Duration::from_millis(20));
    let incoming = TcpIncoming::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let addr = incoming.local_addr().unwrap();
    let server = tokio::spawn(
        Server::builder()
            .add_service(fast.close_on(stop.clone()).into_server())
            .serve_with_incoming_shutdown(incoming, stop.clone().triggered_owned()),
    );
    let slow = HealthService::new(probes.clone()).interval(Duration::from_secs(3600));
    let slow_incoming = TcpIncoming::bind(([127, 0, 0, 1], 0).into()).unwrap();
    let slow_addr = slow_incoming.local_addr().unwrap();
    let slow_server = tokio::spawn(
        Server::builder()
            .add_service(slow.close_on(stop.clone()).into_server())
            .serve_with_incoming_shutdown(slow_incoming, stop.clone().triggered_owned()),
    );
    let mut client = connect(&addr).await;
    let mut slow_client = connect(&slow_addr).await;

    // Starting: nothing serves yet; unknown names are NOT_FOUND.
    assert_eq!(check(&mut client, "").await, Ok(ServingStatus::NotServing));
    assert_eq!(
        check(&mut client, "db").await,
        Ok(ServingStatus::NotServing)
    );
    assert_eq!(
        check(&mut client, "cache").await,
        Err(tonic::Code::NotFound)
    );

    probes.set_running();
    assert_eq!(check(&mut client, "").await, Ok(ServingStatus::Serving));
    assert_eq!(check(&mut client, "db").await, Ok(ServingStatus::Serving));
    assert_eq!(
        check(&mut client, "shutdown").await,
        Ok(ServingStatus::Serving)
    );

    // A degraded check still serves, by name and as a whole.
    let degraded = || async { steward_core::health::Status::Degraded };
    health
        .register(Check::new("warm", degraded).ready().inline(Duration::ZERO))
        .unwrap();
    assert_eq!(check(&mut client, "warm").await, Ok(ServingStatus::Serving));
    assert_eq!(check(&mut client, "").await, Ok(ServingStatus::Serving));

    // An unknown service: SERVICE_UNKNOWN, the stream stays open, and it
    // follows the service once a check of that name appears.
    let mut unknown = client.watch(request("cache")).await.unwrap().into_inner();
    assert_eq!(
        next(&mut unknown).await,
        Some(ServingStatus::ServiceUnknown)
    );
    health
        .register(
            Check::new("cache", || async { Ok::<(), String>(()) })
                .ready()
                .inline(Duration::ZERO),
        )
        .unwrap();
    assert_eq!(next(&mut unknown).await, Some(ServingStatus::Serving));

    // The whole server follows a readiness check.
    let mut all = client.watch(request("")).await.unwrap().into_inner();
    assert_eq!(next(&mut all).await, Some(ServingStatus::Serving));
    db_up.store(false, Ordering::SeqCst);
    assert_eq!(next(&mut all).await, Some(ServingStatus::NotServing));
    assert_eq!(
        check(&mut client, "db").await,
        Ok(ServingStatus::NotServing)
    );
    assert_eq!(
        check(&mut client, "cache").await,
        Ok(ServingStatus::Serving)
    );
    db_up.store(true, Ordering::SeqCst);
    assert_eq!(next(&mut all).await, Some(ServingStatus::Serving));

    // The drain: NOT_SERVING for every service, pushed at the trigger.
    let mut drain = slow_client.watch(request("")).await.unwrap().into_inner();
    let mut drain_db = slow_client.watch(request("db")).await.unwrap().into_inner();
    assert_eq!(next(&mut drain).await, Some(ServingStatus::Serving));
    assert_eq!(next(&mut drain_db).await, Some(ServingStatus::Serving));
    shutdown.trigger(Reason::Signal(15));
    assert_eq!(next(&mut drain).await, Some(ServingStatus::NotServing));
    assert_eq!(next(&mut drain_db).await, Some(ServingStatus::NotServing));
    assert_eq!(next(&mut all).await, Some(ServingStatus::NotServing));
    assert_eq!(next(&mut unknown).await, Some(ServingStatus::NotServing));
    assert_eq!(
        check(&mut client, "cache").await,
        Ok(ServingStatus::NotServing)
    );

    // The server stops: every stream ends, and the servers return.
    stop.trigger(Reason::Requested);
    for watch in [&mut drain, &mut drain_db, &mut all, &mut unknown] {
        assert_eq!(next(watch).await, None);
    }
    for server in [server, slow_server] {
        tokio::time::timeout(DEADLINE, server)
            .await
            .expect("the server stops within the deadline")
            .unwrap()
            .unwrap();
    }
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_grpc_under_sigterm() {
    use std::process::Command;
    use steward_tests::process::{cargo_bin, Process};

    let bin = cargo_bin("steward-examples", "service-grpc");
    // A pre-stop delay long enough that NOT_SERVING is seen while the
    // server still runs, whatever the load.
    let mut process = Process::start(Command::new(bin).args([
        "--grpc-addr",
        "127.0.0.1:0",
        "--pre-stop-ms",
        "1500",
    ]));
    let line = tokio::task::block_in_place(|| process.wait_for_line("grpc health on"));
    let addr = line.rsplit(' ').next().unwrap().to_owned();
    let mut client = connect(&addr).await;
    let mut watch = client.watch(request("")).await.unwrap().into_inner();
    assert_eq!(next(&mut watch).await, Some(ServingStatus::Serving));
    let mut work = client.watch(request("work")).await.unwrap().into_inner();
    assert_eq!(next(&mut work).await, Some(ServingStatus::Serving));

    process.signal("TERM");
    assert_eq!(next(&mut watch).await, Some(ServingStatus::NotServing));
    assert_eq!(next(&mut work).await, Some(ServingStatus::NotServing));
    assert_eq!(
        next(&mut watch).await,
        None,
        "the stream ends when the server stops"
    );
    assert_eq!(next(&mut work).await, None);
    let exit = tokio::task::block_in_place(|| process.wait_exit());
    assert_eq!(exit.status.code(), Some(0), "{exit:?}");
}

#[cfg(unix)]
#[test]
fn service_grpc_usage() {
    use std::process::Command;
    use steward_tests::process::cargo_bin;

    let bin = cargo_bin("steward-examples", "service-grpc");
    let help = Command::new(&bin).arg("--help").output().unwrap();
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).starts_with("usage: service-grpc"));
    let bad = Command::new(&bin)
        .args(["--grpc-addr", "nowhere"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.starts_with("service-grpc: --grpc-addr nowhere: "),
        "{stderr}"
    );
}
