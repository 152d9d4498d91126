//! One client connection: lines in, `ok <id>` out, each ack after its fsync.
//!
//! The lines a client has already sent (those in the read buffer) go to the
//! journal together, so a client that pipelines its jobs shares one fsync
//! among them; the journal's group commit shares it with other clients.
//!
//! Each line takes a slot of the bounded queue before it is journaled; while
//! none is free the connection does not read, so TCP pushes back on the
//! client. A connection holds at most one line being read ([`MAX_LINE`]
//! bytes and its buffer), released when it closes.
//!
//! The connection closes, with an `err …` line first when it can, when the
//! client sends no whole line for the idle timeout, when it is the longest
//! idle one and a new client needs its slot, or on a line too long. On the
//! stop signal the connection stops reading. A batch it had read is still
//! journaled and acknowledged (the journal outlives the tasks), unless the
//! client does not take the acks within [`WRITE_TIMEOUT`]; a line only half
//! read is dropped unanswered. Never is a job acknowledged that is not in
//! the journal.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_lite::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures_lite::{AsyncRead, AsyncWrite};
use steward_core::Shutdown;

use super::queue::Connection;
use super::Jobs;

/// The longest line taken as one job, in bytes, not counting its `\n` or
/// `\r\n` ending.
pub const MAX_LINE: usize = 64 * 1024;

/// At most this many lines of one client go to the journal together.
const MAX_BATCH: usize = 1024;

/// How long a client may take to read its acks before it is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a closing connection tries to send its `err` line.
const GOODBYE_TIMEOUT: Duration = Duration::from_secs(1);

/// Serves one client until it hangs up, misbehaves, idles, is evicted
/// (`evict`, a child of the stop signal) or the service stops.
pub(super) async fn serve<S>(
    jobs: Jobs,
    stream: S,
    peer: SocketAddr,
    (stop, evict): (Shutdown, Shutdown),
    slot: Connection,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tracing::debug!(%peer, "client connected");
    let (reader, mut writer) = futures_lite::io::split(stream);
    let result = lines(&jobs, reader, &mut writer, &evict, &slot).await;
    let goodbye = match &result {
        Err(Dropped::LineTooLong) => Some(format!("err line longer than {MAX_LINE} bytes\n")),
        Err(Dropped::Idle(idle)) => Some(format!("err no line for {idle:?}; closing\n")),
        Err(Dropped::Journal(_)) => Some("err journal unavailable\n".to_owned()),
        Ok(()) if evict.is_triggered() && !stop.is_triggered() => {
            Some("err connection limit reached; closing the longest idle\n".to_owned())
        }
        _ => None,
    };
    if let Some(goodbye) = goodbye {
        // Best effort: the client learns why before the close.
        let write = async {
            writer.write_all(goodbye.as_bytes()).await?;
            writer.flush().await
        };
        let _ = jobs.runtime().timeout(GOODBYE_TIMEOUT, write).await;
    }
    match result {
        Ok(()) => tracing::debug!(%peer, "client done"),
        // A client's trouble is the client's: logged, never a task failure.
        Err(e) => tracing::info!(%peer, error = %e, "client dropped"),
    }
}

async fn lines<R, W>(
    jobs: &Jobs,
    reader: R,
    writer: &mut W,
    evict: &Shutdown,
    slot: &Connection,
) -> Result<(), Dropped>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = BufReader::new(reader);
    let idle = jobs.options().idle;
    loop {
        // Wait for the next line, unless asked to stop or to make room.
        slot.set_idle(true);
        let next = jobs.runtime().timeout(idle, read_job(&mut reader));
        let Some(first) = evict.run_until_triggered(next).await else {
            return Ok(());
        };
        slot.set_idle(false);
        let Some(first) = first.map_err(|_| Dropped::Idle(idle))?? else {
            return Ok(()); // the client hung up
        };
        // A queue slot for it: until one is free, nothing more is read.
        let queued = jobs.slots().acquire();
        let Some(first_slot) = evict.run_until_triggered(queued).await else {
            return Ok(()); // the line is dropped unanswered, never acknowledged
        };
        // The lines already received join it, without waiting for more, as
        // long as the queue has room for them.
        let mut batch = vec![first];
        let mut slots = vec![first_slot];
        while batch.len() < MAX_BATCH && reader.buffer().contains(&b'\n') {
            let Some(slot) = jobs.slots().try_acquire() else {
                break;
            };
            match read_job(&mut reader).await? {
                Some(payload) => {
                    batch.push(payload);
                    slots.push(slot);
                }
                None => break,
            }
        }
        let acks = match jobs.submit_with(batch, slots).await {
            Ok(ids) => ids
                .iter()
                .map(|id| format!("ok {id}\n"))
                .collect::<String>(),
            Err(e) => return Err(Dropped::Journal(e.to_string())),
        };
        let write = async {
            writer.write_all(acks.as_bytes()).await?;
            writer.flush().await
        };
        match jobs.runtime().timeout(WRITE_TIMEOUT, write).await {
            Ok(written) => written?,
            Err(_) => return Err(Dropped::SlowReader),
        }
    }
}

/// Reads one line: `Some(payload)`, or `None` at the end of the stream (a
/// last line without its newline is not a job: the client died writing it).
async fn read_job<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Option<String>, Dropped> {
    let mut line = Vec::new();
    // Room for the longest line and a CRLF ending.
    let limit = MAX_LINE as u64 + 2;
    let n = (&mut *reader)
        .take(limit)
        .read_until(b'\n', &mut line)
        .await?;
    match line.last() {
        Some(b'\n') => {
            line.pop();
        }
        _ if n as u64 == limit => return Err(Dropped::LineTooLong),
        _ if n == 0 => return Ok(None),
        _ => {
            tracing::debug!(bytes = n, "client hung up in the middle of a line");
            return Ok(None);
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop(); // telnet and friends end lines with CRLF
    }
    if line.len() > MAX_LINE {
        return Err(Dropped::LineTooLong);
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// Why a connection was closed by the service.
#[derive(Debug)]
enum Dropped {
    Io(io::Error),
    LineTooLong,
    SlowReader,
    Idle(Duration),
    Journal(String),
}

impl From<io::Error> for Dropped {
    fn from(e: io::Error) -> Self {
        Dropped::Io(e)
    }
}

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dropped::Io(e) => write!(f, "{e}"),
            Dropped::LineTooLong => write!(f, "a line longer than {MAX_LINE} bytes"),
            Dropped::SlowReader => write!(f, "acks not read within {WRITE_TIMEOUT:?}"),
            Dropped::Idle(idle) => write!(f, "no whole line for {idle:?}"),
            Dropped::Journal(e) => write!(f, "{e}"),
        }
    }
}
