//! hello: the smallest steward program.
//!
//! One worker runs until SIGTERM or SIGINT (Ctrl-C); asked to stop, it
//! finishes the job in hand (`--drain-ms` of simulated work), then the
//! program prints its shutdown report on stderr and exits with 0. A second
//! signal during the drain exits at once with 128 + n (143 for SIGTERM, 130
//! for SIGINT).
//!
//! ```text
//! cargo run -p steward-examples --bin hello -- --runtime tokio --drain-ms 3000
//! ```
//!
//! Output: `ready` once startup is done (the signal handlers are installed
//! before the body runs), `stopping: <reason>` when the worker is asked to
//! stop, `drained in <time> after <reason>` when it has finished.

use std::process::ExitCode;
use std::time::Duration;

use steward_core::{Context, StartError};

/// The service, runtime-neutral: its startup starts the worker and returns.
async fn hello(cx: Context, drain: Duration) -> Result<(), StartError> {
    let (rt, service) = (cx.runtime().clone(), cx.shutdown().clone());
    cx.tasks().start("worker", move |stop| async move {
        stop.triggered().await; // a real worker would take jobs until then
        let reason = service.reason().map(|r| r.to_string()).unwrap_or_default();
        println!("stopping: {reason}");
        let started = rt.now();
        rt.sleep(drain).await; // the job in hand
        println!("drained in {:?} after {reason}", rt.now() - started);
    })?;
    println!("ready");
    Ok(())
}

fn main() -> ExitCode {
    let (runtime, drain) = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}\nusage: hello [--runtime smol|tokio] [--drain-ms N]");
            return ExitCode::from(2);
        }
    };
    if runtime == "tokio" {
        steward_tokio::App::new().run(|cx| hello(cx, drain))
    } else {
        steward_smol::App::new().run(|cx| hello(cx, drain))
    }
}

/// `--runtime smol|tokio` (default smol), `--drain-ms N` (default 100).
fn parse(mut args: impl Iterator<Item = String>) -> Result<(String, Duration), String> {
    let (mut runtime, mut drain) = ("smol".to_owned(), Duration::from_millis(100));
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            println!("usage: hello [--runtime smol|tokio] [--drain-ms N]");
            std::process::exit(0);
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--runtime" if value == "smol" || value == "tokio" => runtime = value,
            "--drain-ms" => {
                let ms = value
                    .parse()
                    .map_err(|e| format!("--drain-ms {value}: {e}"))?;
                drain = Duration::from_millis(ms);
            }
            _ => return Err(format!("unexpected `{flag} {value}`")),
        }
    }
    Ok((runtime, drain))
}
