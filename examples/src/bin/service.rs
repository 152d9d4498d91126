//! service: a small durable job processor on smol, from `main` in one call.
//!
//! ```text
//! service [--listen ADDR] [--probe-addr ADDR] [--data DIR] [--work-ms N]
//!         [--workers N] [--pre-stop-ms N] [--grace-ms N] [--queue N]
//!         [--max-connections N] [--idle-ms N] [--compact-after N] [--stuck-ms N]
//! ```
//!
//! Clients send one job a line to `--listen` (default `127.0.0.1:7070`); each
//! gets `ok <id>` once it is fsynced in `DIR/journal.log`. Workers do the
//! jobs (`--work-ms` of simulated work each) and record each in
//! `DIR/done.log` as `<id> <payload>`. Probes on `--probe-addr` (default
//! `127.0.0.1:8080`): `journal-disk`, `journal` and `queue` (ready),
//! `journal-progress`, `runtime` and `tasks` (live). The limits (a bounded
//! queue, connections, idle clients, compaction, a full disk) are those of
//! `steward_examples::jobs`; a second instance on the same `DIR` exits 1.
//!
//! On SIGTERM: readiness fails at once, the pre-stop delay passes, the
//! listener stops, each worker finishes the job in hand, the journal is
//! closed, the report printed, exit 0. The jobs still queued are resumed at
//! the next start: none lost, none done twice.
//!
//! ```text
//! cargo build -p steward-examples --bin service
//! ./target/debug/service &                       # job %1 of this shell
//! exec 3<>/dev/tcp/127.0.0.1/7070; printf 'resize photo 1\nresize photo 2\n' >&3
//! head -n 2 <&3; exec 3>&-                       # ok 1, ok 2
//! curl -i 'localhost:8080/readyz?verbose'
//! curl localhost:8080/metrics
//! kill -TERM %1; wait %1
//! ```
//!
//! `STEWARD_GRACE`, `STEWARD_PRE_STOP`, `STEWARD_PROBE_ADDR` and
//! `STEWARD_SHOW_ERRORS` override the flags (see `steward_core::app::env`);
//! `/health` names the service from this package's `Cargo.toml`.
//!
//! The job logic is runtime-neutral, in `steward_examples::jobs`; this file
//! adds what is smol's: the TCP listener and the `App`.

use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use smol::net::TcpListener;
use steward_examples::jobs::{self, Jobs, Options, UsageError};
use steward_smol::App;

/// The errors startup may return: any, boxed.
type StartupError = Box<dyn Error + Send + Sync>;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok((options, rest)) if rest.is_empty() => options,
        Ok((_, rest)) => return usage(&UsageError::Invalid(format!("unknown flag {}", rest[0].0))),
        Err(e) => return usage(&e),
    };
    // steward's metrics (and any of the service's own) in Prometheus' text
    // format at `/metrics` on the probe port.
    let prometheus = match PrometheusBuilder::new().install_recorder() {
        Ok(handle) => handle,
        Err(e) => {
            eprintln!("service: metrics: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = App::from(options.configure(App::new().into()))
        .probe_addr(options.probe_addr)
        .metrics(move || prometheus.render())
        // `serviceId`, `version`, `releaseId`, `description` in `/health`.
        .service_info(steward_core::service_info!());

    app.run(|cx| async move {
        jobs::register_watchdog(&cx)?;

        // 1. The journal: opened, its pending jobs queued again.
        let jobs = Jobs::open(&cx, &options).await?;
        jobs.register_checks(&cx)?;
        // 2. The workers, and a periodic log of their throughput.
        jobs.start_workers(options.workers, options.work)?;
        jobs.log_throughput(Duration::from_secs(10))?;
        // 3. The listener, last: a client is accepted only once all behind it
        //    runs. A bind failure fails the startup, and the journal is closed.
        //    The accept task owns the socket: it closes when the task stops.
        let listen = async {
            let listener = TcpListener::try_from(jobs::bind(options.listen)?)?;
            let bound = listener.local_addr()?;
            cx.tasks().start("listener", move |stop| async move {
                jobs.serve(stop, || listener.accept()).await;
            })?;
            Ok::<_, StartupError>(bound)
        };
        let bound = cx
            .lifespan()
            .start("listener", listen, |_| async {})
            .await?;

        // The first probes find the checks run already.
        cx.health().refresh().await;
        jobs::announce(&cx, bound);
        Ok::<_, StartupError>(())
    })
}

fn usage(e: &UsageError) -> ExitCode {
    let usage = format!("usage: service {}", Options::USAGE);
    match e {
        UsageError::Help => {
            println!("{usage}");
            ExitCode::SUCCESS
        }
        UsageError::Invalid(why) => {
            eprintln!("service: {why}\n{usage}");
            ExitCode::from(2)
        }
    }
}
