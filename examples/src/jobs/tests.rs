//! The service over real loopback TCP on smol: the protocol, the stop, the
//! resume.

use std::net::{Shutdown as Half, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use futures_lite::future::block_on;
use futures_lite::io::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use steward_core::{App, AppReport, Reason, Shutdown};

use super::{Job, Jobs, Journal, Options, DONE_FILE, JOURNAL_FILE, MAX_LINE};

/// A fresh directory for one test, named after it.
pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("steward-jobs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Runs the service (journal, workers, listener on a free port) until
/// `client` returns; the client gets the address and the service's scope.
fn run<C, Fut>(options: &Options, client: C) -> (AppReport, Vec<String>)
where
    C: FnOnce(SocketAddr, Shutdown) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Vec<String>> + Send,
{
    let (seen_tx, seen) = async_channel::bounded(1);
    let rt = steward_smol::SmolRuntime::global().handle();
    let options = options.clone();
    let report = block_on(App::new().serve(rt, |cx| async move {
        let jobs = Jobs::open(&cx, &options).await?;
        jobs.start_workers(options.workers, options.work)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        cx.tasks().start("listener", move |stop| async move {
            jobs.serve(stop, || listener.accept()).await;
        })?;
        let shutdown = cx.shutdown().clone();
        cx.runtime().spawn(async move {
            let lines = client(addr, shutdown.clone()).await;
            let _ = seen_tx.send(lines).await;
            shutdown.trigger(Reason::Requested);
        });
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    }));
    (report, seen.try_recv().unwrap_or_default())
}

/// Writes `input` (then half-closes, when asked) and reads every line the
/// service sends until it closes the connection.
async fn talk(addr: SocketAddr, input: &[u8], hang_up: bool) -> Vec<String> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The service may close first (a line too long): what it sent still counts.
    let _ = stream.write_all(input).await;
    if hang_up {
        let _ = stream.shutdown(Half::Write);
    }
    read_all(&mut stream).await
}

async fn read_all(stream: &mut TcpStream) -> Vec<String> {
    let mut text = Vec::new();
    // A reset (the service closed with input unread) ends it too.
    let _ = stream.read_to_end(&mut text).await;
    String::from_utf8(text)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn options(name: &str) -> Options {
    Options {
        data: temp_dir(name),
        work: Duration::from_millis(1),
        ..Options::default()
    }
}

fn read(options: &Options, file: &str) -> String {
    std::fs::read_to_string(options.data.join(file)).unwrap()
}

#[test]
fn each_line_is_acknowledged_in_order_once_journaled() {
    let options = options("acks");
    let (report, acks) = run(&options, |addr, _| async move {
        talk(addr, b"resize photo 1\r\nresize photo 2\n\nlast\n", true).await
    });
    assert_eq!(report.exit_code(), 0, "{report}");
    assert_eq!(acks, ["ok 1", "ok 2", "ok 3", "ok 4"]);
    let journal = read(&options, JOURNAL_FILE);
    assert_eq!(journal, "1 resize photo 1\n2 resize photo 2\n3 \n4 last\n");
    std::fs::remove_dir_all(&options.data).unwrap();
}

#[test]
fn a_last_line_without_its_newline_is_not_a_job() {
    let options = options("torn");
    let (report, acks) = run(&options, |addr, _| async move {
        talk(addr, b"whole\nhalf a li", true).await
    });
    assert_eq!(report.exit_code(), 0, "{report}");
    assert_eq!(acks, ["ok 1"]);
    assert_eq!(read(&options, JOURNAL_FILE), "1 whole\n");
    std::fs::remove_dir_all(&options.data).unwrap();
}

#[test]
fn a_line_too_long_gets_an_error_then_the_close() {
    let options = options("long");
    let (report, acks) = run(&options, |addr, _| async move {
        // The longest line, with CRLF: the `\r` does not count.
        let mut input = vec![b'x'; MAX_LINE];
        input.extend_from_slice(b"\r\n");
        input.extend(vec![b'y'; MAX_LINE + 1]);
        input.extend_from_slice(b"\r\n");
        talk(addr, &input, false).await
    });
    assert_eq!(report.exit_code(), 0, "{report}");
    assert_eq!(
        acks,
        [
            "ok 1".to_owned(),
            format!("err line longer than {MAX_LINE} bytes")
        ]
    );
    let journal = read(&options, JOURNAL_FILE);
    assert_eq!(
        journal.len(),
        "1 ".len() + MAX_LINE + 1,
        "only the first line"
    );
    std::fs::remove_dir_all(&options.data).unwrap();
}

#[test]
fn the_stop_closes_open_connections_and_leaves_queued_jobs_pending() {
    let options = Options {
        workers: 1,
        // Long enough that the worker is still on its first job at the stop.
        work: Duration::from_millis(300),
        ..options("stop")
    };
    let (report, seen) = run(&options, |addr, shutdown| async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"a\nb\nc\nd\ne\n").await.unwrap();
        let mut acks = [0; 25];
        stream.read_exact(&mut acks).await.unwrap(); // "ok 1\n" … "ok 5\n"
                                                     // Stop while the client is connected and jobs are queued: the
                                                     // connection is closed, though the client never hung up.
        shutdown.trigger(Reason::Signal(15));
        let mut seen: Vec<String> = std::str::from_utf8(&acks)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        seen.extend(read_all(&mut stream).await);
        seen
    });
    assert_eq!(report.exit_code(), 0, "{report}");
    assert_eq!(seen, ["ok 1", "ok 2", "ok 3", "ok 4", "ok 5"]);
    // The worker finished the job in hand, if it had one; the rest are pending.
    let done = read(&options, DONE_FILE);
    assert!(done.lines().count() <= 1, "{done}");
    let (journal, pending) = block_on(Journal::open(options.data.clone(), 1000)).unwrap();
    block_on(journal.close()).unwrap();
    assert_eq!(
        done.lines().count() + pending.len(),
        5,
        "{done} {pending:?}"
    );
    for Job { id, payload } in &pending {
        assert!(!done.contains(&format!("{id} {payload}\n")), "{done}");
    }
    // The next run numbers new jobs after the old ones.
    let (report, acks) = run(
        &options,
        |addr, _| async move { talk(addr, b"f\n", true).await },
    );
    assert_eq!(report.exit_code(), 0, "{report}");
    assert_eq!(acks, ["ok 6"]);
    std::fs::remove_dir_all(&options.data).unwrap();
}

#[test]
fn an_idle_client_is_told_then_closed() {
    let options = Options {
        idle: Duration::from_millis(200),
        ..options("idle")
    };
    let (report, seen) = run(&options, |addr, _| async move {
        // One job, then half a line and silence.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"one\nhalf a li").await.unwrap();
        read_all(&mut stream).await
    });
    assert_eq!(report.exit_code(), 0, "{report}");
    assert_eq!(seen, ["ok 1", "err no line for 200ms; closing"]);
    std::fs::remove_dir_all(&options.data).unwrap();
}

#[test]
fn past_the_connection_limit_the_longest_idle_client_makes_room() {
    let options = Options {
        max_connections: 2,
        ..options("evict")
    };
    let (report, seen) = run(&options, |addr, _| async move {
        let mut oldest = TcpStream::connect(addr).await.unwrap();
        oldest.write_all(b"a\n").await.unwrap();
        let mut ack = [0u8; 5];
        oldest.read_exact(&mut ack).await.unwrap(); // served: now idle
        let mut second = TcpStream::connect(addr).await.unwrap();
        second.write_all(b"b\n").await.unwrap();
        second.read_exact(&mut ack).await.unwrap();
        // A third client: the oldest idle one is closed for it.
        let third = talk(addr, b"c\n", true).await;
        let mut seen = read_all(&mut oldest).await;
        seen.extend(third);
        drop(second);
        seen
    });
    assert_eq!(report.exit_code(), 0, "{report}");
    assert_eq!(
        seen,
        [
            "err connection limit reached; closing the longest idle",
            "ok 3"
        ]
    );
    std::fs::remove_dir_all(&options.data).unwrap();
}
