//! The probes of both job services (`service` on smol, `service-tokio` with
//! its axum router) under pressure, with their default limits: a fresh,
//! well-behaved `GET /livez`, `/readyz` or `/startupz` gets its real answer
//! (200 `ok`) within a kubelet's default timeout, 1 s, while
//!
//! - (a) 2,000 slow clients trickle header bytes, reconnecting when closed;
//! - (b) 500 connections flood requests;
//! - (c) 256 clients (the connection limit's worth) pipeline requests and
//!   never read an answer.
//!
//! The attacker is a process of its own (the `pressure` binary), with an
//! open-file limit raised for it (`ulimit -n` in its shell) and a lower CPU
//! priority (`nice -n 10`): a real attacker uses other machines' CPUs, while
//! here it shares two cores with the server. Each scenario takes about 5 s
//! and prints the fresh probes' p50 and p99.

#![cfg(unix)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use steward_tests::process::{cargo_bin, free_port, Process};

/// A kubelet's default probe timeout: every fresh probe is answered within it.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Fresh probes per scenario, a third on each path.
const PROBES: usize = 45;

/// Between two fresh probes (a kubelet probes every 10 s by default; this is
/// denser, so that a scenario gathers its sample in a few seconds).
const PROBE_EVERY: Duration = Duration::from_millis(100);

/// One scenario at a time: each saturates the machine.
static ALONE: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Copy)]
enum Example {
    Smol,
    Tokio,
}

impl Example {
    fn bin(self) -> &'static str {
        match self {
            Example::Smol => "service",
            Example::Tokio => "service-tokio",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Attack {
    Slow,
    Flood,
    Pipeline,
}

impl Attack {
    fn args(self) -> (&'static str, usize) {
        match self {
            Attack::Slow => ("slow", 2_000),
            Attack::Flood => ("flood", 500),
            Attack::Pipeline => ("pipeline", 256),
        }
    }
}

/// A running example: its probe address; killed when dropped.
struct Service {
    probes: SocketAddr,
    process: Process,
    _data: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn start(example: Example, attack: Attack) -> Service {
    let data = std::env::temp_dir().join(format!(
        "steward-pressure-{}-{example:?}-{attack:?}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&data);
    std::fs::create_dir_all(&data).unwrap();
    let probes: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let listen: SocketAddr = ([127, 0, 0, 1], free_port()).into();
    let mut process = Process::start(
        Command::new(cargo_bin("steward-examples", example.bin()))
            .args(["--probe-addr", &probes.to_string()])
            .args(["--listen", &listen.to_string()])
            .arg("--data")
            .arg(&data),
    );
    process.wait_for_line("listening on");
    Service {
        probes,
        process,
        _data: TempDir(data),
    }
}

/// Starts the attacker against `addr`; returns once every client has
/// connected once.
fn attack(attack: Attack, addr: SocketAddr) -> Process {
    let (name, clients) = attack.args();
    let script = "ulimit -n 8192 2>/dev/null || ulimit -n \"$(ulimit -H -n)\"; \
                  exec nice -n 10 \"$0\" \"$@\"";
    let mut attacker = Process::start(
        Command::new("sh")
            .args(["-c", script])
            .arg(cargo_bin("steward-tests", "pressure"))
            .args([name, &addr.to_string(), &clients.to_string()]),
    );
    attacker.wait_for_line("pressure on");
    attacker
}

/// The server's sockets at most: three times the connection limit (open,
/// closing after an eviction, waiting for their first bytes), plus a few
/// for the job port, the journal and the runtime.
const MAX_FDS: usize = 3 * 256 + 64;

/// How many files `pid` has open (Linux), if it can be read.
fn open_files(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// One fresh probe: connect, send the request at once, read the answer to
/// the end. The status, the body and how long it all took.
fn probe(addr: SocketAddr, path: &str) -> Result<(u16, String, Duration), String> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    // Far past the bound: a late answer is measured rather than cut.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("read after {:?}: {e}", started.elapsed()))?;
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no answer after {took:?}: {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Ok((status, body, took))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn under_pressure(example: Example, attack_kind: Attack) {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let service = start(example, attack_kind);
    let attacker = attack(attack_kind, service.probes);

    let paths = ["/livez", "/readyz", "/startupz"];
    let mut times = Vec::with_capacity(PROBES);
    let mut failures = Vec::new();
    let mut most_files = 0;
    for i in 0..PROBES {
        if let Some(files) = open_files(service.process.id()) {
            most_files = most_files.max(files);
        }
        let path = paths[i % paths.len()];
        match probe(service.probes, path) {
            Ok((200, body, took)) if body == "ok" => times.push(took),
            Ok((status, body, took)) => {
                failures.push(format!("{path}: {status} {body:?} after {took:?}"));
            }
            Err(e) => failures.push(format!("{path}: {e}")),
        }
        std::thread::sleep(PROBE_EVERY);
    }
    drop(attacker);

    times.sort();
    assert!(!times.is_empty(), "no probe answered: {failures:#?}");
    let (p50, p99) = (percentile(&times, 50.0), percentile(&times, 99.0));
    let max = times.last().copied().unwrap_or_default();
    println!(
        "pressure: {} under {:?} ({} clients): {} fresh probes answered, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; the server held {most_files} files at most",
        example.bin(),
        attack_kind,
        attack_kind.args().1,
        times.len(),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3,
        max.as_secs_f64() * 1e3,
    );
    assert!(
        failures.is_empty(),
        "probes not answered 200 ok: {failures:#?}"
    );
    let late: Vec<_> = times.iter().filter(|t| **t > PROBE_TIMEOUT).collect();
    assert!(
        late.is_empty(),
        "probes answered past {PROBE_TIMEOUT:?}: {late:?}"
    );
    assert!(
        most_files <= MAX_FDS,
        "the server held {most_files} files (at most {MAX_FDS})"
    );
}

macro_rules! scenarios {
    ($($name:ident: $example:ident, $attack:ident;)*) => {
        $(#[test] fn $name() { under_pressure(Example::$example, Attack::$attack) })*
    };
}

scenarios! {
    service_slow_clients: Smol, Slow;
    service_flood: Smol, Flood;
    service_pipelining_clients_that_never_read: Smol, Pipeline;
    service_tokio_slow_clients: Tokio, Slow;
    service_tokio_flood: Tokio, Flood;
    service_tokio_pipelining_clients_that_never_read: Tokio, Pipeline;
}

/// Reads until the server closes the connection; how long that took.
fn closed_after(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut sink = [0u8; 1024];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return started.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return started.elapsed(),
            Err(e) => panic!("not closed after {:?}: {e}", started.elapsed()),
        }
    }
}

/// The limits themselves, the same on both examples (`service-tokio` serves
/// its axum router with them): a head over 16 KiB is refused with 431, a
/// head not finished and an idle keep-alive connection are closed at the
/// header-read timeout (5 s).
fn the_probe_server_limits(example: Example) {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let service = start(example, Attack::Slow);
    let addr = service.probes;

    let mut partial = TcpStream::connect(addr).unwrap();
    partial
        .write_all(b"GET /livez HTTP/1.1\r\nHost: probe\r\nX-Slow: a")
        .unwrap();
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET /livez HTTP/1.1\r\nHost: probe\r\n\r\n")
        .unwrap();
    let mut answer = [0u8; 512];
    let n = idle.read(&mut answer).unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));

    let big = format!(
        "GET /livez HTTP/1.1\r\nHost: probe\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(17 * 1024)
    );
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(big.as_bytes());
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.starts_with("HTTP/1.1 431 "),
        "{}: a 17 KiB head got {reply:?}",
        example.bin()
    );

    let (partial, idle) = (closed_after(&mut partial), closed_after(&mut idle));
    for (what, took) in [
        ("a head not finished", partial),
        ("an idle connection", idle),
    ] {
        assert!(
            took < Duration::from_secs(15),
            "{}: {what} closed only after {took:?}",
            example.bin()
        );
    }
    let (status, body, _) = probe(addr, "/livez").unwrap();
    assert_eq!((status, body.as_str()), (200, "ok"));
    if let Example::Tokio = example {
        // The router's own route is served by the same server.
        let (status, body, _) = probe(addr, "/jobs/stats").unwrap();
        assert_eq!(status, 200, "{body}");
        assert!(body.starts_with('{'), "{body}");
    }
}

#[test]
fn service_probe_server_limits() {
    the_probe_server_limits(Example::Smol);
}

#[test]
fn service_tokio_probe_server_limits() {
    the_probe_server_limits(Example::Tokio);
}
