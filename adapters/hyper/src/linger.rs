//! A lingering close: after its last answer, a connection stops writing and
//! reads (and drops) what the client still sends, for a while, before the
//! socket is closed.
//!
//! Closing a TCP socket with unread bytes in its receive buffer makes the
//! kernel send a reset, and a reset can destroy the answer the client has not
//! read yet: a client refused with 431 (its headers too large) or 503 (too
//! many connections) would see "connection reset" instead. So, as nginx's
//! `lingering_close` does, [`Lingering::poll_shutdown`] sends FIN and then
//! drains the read side until the client closes, up to a time and a size.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use hyper::rt::{Read, ReadBuf, ReadBufCursor, Write};
use steward_core::runtime::Sleep;
use steward_core::RuntimeHandle;

/// How long a closing connection keeps reading.
const LINGER: Duration = Duration::from_secs(2);
/// How much a closing connection reads at most.
const LINGER_BYTES: usize = 4 << 20;

pub(crate) struct Lingering<I> {
    io: I,
    rt: RuntimeHandle,
    state: State,
}

enum State {
    Open,
    Draining { until: Sleep, drained: usize },
    Closed,
}

impl<I> Lingering<I> {
    pub(crate) fn new(io: I, rt: RuntimeHandle) -> Self {
        Self {
            io,
            rt,
            state: State::Open,
        }
    }
}

impl<I: Read + Write + Unpin> Read for Lingering<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: Read + Write + Unpin> Write for Lingering<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Open => {
                    // A failed shutdown leaves nothing to linger on.
                    let sent_fin = ready!(Pin::new(&mut this.io).poll_shutdown(cx)).is_ok();
                    this.state = if sent_fin {
                        State::Draining {
                            until: this.rt.sleep(LINGER),
                            drained: 0,
                        }
                    } else {
                        State::Closed
                    };
                }
                State::Draining { until, drained } => {
                    if Pin::new(until).poll(cx).is_ready() {
                        this.state = State::Closed;
                        continue;
                    }
                    let mut scratch = [0u8; 4096];
                    let mut buf = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut this.io).poll_read(cx, buf.unfilled()) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                            *drained += buf.filled().len();
                            if *drained > LINGER_BYTES {
                                this.state = State::Closed;
                            }
                        }
                        // The client closed its side (or the socket failed): done.
                        Poll::Ready(_) => this.state = State::Closed,
                    }
                }
                State::Closed => return Poll::Ready(Ok(())),
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}
