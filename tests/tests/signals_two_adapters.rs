//! Both adapters in one process (a library on tokio inside a smol service,
//! or the reverse): one signal listener for the process, so one SIGTERM is
//! delivered once. Two listeners would each deliver it, and the second
//! delivery would force the exit with 143 (see `src/bin/two_adapters.rs`).

#![cfg(unix)]

use std::process::Command;

use steward_tests::process::{cargo_bin, Process};

fn one_sigterm_is_delivered_once(first: &str) {
    let mut both = Process::start(
        Command::new(cargo_bin("steward-tests", "two_adapters")).args(["--first", first]),
    );
    both.expect_line("ready");
    both.signal("TERM");
    let stopping = both.expect_line("stopping: ");
    assert!(stopping.contains("signal 15 (SIGTERM)"), "{stopping}");
    let exit = both.wait_exit();
    assert_eq!(exit.status.code(), Some(0), "{exit:?}");
    assert_eq!(exit.stdout.len(), 1, "{exit:?}");
    let routed = &exit.stdout[0];
    assert!(routed.starts_with("routed: "), "{routed}");
    assert!(routed.contains("received: 1,"), "delivered once: {routed}");
    assert!(routed.contains("exit_code: None"), "{routed}");
}

/// The one listener still applies the whole rule: a second signal during
/// the drain forces the exit with 128 + n.
fn a_second_signal_still_forces(first: &str) {
    let mut both = Process::start(
        Command::new(cargo_bin("steward-tests", "two_adapters")).args(["--first", first, "--hold"]),
    );
    both.expect_line("ready");
    both.signal("TERM");
    both.expect_line("stopping: ");
    both.signal("INT");
    let exit = both.wait_exit();
    assert_eq!(exit.status.code(), Some(130), "{exit:?}");
    assert!(exit.stdout.is_empty(), "{exit:?}");
}

#[test]
fn smol_then_tokio() {
    one_sigterm_is_delivered_once("smol");
}

#[test]
fn tokio_then_smol() {
    one_sigterm_is_delivered_once("tokio");
}

#[test]
fn smol_then_tokio_second_signal_forces() {
    a_second_signal_still_forces("smol");
}

#[test]
fn tokio_then_smol_second_signal_forces() {
    a_second_signal_still_forces("tokio");
}
