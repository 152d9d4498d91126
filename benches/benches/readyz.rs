//! `/readyz` under load: 1,000 concurrent `GET /readyz` over loopback, each
//! on its own connection, against the probe server of each adapter
//! (`steward_tokio::ProbeServer` on tokio with 2 workers,
//! `steward_smol::ProbeServer` on async-executor with 2 threads).
//!
//! One `ready` check that takes 1 ms, registered `Inline` with no cache:
//! every request wants a fresh result, and concurrent requests share one run
//! (single flight). The client is a current-thread tokio runtime on a
//! thread of its own (so the machine's two cores are shared by three busy
//! threads). The server allows 1,024 connections (its default is 256).
//!
//! Figures per round of 1,000 requests: total time (so throughput), the
//! 50th and 99th percentile of one request's latency (connect → response
//! read to its end), how many times the check ran, and how many connection
//! attempts the kernel dropped because the listen queue was full (from
//! `/proc/net/netstat`, machine-wide: other programs' drops count too; a
//! dropped SYN is retried by the client after 1 s). Printed as the median
//! over the rounds; no peer to compare with.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use steward_benches::{BenchRuntime, Smol, Spawner, Tokio};
use steward_core::health::{Check, Health, Refresh, Status};
use steward_core::http::Endpoints;
use steward_core::probes::Probes;
use steward_core::{RuntimeHandle, Shutdown};
use steward_hyper::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const REQUESTS: usize = 1_000;
const ROUNDS: usize = 5;
const REQUEST: &[u8] = b"GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

/// The probes of a service with one 1 ms `ready` check, counting its runs.
fn probes(rt: &RuntimeHandle, runs: &Arc<AtomicUsize>) -> Probes {
    let health = Health::new(rt.clone());
    let (clock, runs) = (rt.clone(), Arc::clone(runs));
    let check = Check::new("db", move || {
        // Relaxed: a count read once the round is over.
        runs.fetch_add(1, Ordering::Relaxed);
        let sleep = clock.sleep(Duration::from_millis(1));
        async move {
            sleep.await;
            Status::Healthy
        }
    })
    .ready()
    .refresh(Refresh::Inline {
        cache: Duration::ZERO,
    });
    health.register(check).expect("a valid check");
    let probes = Probes::new(health, Shutdown::new());
    probes.set_running();
    probes
}

/// One round: `REQUESTS` concurrent requests; total time and each latency.
fn round(client: &tokio::runtime::Runtime, addr: SocketAddr) -> (Duration, Vec<Duration>) {
    client.block_on(async move {
        let start = Instant::now();
        let requests: Vec<_> = (0..REQUESTS)
            .map(|_| {
                tokio::spawn(async move {
                    let sent = Instant::now();
                    let mut stream = tokio::net::TcpStream::connect(addr).await?;
                    stream.write_all(REQUEST).await?;
                    let mut response = Vec::new();
                    stream.read_to_end(&mut response).await?;
                    assert!(
                        response.starts_with(b"HTTP/1.1 200"),
                        "{}",
                        String::from_utf8_lossy(&response)
                    );
                    Ok::<_, std::io::Error>(sent.elapsed())
                })
            })
            .collect();
        let mut latencies = Vec::with_capacity(REQUESTS);
        for request in requests {
            latencies.push(request.await.expect("client task").expect("request"));
        }
        (start.elapsed(), latencies)
    })
}

/// The kernel's count of connections dropped because a listen queue was
/// full (`TcpExt: ListenOverflows` in `/proc/net/netstat`), where readable.
fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    let at = names
        .split_whitespace()
        .position(|n| n == "ListenOverflows")?;
    values.split_whitespace().nth(at)?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn bench(name: &str, addr: SocketAddr, runs: &AtomicUsize) {
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    round(&client, addr); // warm-up
    let (mut totals, mut p50s, mut p99s, mut counts) = (vec![], vec![], vec![], vec![]);
    let mut overflows = vec![];
    for _ in 0..ROUNDS {
        // Relaxed: the round is over; its requests' runs are all counted.
        let before = runs.load(Ordering::Relaxed);
        let dropped = listen_overflows();
        let (total, mut latencies) = round(&client, addr);
        counts.push(runs.load(Ordering::Relaxed) - before);
        if let (Some(after), Some(before)) = (listen_overflows(), dropped) {
            overflows.push(after - before);
        }
        latencies.sort();
        totals.push(total);
        p50s.push(percentile(&latencies, 0.5));
        p99s.push(percentile(&latencies, 0.99));
    }
    counts.sort_unstable();
    overflows.sort_unstable();
    let overflows = overflows
        .get(overflows.len() / 2)
        .map_or_else(|| "n/a".to_owned(), u64::to_string);
    let total = median(totals);
    println!(
        "| {name} | {:.0} | {total:.2?} | {:.2?} | {:.2?} | {} ({}–{}) | {overflows} |",
        REQUESTS as f64 / total.as_secs_f64(),
        median(p50s),
        median(p99s),
        counts[counts.len() / 2],
        counts[0],
        counts[counts.len() - 1],
    );
}

fn probe_server(spawner: &Spawner, runs: &Arc<AtomicUsize>) -> Server {
    Server::new(Endpoints::new(probes(&spawner.steward(), runs))).max_connections(1024)
}

fn main() {
    steward_benches::stable_heap();
    let filter = steward_benches::filter();
    let wanted = |rt: &str| {
        filter
            .as_deref()
            .is_none_or(|f| format!("readyz/{rt}").contains(f))
    };
    println!("\nreadyz: {REQUESTS} concurrent requests a round, median of {ROUNDS} rounds\n");
    println!(
        "| server | requests/s | round | p50 | p99 | check runs a round (min–max) | listen-queue drops a round |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    if wanted(Tokio::NAME) {
        let rt = Tokio::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let server = probe_server(&rt.spawner(), &runs);
        let server = {
            let _enter = rt.runtime().enter();
            steward_tokio::ProbeServer::bind("127.0.0.1:0", server).expect("bind")
        };
        let addr = server.local_addr().expect("address");
        rt.spawn(async move {
            server.run().await;
        });
        bench("tokio", addr, &runs);
    }
    if wanted(Smol::NAME) {
        let rt = Smol::new();
        let runs = Arc::new(AtomicUsize::new(0));
        let server = probe_server(&rt.spawner(), &runs);
        let server = steward_smol::ProbeServer::bind("127.0.0.1:0", server).expect("bind");
        let addr = server.local_addr().expect("address");
        rt.spawn(async move {
            server.run().await;
        });
        bench("smol", addr, &runs);
    }
}
