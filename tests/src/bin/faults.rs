//! A service that meets one fault, for the process-level tests of
//! `tests/tests/budget.rs`: each scenario is what an operator's service can
//! do to the one budget from SIGTERM to exit.
//!
//! `faults --runtime smol|tokio --scenario NAME [--grace-ms N]`
//!
//! It prints `ready` (stdout) once it waits for a signal (`starting` for the
//! scenario whose startup is interrupted), and its report on stderr.
//!
//! Scenarios:
//! - `blocking-stop`: task `blocker` blocks its worker thread for 20 s on its stop signal.
//! - `spawn-blocking`: (tokio) task `offloader` awaits 20 s of `spawn_blocking` on its
//!   stop signal, and 20 s more of blocking work is outstanding, owned by nobody.
//! - `blocking-job`: `Tasks::start_blocking` task `exporter`, a synchronous
//!   closure that blocks its thread for 20 s and ignores its stop.
//! - `guard-released`: a guard released 1 s after the trigger.
//! - `guard-held`: a guard never released.
//! - `slow-startup`: a lifespan step `warmup` that takes 3 s to start.
//! - `backoff`: supervised task `flaky` fails at once, then waits a 5 s backoff.
//! - `two-apps`: two Apps one after the other in this process; each prints
//!   `ready N` and the number of this process's threads after it ended.
//! - `deaf-and-slow-resource`: task `deaf` ignores its stop; resource
//!   `journal`'s stop takes 500 ms.
//! - `blocking-teardown`: resource `journal`'s stop blocks its thread for
//!   20 s (a synchronous flush): the last resort, the watchdog, ends it.

use std::process::ExitCode;
use std::time::Duration;

use steward_core::app::{Lifecycle, Platform};
use steward_core::{Context, Restart};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut runtime, mut scenario, mut grace) = (String::new(), String::new(), 2_000);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--runtime" => runtime = value,
            "--scenario" => scenario = value,
            "--grace-ms" => grace = value.parse().expect("--grace-ms N"),
            other => panic!("unknown flag {other}"),
        }
    }
    let grace = Duration::from_millis(grace);
    match runtime.as_str() {
        "smol" => run::<steward_smol::Smol>(&scenario, grace),
        "tokio" => run::<steward_tokio::Tokio>(&scenario, grace),
        other => panic!("--runtime smol|tokio, not {other:?}"),
    }
}

fn run<P: Platform>(scenario: &str, grace: Duration) -> ExitCode {
    if scenario == "two-apps" {
        for n in 1..=2 {
            let code = Lifecycle::<P>::new()
                .grace(grace)
                .run(move |cx| async move {
                    println!("ready {n}");
                    let _ = cx;
                    Ok::<_, BoxError>(())
                });
            println!("threads after run {n}: {}", threads());
            if code != ExitCode::SUCCESS {
                return code;
            }
        }
        return ExitCode::SUCCESS;
    }
    let scenario = scenario.to_owned();
    Lifecycle::<P>::new()
        .grace(grace)
        .run(move |cx| async move { body(&scenario, cx).await })
}

async fn body(scenario: &str, cx: Context) -> Result<(), BoxError> {
    match scenario {
        "blocking-stop" => {
            cx.tasks().start("blocker", |stop| async move {
                stop.triggered().await;
                std::thread::sleep(Duration::from_secs(20)); // a blocking flush
            })?;
        }
        "spawn-blocking" => {
            // Outstanding blocking work that nobody awaits.
            tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_secs(20)));
            cx.tasks().start("offloader", |stop| async move {
                stop.triggered().await;
                let flush =
                    tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_secs(20)));
                let _ = flush.await;
            })?;
        }
        "blocking-job" => {
            cx.tasks().start_blocking("exporter", |_stop| {
                std::thread::sleep(Duration::from_secs(20)); // deaf synchronous work
            })?;
        }
        "guard-released" => {
            let guard = cx.shutdown().guard();
            let (shutdown, rt) = (cx.shutdown().clone(), cx.runtime().clone());
            cx.runtime().spawn(async move {
                shutdown.triggered().await;
                rt.sleep(Duration::from_secs(1)).await;
                drop(guard);
            });
        }
        "guard-held" => {
            let guard = cx.shutdown().guard();
            cx.runtime().spawn(async move {
                let _guard = guard;
                futures_lite::future::pending::<()>().await;
            });
        }
        "slow-startup" => {
            println!("starting");
            let rt = cx.runtime().clone();
            let warmup = async move {
                rt.sleep(Duration::from_secs(3)).await;
                Ok::<_, BoxError>(())
            };
            cx.lifespan().start("warmup", warmup, |()| async {}).await?;
        }
        "backoff" => {
            let policy = Restart::on_failure()
                .backoff(Duration::from_secs(5), Duration::from_secs(5))
                .jitter(0.0);
            cx.tasks().supervise("flaky", policy, |_stop| async {
                println!("flaky failed");
                Err::<(), _>("connection refused")
            })?;
        }
        "deaf-and-slow-resource" => {
            let rt = cx.runtime().clone();
            cx.lifespan()
                .start(
                    "journal",
                    async { Ok::<_, BoxError>(()) },
                    move |()| async move {
                        rt.sleep(Duration::from_millis(500)).await; // the final flush
                    },
                )
                .await?;
            cx.tasks()
                .start("deaf", |_stop| futures_lite::future::pending::<()>())?;
        }
        "blocking-teardown" => {
            cx.lifespan()
                .start("journal", async { Ok::<_, BoxError>(()) }, |()| async {
                    std::thread::sleep(Duration::from_secs(20)); // a synchronous flush
                })
                .await?;
        }
        other => return Err(format!("unknown scenario {other:?}").into()),
    }
    println!("ready");
    Ok(())
}

/// How many threads this process has now (Linux), or 0 where that is not known.
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}
