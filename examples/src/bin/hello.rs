//! hello: the smallest steward program.
//!
//! It prints `ready`, waits for SIGTERM or SIGINT (Ctrl-C), then drains: a
//! worker finishes the job in hand (`--drain-ms` of simulated work) and the
//! program exits with 0. A second signal during the drain exits at once with
//! 128 + n (143 for SIGTERM, 130 for SIGINT).
//!
//! ```text
//! cargo run -p steward-examples --bin hello -- --runtime tokio --drain-ms 3000
//! ```

use std::error::Error;
use std::time::Duration;

use steward::runtime::RuntimeHandle;
use steward::Shutdown;

/// The service, runtime-neutral: one worker that keeps the shutdown from
/// draining until it has finished the job in hand.
async fn hello(rt: RuntimeHandle, shutdown: Shutdown, drain: Duration) {
    let guard = shutdown.guard();
    let (worker_rt, stop) = (rt.clone(), shutdown.clone());
    rt.spawn(async move {
        stop.triggered().await;
        worker_rt.sleep(drain).await; // finishing the job in hand
        drop(guard);
    });

    println!("ready");
    shutdown.triggered().await;
    let reason = shutdown.reason().map(|r| r.to_string()).unwrap_or_default();
    println!("stopping: {reason}");
    let started = rt.now();
    shutdown.drained().await;
    println!("drained in {:?} after {reason}", rt.now() - started);
}

fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let options = Options::parse(std::env::args().skip(1))?;
    let shutdown = Shutdown::new();

    // Install the signal handlers before saying "ready".
    match options.runtime.as_str() {
        "smol" => {
            steward_smol::signal::install(&shutdown)?;
            let rt = steward_smol::SmolRuntime::global().handle();
            smol::block_on(hello(rt, shutdown, options.drain));
        }
        _ => {
            steward_tokio::signal::install(&shutdown)?;
            let tokio = tokio::runtime::Runtime::new()?;
            let rt = steward_tokio::TokioRuntime::new(tokio.handle().clone()).handle();
            tokio.block_on(hello(rt, shutdown, options.drain));
        }
    }
    Ok(())
}

/// `hello [--runtime smol|tokio] [--drain-ms N]`
struct Options {
    runtime: String,
    drain: Duration,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Options {
            runtime: "smol".into(),
            drain: Duration::from_millis(100),
        };
        while let Some(flag) = args.next() {
            let value = args.next().ok_or(format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--runtime" if value == "smol" || value == "tokio" => options.runtime = value,
                "--drain-ms" => {
                    let ms = value
                        .parse()
                        .map_err(|e| format!("--drain-ms {value}: {e}"))?;
                    options.drain = Duration::from_millis(ms);
                }
                _ => return Err(format!("unexpected `{flag} {value}`; usage: {USAGE}")),
            }
        }
        Ok(options)
    }
}

const USAGE: &str = "hello [--runtime smol|tokio] [--drain-ms N]";
