//! systemd's side of the notification protocol, played against the job
//! services as processes, and the unit file in `deploy/systemd/` checked
//! against the App's budget.
//!
//! - `unit_file_is_consistent_with_the_budget`: `Type=notify`, a watchdog,
//!   `TimeoutStopSec` ≥ the budget of `ExecStart`'s flags (or the App's
//!   default) + 5 s, and `ExecStart`'s flags parse.
//! - `service_notifies_in_order` (smol, a socket path) and
//!   `service_tokio_notifies_in_order` (tokio, an abstract socket name):
//!   the test binds the socket, sets `NOTIFY_SOCKET` and `WATCHDOG_USEC`,
//!   starts the service with the unit file's flags (addresses and data
//!   directory its own), and reads `STATUS=starting` → `READY=1` with
//!   `STATUS=running` → `WATCHDOG=1` pings → (SIGTERM) `STOPPING=1` →
//!   `STATUS=draining ...` with an `EXTEND_TIMEOUT_USEC` that fits in the
//!   unit's `TimeoutStopSec`; then the exit, 0.
//!
//! That a failing live check stops the watchdog pings is shown on virtual
//! time in core (`app::systemd::tests`): the example's live checks cannot
//! be made to fail from outside.

#![cfg(unix)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use steward_core::app::DEFAULT_GRACE;
use steward_examples::jobs::Options;
use steward_tests::process::{cargo_bin, Process};

/// How long a message may take on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(30);

/// The time the App leaves beyond its budget for the report and the exit.
const EXIT_SLACK: Duration = Duration::from_secs(5);

fn unit_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd/steward-service.service")
}

/// `[Service]`'s settings of the unit file, in order (a key may repeat).
fn service_section() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(unit_file()).expect("the unit file");
    let mut section = String::new();
    let mut settings = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if section == "Service" {
            let (key, value) = line.split_once('=').expect("key=value");
            settings.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    settings
}

fn setting(settings: &[(String, String)], key: &str) -> String {
    let values: Vec<_> = settings.iter().filter(|(k, _)| k == key).collect();
    assert_eq!(values.len(), 1, "{key} once in [Service]");
    values[0].1.clone()
}

/// A systemd time span as the unit file writes it: `30`, `30s`, `1min`, `500ms`.
fn span(value: &str) -> Duration {
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let n: u64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("a time span: {value}"));
    match &value[digits.len()..] {
        "" | "s" | "sec" => Duration::from_secs(n),
        "ms" | "msec" => Duration::from_millis(n),
        "min" | "m" => Duration::from_secs(60 * n),
        unit => panic!("unit {unit} in {value}"),
    }
}

/// `ExecStart`'s flags, without the program.
fn exec_start_flags(settings: &[(String, String)]) -> Vec<String> {
    let exec = setting(settings, "ExecStart");
    let mut words = exec.split_whitespace().map(str::to_owned);
    let program = words.next().expect("a program");
    assert!(program.ends_with("/service"), "{program}");
    words.collect()
}

#[test]
fn unit_file_is_consistent_with_the_budget() {
    let settings = service_section();
    assert_eq!(setting(&settings, "Type"), "notify");
    assert_eq!(setting(&settings, "NotifyAccess"), "main");
    let watchdog = span(&setting(&settings, "WatchdogSec"));
    assert!(
        watchdog >= Duration::from_secs(2),
        "pings every {:?}",
        watchdog / 2
    );
    let (options, rest) = Options::parse(exec_start_flags(&settings)).expect("ExecStart's flags");
    assert!(rest.is_empty(), "unknown flags {rest:?}");
    let budget = options.grace.unwrap_or(DEFAULT_GRACE);
    let stop = span(&setting(&settings, "TimeoutStopSec"));
    assert!(
        stop >= budget + EXIT_SLACK,
        "TimeoutStopSec={stop:?} < budget {budget:?} + {EXIT_SLACK:?}"
    );
    assert_eq!(setting(&settings, "KillSignal"), "SIGTERM");
}

/// The lifespan steps `bin` starts, in order: its startup as systemd sees it.
fn steps_of(bin: &str) -> &'static [&'static str] {
    match bin {
        "service" => &["journal", "listener"],
        "service-tokio" => &["http", "journal", "listener"],
        other => panic!("no steps known for {other}"),
    }
}

/// Plays systemd: binds the socket, runs `bin` with the unit file's flags
/// (its own addresses and data directory), and checks what it says.
fn notifies_in_order(bin: &str, socket: &str, systemd: &UnixDatagram) {
    let settings = service_section();
    let timeout_stop = span(&setting(&settings, "TimeoutStopSec"));
    let data = std::env::temp_dir().join(format!("steward-systemd-{bin}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data);
    let mut flags = exec_start_flags(&settings);
    for (flag, value) in [
        ("--listen", "127.0.0.1:0"),
        ("--probe-addr", "127.0.0.1:0"),
        ("--data", data.to_str().unwrap()),
    ] {
        let at = flags.iter().position(|f| f == flag).expect(flag);
        flags[at + 1] = value.to_owned();
    }
    systemd.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut process = Process::start(
        Command::new(cargo_bin("steward-examples", bin))
            .args(&flags)
            .env("NOTIFY_SOCKET", socket)
            .env("WATCHDOG_USEC", "400000") // a ping every 200 ms
            .env_remove("WATCHDOG_PID")
            .env_remove("KUBERNETES_SERVICE_HOST"),
    );
    let mut buf = vec![0; 4096];
    let mut recv = |process: &mut Process| -> String {
        match systemd.recv(&mut buf) {
            Ok(n) => String::from_utf8(buf[..n].to_vec()).expect("UTF-8"),
            Err(e) => panic!(
                "no notification within {DEADLINE:?}: {e}\n{}",
                process.transcript()
            ),
        }
    };
    // Up to READY=1: STATUS=starting first, then the status of each
    // lifespan step as it begins, in order (see `steps_of`), and
    // perhaps pings.
    assert_eq!(recv(&mut process), "STATUS=starting");
    let mut steps = Vec::new();
    let ready = loop {
        match recv(&mut process) {
            ping if ping == "WATCHDOG=1" => continue,
            step if step.starts_with("STATUS=starting (") => steps.push(step),
            other => break other,
        }
    };
    let expected: Vec<_> = steps_of(bin)
        .iter()
        .map(|step| format!("STATUS=starting ({step})"))
        .collect();
    assert_eq!(steps, expected);
    assert_eq!(ready, "READY=1\nSTATUS=running");
    // The watchdog keeps pinging while running (at 200 ms: three within
    // well under the deadline; their spacing is the runtime's business).
    let started = Instant::now();
    for _ in 0..3 {
        assert_eq!(recv(&mut process), "WATCHDOG=1");
    }
    assert!(started.elapsed() < DEADLINE);
    process.wait_for_line("listening on");

    process.signal("TERM");
    let stopping = loop {
        match recv(&mut process) {
            ping if ping == "WATCHDOG=1" => continue,
            other => break other,
        }
    };
    assert_eq!(stopping, "STOPPING=1");
    let draining = loop {
        match recv(&mut process) {
            ping if ping == "WATCHDOG=1" => continue,
            other => break other,
        }
    };
    let mut lines = draining.lines();
    let status = lines.next().unwrap();
    assert!(
        status.starts_with("STATUS=draining (signal 15 (SIGTERM)), ")
            && status.ends_with(" s left"),
        "{status}"
    );
    let extend = lines
        .next()
        .and_then(|l| l.strip_prefix("EXTEND_TIMEOUT_USEC="))
        .and_then(|n| n.parse::<u64>().ok())
        .map(Duration::from_micros)
        .unwrap_or_else(|| panic!("EXTEND_TIMEOUT_USEC in {draining:?}"));
    // The budget at the trigger plus the slack, all within TimeoutStopSec.
    assert!(extend > EXIT_SLACK, "{extend:?}");
    assert!(
        extend <= timeout_stop,
        "{extend:?} > TimeoutStopSec {timeout_stop:?}"
    );

    let exit = process.wait_exit();
    assert_eq!(exit.status.code(), Some(0), "{exit:?}");
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn service_notifies_in_order() {
    let path = std::env::temp_dir().join(format!("steward-systemd-notify-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let systemd = UnixDatagram::bind(&path).unwrap();
    notifies_in_order("service", path.to_str().unwrap(), &systemd);
    std::fs::remove_file(&path).unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn service_tokio_notifies_in_order() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("steward-systemd-notify-tokio-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
    let systemd = UnixDatagram::bind_addr(&addr).unwrap();
    notifies_in_order("service-tokio", &format!("@{name}"), &systemd);
}
