//! The probe server over real loopback TCP, on smol and on tokio, with a
//! raw HTTP/1.1 client: every endpoint, and bad input (malformed requests,
//! a 1 MiB header, slowloris clients, a flood of connections).

use std::io::{self, Read, Write};
use std::net::{Shutdown as Both, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use serde_json::Value;
use steward_core::health::{Check, CheckOutcome, Health};
use steward_core::http::Endpoints;
use steward_core::probes::Probes;
use steward_core::{Reason, RuntimeHandle, Shutdown, ShutdownGuard};
use steward_hyper::Server;

/// Real-time bound on anything a test waits for (generous: CI is shared).
const PATIENCE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy)]
enum Kind {
    Smol,
    Tokio,
}

/// The runtime a server runs on; stopped when dropped.
enum Runtime {
    Smol {
        stop: Shutdown,
        workers: Vec<std::thread::JoinHandle<()>>,
    },
    Tokio(Option<tokio::runtime::Runtime>),
}

impl Drop for Runtime {
    fn drop(&mut self) {
        match self {
            Runtime::Smol { stop, workers } => {
                stop.trigger(Reason::Requested);
                for w in workers.drain(..) {
                    let _ = w.join();
                }
            }
            Runtime::Tokio(rt) => {
                if let Some(rt) = rt.take() {
                    rt.shutdown_background();
                }
            }
        }
    }
}

/// A running probe server: `db` (ready, critical; down while `db_down`),
/// `cache` (ready, not critical), `runtime` (live), and `slow` (all only;
/// takes 300 ms and reports when it starts).
struct Fixture {
    addr: SocketAddr,
    db_down: Arc<AtomicBool>,
    shutdown: Shutdown,
    guard: Mutex<Option<ShutdownGuard>>,
    slow_started: Mutex<mpsc::Receiver<()>>,
    closed: Mutex<mpsc::Receiver<()>>,
    _runtime: Runtime,
    _shared: Option<RwLockReadGuard<'static, ()>>,
}

/// A flood runs alone (10,000 client sockets are near the fd limit, and it
/// saturates the machine); the other tests share.
static HEAVY: RwLock<()> = RwLock::new(());

fn start(kind: Kind, configure: impl FnOnce(Server) -> Server) -> Fixture {
    let shared = HEAVY.read().unwrap_or_else(|e| e.into_inner());
    Fixture {
        _shared: Some(shared),
        ..start_unlocked(kind, configure)
    }
}

fn start_unlocked(kind: Kind, configure: impl FnOnce(Server) -> Server) -> Fixture {
    let (runtime, rt) = match kind {
        Kind::Smol => {
            let ex = Arc::new(async_executor::Executor::new());
            let stop = Shutdown::new();
            let workers = (0..2)
                .map(|_| {
                    let ex = Arc::clone(&ex);
                    let stop = stop.clone();
                    std::thread::spawn(move || {
                        futures_lite::future::block_on(ex.run(stop.triggered_owned()));
                    })
                })
                .collect();
            let rt = steward_smol::SmolRuntime::new(ex).handle();
            (Runtime::Smol { stop, workers }, rt)
        }
        Kind::Tokio => {
            let tokio = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let rt = steward_tokio::TokioRuntime::new(tokio.handle().clone()).handle();
            (Runtime::Tokio(Some(tokio)), rt)
        }
    };
    let health = Health::new(rt.clone());
    let db_down = Arc::new(AtomicBool::new(false));
    let down = db_down.clone();
    let db = move || {
        let down = down.load(Ordering::SeqCst);
        async move {
            if down {
                CheckOutcome::unhealthy("connection refused")
            } else {
                CheckOutcome::healthy()
            }
        }
    };
    let (started_tx, started_rx) = mpsc::channel();
    let started_tx = Mutex::new(started_tx);
    let sleeper = rt.clone();
    let slow = move || {
        let _ = started_tx.lock().unwrap().send(());
        let sleeper = sleeper.clone();
        async move {
            sleeper.sleep(Duration::from_millis(300)).await;
            CheckOutcome::healthy()
        }
    };
    let inline = |c: Check| c.inline(Duration::ZERO);
    health
        .register(inline(Check::new("db", db).ready()))
        .unwrap();
    health
        .register(inline(
            Check::new("cache", || async { CheckOutcome::healthy() })
                .ready()
                .critical(false),
        ))
        .unwrap();
    health
        .register(inline(
            Check::new("runtime", || async { CheckOutcome::healthy() }).live(),
        ))
        .unwrap();
    health.register(inline(Check::new("slow", slow))).unwrap();

    let shutdown = Shutdown::new();
    let guard = shutdown.guard(); // the service's work: the server closes once it is done
    let probes = Probes::new(health, shutdown.clone());
    probes.set_running();
    let server = configure(Server::new(Endpoints::new(probes)).close_on(shutdown.clone()));
    let (closed_tx, closed_rx) = mpsc::channel();
    let addr = match kind {
        Kind::Smol => {
            let server = steward_smol::ProbeServer::bind("127.0.0.1:0", server).unwrap();
            let addr = server.local_addr().unwrap();
            spawn_server(&rt, server.run(), closed_tx);
            addr
        }
        Kind::Tokio => {
            let Runtime::Tokio(Some(tokio)) = &runtime else {
                unreachable!()
            };
            let _enter = tokio.enter();
            let server = steward_tokio::ProbeServer::bind("127.0.0.1:0", server).unwrap();
            let addr = server.local_addr().unwrap();
            spawn_server(&rt, server.run(), closed_tx);
            addr
        }
    };
    Fixture {
        addr,
        db_down,
        shutdown,
        guard: Mutex::new(Some(guard)),
        slow_started: Mutex::new(started_rx),
        closed: Mutex::new(closed_rx),
        _runtime: runtime,
        _shared: None,
    }
}

fn spawn_server(rt: &RuntimeHandle, serve: steward_hyper::Serve, closed: mpsc::Sender<()>) {
    rt.spawn(async move {
        serve.await;
        let _ = closed.send(());
    });
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn parse(raw: &[u8]) -> io::Result<Reply> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
        let text = String::from_utf8_lossy(raw);
        let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| bad("no head"))?;
        let mut lines = head.split("\r\n");
        let status_line = lines.next().ok_or_else(|| bad("no status line"))?;
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(status_line))?;
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok(Reply {
            status,
            headers,
            body: body.to_owned(),
        })
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    stream
}

/// Sends `raw` on a new connection and reads the answer to the end.
fn exchange(addr: SocketAddr, raw: &[u8]) -> io::Result<Reply> {
    let mut stream = connect(addr);
    stream.write_all(raw)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Reply::parse(&answer)
}

fn send(addr: SocketAddr, method: &str, target: &str, headers: &str) -> Reply {
    let raw =
        format!("{method} {target} HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n{headers}\r\n");
    exchange(addr, raw.as_bytes()).unwrap()
}

fn get(addr: SocketAddr, target: &str) -> Reply {
    send(addr, "GET", target, "")
}

/// Reads until the server closes the connection; how long that took.
fn closed_within(stream: &mut TcpStream) -> Duration {
    let start = Instant::now();
    let mut sink = [0u8; 1024];
    loop {
        match stream.read(&mut sink) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return start.elapsed(),
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod on_smol {
            $(#[test] fn $name() { super::$name(super::Kind::Smol) })*
        }
        mod on_tokio {
            $(#[test] fn $name() { super::$name(super::Kind::Tokio) })*
        }
    };
}

on_both!(
    endpoints_answer_with_status_body_and_headers,
    head_not_found_and_method_not_allowed,
    verbose_exclude_and_one_check,
    the_health_document_over_tcp,
    a_failing_check_turns_readiness_503,
    malformed_requests_are_refused_and_the_server_keeps_answering,
    a_one_mebibyte_header_is_refused,
    slowloris_clients_are_cut_off,
    a_full_table_evicts_an_idle_connection_for_a_newcomer,
    a_full_table_judges_newcomers_by_their_first_bytes,
    a_client_that_does_not_read_is_closed_at_the_write_timeout,
    a_connection_answers_at_most_its_requests_then_closes,
    a_flood_of_ten_thousand_connections,
    the_server_closes_gracefully_once_drained,
);

fn endpoints_answer_with_status_body_and_headers(kind: Kind) {
    let f = start(kind, |s| s);
    for path in ["/livez", "/readyz", "/startupz", "/healthz"] {
        let r = get(f.addr, path);
        assert_eq!((r.status, r.body.as_str()), (200, "ok"), "{path}");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("content-length"), Some("2"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    }
}

fn head_not_found_and_method_not_allowed(kind: Kind) {
    let f = start(kind, |s| s);
    let r = send(f.addr, "HEAD", "/readyz", "");
    assert_eq!((r.status, r.body.as_str()), (200, ""));
    assert_eq!(r.header("content-length"), Some("2"));
    assert_eq!(r.header("cache-control"), Some("no-store"));

    let r = get(f.addr, "/metrics");
    assert_eq!((r.status, r.body.as_str()), (404, "404 page not found\n"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));

    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let r = send(f.addr, method, "/livez", "Content-Length: 0\r\n");
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
}

fn verbose_exclude_and_one_check(kind: Kind) {
    let f = start(kind, |s| s);
    let r = get(f.addr, "/readyz?verbose");
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            200,
            "[+]startup ok\n[+]shutdown ok\n[+]db ok\n[+]cache ok\nreadyz check passed\n"
        )
    );
    let r = get(f.addr, "/readyz?verbose&exclude=cache&exclude=nope");
    assert_eq!(
        r.body,
        "[+]startup ok\n[+]shutdown ok\n[+]db ok\n[+]cache excluded: ok\n\
         warn: some health checks cannot be excluded: no matches for \"nope\"\n\
         readyz check passed\n"
    );
    // An unknown name is echoed as sent, a right-to-left override shown.
    let r = get(f.addr, "/readyz?verbose&exclude=%E2%80%AEevil%0d%0a[%2B]x");
    assert!(
        r.body.contains("no matches for \"\\u{202e}evil  [+]x\"\n"),
        "{}",
        r.body
    );
    let r = get(f.addr, "/readyz/db?verbose");
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "[+]db ok\nreadyz check passed\n")
    );
    let r = get(f.addr, "/readyz/nope");
    assert_eq!((r.status, r.body.as_str()), (404, "no such check\n"));
    assert_eq!(get(f.addr, "/livez/db").status, 404);
    assert_eq!(get(f.addr, "/livez/runtime").status, 200);
}

fn the_health_document_over_tcp(kind: Kind) {
    let f = start(kind, |s| s);
    f.db_down.store(true, Ordering::SeqCst);
    for (target, accept) in [
        ("/health", ""),
        ("/healthz", "Accept: application/health+json\r\n"),
    ] {
        let r = send(f.addr, "GET", target, accept);
        assert_eq!(r.status, 503);
        assert_eq!(r.header("content-type"), Some("application/health+json"));
        let doc: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(doc["status"], "fail");
        let db = &doc["checks"]["db:responseTime"][0];
        assert_eq!(db["componentId"], "db");
        assert_eq!(db["status"], "fail");
        assert_eq!(db["observedUnit"], "ms");
        assert!(db["observedValue"].is_number());
        assert!(db["time"].as_str().unwrap().ends_with('Z'));
        assert!(db.get("output").is_none(), "errors are withheld");
        let slow = &doc["checks"]["slow:responseTime"][0];
        assert!(slow["observedValue"].as_f64().unwrap() >= 300.0, "{slow}");
        assert_eq!(doc["checks"].as_object().unwrap().len(), 4);
    }
}

fn a_failing_check_turns_readiness_503(kind: Kind) {
    let f = start(kind, |s| s);
    f.db_down.store(true, Ordering::SeqCst);
    let r = get(f.addr, "/readyz");
    assert_eq!(
        (r.status, r.body.as_str()),
        (
            503,
            "[+]startup ok\n[+]shutdown ok\n[-]db failed: reason withheld\n[+]cache ok\nreadyz check failed\n"
        )
    );
    assert_eq!(get(f.addr, "/livez").status, 200);
    f.db_down.store(false, Ordering::SeqCst);
    assert_eq!(get(f.addr, "/readyz").status, 200);
}

fn malformed_requests_are_refused_and_the_server_keeps_answering(kind: Kind) {
    let f = start(kind, |s| s);
    let bad: [&[u8]; 6] = [
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /livez HTTP/1.1\r\nHost probe\r\n\r\n",
        b"GET /livez HTTP/1.1\r\nHost: a\0b\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 (a TLS hello)\r\n\r\n",
        b"GET /readyz HTTP/1.1\r\nHost: probe\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    ];
    for raw in bad {
        match exchange(f.addr, raw) {
            Ok(reply) => assert!(
                (400..500).contains(&reply.status),
                "{:?} -> {reply:?}",
                String::from_utf8_lossy(raw)
            ),
            // Some garbage is answered by closing the connection.
            Err(e) => assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::InvalidData | io::ErrorKind::ConnectionReset
                ),
                "{e}"
            ),
        }
        assert_eq!(get(f.addr, "/livez").status, 200);
    }
    let with_body = exchange(f.addr, bad[5]).unwrap();
    assert_eq!(
        (with_body.status, with_body.body.as_str()),
        (400, "probes take no request body\n")
    );
}

fn a_one_mebibyte_header_is_refused(kind: Kind) {
    let f = start(kind, |s| s);
    let mut stream = connect(f.addr);
    let mut raw = b"GET /livez HTTP/1.1\r\nHost: probe\r\nX-Big: ".to_vec();
    raw.resize(raw.len() + (1 << 20), b'a');
    raw.extend_from_slice(b"\r\n\r\n");
    // The server stops reading at its limit: the write may fail half-way.
    let _ = stream.write_all(&raw);
    let _ = stream.shutdown(Both::Write);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    if !answer.is_empty() {
        assert_eq!(Reply::parse(&answer).unwrap().status, 431);
    }
    assert_eq!(get(f.addr, "/livez").status, 200);

    // Just past the 16 KiB limit, the answer is a 431 for sure.
    let big = format!("X-Big: {}\r\n", "a".repeat(17 * 1024));
    assert_eq!(send(f.addr, "GET", "/livez", &big).status, 431);
    // And below it, an ordinary answer.
    let fine = format!("X-Fine: {}\r\n", "a".repeat(8 * 1024));
    assert_eq!(send(f.addr, "GET", "/livez", &fine).status, 200);
}

fn slowloris_clients_are_cut_off(kind: Kind) {
    let timeout = Duration::from_secs(2);
    let f = start(kind, |s| s.header_read_timeout(timeout));
    let mut partial = connect(f.addr);
    partial
        .write_all(b"GET /livez HTTP/1.1\r\nHost: probe\r\nX-Slow: ")
        .unwrap();
    let mut silent = connect(f.addr);
    let mut idle = connect(f.addr);
    idle.write_all(b"GET /livez HTTP/1.1\r\nHost: probe\r\n\r\n")
        .unwrap(); // answered, then kept alive and idle
    let mut answer = [0u8; 512];
    let n = idle.read(&mut answer).unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));

    // While they hang on, the server answers others.
    for _ in 0..20 {
        assert_eq!(get(f.addr, "/livez").status, 200);
    }
    partial.set_nonblocking(true).unwrap();
    let still_open = partial.read(&mut answer).map_err(|e| e.kind());
    assert_eq!(
        still_open,
        Err(io::ErrorKind::WouldBlock),
        "cut off too early"
    );
    partial.set_nonblocking(false).unwrap();

    for (name, stream) in [
        ("partial head", &mut partial),
        ("silent", &mut silent),
        ("idle keep-alive", &mut idle),
    ] {
        let took = closed_within(stream);
        assert!(took < PATIENCE / 2, "{name}: closed only after {took:?}");
    }
    assert_eq!(get(f.addr, "/livez").status, 200);
}

fn a_full_table_evicts_an_idle_connection_for_a_newcomer(kind: Kind) {
    let f = start(kind, |s| {
        s.max_connections(8).header_read_timeout(PATIENCE * 2)
    });
    // Eight slow clients: connected, a part of a head sent, never finished.
    let held: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = connect(f.addr);
            s.write_all(b"GET /livez HTTP/1.1\r\nHost: pro").unwrap();
            s
        })
        .collect();
    // A newcomer gets its real answer, never a refusal ...
    let r = get(f.addr, "/livez");
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    // ... and a slow client was closed for it, without an answer (which
    // one is the table's choice, tested in its unit tests).
    let deadline = Instant::now() + PATIENCE;
    let mut open = Vec::new();
    let mut closed = 0;
    for stream in held {
        stream
            .set_read_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        open.push(stream);
    }
    while closed < 1 {
        assert!(
            Instant::now() < deadline,
            "only {closed} slow clients closed"
        );
        let mut still = Vec::new();
        for mut stream in open {
            let mut byte = [0u8; 1];
            match stream.read(&mut byte) {
                Ok(0) => closed += 1,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => closed += 1,
                Ok(_) => panic!("a slow client got an answer"),
                Err(_) => still.push(stream), // timed out: still open
            }
        }
        open = still;
    }
    assert_eq!(open.len(), 7, "more evicted than newcomers came");
    // The others kept their slot and are answered when they finish.
    for mut stream in open {
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        stream
            .write_all(b"be\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        assert_eq!(Reply::parse(&answer).unwrap().status, 200);
    }
}

fn a_full_table_judges_newcomers_by_their_first_bytes(kind: Kind) {
    let f = start(kind, |s| {
        s.max_connections(1).header_read_timeout(PATIENCE * 2)
    });
    // The one slot: a slow client, accepted first.
    let mut slow = connect(f.addr);
    slow.write_all(b"GET /livez HTTP/1.1\r\nHost: pro").unwrap();
    // A silent newcomer waits outside the table, then is closed (the slow
    // client keeps its slot: a newcomer without a head evicts no one).
    let mut silent = connect(f.addr);
    let took = closed_within(&mut silent);
    assert!(
        took < PATIENCE / 2,
        "a silent newcomer closed after {took:?}"
    );
    // A newcomer with a part of a head is closed without an answer.
    let mut partial = connect(f.addr);
    partial.write_all(b"GET /readyz HTTP/1.1\r\nHo").unwrap();
    let mut answer = Vec::new();
    let _ = partial.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    // The slow client still has its slot.
    slow.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        slow.read(&mut byte).map_err(|e| e.kind()),
        Err(io::ErrorKind::WouldBlock),
        "the slow client was evicted"
    );
    slow.set_nonblocking(false).unwrap();
    // A newcomer with a whole head is served, and takes the slot.
    let r = get(f.addr, "/livez");
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));
    let took = closed_within(&mut slow);
    assert!(took < PATIENCE / 2, "the slow client closed after {took:?}");
}

fn a_client_that_does_not_read_is_closed_at_the_write_timeout(kind: Kind) {
    let timeout = Duration::from_secs(1);
    let f = start(kind, |s| {
        s.write_timeout(timeout)
            .max_requests_per_connection(usize::MAX)
            .header_read_timeout(PATIENCE * 2)
    });
    // Pipelines far more answers than the sockets' buffers hold, never reads.
    let stream = connect(f.addr);
    let mut writer = stream.try_clone().unwrap();
    let pipelining = std::thread::spawn(move || {
        let request = b"GET /livez HTTP/1.1\r\nHost: probe\r\n\r\n";
        let batch: Vec<u8> = request
            .iter()
            .copied()
            .cycle()
            .take(request.len() * 1000)
            .collect();
        let started = Instant::now();
        // Ends when the server closes (or stops reading, past the patience).
        while writer.write_all(&batch).is_ok() && started.elapsed() < PATIENCE {}
        started.elapsed()
    });
    let took = pipelining.join().unwrap();
    assert!(took < PATIENCE, "the connection was never closed");
    // The server is free for others.
    assert_eq!(get(f.addr, "/livez").status, 200);
    drop(stream);
}

fn a_connection_answers_at_most_its_requests_then_closes(kind: Kind) {
    let f = start(kind, |s| s.max_requests_per_connection(5));
    let mut stream = connect(f.addr);
    let request = "GET /livez HTTP/1.1\r\nHost: probe\r\n\r\n".repeat(8);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answers = Vec::new();
    let _ = stream.read_to_end(&mut answers); // a reset may follow the close
    let text = String::from_utf8_lossy(&answers);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 5, "{text}");
    assert_eq!(text.matches("connection: close").count(), 1, "{text}");
    assert!(text.ends_with("\r\n\r\nok"), "{text}");
}

/// 10,000, or fewer where the soft limit of open files would not allow that
/// many client sockets (the server needs a few hundred more).
fn flood_size() -> usize {
    let soft_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
            line.split_whitespace().nth(3)?.parse::<usize>().ok()
        });
    match soft_limit {
        Some(limit) if limit < 11_000 => {
            let size = limit.saturating_sub(1_000).max(100);
            eprintln!("flood: {size} clients (the open-file limit is {limit})");
            size
        }
        _ => 10_000,
    }
}

fn a_flood_of_ten_thousand_connections(kind: Kind) {
    let clients = flood_size();
    let _alone = HEAVY.write().unwrap_or_else(|e| e.into_inner());
    let f = start_unlocked(kind, |s| s);
    let addr = f.addr;

    // An async client on an executor of its own: every request in flight at once.
    let ex = async_executor::Executor::new();
    let outcomes: Vec<Result<u16, io::ErrorKind>> = futures_lite::future::block_on(ex.run(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                ex.spawn(async move {
                    let exchange = async {
                        use futures_lite::{AsyncReadExt, AsyncWriteExt};
                        let mut stream = async_io::Async::<TcpStream>::connect(addr).await?;
                        stream
                            .write_all(
                                b"GET /readyz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n",
                            )
                            .await?;
                        let mut answer = Vec::new();
                        stream.read_to_end(&mut answer).await?;
                        if answer.is_empty() {
                            return Ok(0); // evicted before its head was read
                        }
                        Reply::parse(&answer).map(|r| r.status)
                    };
                    let timeout = async {
                        async_io::Timer::after(PATIENCE * 3).await;
                        Err(io::Error::new(io::ErrorKind::TimedOut, "no answer"))
                    };
                    futures_lite::future::or(exchange, timeout)
                        .await
                        .map_err(|e| e.kind())
                })
            })
            .collect();
        let mut out = Vec::with_capacity(clients);
        for task in tasks {
            out.push(task.await);
        }
        out
    }));

    let count =
        |p: &dyn Fn(&Result<u16, io::ErrorKind>) -> bool| outcomes.iter().filter(|o| p(o)).count();
    let ok = count(&|o| *o == Ok(200));
    let busy = count(&|o| *o == Ok(503));
    assert_eq!(busy, 0, "a refusal is never a 503");
    let evicted = count(&|o| *o == Ok(0));
    let reset = count(&|o| {
        matches!(
            o,
            Err(io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
                | io::ErrorKind::BrokenPipe)
        )
    });
    let hung = count(&|o| *o == Err(io::ErrorKind::TimedOut));
    assert_eq!(hung, 0, "requests left hanging");
    assert_eq!(
        ok + evicted + reset,
        clients,
        "unexpected outcomes: {:?}",
        {
            let mut odd: Vec<_> = outcomes
                .iter()
                .filter(|o| !matches!(o, Ok(200 | 0)))
                .collect();
            odd.dedup();
            odd
        }
    );
    assert!(
        ok > 0,
        "no request answered: {evicted} evicted, {reset} reset"
    );
    eprintln!("{kind:?}: {ok} answered, {evicted} closed unanswered, {reset} reset");
    assert_eq!(
        get(f.addr, "/readyz").status,
        200,
        "the server keeps answering"
    );
}

fn the_server_closes_gracefully_once_drained(kind: Kind) {
    let f = start(kind, |s| s);
    f.shutdown.trigger(Reason::Signal(15));
    // Draining: still serving, and not ready.
    let r = get(f.addr, "/readyz");
    assert_eq!(r.status, 503);
    assert!(r.body.contains("[-]shutdown draining\n"), "{}", r.body);
    assert_eq!(get(f.addr, "/livez").status, 200);

    // A request in flight when the service finishes draining is answered.
    let addr = f.addr;
    let in_flight = std::thread::spawn(move || get(addr, "/healthz/slow"));
    f.slow_started
        .lock()
        .unwrap()
        .recv_timeout(PATIENCE)
        .unwrap();
    drop(f.guard.lock().unwrap().take()); // the service's work is done: drained
    f.closed
        .lock()
        .unwrap()
        .recv_timeout(PATIENCE)
        .expect("the server did not close");
    let r = in_flight.join().unwrap();
    assert_eq!((r.status, r.body.as_str()), (200, "ok"));

    // Closed: no one listens any more.
    match TcpStream::connect(f.addr) {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
        Ok(mut stream) => {
            stream.set_read_timeout(Some(PATIENCE)).unwrap();
            let _ = stream.write_all(b"GET /livez HTTP/1.1\r\nHost: probe\r\n\r\n");
            let mut answer = Vec::new();
            let read = stream.read_to_end(&mut answer);
            assert!(
                read.is_err() || answer.is_empty(),
                "answered after the close"
            );
        }
    }
}
