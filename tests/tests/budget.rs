//! One budget and a truthful exit code, under faults, in real processes: the
//! `faults` test binary (`tests/src/bin/faults.rs`) on each adapter, sent a
//! real SIGTERM.
//!
//! For each scenario: the wall time from the signal to the exit (printed, and
//! at most `grace + EXIT_SLACK`), the exit code, and what the report names.
//! Every wait has a deadline (see [`steward_tests::process`]).

#![cfg(unix)]

use std::process::Command;
use std::time::{Duration, Instant};

use steward_core::app::EXIT_SLACK;
use steward_tests::process::{cargo_bin, Exit, Process};

/// Starts `faults` and waits for `ready_line`.
fn start(runtime: &str, scenario: &str, grace: Duration, ready_line: &str) -> Process {
    let mut faults = Process::start(Command::new(cargo_bin("steward-tests", "faults")).args([
        "--runtime",
        runtime,
        "--scenario",
        scenario,
        "--grace-ms",
        &grace.as_millis().to_string(),
    ]));
    faults.wait_for_line(ready_line);
    faults
}

/// Sends SIGTERM and waits for the exit: the exit, and the time from the
/// signal to it, checked against the budget and printed.
fn terminate(mut process: Process, what: &str, grace: Duration) -> (Exit, Duration) {
    // The clock is read before the signal is sent (sending it runs `kill`,
    // which takes a while): `took` is never shorter than what the service
    // saw, so a lower bound on it holds (an upper bound only gets stricter).
    let sent = Instant::now();
    process.signal("TERM");
    let exit = process.wait_exit();
    let took = sent.elapsed();
    println!(
        "{what}: SIGTERM to exit {took:?} (grace {grace:?}), exit code {:?}",
        exit.status.code()
    );
    assert!(
        took <= grace + EXIT_SLACK,
        "{what}: exited {took:?} after SIGTERM, past {grace:?} + {EXIT_SLACK:?}\n{exit:?}"
    );
    (exit, took)
}

fn report(exit: &Exit) -> String {
    exit.stderr.join("\n")
}

/// (a) A task blocks its worker thread for 20 s in its stop path.
fn blocking_stop(runtime: &str) {
    let grace = Duration::from_secs(2);
    let faults = start(runtime, "blocking-stop", grace, "ready");
    let (exit, _) = terminate(faults, &format!("(a) blocking stop on {runtime}"), grace);
    let report = report(&exit);
    assert_eq!(exit.status.code(), Some(1), "{report}");
    assert!(report.contains("blocker: abandoned"), "{report}");
    assert!(!report.contains("blocker: stopped"), "{report}");
}

/// A `Tasks::start_blocking` closure that blocks 20 s under a 2 s grace: it
/// cannot be aborted, so it is abandoned at the deadline, named, exit 1.
fn blocking_job(runtime: &str) {
    let grace = Duration::from_secs(2);
    let faults = start(runtime, "blocking-job", grace, "ready");
    let (exit, _) = terminate(faults, &format!("blocking job on {runtime}"), grace);
    let report = report(&exit);
    assert_eq!(exit.status.code(), Some(1), "{report}");
    assert!(report.contains("exporter: abandoned"), "{report}");
}

/// (c) A guard released 1 s after the trigger: waited for, exit 0.
fn guard_released(runtime: &str) {
    let grace = Duration::from_secs(3);
    let faults = start(runtime, "guard-released", grace, "ready");
    let (exit, took) = terminate(
        faults,
        &format!("(c) guard released after 1 s on {runtime}"),
        grace,
    );
    let report = report(&exit);
    assert_eq!(exit.status.code(), Some(0), "{report}");
    assert!(
        took >= Duration::from_secs(1),
        "the guard was not waited for: {took:?}\n{report}"
    );
}

/// (c) A guard never released: given up at the budget, named, exit 1.
fn guard_held(runtime: &str) {
    let grace = Duration::from_secs(2);
    let faults = start(runtime, "guard-held", grace, "ready");
    let (exit, _) = terminate(
        faults,
        &format!("(c) guard never released on {runtime}"),
        grace,
    );
    let report = report(&exit);
    assert_eq!(exit.status.code(), Some(1), "{report}");
    assert!(report.contains("guards still held"), "{report}");
    assert!(
        report.contains("faults.rs:"),
        "the holder's location: {report}"
    );
}

/// (d) SIGTERM at 20 moments spread over a 3 s startup step: exit 0 every time.
fn signal_during_startup(runtime: &str) {
    let grace = Duration::from_secs(2);
    let mut times = Vec::new();
    for i in 0..20_u64 {
        // Spread over the 3 s step: 0, 150, ..., 2850 ms, shuffled by a stride.
        let at = Duration::from_millis((i * 7 % 20) * 150);
        let faults = start(runtime, "slow-startup", grace, "starting");
        std::thread::sleep(at); // the moment of the signal is the point here
        let (exit, took) = terminate(
            faults,
            &format!("(d) SIGTERM {at:?} into startup on {runtime}"),
            grace,
        );
        let report = report(&exit);
        assert_eq!(
            exit.status.code(),
            Some(0),
            "signal {at:?} into startup:\n{report}"
        );
        assert!(report.contains("startup: interrupted"), "{report}");
        times.push(took);
    }
    println!(
        "(d) on {runtime}: slowest exit {:?}",
        times.iter().max().unwrap()
    );
}

/// (e) SIGTERM during a 5 s restart backoff: a stop, exit 0.
fn signal_during_backoff(runtime: &str) {
    let grace = Duration::from_secs(2);
    // Signals are installed before the body runs: once the task has failed,
    // it waits out its backoff.
    let faults = start(runtime, "backoff", grace, "flaky failed");
    let (exit, took) = terminate(
        faults,
        &format!("(e) SIGTERM during backoff on {runtime}"),
        grace,
    );
    let report = report(&exit);
    assert_eq!(exit.status.code(), Some(0), "{report}");
    assert!(report.contains("flaky: stopped"), "{report}");
    assert!(
        took < Duration::from_secs(5),
        "waited out the backoff: {took:?}"
    );
}

/// (f) Two Apps one after the other in one process: the second drains on its
/// first signal, and no thread is left per run.
fn two_apps(runtime: &str) {
    let grace = Duration::from_secs(2);
    let mut faults = start(runtime, "two-apps", grace, "ready 1");
    let sent = Instant::now();
    faults.signal("TERM");
    let after_first = faults.expect_line("threads after run 1: ");
    println!(
        "(f) first App on {runtime}: SIGTERM to its end {:?}",
        sent.elapsed()
    );
    faults.expect_line("ready 2");
    let sent = Instant::now();
    faults.signal("TERM");
    let after_second = faults.expect_line("threads after run 2: ");
    let exit = faults.wait_exit();
    let took = sent.elapsed();
    println!(
        "(f) second App on {runtime}: SIGTERM to exit {took:?}, exit code {:?}",
        exit.status.code()
    );
    let report = report(&exit);
    assert_eq!(exit.status.code(), Some(0), "{report}");
    assert!(took <= grace + EXIT_SLACK, "{took:?}");
    let count = |line: &str| line.rsplit(' ').next().unwrap().parse::<usize>().unwrap();
    assert_eq!(
        count(&after_first),
        count(&after_second),
        "a thread leaked per run"
    );
}

/// (g) A deaf task next to a resource whose stop takes 500 ms: the teardown
/// keeps its reserve, the journal stops cleanly, the deaf task is aborted.
fn deaf_and_slow_resource(runtime: &str) {
    let grace = Duration::from_secs(3); // a fifth, 600 ms, is kept for the teardown
    let faults = start(runtime, "deaf-and-slow-resource", grace, "ready");
    let (exit, _) = terminate(
        faults,
        &format!("(g) deaf task and a 500 ms stop on {runtime}"),
        grace,
    );
    let report = report(&exit);
    assert_eq!(exit.status.code(), Some(1), "{report}");
    assert!(report.contains("deaf: aborted"), "{report}");
    assert!(report.contains("journal: stopped in"), "{report}");
}

/// A resource's stop blocks the thread that runs the sequence for 20 s: no
/// deadline of the sequence can fire, so the watchdog ends the process.
fn blocking_teardown(runtime: &str) {
    let grace = Duration::from_secs(2);
    let faults = start(runtime, "blocking-teardown", grace, "ready");
    let what = format!("blocking teardown on {runtime}");
    let (exit, _) = terminate(faults, &what, grace);
    let report = report(&exit);
    assert_eq!(exit.status.code(), Some(1), "{report}");
    assert!(report.contains("overran its budget"), "{report}");
    assert!(report.contains("tearing the resources down"), "{report}");
}

/// One `#[test]` per scenario and adapter, so a failure names both.
macro_rules! on_each_adapter {
    ($($scenario:ident),* $(,)?) => {
        mod smol {
            $(#[test] fn $scenario() { super::$scenario("smol") })*
        }
        mod tokio {
            $(#[test] fn $scenario() { super::$scenario("tokio") })*
        }
    };
}

on_each_adapter!(
    blocking_stop,
    blocking_job,
    guard_released,
    guard_held,
    signal_during_startup,
    signal_during_backoff,
    two_apps,
    deaf_and_slow_resource,
    blocking_teardown,
);

/// (b) An outstanding `spawn_blocking` on tokio, and a task awaiting one in
/// its stop path.
#[test]
fn spawn_blocking_on_tokio() {
    let grace = Duration::from_secs(2);
    let faults = start("tokio", "spawn-blocking", grace, "ready");
    let (exit, _) = terminate(faults, "(b) outstanding spawn_blocking on tokio", grace);
    let report = report(&exit);
    assert_eq!(exit.status.code(), Some(1), "{report}");
    assert!(report.contains("offloader: aborted"), "{report}");
    assert!(report.contains("runtime: threads still busy"), "{report}");
}
