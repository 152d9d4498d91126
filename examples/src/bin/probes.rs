//! probes: the probe endpoints of a service, with a few checks to look at.
//!
//! ```text
//! probes [--probe-addr ADDR] [--fail-file PATH]
//! ```
//!
//! Serves `/livez`, `/readyz`, `/startupz`, `/healthz` and `/health` on
//! `--probe-addr` (default `127.0.0.1:8080`). Its checks:
//!
//! - `flag-file` (critical, ready): fails while the file named by
//!   `--fail-file` exists, so a script flips readiness with `touch` and `rm`;
//! - `runtime` (live): the stall watchdog, failing when the executor is blocked;
//! - `self-tcp` (non-critical, ready): a TCP connect to the probe port itself;
//!   when it fails the service is degraded, still ready.
//!
//! ```text
//! cargo run -p steward-examples --bin probes -- --fail-file /tmp/fail &
//! curl -i 'localhost:8080/readyz?verbose'    # 200, [+]flag-file ok
//! touch /tmp/fail                            # within half a second:
//! curl -i 'localhost:8080/readyz?verbose'    # 503, [-]flag-file failed: reason withheld
//! curl -H 'Accept: application/health+json' localhost:8080/health
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use steward_core::health::{Check, StallWatchdog};
use steward_smol::{App, TcpCheck};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let (probe_addr, fail_file) = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("probes: {e}\nusage: probes [--probe-addr ADDR] [--fail-file PATH]");
            return ExitCode::from(2);
        }
    };
    App::new().probe_addr(probe_addr).run(|cx| async move {
        let health = cx.health();
        let watchdog = StallWatchdog::new(cx.runtime());
        health.register(Check::new("runtime", watchdog).live())?;

        let flag = move || {
            let fail_file = fail_file.clone();
            async move {
                match &fail_file {
                    Some(path) if path.exists() => Err(format!("{} exists", path.display())),
                    _ => Ok(()),
                }
            }
        };
        let every = Duration::from_millis(500);
        health.register(Check::new("flag-file", flag).ready().every(every))?;

        let bound = cx.probe_addr().unwrap_or(probe_addr);
        let self_tcp = TcpCheck::new(bound.to_string());
        health.register(Check::new("self-tcp", self_tcp).critical(false).ready())?;

        println!("probes on http://{bound}");
        Ok::<_, steward_core::health::RegisterError>(())
    })
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<(SocketAddr, Option<PathBuf>), String> {
    let mut probe_addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut fail_file = None;
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("usage: probes [--probe-addr ADDR] [--fail-file PATH]");
            std::process::exit(0);
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--probe-addr" => {
                probe_addr = value
                    .parse()
                    .map_err(|e| format!("--probe-addr {value}: {e}"))?;
            }
            "--fail-file" => fail_file = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok((probe_addr, fail_file))
}
