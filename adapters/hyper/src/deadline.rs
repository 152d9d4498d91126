//! A write deadline that progress resets: a connection whose client stops
//! reading its answers fails with `TimedOut` once no byte could be written
//! for the whole timeout, and hyper then closes it. It also tells the
//! connection table when the first bytes were read.
//!
//! (Reading has hyper's own header-read timeout; a write stalls only on a
//! client that does not read, so the two together leave no way to hold a
//! connection open without making progress.)

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use steward_core::runtime::Sleep;
use steward_core::RuntimeHandle;

use crate::table::Tracker;

pub(crate) struct WriteDeadline<I> {
    io: I,
    rt: RuntimeHandle,
    timeout: Duration,
    /// Running while a write waits; reset by any progress.
    stalled: Option<Sleep>,
    /// Told when the first bytes are read, and when output is written.
    tracker: Tracker,
    heard: bool,
    /// Bytes read before the connection was served, given to hyper first.
    early: Vec<u8>,
}

impl<I> WriteDeadline<I> {
    pub(crate) fn new(
        io: I,
        rt: RuntimeHandle,
        timeout: Duration,
        tracker: Tracker,
        early: Vec<u8>,
    ) -> Self {
        let heard = !early.is_empty();
        if heard {
            tracker.heard();
        }
        Self {
            io,
            rt,
            timeout,
            stalled: None,
            tracker,
            heard,
            early,
        }
    }

    /// After a write returned `result`: resets the deadline on progress, or
    /// starts (and checks) it while the write waits.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if result.is_ready() {
            self.stalled = None;
            return result;
        }
        let stalled = self
            .stalled
            .get_or_insert_with(|| self.rt.sleep(self.timeout));
        match Pin::new(stalled).poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client read nothing for the write timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: Read + Unpin> Read for WriteDeadline<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.early.is_empty() {
            let n = self.early.len().min(buf.remaining());
            buf.put_slice(&self.early[..n]);
            self.early.drain(..n);
            return Poll::Ready(Ok(()));
        }
        if self.heard {
            return Pin::new(&mut self.io).poll_read(cx, buf);
        }
        // Until the first bytes: read through a scratch buffer, to see them.
        let mut scratch = [0u8; 1024];
        let room = buf.remaining().min(scratch.len());
        let mut read = ReadBuf::new(&mut scratch[..room]);
        let result = Pin::new(&mut self.io).poll_read(cx, read.unfilled());
        if let Poll::Ready(Ok(())) = result {
            if !read.filled().is_empty() {
                buf.put_slice(read.filled());
                self.heard = true;
                self.tracker.heard();
            }
        }
        result
    }
}

impl<I: Write + Unpin> Write for WriteDeadline<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, result)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let result = Pin::new(&mut self.io).poll_flush(cx);
        if let Poll::Ready(Ok(())) = result {
            // hyper flushes after it wrote what it had: an answer produced is out.
            self.tracker.written();
        }
        self.watch(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The lingering close below has its own bounds.
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, result)
    }
}
