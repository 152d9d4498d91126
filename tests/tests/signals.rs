//! Signals, end to end: the `hello` example, on each adapter, sent real
//! signals with `kill`.
//!
//! Each test waits for the lines the program prints (`ready`, `stopping: ...`)
//! instead of sleeping, and every wait has a generous deadline, so that a bug
//! fails a test rather than hanging it. A child is killed if its test fails.

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The longest any one step may take (start, a line, an exit) before the
/// test fails. Far above what a step takes, far below a 60 s drain.
const DEADLINE: Duration = Duration::from_secs(30);

/// Builds `hello` once per test run, into the target dir of this test binary.
fn hello_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        // This test is `<target>/<profile dir>/deps/signals-<hash>`.
        let exe = std::env::current_exe().expect("the test's own path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("<target>/<profile>");
        let target_dir = profile_dir.parent().expect("<target>");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(other) => other,
            None => panic!("no profile directory in {}", exe.display()),
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "-p", "steward-examples", "--bin", "hello"])
            .args(["--profile", profile, "--target-dir"])
            .arg(target_dir)
            .status()
            .expect("running cargo");
        assert!(status.success(), "cargo build of `hello` failed: {status}");
        let binary = profile_dir.join(format!("hello{}", std::env::consts::EXE_SUFFIX));
        assert!(binary.exists(), "no {} after the build", binary.display());
        binary
    })
}

/// A running `hello`, its stdout read line by line on a thread.
struct Hello {
    child: Child,
    lines: Receiver<String>,
    stderr: Option<JoinHandle<String>>,
}

impl Hello {
    /// Starts `hello` and waits until it says it is ready (signals installed).
    fn start(runtime: &str, drain_ms: u64) -> Hello {
        let mut child = Command::new(hello_binary())
            .args(["--runtime", runtime, "--drain-ms", &drain_ms.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting hello");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            // Ends, dropping `send`, when the child closes its stdout by exiting.
            for line in stdout.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let mut hello = Hello {
            child,
            lines,
            stderr: Some(stderr),
        };
        hello.expect_line("ready");
        hello
    }

    /// Waits for the next line of stdout, and checks how it starts.
    fn expect_line(&mut self, start: &str) -> String {
        match self.lines.recv_timeout(DEADLINE) {
            Ok(line) if line.starts_with(start) => line,
            Ok(line) => panic!("expected a line starting with `{start}`, got `{line}`"),
            Err(err) => panic!(
                "no `{start}` line ({err}); stderr:\n{}",
                self.kill_and_read_stderr()
            ),
        }
    }

    /// Sends `signal` (a name as `kill -s` takes it) to the child.
    fn kill(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -s {signal} failed: {status}");
    }

    /// Waits for the child to exit: its remaining stdout lines and its status.
    fn exit(&mut self) -> (Vec<String>, ExitStatus) {
        let deadline = Instant::now() + DEADLINE;
        let mut rest = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("still running after {DEADLINE:?}; printed {rest:?}")
                }
            }
        }
        // Its stdout is closed: the child has exited or is exiting now.
        let status = self.child.wait().expect("waiting for hello");
        (rest, status)
    }

    /// Kills the child and returns what it wrote to stderr (for a failure message).
    fn kill_and_read_stderr(&mut self) -> String {
        let _ = self.child.kill();
        match self.stderr.take().map(JoinHandle::join) {
            Some(Ok(text)) => text,
            _ => String::new(),
        }
    }
}

impl Drop for Hello {
    fn drop(&mut self) {
        // A failed test leaves no process behind; after a clean exit this is a no-op.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One signal: the program drains (for its whole drain time) and exits 0
/// after printing its report.
fn one_signal_drains_and_exits_0(runtime: &str, signal: &str, signo: i32) {
    let drain = Duration::from_millis(300);
    let mut hello = Hello::start(runtime, drain.as_millis() as u64);
    let sent = Instant::now();
    hello.kill(signal);
    let stopping = hello.expect_line("stopping: ");
    assert!(
        stopping.contains(&format!("signal {signo} (SIG{signal})")),
        "{stopping}"
    );
    let (rest, status) = hello.exit();
    let took = sent.elapsed();
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
    let mut hello = Hello::start(runtime, 60_000);
    hello.kill(signal);
    hello.expect_line("stopping: "); // the first one was handled: now draining
    hello.kill(signal);
    let (rest, status) = hello.exit();
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
