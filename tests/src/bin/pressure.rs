//! pressure: the attacker of the probe-pressure tests (`tests/pressure.rs`),
//! a separate process so that its sockets count against its own open-file
//! limit and its CPU can be given a lower priority than the server's (an
//! attacker runs on other machines; here it shares two cores with the
//! server).
//!
//! ```text
//! pressure slow|flood|pipeline ADDR CLIENTS
//! ```
//!
//! - `slow`: each client sends a request line and then one header byte a
//!   second, never finishing its head (slowloris);
//! - `flood`: each client sends `GET /livez` on a keep-alive connection,
//!   reads the answer, and sends the next at once;
//! - `pipeline`: each client writes pipelined `GET /livez` requests as fast
//!   as the server takes them, and never reads an answer.
//!
//! Every client reconnects at once when the server closes its connection
//! (after 20 ms when it cannot connect). It prints `pressure on` once every
//! client has connected once, then runs until it is killed.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use smol::net::TcpStream;
use smol::{Executor, Timer};

#[derive(Clone, Copy)]
enum Attack {
    Slow,
    Flood,
    Pipeline,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = match args.as_slice() {
        [attack, addr, clients] => {
            let attack = match attack.as_str() {
                "slow" => Some(Attack::Slow),
                "flood" => Some(Attack::Flood),
                "pipeline" => Some(Attack::Pipeline),
                _ => None,
            };
            attack
                .zip(addr.parse::<SocketAddr>().ok())
                .zip(clients.parse::<usize>().ok())
        }
        _ => None,
    };
    let Some(((attack, addr), clients)) = parsed else {
        eprintln!("usage: pressure slow|flood|pipeline ADDR CLIENTS");
        return ExitCode::from(2);
    };

    let ex = Arc::new(Executor::new());
    let connected = Arc::new(AtomicUsize::new(0));
    for _ in 0..clients {
        let connected = Arc::clone(&connected);
        ex.spawn(client(attack, addr, connected)).detach();
    }
    // A second thread; the main one runs the executor too.
    let helper = Arc::clone(&ex);
    std::thread::spawn(move || smol::block_on(helper.run(future::pending::<()>())));
    smol::block_on(ex.run(async {
        while connected.load(Ordering::Relaxed) < clients {
            Timer::after(Duration::from_millis(10)).await;
        }
        println!("pressure on");
        future::pending::<()>().await;
    }));
    ExitCode::SUCCESS
}

/// One client, forever: connect, attack until the server closes, again.
async fn client(attack: Attack, addr: SocketAddr, connected: Arc<AtomicUsize>) {
    let mut first = true;
    loop {
        let Ok(stream) = TcpStream::connect(addr).await else {
            Timer::after(Duration::from_millis(20)).await;
            continue;
        };
        if first {
            first = false;
            connected.fetch_add(1, Ordering::Relaxed);
        }
        let _ = match attack {
            Attack::Slow => slow(stream).await,
            Attack::Flood => flood(stream).await,
            Attack::Pipeline => pipeline(stream).await,
        };
    }
}

/// A head that never ends; returns when the server closes.
async fn slow(stream: TcpStream) -> std::io::Result<()> {
    let mut writer = stream.clone();
    let trickle = async {
        writer
            .write_all(b"GET /livez HTTP/1.1\r\nHost: probe\r\nX-Slow: ")
            .await?;
        loop {
            Timer::after(Duration::from_secs(1)).await;
            writer.write_all(b"a").await?;
        }
    };
    future::or(trickle, closed(stream)).await
}

/// Requests one after the other on one connection, each answer read.
async fn flood(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4096];
    loop {
        stream
            .write_all(b"GET /livez HTTP/1.1\r\nHost: probe\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        while !answer.ends_with(b"\r\n\r\nok") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return Ok(());
            }
            answer.extend_from_slice(&buf[..n]);
        }
    }
}

/// Pipelined requests, written as fast as the server takes them; no answer
/// is ever read. Returns when a write fails (the server closed).
async fn pipeline(mut stream: TcpStream) -> std::io::Result<()> {
    let request = b"GET /livez HTTP/1.1\r\nHost: probe\r\n\r\n";
    let batch: Vec<u8> = request
        .iter()
        .copied()
        .cycle()
        .take(request.len() * 64)
        .collect();
    loop {
        stream.write_all(&batch).await?;
    }
}

/// Returns when the server closes the connection (what it sends is dropped).
async fn closed(mut stream: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 1024];
    while stream.read(&mut buf).await? > 0 {}
    Ok(())
}
