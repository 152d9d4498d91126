//! Signals, end to end: the `hello` example, on each adapter, sent real
//! signals with `kill`.
//!
//! Each test waits for the lines the program prints (`ready`, `stopping: ...`)
//! instead of sleeping, and every wait has a generous deadline, so that a bug
//! fails a test rather than hanging it (see [`steward_tests::process`]). A
//! child is killed if its test fails.

#![cfg(unix)]

use std::process::Command;
use std::time::{Duration, Instant};

use steward_tests::process::{cargo_bin, Process};

/// Starts `hello` and waits until it says it is ready (signals installed).
fn start_hello(runtime: &str, drain_ms: u64) -> Process {
    let mut hello = Process::start(Command::new(cargo_bin("steward-examples", "hello")).args([
        "--runtime",
        runtime,
        "--drain-ms",
        &drain_ms.to_string(),
    ]));
    hello.expect_line("ready");
    hello
}

/// One signal: the program drains (for its whole drain time) and exits 0
/// after printing its report.
fn one_signal_drains_and_exits_0(runtime: &str, signal: &str, signo: i32) {
    let drain = Duration::from_millis(300);
    let mut hello = start_hello(runtime, drain.as_millis() as u64);
    let sent = Instant::now();
    hello.signal(signal);
    let stopping = hello.expect_line("stopping: ");
    assert!(
        stopping.contains(&format!("signal {signo} (SIG{signal})")),
        "{stopping}"
    );
    let exit = hello.wait_exit();
    let took = sent.elapsed();
    let (rest, status) = (exit.stdout, exit.status);
    assert_eq!(status.code(), Some(0), "{status}; printed {rest:?}");
    assert_eq!(rest.len(), 1, "one report line: {rest:?}");
    assert!(rest[0].starts_with("drained in "), "{rest:?}");
    assert!(rest[0].ends_with(&format!("(SIG{signal})")), "{rest:?}");
    assert!(
        took >= drain,
        "exited after {took:?}, before the {drain:?} drain"
    );
}

/// A second signal during a drain far longer than the deadline: the program
/// exits at once with 128 + n and prints no report.
fn second_signal_forces_the_exit(runtime: &str, signal: &str, code: i32) {
    let mut hello = start_hello(runtime, 60_000);
    hello.signal(signal);
    hello.expect_line("stopping: "); // the first one was handled: now draining
    hello.signal(signal);
    let exit = hello.wait_exit();
    let (rest, status) = (exit.stdout, exit.status);
    assert_eq!(status.code(), Some(code), "{status}; printed {rest:?}");
    assert!(rest.is_empty(), "no report after a forced exit: {rest:?}");
}

fn sigterm_drains_and_exits_0(runtime: &str) {
    one_signal_drains_and_exits_0(runtime, "TERM", 15);
}

fn sigint_drains_and_exits_0(runtime: &str) {
    one_signal_drains_and_exits_0(runtime, "INT", 2);
}

fn second_sigterm_exits_143(runtime: &str) {
    second_signal_forces_the_exit(runtime, "TERM", 143);
}

fn second_sigint_exits_130(runtime: &str) {
    second_signal_forces_the_exit(runtime, "INT", 130);
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
    sigterm_drains_and_exits_0,
    sigint_drains_and_exits_0,
    second_sigterm_exits_143,
    second_sigint_exits_130,
);
