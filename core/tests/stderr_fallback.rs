//! With no `tracing` subscriber, `Lifecycle::run` still puts the service's
//! warnings and errors on stderr, and the report exactly once, whatever the
//! exit code.
//!
//! Each case runs in a child process (this test binary again, one test
//! selected), because the fallback is a process-wide global subscriber:
//! the parent reads the child's stderr.

#![cfg(feature = "test-util")]

use std::future::Future;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use steward_core::app::{Lifecycle, Platform};
use steward_core::http::Endpoints;
use steward_core::signal::SignalHandler;
use steward_core::testing::TestRuntime;
use steward_core::{Reason, RuntimeHandle, Shutdown};

/// The child's marker: set, the `child_*` tests run a service; unset, they
/// return at once (so that a plain `cargo test` passes them).
const CHILD: &str = "STEWARD_STDERR_FALLBACK_CHILD";

/// The virtual-time runtime as a platform: no OS signals, no probe server.
struct Virtual(TestRuntime);

impl Platform for Virtual {
    fn new() -> std::io::Result<Self> {
        Ok(Self(TestRuntime::new()))
    }
    fn runtime(&self) -> RuntimeHandle {
        self.0.handle()
    }
    fn install_signals(&self, shutdown: &Shutdown) -> std::io::Result<SignalHandler> {
        Ok(SignalHandler::new(shutdown))
    }
    fn serve_probes(
        &self,
        _: SocketAddr,
        _: Endpoints,
        _: Shutdown,
    ) -> std::io::Result<SocketAddr> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0.block_on(future)
    }
}

/// Runs the `child_*` test `name` in a new process; returns its exit code
/// and stderr.
fn child(name: &str) -> (Option<i32>, String) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn child_clean() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let code = Lifecycle::<Virtual>::new()
        .signals(false)
        .run(|cx| async move {
            cx.tasks()
                .start("worker", |stop| async move { stop.triggered().await })?;
            cx.shutdown().trigger(Reason::Requested);
            Ok::<_, steward_core::StartError>(())
        });
    std::process::exit(if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    });
}

#[test]
fn child_failing() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let code = Lifecycle::<Virtual>::new()
        .signals(false)
        .run(|cx| async move {
            cx.tasks().start("consumer", |_stop| async {
                Err::<(), _>(std::io::Error::other("connection refused"))
            })?;
            cx.runtime().sleep(Duration::from_secs(1)).await;
            cx.shutdown().trigger(Reason::Requested);
            Ok::<_, steward_core::StartError>(())
        });
    std::process::exit(if code == std::process::ExitCode::SUCCESS {
        0
    } else {
        1
    });
}

#[test]
fn a_clean_run_prints_the_report_once_and_no_info_lines() {
    let (code, stderr) = child("child_clean");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr.matches("worker: stopped").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("exit code 0").count(), 1, "{stderr}");
    assert!(
        !stderr.contains("INFO"),
        "INFO events are not shown: {stderr}"
    );
}

#[test]
fn a_failed_task_reaches_stderr_and_the_report_is_printed_once() {
    let (code, stderr) = child("child_failing");
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("ERROR steward_core::tasks::registry: task failed task=consumer error=connection refused"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("exit code 1").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("consumer: failed").count(), 1, "{stderr}");
}
