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
//! - `a_second_instance_on_one_directory_exits_at_once`: exit 1 naming the
//!   directory and the holder's pid; then every job done exactly once.
//! - `idle_connections_never_exhaust_the_descriptors`: 20,000 idle
//!   connections (helper processes of this binary, `holder`) against a
//!   service under `ulimit -n 1024`: probes and jobs still answered.
//! - `a_flood_past_the_queue_bound_is_pushed_back`: acks follow the work,
//!   the client's writes block, readiness fails, memory stays flat.
//! - `kill9_at_random_moments_with_compaction_loses_no_job_and_does_none_twice`:
//!   SIGKILL cycles with a compaction every 20 jobs done (seeded as above).
//! - `a_full_disk_fails_readiness_then_liveness_then_recovers`: a 2 MiB
//!   tmpfs kept full (needs root to mount; skipped, saying so, without).
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
    start_limited(bin, data, work_ms, extra, None)
}

/// [`start`], with the soft limit on open files set to `nofile` for the
/// service (`ulimit -n` in a shell that then execs it) when given.
fn start_limited(
    bin: &str,
    data: &Path,
    work_ms: u64,
    extra: &[&str],
    nofile: Option<u32>,
) -> Service {
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut attempt = 1;
    loop {
        let probe = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut process = spawn(bin, any_port, probe, data, work_ms, extra, nofile);
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
    nofile: Option<u32>,
) -> Process {
    let program = cargo_bin("steward-examples", bin);
    let mut command = match nofile {
        None => Command::new(program),
        Some(n) => {
            let mut sh = Command::new("sh");
            let script = format!("ulimit -n {n} && exec \"$0\" \"$@\"");
            sh.arg("-c").arg(script).arg(program);
            sh
        }
    };
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

/// The archived done logs of `dir` (`done-NNNNNN.log`, left by the
/// journal's compactions), in order.
fn done_archives(dir: &Path) -> Vec<PathBuf> {
    let mut archives: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| {
                    path.file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| name.starts_with("done-") && name.ends_with(".log"))
                })
                .collect()
        })
        .unwrap_or_default();
    archives.sort();
    archives
}

/// Every job done in `dir`, read and checked: the archived done logs, then
/// `done.log`, the id and payload of each line, in order. `Err` names what
/// is wrong: a torn (unterminated or malformed) line, or an id twice.
///
/// The archives are listed before `done.log` is read, so a compaction
/// meanwhile can only hide lines from this reading (a later one sees
/// them), never show one twice.
fn read_done(dir: &Path, tail: Tail) -> Result<Vec<(u64, String)>, String> {
    let mut text = String::new();
    for archive in done_archives(dir) {
        let archived = std::fs::read_to_string(&archive)
            .map_err(|err| format!("reading {}: {err}", archive.display()))?;
        if !archived.is_empty() && !archived.ends_with('\n') {
            return Err(format!("{}: torn last line", archive.display()));
        }
        text.push_str(&archived);
    }
    let path = dir.join("done.log");
    let mut current = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => String::new(),
        Err(err) => return Err(format!("reading {}: {err}", path.display())),
    };
    if !current.is_empty() && !current.ends_with('\n') {
        let last = current.lines().last().unwrap_or_default().to_owned();
        if tail == Tail::Exited {
            return Err(format!("torn last line (no newline): `{last}`"));
        }
        current.truncate(current.len() - last.len());
    }
    text.push_str(&current);
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
/// was acknowledged for. When the journal was never compacted (no archived
/// done log) and is readable as `DIR/journal.log` (`<id> <payload>` lines),
/// each done line must be in it, too.
fn check_done(done: &[(u64, String)], ledger: &Ledger, dir: &Path) -> Result<(), String> {
    let compacted = !done_archives(dir).is_empty();
    let journal: Option<HashMap<u64, String>> = std::fs::read_to_string(dir.join("journal.log"))
        .ok()
        .filter(|_| !compacted)
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
            read_done(dir.path(), Tail::Running).unwrap_or_else(|e| panic!("{context}: {e}"));
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

        let done = read_done(dir.path(), Tail::Exited).unwrap_or_else(|e| panic!("{context}: {e}"));
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
    let after = read_done(dir.path(), Tail::Exited).unwrap_or_else(|e| panic!("{context}: {e}"));
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
    let done = read_done(dir.path(), Tail::Exited).unwrap_or_else(|e| panic!("{e}"));
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
            let mut process = spawn(bin, listen, probe, dir.path(), 20, &[], None);
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

// ------------------------------------------------------------------ faults

/// A line of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in KiB.
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Sends one line on a new connection and returns the first line answered.
fn send_line(addr: SocketAddr, line: &str) -> String {
    let stream = TcpStream::connect(addr).expect("connecting to the job port");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    (&stream).write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = BufReader::new(&stream).read_line(&mut answer);
    answer.trim_end().to_owned()
}

/// The ledger of jobs acknowledged by [`send_jobs`].
fn ledger_of(acked: &BTreeMap<u64, String>) -> Ledger {
    let mut ledger = Ledger::default();
    for (id, payload) in acked {
        ledger.record(Event::Sent(payload.clone()), "ledger");
        ledger.record(Event::Acked(*id, payload.clone()), "ledger");
    }
    ledger
}

/// Checks that every job of `ledger` is in `dir`'s done logs, once (read
/// after the service exited).
fn all_done_once(dir: &DataDir, ledger: &Ledger, context: &str) -> usize {
    let done = read_done(dir.path(), Tail::Exited).unwrap_or_else(|e| panic!("{context}: {e}"));
    check_done(&done, ledger, dir.path()).unwrap_or_else(|e| panic!("{context}: {e}"));
    let done: HashMap<u64, String> = done.into_iter().collect();
    for (id, payload) in &ledger.acked {
        assert_eq!(done.get(id), Some(payload), "{context}: job {id}");
    }
    done.len()
}

/// A second instance on the data directory of a running one exits 1 at
/// once, naming the directory and the first one's pid; the first goes on,
/// and once it stopped the second starts and does what was left: every
/// acknowledged job done exactly once.
fn a_second_instance_on_one_directory_exits_at_once(bin: &str) {
    let dir = DataDir::new(&format!("{bin}-two"));
    let mut first = start(bin, dir.path(), 200, &["--workers", "1"]);
    let mut acked = send_jobs(first.listen, "first", 10);

    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let probe = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let started = Instant::now();
    let mut second = spawn(bin, any_port, probe, dir.path(), 1, &[], None);
    let exit = second.wait_exit();
    let took = started.elapsed();
    eprintln!(
        "{bin}: the second instance exited with {:?} after {took:?}",
        exit.status.code()
    );
    assert_eq!(exit.status.code(), Some(1), "{exit:#?}");
    assert!(took < Duration::from_secs(10), "took {took:?}: {exit:#?}");
    let stderr = exit.stderr.join("\n");
    let holder = format!("pid {}", first.process.id());
    assert!(
        stderr.contains(&dir.path().display().to_string()) && stderr.contains(&holder),
        "the error names neither the directory nor {holder}: {stderr}"
    );

    // The first was not disturbed.
    acked.extend(send_jobs(first.listen, "first-after", 10));
    let (exit, _) = first.terminate();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");

    let mut second = start(bin, dir.path(), 1, &[]);
    acked.extend(send_jobs(second.listen, "second", 10));
    let ledger = ledger_of(&acked);
    wait_until_done(&mut second, &dir, &ledger, bin);
    let (exit, _) = second.terminate();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
    let done = all_done_once(&dir, &ledger, bin);
    assert_eq!(done, 30, "{bin}: 30 acknowledged, {done} done");
}

/// How many connections each holder process opens: the test process's own
/// descriptor limit (and that of the other tests running beside it) stays
/// clear of them.
const HOLD_EACH: usize = 5_000;

/// Starts a process that opens `count` connections to `addr` (sending half
/// a line of 60 KiB on the first `half_lines`), then holds them until
/// killed: this test binary itself, running [`holder::hold_connections`].
fn spawn_holder(addr: SocketAddr, count: usize, half_lines: usize) -> Process {
    let exe = std::env::current_exe().expect("the test binary");
    let mut command = Command::new(exe);
    command
        .args([
            "--exact",
            "holder::hold_connections",
            "--ignored",
            "--nocapture",
        ])
        .env("STEWARD_HOLD", format!("{addr} {count} {half_lines}"));
    Process::start(&mut command).with_deadline(Duration::from_secs(180))
}

/// The helper process of [`spawn_holder`].
mod holder {
    use std::io::Write;
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    /// Not a test: the body of a helper process, run by [`super::spawn_holder`]
    /// with `STEWARD_HOLD` set (`<addr> <count> <half lines>`).
    #[test]
    #[ignore = "a helper process of idle_connections_never_exhaust_the_descriptors"]
    fn hold_connections() {
        let Ok(spec) = std::env::var("STEWARD_HOLD") else {
            return;
        };
        let parts: Vec<&str> = spec.split(' ').collect();
        let addr: SocketAddr = parts[0].parse().unwrap();
        let count: usize = parts[1].parse().unwrap();
        let half_lines: usize = parts[2].parse().unwrap();
        let half_line = vec![b'x'; 60 * 1024];
        let (mut held, mut failed) = (Vec::with_capacity(count), 0);
        for n in 0..count {
            match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(stream) => {
                    if n < half_lines {
                        let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
                        let _ = (&stream).write_all(&half_line);
                    }
                    held.push(stream);
                }
                Err(_) => failed += 1,
            }
        }
        println!("held {} failed {failed}", held.len());
        std::thread::sleep(Duration::from_secs(150));
    }
}

/// 20,000 idle connections (4 processes of 5,000; 3,000 of them with half a
/// line of 60 KiB) against a service whose descriptor limit is 1024
/// (`ulimit -n`): while they connect and after, fresh probes answer 200
/// and a new client's jobs are acknowledged; no accept fails; the peak
/// resident memory stays bounded.
fn idle_connections_never_exhaust_the_descriptors(bin: &str) {
    let dir = DataDir::new(&format!("{bin}-idle"));
    let mut service = start_limited(bin, dir.path(), 1, &[], Some(1024));
    service.probe_until("/readyz", 200);
    let pid = service.process.id();
    let base_kib = proc_status_kib(pid, "VmRSS");

    let stop = Arc::new(AtomicBool::new(false));
    let (probe, prober_stop) = (service.probe, Arc::clone(&stop));
    let prober = std::thread::spawn(move || {
        let mut answers = Vec::new();
        // Relaxed: the flag only ends the loop.
        while !prober_stop.load(Ordering::Relaxed) {
            for path in ["/livez", "/readyz"] {
                let sent = Instant::now();
                let status = http_get(probe, path)
                    .map(|r| r.status)
                    .map_err(|e| e.kind());
                answers.push((path, status, sent.elapsed()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        answers
    });
    let started = Instant::now();
    let mut holders: Vec<Process> = (0..4)
        .map(|n| spawn_holder(service.listen, HOLD_EACH, if n < 3 { 1000 } else { 0 }))
        .collect();
    let (mut held, mut failed) = (0, 0);
    for holder in &mut holders {
        let line = holder.wait_for_line("held ");
        let counts: Vec<usize> = line
            .split(' ')
            .filter_map(|word| word.parse().ok())
            .collect();
        held += counts[0];
        failed += counts[1];
    }
    let connected_in = started.elapsed();
    // With every descriptor of the flood still held by the clients: a new
    // client's jobs, and the probes.
    let acked = send_jobs(service.listen, "among-idle", 20);
    stop.store(true, Ordering::Relaxed);
    let answers = prober.join().unwrap();
    let peak_kib = proc_status_kib(pid, "VmHWM");
    for holder in &mut holders {
        holder.kill();
    }
    let (exit, _) = service.terminate();
    let worst = answers
        .iter()
        .map(|(_, _, took)| *took)
        .max()
        .unwrap_or_default();
    eprintln!(
        "{bin}: {held} connections held, {failed} not made, in {connected_in:?}; {} probes, slowest {worst:?}; \
         RSS {base_kib} KiB before, peak {peak_kib} KiB",
        answers.len()
    );
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
    assert_eq!(held + failed, 4 * HOLD_EACH);
    assert!(held >= 2 * HOLD_EACH, "only {held} connections made");
    let bad: Vec<_> = answers
        .iter()
        .filter(|(_, status, _)| *status != Ok(200))
        .collect();
    assert!(
        bad.is_empty() && !answers.is_empty(),
        "probes failed: {bad:?}"
    );
    assert!(worst < Duration::from_secs(5), "a probe took {worst:?}");
    let accept_failed: Vec<&String> = exit
        .stderr
        .iter()
        .filter(|line| line.contains("accept failed"))
        .collect();
    assert!(accept_failed.is_empty(), "{accept_failed:?}");
    // At most 512 connections (half the limit), each with at most one line
    // of 64 KiB and its buffers: well under 256 MiB.
    assert!(peak_kib < 256 * 1024, "peak RSS {peak_kib} KiB");
    drop(service);
    let done_dir = &dir;
    let ledger = ledger_of(&acked);
    let mut last = start(bin, done_dir.path(), 1, &[]);
    wait_until_done(&mut last, done_dir, &ledger, bin);
    let (exit, _) = last.terminate();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
    all_done_once(done_dir, &ledger, bin);
}

/// The payload of the flood's `n`th line: 8 KiB.
fn flood_payload(n: u64) -> String {
    format!("flood-{n:08}-{}", "x".repeat(8 * 1024 - 15))
}

/// One client floods the job port with 8 KiB lines (never waiting for an
/// answer) against a queue of 200 and about 400 jobs a second: the client
/// is pushed back (its writes block), readiness fails, and at every look
/// the jobs acknowledged and not done are at most 200; the peak resident
/// memory stays bounded. Once the flood stops, readiness comes back and
/// every acknowledged job is done exactly once.
fn a_flood_past_the_queue_bound_is_pushed_back(bin: &str) {
    const QUEUE: u64 = 200;
    let dir = DataDir::new(&format!("{bin}-flood"));
    let mut service = start(bin, dir.path(), 5, &["--queue", "200", "--workers", "2"]);
    service.probe_until("/readyz", 200);
    let pid = service.process.id();
    let stream = TcpStream::connect(service.listen).unwrap();
    stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let reader = stream.try_clone().unwrap();
    let acked = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&acked);
    let acks = std::thread::spawn(move || {
        let mut acks = BTreeMap::new();
        let mut lines = BufReader::new(reader).lines();
        let mut n = 0;
        while let Some(Ok(line)) = lines.next() {
            let id = line
                .strip_prefix("ok ")
                .and_then(|id| id.parse().ok())
                .unwrap_or_else(|| panic!("expected `ok <id>`, got `{line}`"));
            acks.insert(id, flood_payload(n));
            n += 1;
            // Relaxed: a progress count read by the main thread.
            counter.fetch_add(1, Ordering::Relaxed);
        }
        acks
    });
    let stop = Arc::new(AtomicBool::new(false));
    let writer_stop = Arc::clone(&stop);
    let mut writer = stream;
    let flood = std::thread::spawn(move || {
        // How long the writes spent blocked (each that took over 10 ms).
        let (mut sent, mut blocked) = (0u64, Duration::ZERO);
        // Relaxed: the flag only ends the loop.
        while !writer_stop.load(Ordering::Relaxed) {
            let line = format!("{}\n", flood_payload(sent));
            let mut rest = line.as_bytes();
            // Whole lines only: a write that times out is resumed where it stopped.
            while !rest.is_empty() {
                let write = Instant::now();
                let written = writer.write(rest);
                if write.elapsed() > Duration::from_millis(10) {
                    blocked += write.elapsed();
                }
                match written {
                    Ok(n) => rest = &rest[n..],
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) => {}
                    Err(e) => panic!("flood write: {e}"),
                }
            }
            sent += 1;
        }
        let _ = writer.shutdown(std::net::Shutdown::Write);
        (sent, blocked)
    });

    let not_ready = {
        let until = Instant::now() + POLL_DEADLINE;
        loop {
            let status = http_get(service.probe, "/readyz").map(|r| r.status).ok();
            if status == Some(503) {
                break Instant::now();
            }
            assert!(
                Instant::now() < until,
                "/readyz never failed during the flood"
            );
            std::thread::sleep(POLL_EVERY);
        }
    };
    // Three seconds of flood: at every look, at most QUEUE acknowledged and
    // not done (the acks read first, then done.log).
    let mut worst = 0;
    while not_ready.elapsed() < Duration::from_secs(3) {
        let acked_now = acked.load(Ordering::Relaxed);
        let done_now = read_done(dir.path(), Tail::Running).map_or(0, |d| d.len() as u64);
        let waiting = acked_now.saturating_sub(done_now);
        worst = worst.max(waiting);
        assert!(
            waiting <= QUEUE,
            "{waiting} acknowledged and not done, queue {QUEUE}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let still_not_ready = http_get(service.probe, "/readyz").map(|r| r.status).ok();
    let peak_kib = proc_status_kib(pid, "VmHWM");
    stop.store(true, Ordering::Relaxed);
    let (sent, blocked) = flood.join().unwrap();
    let acks = acks.join().unwrap();
    let ready_again = service.probe_until("/readyz", 200);
    drop(ready_again);
    eprintln!(
        "{bin}: flood: {sent} lines of 8 KiB sent, writes blocked for {blocked:?}, {} acknowledged, \
         at most {worst} waiting (queue {QUEUE}); peak RSS {peak_kib} KiB",
        acks.len()
    );
    // Of the 3 s and more of flood, the writes spent most blocked: TCP
    // pushed back. (A reader that kept up would leave them unblocked.)
    assert!(
        blocked >= Duration::from_secs(1),
        "the client was pushed back for {blocked:?} only"
    );
    assert_eq!(
        still_not_ready,
        Some(503),
        "readiness came back while flooded"
    );
    assert_eq!(
        acks.len() as u64,
        sent,
        "every line sent was acknowledged once read"
    );
    assert!(peak_kib < 128 * 1024, "peak RSS {peak_kib} KiB");
    let ledger = ledger_of(&acks);
    wait_until_done(&mut service, &dir, &ledger, bin);
    let (exit, _) = service.terminate();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
    all_done_once(&dir, &ledger, bin);
}

/// Cycles over one data directory, each ended by SIGKILL at a random
/// moment, with a compaction due every 20 completed jobs (so that many
/// kills fall during one): every acknowledged job ends in the done logs
/// exactly once, and after the last run the journal holds only the few
/// lines completed since the last compaction.
fn kill9_at_random_moments_with_compaction_loses_no_job_and_does_none_twice(
    bin: &str,
    default_cycles: u64,
) {
    let seed = env_u64("STEWARD_SVCTEST_SEED").unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let cycles = env_u64("STEWARD_SVCTEST_CYCLES").unwrap_or(default_cycles);
    eprintln!(
        "{bin}: kill -9: seed {seed} (replay with STEWARD_SVCTEST_SEED={seed}), {cycles} cycles"
    );
    let mut rng = Rng(seed);
    let dir = DataDir::new(&format!("{bin}-kill9"));
    let mut ledger = Ledger::default();
    let mut compactions = 0;
    let flags = ["--workers", "4", "--compact-after", "20"];
    for cycle in 0..cycles {
        let context = format!("{bin}: kill -9: seed {seed}, cycle {cycle}");
        let mut service = start(bin, dir.path(), 1, &flags);
        let (events_tx, events) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..3)
            .map(|c| {
                let prefix = format!("k9-{seed}-{cycle}-{c}");
                client(service.listen, prefix, events_tx.clone(), Arc::clone(&stop))
            })
            .collect();
        drop(events_tx);
        let target = 1 + rng.upto(149);
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
        std::thread::sleep(Duration::from_millis(rng.upto(20)));
        service.process.signal("KILL");
        let exit = service.process.wait_exit();
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            client.join().expect("a client thread panicked");
        }
        for event in events.try_iter() {
            ledger.record(event, &context);
        }
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit.status.signal(), Some(9), "{context}: {exit:#?}");
        compactions += exit
            .stderr
            .iter()
            .filter(|line| line.contains("journal compacted"))
            .count();
        // A torn last line is allowed: the kill may cut a write.
        let done =
            read_done(dir.path(), Tail::Running).unwrap_or_else(|e| panic!("{context}: {e}"));
        check_done(&done, &ledger, dir.path()).unwrap_or_else(|e| panic!("{context}: {e}"));
    }
    let context = format!("{bin}: kill -9: seed {seed}, last run");
    let mut service = start(bin, dir.path(), 1, &flags);
    wait_until_done(&mut service, &dir, &ledger, &context);
    let (exit, _) = service.terminate();
    assert_eq!(exit.status.code(), Some(0), "{context}: {exit:#?}");
    let done = all_done_once(&dir, &ledger, &context);
    let journal_lines = std::fs::read_to_string(dir.path().join("journal.log"))
        .unwrap()
        .lines()
        .count();
    eprintln!(
        "{bin}: kill -9: seed {seed}: {} sent, {} acknowledged, {done} done, {compactions} compactions \
         logged, {} archives, journal.log {journal_lines} lines at the end",
        ledger.sent.len(),
        ledger.acked.len(),
        done_archives(dir.path()).len()
    );
    // Each compaction archives `done.log`: the archives are the evidence
    // that compactions ran (the log line may be cut by the kill that follows).
    assert!(
        compactions > 0 || !done_archives(dir.path()).is_empty(),
        "{context}: no compaction ran"
    );
    // All done: at most the header and the lines completed since the last
    // compaction (fewer than 20, or it would have run), or twice that.
    assert!(
        journal_lines <= 41,
        "{context}: journal.log has {journal_lines} lines"
    );
}

/// A small tmpfs mounted for one test (needs root); unmounted when dropped.
struct Tmpfs(DataDir);

impl Tmpfs {
    fn mount(name: &str, size: &str) -> Option<Tmpfs> {
        let dir = DataDir::new(name);
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .ok()?;
        status.success().then_some(Tmpfs(dir))
    }

    /// Fills it: a file grown until the disk is full, and kept growing
    /// every 20 ms (taking any block freed meanwhile, as other writers on a
    /// full disk would) until the returned filler is emptied.
    fn fill(&self) -> Filler {
        let path = self.0.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        let grow = move |file: &mut std::fs::File| loop {
            if let Err(e) = file.write_all(&chunk) {
                assert!(e.raw_os_error() == Some(28), "filling: {e}"); // ENOSPC
                return;
            }
        };
        grow(&mut file);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            // Relaxed: the flag only ends the loop.
            while !stopped.load(Ordering::Relaxed) {
                grow(&mut file);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Filler { path, stop, thread }
    }
}

/// The file that keeps a [`Tmpfs`] full.
struct Filler {
    path: PathBuf,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Filler {
    /// Stops growing it and removes it: the disk has room again.
    fn empty(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the filler thread");
        std::fs::remove_file(&self.path).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// On a full disk (a tmpfs of 2 MiB, filled): a job is refused with `err
/// journal unavailable` and readiness fails at once; liveness fails once
/// writes have failed for `--stuck-ms` (3 s); space freed, both come back
/// and jobs are taken again. Started on a full disk, the service is never
/// ready until space is freed. Every acknowledged job done exactly once.
fn a_full_disk_fails_readiness_then_liveness_then_recovers(bin: &str) {
    let Some(disk) = Tmpfs::mount(&format!("{bin}-full"), "2m") else {
        eprintln!("{bin}: SKIPPED: no tmpfs can be mounted here (not root)");
        return;
    };
    let data = DataDir(disk.0.path().join("data"));
    let flags = ["--stuck-ms", "3000", "--workers", "1"];
    let mut service = start(bin, data.path(), 10, &flags);
    service.probe_until("/readyz", 200);
    let mut acked = send_jobs(service.listen, "before", 10);
    // Nothing left to write but the probes: the disk stays full.
    wait_until_done(&mut service, &data, &ledger_of(&acked), bin);

    // The journal's last block may have room for a few lines yet.
    let filler = disk.fill();
    let mut refused = None;
    for n in 0..64 {
        let payload = format!("during-{n}-{}", "x".repeat(1000));
        let answer = send_line(service.listen, &payload);
        if answer == "err journal unavailable" {
            refused = Some(Instant::now());
            break;
        }
        let id = answer.strip_prefix("ok ").and_then(|id| id.parse().ok());
        let id = id.unwrap_or_else(|| panic!("expected `ok <id>` or the refusal, got `{answer}`"));
        acked.insert(id, payload);
    }
    let refused = refused.expect("no job refused on a full disk");
    let ready = http_get(service.probe, "/readyz").unwrap().status;
    assert_eq!(ready, 503, "readiness after a failed write");
    service.probe_until("/livez", 503);
    let unlive_after = refused.elapsed();
    assert!(
        unlive_after >= Duration::from_secs(2),
        "liveness failed after {unlive_after:?}"
    );

    filler.empty();
    let freed = Instant::now();
    service.probe_until("/livez", 200);
    service.probe_until("/readyz", 200);
    let recovered = freed.elapsed();
    acked.extend(send_jobs(service.listen, "after", 10));
    let ledger = ledger_of(&acked);
    wait_until_done(&mut service, &data, &ledger, bin);
    let (exit, _) = service.terminate();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");

    // A start on a full disk: running, never ready until space is freed.
    let filler = disk.fill();
    let mut service = start(bin, data.path(), 1, &flags);
    for _ in 0..10 {
        let status = http_get(service.probe, "/readyz").unwrap().status;
        assert_eq!(status, 503, "ready on a full disk");
        std::thread::sleep(Duration::from_millis(100));
    }
    filler.empty();
    service.probe_until("/readyz", 200);
    acked.extend(send_jobs(service.listen, "restarted", 5));
    let ledger = ledger_of(&acked);
    wait_until_done(&mut service, &data, &ledger, bin);
    let (exit, _) = service.terminate();
    assert_eq!(exit.status.code(), Some(0), "{exit:#?}");
    let done = all_done_once(&data, &ledger, bin);
    eprintln!(
        "{bin}: full disk: liveness failed {unlive_after:?} after the refusal; ready again \
         {recovered:?} after space was freed; {done} jobs done once"
    );
    drop(data);
}

/// One `#[test]` per scenario and binary, so that a failure names both.
mod service {
    #[test]
    fn a_second_instance_on_one_directory_exits_at_once() {
        super::a_second_instance_on_one_directory_exits_at_once("service");
    }

    #[test]
    fn idle_connections_never_exhaust_the_descriptors() {
        super::idle_connections_never_exhaust_the_descriptors("service");
    }

    #[test]
    fn a_flood_past_the_queue_bound_is_pushed_back() {
        super::a_flood_past_the_queue_bound_is_pushed_back("service");
    }

    #[test]
    fn kill9_at_random_moments_with_compaction_loses_no_job_and_does_none_twice() {
        super::kill9_at_random_moments_with_compaction_loses_no_job_and_does_none_twice(
            "service", 30,
        );
    }

    #[test]
    fn a_full_disk_fails_readiness_then_liveness_then_recovers() {
        super::a_full_disk_fails_readiness_then_liveness_then_recovers("service");
    }

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
    fn a_second_instance_on_one_directory_exits_at_once() {
        super::a_second_instance_on_one_directory_exits_at_once("service-tokio");
    }

    #[test]
    fn idle_connections_never_exhaust_the_descriptors() {
        super::idle_connections_never_exhaust_the_descriptors("service-tokio");
    }

    #[test]
    fn a_flood_past_the_queue_bound_is_pushed_back() {
        super::a_flood_past_the_queue_bound_is_pushed_back("service-tokio");
    }

    #[test]
    fn kill9_at_random_moments_with_compaction_loses_no_job_and_does_none_twice() {
        super::kill9_at_random_moments_with_compaction_loses_no_job_and_does_none_twice(
            "service-tokio",
            15,
        );
    }

    #[test]
    fn a_full_disk_fails_readiness_then_liveness_then_recovers() {
        super::a_full_disk_fails_readiness_then_liveness_then_recovers("service-tokio");
    }

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
