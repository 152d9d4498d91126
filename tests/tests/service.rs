//! Process-level tests of the `service` example (smol) and of
//! `service-tokio`: the built binaries, started, driven by clients over TCP,
//! probed over HTTP and stopped with real signals. Each scenario runs on
//! both (modules `service` and `service_tokio`):
//!
//! - `sigterm_at_random_moments_loses_no_job_and_does_none_twice`: fifty
//!   stop/restart cycles over one data directory (twenty-five on
//!   `service-tokio`), each ended by SIGTERM at a random moment while
//!   clients send jobs; every acknowledged job ends in `done.log` exactly
//!   once. Its seed is printed; `STEWARD_SVCTEST_SEED` replays a run and
//!   `STEWARD_SVCTEST_CYCLES` sets the number of cycles.
//! - `readiness_fails_before_the_job_listener_closes`: a kubelet-like
//!   prober sees 503 before connections to the job port are refused.
//! - `a_second_sigterm_during_a_slow_drain_exits_at_once_with_143`.
//! - `a_failing_resource_at_startup_exits_1_after_tearing_down_the_others`.
//! - `probes_and_idle_exit`: the `?verbose` lines, the health+json
//!   document, and the time an idle service takes to exit.
//! - `service_tokio::readiness_follows_redis`: a Redis server of the test's
//!   own, stopped and started again; `service_tokio::checks_redis_and_postgres`:
//!   the shared servers of `.ci/services` (`REDIS_URL`, `POSTGRES_URL`).
//!
//! Every wait is for an event (a line, an HTTP answer, a refused connection,
//! an exit) with a deadline; polling loops poll at a short interval until a
//! deadline. Each test has its own free ports and its own data directory
//! under the system's temporary directory, removed at the end.

#![cfg(unix)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use steward_tests::process::{cargo_bin, free_port, http_get, http_request, Exit, Process};

/// The App's default grace budget: a SIGTERM must end the process within it.
const BUDGET: Duration = Duration::from_secs(25);

/// How long a poll for a state (a probe's answer, a file's content) may take.
const POLL_DEADLINE: Duration = Duration::from_secs(30);

/// How often such a poll looks.
const POLL_EVERY: Duration = Duration::from_millis(20);

// ------------------------------------------------------------------ helpers

/// A data directory of the test's own under the system's temporary
/// directory, removed when dropped.
struct DataDir(PathBuf);

impl DataDir {
    fn new(name: &str) -> DataDir {
        static COUNT: AtomicU64 = AtomicU64::new(0);
        // Relaxed: the counter only has to hand out distinct numbers.
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!(
            "steward-svctest-{name}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("creating the data directory");
        DataDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn done_log(&self) -> PathBuf {
        self.0.join("done.log")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One running service: the process and its two addresses.
struct Service {
    process: Process,
    listen: SocketAddr,
    probe: SocketAddr,
}

/// Starts `bin` (`service` or `service-tokio`) over `data` with `--work-ms
/// work_ms` and `extra` flags, and waits for its `listening on` line.
///
/// The job port is the system's choice (`--listen 127.0.0.1:0`), read back
/// from that line. The probe port is a free port, which another test's
/// process may take before this one binds it: then the start is tried again
/// on another port (the system often hands out a port just released again,
/// so this does happen).
///
/// The pre-stop delay is 0 unless `extra` sets it, and the environment never
/// says Kubernetes (where the App's default delay is 5 s).
fn start(bin: &str, data: &Path, work_ms: u64, extra: &[&str]) -> Service {
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut attempt = 1;
    loop {
        let probe = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut process = spawn(bin, any_port, probe, data, work_ms, extra);
        if let Some(line) = process.wait_for_line_or_end("listening on") {
            let listen = line
                .rsplit(' ')
                .next()
                .and_then(|addr| addr.parse().ok())
                .unwrap_or_else(|| panic!("no address in `{line}`"));
            return Service {
                process,
                listen,
                probe,
            };
        }
        let exit = process.wait_exit();
        let taken = exit
            .stderr
            .iter()
            .any(|line| line.contains("Address already in use"));
        assert!(taken && attempt < 5, "{bin} did not start: {exit:#?}");
        eprintln!("{bin}: probe port {probe} taken meanwhile; trying another");
        attempt += 1;
    }
}

/// Starts `bin` without waiting for anything.
fn spawn(
    bin: &str,
    listen: SocketAddr,
    probe: SocketAddr,
    data: &Path,
    work_ms: u64,
    extra: &[&str],
) -> Process {
    let mut command = Command::new(cargo_bin("steward-examples", bin));
    command
        .arg("--listen")
        .arg(listen.to_string())
        .arg("--probe-addr")
        .arg(probe.to_string())
        .arg("--data")
        .arg(data)
        .args(["--work-ms", &work_ms.to_string()]);
    if !extra.contains(&"--pre-stop-ms") {
        command.args(["--pre-stop-ms", "0"]);
    }
    command
        .args(extra)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("NO_COLOR", "1");
    Process::start(&mut command)
}

impl Service {
    /// Sends SIGTERM and waits for the exit: how it ended and how long it
    /// took from the signal.
    fn terminate(&mut self) -> (Exit, Duration) {
        let sent = Instant::now();
        self.process.signal("TERM");
        let exit = self.process.wait_exit();
        (exit, sent.elapsed())
    }

    /// Polls `path` on the probe port until it answers `status`, and
    /// returns that answer.
    fn probe_until(&mut self, path: &str, status: u16) -> steward_tests::process::Response {
        let until = Instant::now() + POLL_DEADLINE;
        loop {
            let last = match http_get(self.probe, path) {
                Ok(response) if response.status == status => return response,
                other => other,
            };
            if Instant::now() >= until {
                panic!(
                    "{path} did not answer {status} within {POLL_DEADLINE:?}; last: {last:?}\n{}",
                    self.process.transcript()
                );
            }
            std::thread::sleep(POLL_EVERY);
        }
    }
}

/// Removes ANSI escape sequences (colours a logger may add).
fn plain(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-byte (a letter).
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether connecting to `addr` is refused now.
fn refused(addr: SocketAddr) -> bool {
    match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(_) => false,
        Err(err) => err.kind() == io::ErrorKind::ConnectionRefused,
    }
}

/// A small deterministic generator (SplitMix64), so that a failing run can
/// be replayed from its printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..=max`.
    fn upto(&mut self, max: u64) -> u64 {
        self.next() % (max + 1)
    }
}

fn env_u64(var: &str) -> Option<u64> {
    let value = std::env::var(var).ok()?;
    Some(
        value
            .parse()
            .unwrap_or_else(|e| panic!("{var}={value}: {e}")),
    )
}

// ------------------------------------------------------------ the job client

/// What the clients of one test know: every payload sent, and every
/// acknowledged job.
#[derive(Default)]
struct Ledger {
    sent: HashSet<String>,
    acked: BTreeMap<u64, String>,
}

/// An event from a client connection.
enum Event {
    Sent(String),
    Acked(u64, String),
}

impl Ledger {
    /// Takes in one event; an id acknowledged twice fails the test.
    fn record(&mut self, event: Event, context: &str) {
        match event {
            Event::Sent(payload) => {
                self.sent.insert(payload);
            }
            Event::Acked(id, payload) => {
                if let Some(earlier) = self.acked.insert(id, payload.clone()) {
                    panic!("{context}: id {id} acknowledged twice: `{earlier}` and `{payload}`");
                }
            }
        }
    }
}

/// One client connection on a thread: sends one job a line with a unique
/// payload `<prefix>-<n>`, waits for its answer, and reports each payload
/// before sending it and each `ok <id>`. Ends at the first answer that is
/// not `ok <id>`, when the connection ends (the service stopped), or when
/// `stop` is set.
fn client(
    addr: SocketAddr,
    prefix: String,
    events: Sender<Event>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(5)) else {
            return;
        };
        // A service that keeps a connection open without answering fails
        // the test through its exit deadline, not by hanging this thread.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(40)));
        let Ok(reader) = stream.try_clone() else {
            return;
        };
        let (mut writer, mut reader) = (stream, BufReader::new(reader));
        for n in 0.. {
            // Relaxed: a late look at the flag costs one more job, nothing else.
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let payload = format!("{prefix}-{n}");
            if events.send(Event::Sent(payload.clone())).is_err() {
                return;
            }
            if writer.write_all(format!("{payload}\n").as_bytes()).is_err() {
                return;
            }
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let Some(id) = line
                .trim_end()
                .strip_prefix("ok ")
                .and_then(|id| id.parse().ok())
            else {
                return; // a refusal while draining, say
            };
            if events.send(Event::Acked(id, payload)).is_err() {
                return;
            }
        }
    })
}

/// Sends `count` jobs on one connection, each after the answer to the one
/// before, and returns them acknowledged.
fn send_jobs(addr: SocketAddr, prefix: &str, count: usize) -> BTreeMap<u64, String> {
    let stream = TcpStream::connect(addr).expect("connecting to the job port");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut acked = BTreeMap::new();
    for n in 0..count {
        let payload = format!("{prefix}-{n}");
        writer.write_all(format!("{payload}\n").as_bytes()).unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).expect("an answer");
        let id = line
            .trim_end()
            .strip_prefix("ok ")
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("expected `ok <id>`, got `{line}`"));
        acked.insert(id, payload);
    }
    acked
}

// ------------------------------------------------------------ done.log

/// How to take a last line without its newline.
#[derive(Clone, Copy, PartialEq)]
enum Tail {
    /// The service has exited: such a line is torn, an error.
    Exited,
    /// The service is running: the line may be a write seen half done; it
    /// is left out.
    Running,
}

/// `DIR/done.log` read and checked: the id and payload of each line, in the
/// file's order. `Err` names what is wrong: a torn (unterminated or
/// malformed) line, or an id twice.
fn read_done(path: &Path, tail: Tail) -> Result<Vec<(u64, String)>, String> {
    let mut text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(format!("reading {}: {err}", path.display())),
    };
    if !text.is_empty() && !text.ends_with('\n') {
        let last = text.lines().last().unwrap_or_default().to_owned();
        if tail == Tail::Exited {
            return Err(format!("torn last line (no newline): `{last}`"));
        }
        text.truncate(text.len() - last.len());
    }
    let mut seen = HashMap::new();
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let parsed = line
            .split_once(' ')
            .and_then(|(id, payload)| Some((id.parse::<u64>().ok()?, payload.to_owned())));
        let Some((id, payload)) = parsed else {
            return Err(format!("line {}: not `<id> <payload>`: `{line}`", n + 1));
        };
        if let Some(first) = seen.insert(id, n + 1) {
            return Err(format!("id {id} done twice: lines {first} and {}", n + 1));
        }
        lines.push((id, payload));
    }
    Ok(lines)
}

/// Checks `done` against what the clients know: each line's payload was
/// sent by a client (so nothing done was never journaled: a job is
/// journaled only once sent), and an acknowledged id carries the payload it
/// was acknowledged for. When the journal is readable as `DIR/journal.log`
/// (`<id> <payload>` lines), each done line must be in it, too.
fn check_done(done: &[(u64, String)], ledger: &Ledger, dir: &Path) -> Result<(), String> {
    let journal: Option<HashMap<u64, String>> = std::fs::read_to_string(dir.join("journal.log"))
        .ok()
        .map(|text| {
            // Whole lines only: the service may be writing the last one.
            text.split_inclusive('\n')
                .filter_map(|line| {
                    let (id, payload) = line.strip_suffix('\n')?.split_once(' ')?;
                    Some((id.parse().ok()?, payload.to_owned()))
                })
                .collect()
        });
    for (id, payload) in done {
        if !ledger.sent.contains(payload) {
            return Err(format!("done `{id} {payload}`: no client sent `{payload}`"));
        }
        if let Some(acked) = ledger.acked.get(id) {
            if acked != payload {
                return Err(format!(
                    "done `{id} {payload}`, but {id} was acknowledged for `{acked}`"
                ));
            }
        }
        if let Some(journal) = &journal {
            if journal.get(id) != Some(payload) {
                return Err(format!(
                    "done `{id} {payload}`, journaled as {:?}",
                    journal.get(id)
                ));
            }
        }
    }
    Ok(())
}

/// Polls `dir`'s done.log until every id of `acked` is in it, checking it at
/// each look; returns the last reading.
fn wait_until_done(
    service: &mut Service,
    dir: &DataDir,
    ledger: &Ledger,
    context: &str,
) -> Vec<(u64, String)> {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let done =
            read_done(&dir.done_log(), Tail::Running).unwrap_or_else(|e| panic!("{context}: {e}"));
        check_done(&done, ledger, dir.path()).unwrap_or_else(|e| panic!("{context}: {e}"));
        let ids: HashSet<u64> = done.iter().map(|(id, _)| *id).collect();
        let missing: Vec<u64> = ledger
            .acked
            .keys()
            .filter(|id| !ids.contains(id))
            .copied()
            .collect();
        if missing.is_empty() {
            return done;
        }
        if Instant::now() >= until {
            panic!(
                "{context}: {} acknowledged jobs still not done after 60 s, such as {:?}\n{}",
                missing.len(),
                &missing[..missing.len().min(10)],
                service.process.transcript()
            );
        }
        std::thread::sleep(POLL_EVERY);
    }
}

fn summary(times: &[Duration]) -> String {
    let mut sorted = times.to_vec();
    sorted.sort();
    match sorted.as_slice() {
        [] => "no exits".into(),
        sorted => format!(
            "{} exits: min {:?}, median {:?}, p90 {:?}, max {:?}",
            sorted.len(),
            sorted[0],
            sorted[sorted.len() / 2],
            sorted[sorted.len() * 9 / 10],
            sorted[sorted.len() - 1]
        ),
    }
}

// -------------------------------------------------------------------- tests

/// Fifty cycles over one data directory: start the service, let three
/// clients send jobs until a random number of them is acknowledged (none in
/// one cycle in five: the stop comes while the jobs resumed from the
/// journal are in hand; else 1 to 40), SIGTERM, check the
/// exit (code 0, within the budget) and done.log (no torn line, no id
/// twice, nothing never sent, acknowledged ids with their payloads). Then a
/// last run until every acknowledged job is done, exactly once.
fn sigterm_at_random_moments_loses_no_job_and_does_none_twice(bin: &str, default_cycles: u64) {
    let seed = env_u64("STEWARD_SVCTEST_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let cycles = env_u64("STEWARD_SVCTEST_CYCLES").unwrap_or(default_cycles);
    eprintln!("{bin}: seed {seed} (replay with STEWARD_SVCTEST_SEED={seed}), {cycles} cycles");
    let mut rng = Rng(seed);
    let dir = DataDir::new(&format!("{bin}-random-sigterm"));
    let mut ledger = Ledger::default();
    let mut exits = Vec::new();

    for cycle in 0..cycles {
        let context = format!("{bin}: seed {seed}, cycle {cycle}");
        let mut service = start(bin, dir.path(), 10, &["--workers", "4"]);
        let (events_tx, events) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..3)
            .map(|c| {
                let prefix = format!("job-{seed}-{cycle}-{c}");
                client(service.listen, prefix, events_tx.clone(), Arc::clone(&stop))
            })
            .collect();
        drop(events_tx);

        // One cycle in five stops at once, while the jobs resumed from the
        // journal are in hand; the others after 1 to 40 acknowledgements.
        let target = if rng.upto(4) == 0 {
            0
        } else {
            1 + rng.upto(39)
        };
        let mut acks = 0;
        let until = Instant::now() + POLL_DEADLINE;
        while acks < target {
            match events.recv_timeout(until.saturating_duration_since(Instant::now())) {
                Ok(event) => {
                    acks += u64::from(matches!(event, Event::Acked(..)));
                    ledger.record(event, &context);
                }
                Err(_) => panic!(
                    "{context}: {acks} of {target} acknowledgements, then none\n{}",
                    service.process.transcript()
                ),
            }
        }

        let (exit, took) = service.terminate();
        // Relaxed: the clients end anyway when the connection does.
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.join().expect("a client thread panicked");
        }
        for event in events.try_iter() {
            ledger.record(event, &context);
        }
        exits.push(took);
        assert_eq!(
            exit.status.code(),
            Some(0),
            "{context}: exit after {took:?}: {exit:#?}"
        );
        assert!(took < BUDGET, "{context}: exit took {took:?}: {exit:#?}");

        let done =
            read_done(&dir.done_log(), Tail::Exited).unwrap_or_else(|e| panic!("{context}: {e}"));
        check_done(&done, &ledger, dir.path()).unwrap_or_else(|e| panic!("{context}: {e}"));
    }

    // The last run: every acknowledged job gets done.
    let context = format!("{bin}: seed {seed}, last run");
    let mut service = start(bin, dir.path(), 1, &["--workers", "4"]);
    let done = wait_until_done(&mut service, &dir, &ledger, &context);
    let (exit, took) = service.terminate();
    assert_eq!(exit.status.code(), Some(0), "{context}: {exit:#?}");
    exits.push(took);
    // Nothing done after the wait can have been acknowledged or lost: the
    // file read after the exit holds the same acknowledged jobs.
    let after =
        read_done(&dir.done_log(), Tail::Exited).unwrap_or_else(|e| panic!("{context}: {e}"));
    check_done(&after, &ledger, dir.path()).unwrap_or_else(|e| panic!("{context}: {e}"));
    assert!(
        after.starts_with(&done),
        "{context}: done.log was rewritten"
    );
    let done: HashMap<u64, String> = after.into_iter().collect();
    for (id, payload) in &ledger.acked {
        assert_eq!(done.get(id), Some(payload), "{context}: job {id}");
    }
    eprintln!(
        "{bin}: seed {seed}: {} jobs sent, {} acknowledged, {} done; SIGTERM to exit: {}",
        ledger.sent.len(),
        ledger.acked.len(),
        done.len(),
        summary(&exits)
    );
    eprintln!("{bin}: exit times: {exits:?}");
}

/// A prober polls `/readyz` every 100 ms as the kubelet does, while another
/// thread tries the job port every few milliseconds: after SIGTERM, with a
/// pre-stop delay of 500 ms, the prober sees 503 before the first refused
/// connection, and the job port keeps accepting through the delay.
fn readiness_fails_before_the_job_listener_closes(bin: &str) {
    let dir = DataDir::new(&format!("{bin}-prober"));
    let pre_stop = Duration::from_millis(500);
    let mut service = start(bin, dir.path(), 20, &["--pre-stop-ms", "500"]);
    service.probe_until("/readyz", 200);

    let stop = Arc::new(AtomicBool::new(false));
    let (probe_addr, prober_stop) = (service.probe, Arc::clone(&stop));
    let (answers_tx, answers) = mpsc::channel();
    let prober = std::thread::spawn(move || {
        // Relaxed: the flag only ends the loop; the answers go by channel.
        while !prober_stop.load(Ordering::Relaxed) {
            let status = http_get(probe_addr, "/readyz").map(|r| r.status);
            if answers_tx
                .send((Instant::now(), status.map_err(|e| e.kind())))
                .is_err()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let listen = service.listen;
    let connector = std::thread::spawn(move || {
        let until = Instant::now() + BUDGET + POLL_DEADLINE;
        while Instant::now() < until {
            if refused(listen) {
                return Some(Instant::now());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    });

    // Two answers before the signal: the prober is running.
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(
            answers
                .recv_timeout(POLL_DEADLINE)
                .expect("the prober's answer"),
        );
    }
    let (exit, took) = service.terminate();
    let signalled = Instant::now() - took;
    let first_refused = connector.join().unwrap();
    stop.store(true, Ordering::Relaxed);
    prober.join().unwrap();
    seen.extend(answers.try_iter());

    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
    let first_refused = first_refused.expect("the job port never refused a connection");
    let first_503 = seen
        .iter()
        .find(|(_, status)| *status == Ok(503))
        .map(|(at, _)| *at);
    let timeline: Vec<String> = seen
        .iter()
        .map(|(at, status)| format!("{:+}ms {status:?}", signed(*at, signalled)))
        .collect();
    eprintln!(
        "{bin}: SIGTERM at 0; refused at {:+}ms; exit after {took:?}; probes: {timeline:?}",
        signed(first_refused, signalled)
    );
    let first_503 = first_503.unwrap_or_else(|| panic!("the prober never saw 503: {timeline:?}"));
    assert!(
        seen.iter()
            .take_while(|(at, _)| *at < signalled)
            .all(|(_, status)| *status == Ok(200)),
        "not ready before the signal: {timeline:?}"
    );
    assert!(
        first_503 < first_refused,
        "503 at {:+}ms, refused at {:+}ms: {timeline:?}",
        signed(first_503, signalled),
        signed(first_refused, signalled)
    );
    assert!(
        first_refused - signalled >= pre_stop,
        "the job port refused {:?} after SIGTERM, within the {pre_stop:?} pre-stop delay",
        first_refused - signalled
    );
}

/// `at - zero` in milliseconds, negative when `at` came first.
fn signed(at: Instant, zero: Instant) -> i128 {
    if at >= zero {
        (at - zero).as_millis() as i128
    } else {
        -((zero - at).as_millis() as i128)
    }
}

/// Jobs of a minute each are in hand when SIGTERM comes; once readiness
/// says the drain began, a second SIGTERM ends the process at once with
/// 143. The jobs it cut are resumed by the next run.
fn a_second_sigterm_during_a_slow_drain_exits_at_once_with_143(bin: &str) {
    let dir = DataDir::new(&format!("{bin}-second-sigterm"));
    let mut service = start(bin, dir.path(), 60_000, &["--workers", "2"]);
    let acked = send_jobs(service.listen, "slow", 4);
    let ledger = Ledger {
        sent: acked.values().cloned().collect(),
        acked,
    };

    service.process.signal("TERM");
    service.probe_until("/readyz", 503); // the first signal is being handled
    let (exit, took) = service.terminate();
    eprintln!("{bin}: second SIGTERM to exit: {took:?}");
    assert_eq!(exit.status.code(), Some(143), "after {took:?}: {exit:#?}");
    assert!(took < Duration::from_secs(5), "exit took {took:?}");
    let done = read_done(&dir.done_log(), Tail::Exited).unwrap_or_else(|e| panic!("{e}"));
    check_done(&done, &ledger, dir.path()).unwrap_or_else(|e| panic!("{e}"));

    let mut service = start(bin, dir.path(), 1, &[]);
    wait_until_done(&mut service, &dir, &ledger, "after the forced exit");
    let (exit, _) = service.terminate();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
}

/// One line of a lifespan report: `<name>: started in ...`, `<name>: stopped
/// in ...`, or a failed, timed-out or cut step.
#[derive(Debug, PartialEq)]
enum Step {
    Started(String),
    Stopped(String),
    Other(String, String),
}

/// The `resources:` block of the last report in `stderr`.
fn resources(stderr: &[String]) -> Vec<Step> {
    let lines: Vec<String> = stderr.iter().map(|l| plain(l)).collect();
    let Some(start) = lines.iter().rposition(|l| l.trim_end() == "resources:") else {
        return Vec::new();
    };
    lines[start + 1..]
        .iter()
        .take_while(|l| l.starts_with(' '))
        .map(|line| {
            let line = line.trim();
            for (marker, step) in [
                (": started in ", Step::Started as fn(String) -> Step),
                (": stopped in ", Step::Stopped),
            ] {
                if let Some(at) = line.find(marker) {
                    return step(line[..at].to_owned());
                }
            }
            let (name, rest) = line.split_once(": ").unwrap_or((line, ""));
            Step::Other(name.to_owned(), rest.to_owned())
        })
        .collect()
}

/// The job port is taken by the test: the listener's start fails, so the
/// service exits 1 without ever listening, after stopping every resource
/// started before the listener, in reverse order, as its report shows.
fn a_failing_resource_at_startup_exits_1_after_tearing_down_the_others(bin: &str) {
    let dir = DataDir::new(&format!("{bin}-failing-start"));
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap();
    let (exit, took) = (1..)
        .find_map(|attempt| {
            let probe = SocketAddr::from(([127, 0, 0, 1], free_port()));
            let mut process = spawn(bin, listen, probe, dir.path(), 20, &[]);
            let started = Instant::now();
            let exit = process.wait_exit();
            let took = started.elapsed();
            // The probe port taken meanwhile by another test's process: the
            // service fails on that; try another (see `start`).
            let probe = probe.to_string();
            let probe_taken = exit
                .stderr
                .iter()
                .any(|l| l.contains(&probe) && l.contains("Address already in use"));
            (!probe_taken || attempt == 5).then_some((exit, took))
        })
        .expect("an attempt");
    eprintln!(
        "{bin}: failed startup: exit after {took:?}\n{}",
        exit.stderr.join("\n")
    );
    assert_eq!(exit.status.code(), Some(1), "{exit:#?}");
    assert!(
        !exit.stdout.iter().any(|l| l.contains("listening on")),
        "{exit:#?}"
    );

    let steps = resources(&exit.stderr);
    let failed = steps
        .iter()
        .position(|s| matches!(s, Step::Other(..)))
        .unwrap_or_else(|| panic!("no failed step in the report: {steps:?}\n{exit:#?}"));
    assert!(
        matches!(&steps[failed], Step::Other(_, how) if how.starts_with("start after") && how.contains("in use")),
        "the failed step is the listener's start, on a taken port: {steps:?}"
    );
    let before: Vec<&String> = steps[..failed]
        .iter()
        .map(|s| match s {
            Step::Started(name) => name,
            other => panic!("before the failure, only starts: {other:?} in {steps:?}"),
        })
        .collect();
    assert!(
        !before.is_empty(),
        "the journal starts before the listener: {steps:?}"
    );
    let after: Vec<&String> = steps[failed + 1..]
        .iter()
        .map(|s| match s {
            Step::Stopped(name) => name,
            other => panic!("after the failure, only clean stops: {other:?} in {steps:?}"),
        })
        .collect();
    let reversed: Vec<&String> = before.iter().rev().copied().collect();
    assert_eq!(after, reversed, "stopped in reverse order: {steps:?}");
    drop(taken);
}

/// Checks `/readyz?verbose`, `/livez?verbose` and the health+json document
/// of a running service; returns the names of the checks in the document.
fn check_probes(service: &mut Service) -> Vec<String> {
    for probe in ["readyz", "livez"] {
        let response = service.probe_until(&format!("/{probe}?verbose"), 200);
        let text = response.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.last().copied(),
            Some(format!("{probe} check passed").as_str()),
            "{text}"
        );
        assert!(lines.len() >= 2, "at least one check: {text}");
        for line in &lines[..lines.len() - 1] {
            assert!(
                line.starts_with("[+]") && line.ends_with(" ok"),
                "`[+]name ok`: {text}"
            );
        }
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }

    // Every check has run once /health passes (a pending one fails it).
    let until = Instant::now() + POLL_DEADLINE;
    let response = loop {
        let response = http_request(
            service.probe,
            "GET",
            "/health",
            &[("Accept", "application/health+json")],
        )
        .expect("GET /health");
        if response.status == 200 || Instant::now() >= until {
            break response;
        }
        std::thread::sleep(POLL_EVERY);
    };
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.header("content-type"),
        Some("application/health+json")
    );
    let document: serde_json::Value =
        serde_json::from_slice(&response.body).expect("a JSON document");
    assert_eq!(document["status"], "pass", "{document:#}");
    let checks = document["checks"].as_object().expect("`checks`");
    assert!(!checks.is_empty(), "{document:#}");
    let mut names = Vec::new();
    for (key, measurements) in checks {
        let name = key
            .strip_suffix(":responseTime")
            .unwrap_or_else(|| panic!("key `{key}`"));
        let measurement = &measurements[0];
        assert_eq!(measurement["componentId"], name, "{document:#}");
        assert_eq!(measurement["status"], "pass", "{document:#}");
        assert!(measurement["observedValue"].is_number(), "{document:#}");
        assert_eq!(measurement["observedUnit"], "ms", "{document:#}");
        let time = measurement["time"].as_str().expect("`time`");
        assert!(
            time.len() >= 20 && time.as_bytes()[10] == b'T' && time.ends_with('Z'),
            "RFC 3339 time: {time}"
        );
        names.push(name.to_owned());
    }
    names
}

/// The probes of an idle service, then SIGTERM: exit 0 with the report on
/// stderr; prints how long the exit took.
fn probes_and_idle_exit(bin: &str) {
    let dir = DataDir::new(bin);
    let mut service = start(bin, dir.path(), 20, &[]);
    let names = check_probes(&mut service);
    let (exit, took) = service.terminate();
    eprintln!("{bin}: checks {names:?}; idle SIGTERM to exit: {took:?}");
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
    assert!(took < BUDGET, "{took:?}");
    let stderr: Vec<String> = exit.stderr.iter().map(|l| plain(l)).collect();
    assert!(
        stderr
            .iter()
            .any(|l| l.starts_with("stopped after signal 15 (SIGTERM)")),
        "the report on stderr: {stderr:#?}"
    );
}

/// One `#[test]` per scenario and binary, so that a failure names both.
mod service {
    #[test]
    fn sigterm_at_random_moments_loses_no_job_and_does_none_twice() {
        super::sigterm_at_random_moments_loses_no_job_and_does_none_twice("service", 50);
    }

    #[test]
    fn readiness_fails_before_the_job_listener_closes() {
        super::readiness_fails_before_the_job_listener_closes("service");
    }

    #[test]
    fn a_second_sigterm_during_a_slow_drain_exits_at_once_with_143() {
        super::a_second_sigterm_during_a_slow_drain_exits_at_once_with_143("service");
    }

    #[test]
    fn a_failing_resource_at_startup_exits_1_after_tearing_down_the_others() {
        super::a_failing_resource_at_startup_exits_1_after_tearing_down_the_others("service");
    }

    #[test]
    fn probes_and_idle_exit() {
        super::probes_and_idle_exit("service");
    }
}

/// The same on `service-tokio`, with fewer random cycles: the job logic is
/// the same code, only the runtime, the listener and the probe server differ.
mod service_tokio {
    #[test]
    fn sigterm_at_random_moments_loses_no_job_and_does_none_twice() {
        super::sigterm_at_random_moments_loses_no_job_and_does_none_twice("service-tokio", 25);
    }

    #[test]
    fn readiness_fails_before_the_job_listener_closes() {
        super::readiness_fails_before_the_job_listener_closes("service-tokio");
    }

    #[test]
    fn a_second_sigterm_during_a_slow_drain_exits_at_once_with_143() {
        super::a_second_sigterm_during_a_slow_drain_exits_at_once_with_143("service-tokio");
    }

    #[test]
    fn a_failing_resource_at_startup_exits_1_after_tearing_down_the_others() {
        super::a_failing_resource_at_startup_exits_1_after_tearing_down_the_others("service-tokio");
    }

    #[test]
    fn probes_and_idle_exit() {
        super::probes_and_idle_exit("service-tokio");
    }

    #[test]
    fn readiness_follows_redis() {
        super::service_tokio_readiness_follows_redis();
    }

    #[test]
    fn checks_redis_and_postgres() {
        super::service_tokio_checks_redis_and_postgres();
    }
}

// ------------------------------------------------------------------- Redis

/// Whether the tests that need a Redis server are skipped
/// (`STEWARD_SKIP_SERVICES=1`, as in `deps.rs`).
fn skip_services() -> bool {
    if std::env::var("STEWARD_SKIP_SERVICES").as_deref() == Ok("1") {
        eprintln!("skipped: STEWARD_SKIP_SERVICES=1");
        return true;
    }
    false
}

/// A Redis server of the test's own on `port`, so that stopping it disturbs
/// no other test.
fn start_redis(port: u16) -> Process {
    let mut command = Command::new("redis-server");
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--logfile", ""])
        .arg("--dir")
        .arg(std::env::temp_dir());
    if Command::new("redis-server")
        .arg("--version")
        .output()
        .is_err()
    {
        panic!(
            "redis-server is not installed: run the tests with `bash .ci/test` (which installs \
             it), or set STEWARD_SKIP_SERVICES=1"
        );
    }
    let mut redis = Process::start(&mut command);
    redis.wait_for_line("Ready to accept connections");
    redis
}

fn stop_redis(mut redis: Process) {
    redis.signal("TERM");
    let exit = redis.wait_exit();
    assert!(exit.status.success(), "{exit:?}");
}

/// The URL in `var` (set by `.ci/services`), `None` when the services are
/// skipped.
///
/// # Panics
///
/// When the variable is unset and the services are not skipped.
fn service_url(var: &str) -> Option<String> {
    if skip_services() {
        return None;
    }
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => panic!(
            "{var} is not set: run the tests with `bash .ci/test` (or `eval \"$(bash \
             .ci/services)\"` first), or set STEWARD_SKIP_SERVICES=1"
        ),
    }
}

/// `service-tokio` against the shared Redis and PostgreSQL servers: both
/// checks are among the ready checks and pass, in the text and the JSON
/// forms.
fn service_tokio_checks_redis_and_postgres() {
    let (Some(redis), Some(postgres)) = (service_url("REDIS_URL"), service_url("POSTGRES_URL"))
    else {
        return;
    };
    let dir = DataDir::new("dependencies");
    let flags = ["--redis-url", &redis, "--postgres-url", &postgres];
    let mut service = start("service-tokio", dir.path(), 20, &flags);
    let verbose = service.probe_until("/readyz?verbose", 200).text();
    for name in ["redis", "postgres"] {
        assert!(
            verbose.lines().any(|l| l == format!("[+]{name} ok")),
            "{verbose}"
        );
    }
    let names = check_probes(&mut service);
    assert!(
        names.contains(&"redis".to_owned()) && names.contains(&"postgres".to_owned()),
        "{names:?}"
    );
    let (exit, _) = service.terminate();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
}

/// Polls `/readyz` until it answers `status`; returns how long that took.
fn readyz_becomes(service: &mut Service, status: u16) -> Duration {
    let started = Instant::now();
    service.probe_until("/readyz", status);
    started.elapsed()
}

/// `service-tokio` with a Redis check against a Redis server of the test's
/// own: ready; the server stops → 503 (within the check's refresh); back →
/// 200 again.
fn service_tokio_readiness_follows_redis() {
    if skip_services() {
        return;
    }
    let port = free_port();
    let redis = start_redis(port);
    let dir = DataDir::new("redis");
    let url = format!("redis://127.0.0.1:{port}");
    let mut service = start("service-tokio", dir.path(), 20, &["--redis-url", &url]);

    let up = readyz_becomes(&mut service, 200);
    let verbose = service.probe_until("/readyz?verbose", 200).text();
    assert!(
        verbose
            .lines()
            .any(|l| l.starts_with("[+]") && l.contains("redis")),
        "a redis check among the ready checks: {verbose}"
    );

    stop_redis(redis);
    let down = readyz_becomes(&mut service, 503);
    let verbose = http_get(service.probe, "/readyz?verbose").unwrap().text();
    assert!(
        verbose
            .lines()
            .any(|l| l.starts_with("[-]") && l.contains("redis")),
        "the redis check failing: {verbose}"
    );

    let redis = start_redis(port);
    let back = readyz_becomes(&mut service, 200);
    eprintln!(
        "redis: ready after {up:?}; 503 {down:?} after the stop; 200 {back:?} after the restart"
    );

    let (exit, took) = service.terminate();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
    assert!(took < BUDGET, "{took:?}");
    stop_redis(redis);
}
