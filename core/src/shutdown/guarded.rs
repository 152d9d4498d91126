use std::fmt;
use std::future::Future;
use std::io;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_lite::io::{AsyncBufRead, AsyncRead, AsyncWrite};
use futures_lite::Stream;
use pin_project_lite::pin_project;

use super::{Shutdown, ShutdownGuard};

impl Shutdown {
    /// Wraps `value` with a guard: the scope is not drained while the
    /// [`Guarded`] lives.
    ///
    /// `value` may be anything: a future, a stream, an `AsyncRead`,
    /// `AsyncBufRead` or `AsyncWrite`, an iterator (the wrapper is each of these when `value`
    /// is), or a plain value reached through `Deref`. A future awaited or
    /// spawned is dropped as it completes, so its guard holds the scope
    /// exactly until then (async-shutdown's `wrap_delay_shutdown`).
    /// [`Guarded::into_inner`] releases the guard and gives the value back.
    /// The guard is recorded at the caller's location.
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `value`; dropping the wrapper releases the guard.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let flush = shutdown.guarded(async { "flushed" });
    /// let mut buffer = shutdown.guarded(Vec::<u8>::new());
    /// buffer.push(1); // through DerefMut
    ///
    /// shutdown.trigger(Reason::Requested);
    /// assert!(!shutdown.is_drained());
    /// assert_eq!(flush.await, "flushed");
    /// assert_eq!(buffer.into_inner(), [1]);
    /// assert!(shutdown.is_drained());
    /// # });
    /// ```
    #[track_caller]
    pub fn guarded<T>(&self, value: T) -> Guarded<T> {
        ShutdownGuard::new(Arc::clone(&self.inner), Location::caller()).wrap(value)
    }
}

impl ShutdownGuard {
    /// Moves the guard into a [`Guarded`] wrapping `value`.
    ///
    /// With [`Shutdown::try_guard`], a wrapper refused once the scope has
    /// drained (async-shutdown's `wrap_delay_shutdown`).
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let job = shutdown.try_guard().map(|guard| guard.wrap(async { 1 }));
    /// shutdown.trigger(Reason::Requested);
    /// assert_eq!(job.unwrap().await, 1);
    /// assert!(shutdown.try_guard().map(|guard| guard.wrap(async { 2 })).is_err());
    /// # });
    /// ```
    pub fn wrap<T>(self, value: T) -> Guarded<T> {
        Guarded { value, guard: self }
    }
}

pin_project! {
    /// A value holding a [`ShutdownGuard`] while it lives; returned by
    /// [`Shutdown::guarded`] and [`ShutdownGuard::wrap`].
    ///
    /// It is a [`Future`], [`Stream`], [`AsyncRead`], [`AsyncBufRead`],
    /// [`AsyncWrite`] or [`Iterator`] when the value is, and derefs to the
    /// value.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::{stream, StreamExt};
    /// use steward_core::Shutdown;
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let items: Vec<i32> = shutdown.guarded(stream::iter(1..4)).collect().await;
    /// assert_eq!(items, [1, 2, 3]);
    /// let sum: i32 = shutdown.guarded(1..4).sum();
    /// assert_eq!(sum, 6);
    /// # });
    /// ```
    #[must_use = "a guarded value releases its guard as soon as it is dropped"]
    pub struct Guarded<T> {
        #[pin]
        value: T,
        guard: ShutdownGuard,
    }
}

impl<T> Guarded<T> {
    /// Releases the guard and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let value = shutdown.guarded(5);
    /// assert_eq!(shutdown.guard_count(), 1);
    /// assert_eq!(value.into_inner(), 5);
    /// assert_eq!(shutdown.guard_count(), 0);
    /// ```
    pub fn into_inner(self) -> T {
        self.value
    }

    /// The guard this value holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let shutdown = steward_core::Shutdown::new();
    /// let value = shutdown.guarded("job");
    /// assert!(value.guard().shutdown().ptr_eq(&shutdown));
    /// ```
    #[must_use = "a getter has no effect"]
    pub fn guard(&self) -> &ShutdownGuard {
        &self.guard
    }
}

impl<T> Deref for Guarded<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Guarded<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<F: Future> Future for Guarded<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().value.poll(cx)
    }
}

impl<S: Stream> Stream for Guarded<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        self.project().value.poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.value.size_hint()
    }
}

impl<I: Iterator> Iterator for Guarded<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        self.value.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.value.size_hint()
    }
}

impl<R: AsyncRead> AsyncRead for Guarded<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.project().value.poll_read(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().value.poll_read_vectored(cx, bufs)
    }
}

impl<R: AsyncBufRead> AsyncBufRead for Guarded<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.project().value.poll_fill_buf(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.project().value.consume(amt);
    }
}

impl<W: AsyncWrite> AsyncWrite for Guarded<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.project().value.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.project().value.poll_write_vectored(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().value.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().value.poll_close(cx)
    }
}

impl<T> fmt::Debug for Guarded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The value is not shown: a future or a stream has no `Debug`.
        f.debug_struct("Guarded")
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}
