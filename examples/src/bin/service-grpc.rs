//! service-grpc: gRPC health checking (`grpc.health.v1.Health`) from
//! steward's probes, on tokio.
//!
//! ```text
//! service-grpc [--grpc-addr ADDR] [--probe-addr ADDR] [--fail-file PATH]
//!              [--pre-stop-ms N] [--grace-ms N]
//! ```
//!
//! Serves `grpc.health.v1.Health` on `--grpc-addr` (default
//! `127.0.0.1:50051`) and the HTTP probes on `--probe-addr` when given. Its
//! one readiness check, `work`, fails while the file named by `--fail-file`
//! exists. Prints `grpc health on ADDR` once ready.
//!
//! On SIGTERM every service reads `NOT_SERVING` at once (open `Watch`
//! streams are told), the pre-stop delay passes, then the gRPC server stops:
//! the `Watch` streams end, the server closes, the report is printed, exit 0.
//!
//! ```text
//! cargo build -p steward-examples --bin service-grpc
//! ./target/debug/service-grpc &                 # job %1 of this shell
//! grpcurl -plaintext -d '{"service": ""}' 127.0.0.1:50051 grpc.health.v1.Health/Watch
//! grpc_health_probe -addr 127.0.0.1:50051 -service work
//! kill -TERM %1; wait %1
//! ```

use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use steward_core::health::Check;
use steward_core::probes::Phase;
use steward_tokio::App;
use steward_tonic::HealthService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;

/// The errors startup may return: any, boxed.
type StartupError = Box<dyn Error + Send + Sync>;

struct Options {
    grpc_addr: SocketAddr,
    probe_addr: Option<SocketAddr>,
    fail_file: Option<PathBuf>,
    pre_stop: Option<Duration>,
    grace: Option<Duration>,
}

const USAGE: &str = "usage: service-grpc [--grpc-addr ADDR] [--probe-addr ADDR] \
    [--fail-file PATH] [--pre-stop-ms N] [--grace-ms N]";

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        grpc_addr: ([127, 0, 0, 1], 50051).into(),
        probe_addr: None,
        fail_file: None,
        pre_stop: None,
        grace: None,
    };
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(String::new());
        }
        let value = args
            .next()
            .ok_or_else(|| format!("{flag}: a value is needed"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        let millis = |v: &str| v.parse().map(Duration::from_millis).map_err(|e| bad(&e));
        match flag.as_str() {
            "--grpc-addr" => options.grpc_addr = value.parse().map_err(|e| bad(&e))?,
            "--probe-addr" => options.probe_addr = Some(value.parse().map_err(|e| bad(&e))?),
            "--fail-file" => options.fail_file = Some(PathBuf::from(&value)),
            "--pre-stop-ms" => options.pre_stop = Some(millis(&value)?),
            "--grace-ms" => options.grace = Some(millis(&value)?),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(why) if why.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("service-grpc: {why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut app = App::new();
    if let Some(addr) = options.probe_addr {
        app = app.probe_addr(addr);
    }
    if let Some(delay) = options.pre_stop {
        app = app.pre_stop(delay);
    }
    if let Some(budget) = options.grace {
        app = app.grace(budget);
    }

    app.run(|cx| async move {
        // A readiness check: `work` fails while the fail file exists.
        let fail_file = options.fail_file.clone();
        let work = move || {
            let failing = fail_file.as_ref().is_some_and(|f| f.exists());
            async move {
                if failing {
                    Err("the fail file exists")
                } else {
                    Ok(())
                }
            }
        };
        let every = Duration::from_millis(100);
        cx.health()
            .register(Check::new("work", work).ready().every(every))?;

        // The gRPC server: bound during startup (a bind failure fails it),
        // run as a task. Its stop signal ends the `Watch` streams and the
        // server; by then the trigger has already turned every service
        // NOT_SERVING, and the pre-stop delay has let clients see it.
        let incoming = TcpIncoming::bind(options.grpc_addr)?;
        let bound = incoming.local_addr()?;
        let health = HealthService::new(cx.probes().clone()).interval(every);
        cx.tasks().start("grpc", move |stop| async move {
            let health = health.close_on(stop.clone()).into_server();
            Server::builder()
                .add_service(health)
                .serve_with_incoming_shutdown(incoming, stop.triggered_owned())
                .await
        })?;

        let probes = cx.probes().clone();
        cx.runtime().spawn(async move {
            // Printed once ready (not when the service drains first).
            if probes.phase_changed(Phase::Starting).await == Phase::Running {
                println!("grpc health on {bound}");
            }
        });
        Ok::<_, StartupError>(())
    })
}
