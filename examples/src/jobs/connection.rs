//! One client connection: lines in, `ok <id>` out, each ack after its fsync.
//!
//! The lines a client has already sent (those in the read buffer) go to the
//! journal together, so a client that pipelines its jobs shares one fsync
//! among them; the journal's group commit shares it with other clients.
//!
//! On the stop signal the connection stops reading. A batch it had read is
//! still journaled and acknowledged (the journal outlives the tasks), unless
//! the client does not take the acks within [`WRITE_TIMEOUT`]; a line only
//! half read is dropped unanswered. Never is a job acknowledged that is not
//! in the journal.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_lite::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures_lite::{AsyncRead, AsyncWrite};
use steward_core::Shutdown;

use super::Jobs;

/// The longest line taken as one job, in bytes.
pub const MAX_LINE: usize = 64 * 1024;

/// At most this many lines of one client go to the journal together.
const MAX_BATCH: usize = 1024;

/// How long a client may take to read its acks before it is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Serves one client until it hangs up, misbehaves or `stop` is triggered.
pub(super) async fn serve<S>(jobs: Jobs, stream: S, peer: SocketAddr, stop: Shutdown)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    tracing::debug!(%peer, "client connected");
    match lines(&jobs, stream, &stop).await {
        Ok(()) => tracing::debug!(%peer, "client done"),
        // A client's trouble is the client's: logged, never a task failure.
        Err(e) => tracing::info!(%peer, error = %e, "client dropped"),
    }
}

async fn lines<S>(jobs: &Jobs, stream: S, stop: &Shutdown) -> Result<(), Dropped>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (reader, mut writer) = futures_lite::io::split(stream);
    let mut reader = BufReader::new(reader);
    loop {
        // Wait for the next line, unless asked to stop.
        let Some(first) = stop.run_until_triggered(read_job(&mut reader)).await else {
            return Ok(());
        };
        let Some(first) = first? else {
            return Ok(()); // the client hung up
        };
        // The lines already received join it, without waiting for more.
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && reader.buffer().contains(&b'\n') {
            match read_job(&mut reader).await? {
                Some(payload) => batch.push(payload),
                None => break,
            }
        }
        let acks = match jobs.submit(batch).await {
            Ok(ids) => ids
                .iter()
                .map(|id| format!("ok {id}\n"))
                .collect::<String>(),
            Err(e) => {
                // Best effort: the client learns why before the close.
                let _ = writer.write_all(b"err journal unavailable\n").await;
                return Err(Dropped::Journal(e.to_string()));
            }
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
    let limit = MAX_LINE as u64 + 1;
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
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// Why a connection was closed by the service.
#[derive(Debug)]
enum Dropped {
    Io(io::Error),
    LineTooLong,
    SlowReader,
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
            Dropped::Journal(e) => write!(f, "{e}"),
        }
    }
}
