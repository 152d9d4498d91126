use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use event_listener::{Event, EventListener};
use futures_lite::io::{AsyncBufRead, AsyncRead, AsyncWrite};
use futures_lite::Stream;
use pin_project_lite::pin_project;

use super::{Inner, Reason, Shutdown, ShutdownError, UNREGISTERED};

impl Shutdown {
    /// Waits until the scope is triggered.
    ///
    /// Ready at once when the scope is triggered already, with one atomic
    /// load. The future is two words; parked, its waker waits in the
    /// scope's own list (inline for a scope's first waiter, else in a slab
    /// of wakers that grows by doubling): no allocation of its own. Each
    /// poll that does not see the trigger takes the scope's lock.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future removes its waker from the scope
    /// and loses nothing; a new call waits again.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// shutdown.trigger(Reason::Requested);
    /// shutdown.triggered().await;
    /// # });
    /// ```
    pub fn triggered(&self) -> Triggered<'_> {
        Triggered {
            inner: &self.inner,
            key: UNREGISTERED,
        }
    }

    /// Waits until the scope is triggered, owning a handle (for `'static` futures).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Shutdown::triggered`].
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let wait = shutdown.clone().triggered_owned();
    /// let thread = std::thread::spawn(move || futures_lite::future::block_on(wait));
    /// shutdown.trigger(Reason::Requested);
    /// thread.join().unwrap();
    /// ```
    pub fn triggered_owned(self) -> TriggeredOwned {
        TriggeredOwned {
            inner: self.inner,
            key: UNREGISTERED,
        }
    }

    /// Waits until the scope is triggered, and resolves to the [`Reason`].
    ///
    /// [`Shutdown::triggered`] resolves to `()` and stays so, because
    /// steward's own futures race it with others of output `()`, and its
    /// completion takes no lock; this one reads the reason under the
    /// scope's lock once the flag is seen, and clones it.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`Shutdown::triggered`].
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let child = shutdown.child();
    /// shutdown.trigger(Reason::Signal(15));
    /// assert_eq!(child.triggered_reason().await, Reason::Signal(15));
    /// # });
    /// ```
    pub fn triggered_reason(&self) -> TriggeredReason<'_> {
        TriggeredReason {
            triggered: self.triggered(),
        }
    }

    /// Waits until the scope is triggered and no guard of it or its children lives.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it unregisters its listener.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let child_guard = shutdown.child().guard();
    /// shutdown.trigger(Reason::Requested);
    /// assert!(!shutdown.is_drained());
    /// drop(child_guard);
    /// shutdown.drained().await;
    /// # });
    /// ```
    pub fn drained(&self) -> Drained<'_> {
        Drained {
            inner: &self.inner,
            listener: None,
        }
    }

    /// Runs `future` until it completes or the scope is triggered.
    ///
    /// Resolves to `Some(output)` if the future completed first, `None` if
    /// the scope was triggered first (then the future is dropped with the
    /// [`RunUntilTriggered`]). The trigger is checked before each poll of the
    /// future, so once the scope is triggered the future is never polled again.
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `future`.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// assert_eq!(shutdown.run_until_triggered(async { 7 }).await, Some(7));
    ///
    /// shutdown.trigger(Reason::Requested);
    /// let never = futures_lite::future::pending::<()>();
    /// assert_eq!(shutdown.run_until_triggered(never).await, None);
    /// # });
    /// ```
    pub fn run_until_triggered<F: Future>(&self, future: F) -> RunUntilTriggered<'_, F> {
        RunUntilTriggered {
            triggered: self.triggered(),
            future,
        }
    }

    /// Runs `future` until it completes or the scope is triggered, owning a
    /// handle: a `'static` future when `future` is, for spawning.
    ///
    /// As [`Shutdown::run_until_triggered`] in every other way.
    ///
    /// # Cancel safety
    ///
    /// As cancel-safe as `future`.
    ///
    /// # Examples
    ///
    /// ```
    /// use steward_core::{Reason, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// let work = shutdown.clone().run_until_triggered_owned(futures_lite::future::pending::<()>());
    /// let thread = std::thread::spawn(move || futures_lite::future::block_on(work));
    /// shutdown.trigger(Reason::Requested);
    /// assert_eq!(thread.join().unwrap(), None);
    /// ```
    pub fn run_until_triggered_owned<F: Future>(self, future: F) -> RunUntilTriggeredOwned<F> {
        RunUntilTriggeredOwned {
            triggered: self.triggered_owned(),
            future,
        }
    }

    /// Wraps a stream, a reader, a writer or an iterator so that it ends
    /// once the scope is triggered.
    ///
    /// The trigger is checked before each poll (or `next`) of the inner
    /// value: an item already taken is never lost, and none is taken after
    /// the trigger. Once triggered:
    ///
    /// - a [`Stream`] or an [`Iterator`] yields `None`;
    /// - an [`AsyncRead`] reads end-of-file (`Ok(0)`), an [`AsyncBufRead`]
    ///   fills an empty buffer;
    /// - an [`AsyncWrite`] refuses writes with an [`io::Error`] of kind
    ///   [`BrokenPipe`](io::ErrorKind::BrokenPipe) wrapping
    ///   [`ShutdownError::Triggered`], but still flushes and closes, so
    ///   that what was written is not lost.
    ///
    /// An iterator is checked with one atomic load a `next`; the others
    /// also wake their task when the trigger comes while they wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures_lite::{stream, StreamExt};
    /// use steward_core::{Reason, Shutdown};
    /// # futures_lite::future::block_on(async {
    /// let shutdown = Shutdown::new();
    /// let mut items = shutdown.until_triggered(stream::iter(1..));
    /// assert_eq!(items.next().await, Some(1));
    /// let mut numbers = shutdown.until_triggered(1..);
    /// assert_eq!(numbers.next(), Some(1));
    /// shutdown.trigger(Reason::Requested);
    /// assert_eq!(items.next().await, None);
    /// assert_eq!(numbers.next(), None);
    ///
    /// use futures_lite::{AsyncReadExt, AsyncWriteExt};
    /// let mut reader = shutdown.until_triggered(&b"unread"[..]);
    /// let mut bytes = Vec::new();
    /// assert_eq!(reader.read_to_end(&mut bytes).await.unwrap(), 0); // end of file
    /// use futures_lite::AsyncBufReadExt;
    /// let mut lines = shutdown.until_triggered(&b"one\ntwo\n"[..]).lines();
    /// assert!(futures_lite::StreamExt::next(&mut lines).await.is_none());
    /// let mut writer = shutdown.until_triggered(Vec::new());
    /// let err = writer.write_all(b"late").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    /// # });
    /// ```
    pub fn until_triggered<S>(&self, stream: S) -> UntilTriggered<S> {
        UntilTriggered {
            triggered: self.clone().triggered_owned(),
            stream,
            done: false,
        }
    }
}

/// Polls `listener` on `event` until `ready(inner)` holds: check → mark the
/// scope waited → listen → check → wait, the only way a drained waiter can
/// never miss a notification (see the module's invariants).
fn poll_until(
    inner: &Inner,
    event: fn(&Inner) -> &Event,
    ready: fn(&Inner) -> bool,
    listener: &mut Option<EventListener>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    loop {
        if ready(inner) {
            *listener = None;
            return Poll::Ready(());
        }
        match listener {
            None => {
                inner.mark_waited();
                *listener = Some(event(inner).listen());
            }
            Some(l) => {
                ready!(Pin::new(l).poll(cx));
                *listener = None;
            }
        }
    }
}

/// Future returned by [`Shutdown::triggered`].
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct Triggered<'a> {
    inner: &'a Inner,
    /// This waiter's key in the scope's waiter list.
    key: usize,
}

impl Future for Triggered<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.inner.poll_triggered(&mut this.key, cx.waker())
    }
}

impl Drop for Triggered<'_> {
    fn drop(&mut self) {
        self.inner.unregister(&mut self.key);
    }
}

impl fmt::Debug for Triggered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Triggered")
            .field("triggered", &self.inner.is_triggered())
            .finish_non_exhaustive()
    }
}

/// Future returned by [`Shutdown::triggered_owned`].
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct TriggeredOwned {
    inner: Arc<Inner>,
    /// This waiter's key in the scope's waiter list.
    key: usize,
}

impl Future for TriggeredOwned {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.inner.poll_triggered(&mut this.key, cx.waker())
    }
}

impl Drop for TriggeredOwned {
    fn drop(&mut self) {
        self.inner.unregister(&mut self.key);
    }
}

impl fmt::Debug for TriggeredOwned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TriggeredOwned")
            .field("triggered", &self.inner.is_triggered())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// Future returned by [`Shutdown::drained`].
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct Drained<'a> {
        inner: &'a Inner,
        listener: Option<EventListener>,
    }
}

impl Future for Drained<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        poll_until(
            this.inner,
            |i| &i.drained,
            Inner::is_drained,
            this.listener,
            cx,
        )
    }
}

impl fmt::Debug for Drained<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drained")
            .field("drained", &self.inner.is_drained())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// Future returned by [`Shutdown::run_until_triggered`].
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct RunUntilTriggered<'a, F> {
        triggered: Triggered<'a>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for RunUntilTriggered<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if Pin::new(this.triggered).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.future.poll(cx).map(Some)
    }
}

impl<F> fmt::Debug for RunUntilTriggered<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntilTriggered")
            .field("triggered", &self.triggered)
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// Future returned by [`Shutdown::triggered_reason`].
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct TriggeredReason<'a> {
        triggered: Triggered<'a>,
    }
}

impl Future for TriggeredReason<'_> {
    type Output = Reason;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reason> {
        let triggered = self.project().triggered;
        ready!(Pin::new(&mut *triggered).poll(cx));
        let reason = triggered.inner.fired(|fired| fired.reason.clone());
        // The flag is set in the critical section that stores the scope's
        // own reason, and was seen before this lock was taken; a scope
        // without one inherited its parent's: see the module's invariants.
        Poll::Ready(reason.expect("a triggered scope has a reason"))
    }
}

impl fmt::Debug for TriggeredReason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TriggeredReason")
            .field("triggered", &self.triggered.inner.is_triggered())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// Future returned by [`Shutdown::run_until_triggered_owned`].
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct RunUntilTriggeredOwned<F> {
        triggered: TriggeredOwned,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for RunUntilTriggeredOwned<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if Pin::new(this.triggered).poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        this.future.poll(cx).map(Some)
    }
}

impl<F> fmt::Debug for RunUntilTriggeredOwned<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunUntilTriggeredOwned")
            .field("triggered", &self.triggered)
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// The stream, reader, writer or iterator returned by [`Shutdown::until_triggered`].
    #[must_use = "streams do nothing unless polled"]
    pub struct UntilTriggered<S> {
        triggered: TriggeredOwned,
        #[pin]
        stream: S,
        done: bool,
    }
}

impl<S: Stream> Stream for UntilTriggered<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        if *this.done || Pin::new(this.triggered).poll(cx).is_ready() {
            *this.done = true;
            return Poll::Ready(None);
        }
        let item = ready!(this.stream.poll_next(cx));
        *this.done = item.is_none();
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        // It may end at any item: no lower bound, the inner upper bound.
        (0, self.stream.size_hint().1)
    }
}

impl<I: Iterator> Iterator for UntilTriggered<I> {
    type Item = I::Item;

    fn next(&mut self) -> Option<I::Item> {
        if self.done || self.triggered.inner.is_triggered() {
            self.done = true;
            return None;
        }
        let item = self.stream.next();
        self.done = item.is_none();
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            return (0, Some(0));
        }
        (0, self.stream.size_hint().1)
    }
}

impl<R: AsyncRead> AsyncRead for UntilTriggered<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if *this.done || Pin::new(this.triggered).poll(cx).is_ready() {
            *this.done = true;
            return Poll::Ready(Ok(0));
        }
        this.stream.poll_read(cx, buf)
    }
}

impl<R: AsyncBufRead> AsyncBufRead for UntilTriggered<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.project();
        if *this.done || Pin::new(this.triggered).poll(cx).is_ready() {
            *this.done = true;
            return Poll::Ready(Ok(&[]));
        }
        this.stream.poll_fill_buf(cx)
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.project().stream.consume(amt);
    }
}

impl<W: AsyncWrite> AsyncWrite for UntilTriggered<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if *this.done || Pin::new(this.triggered).poll(cx).is_ready() {
            *this.done = true;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                ShutdownError::Triggered,
            )));
        }
        this.stream.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().stream.poll_close(cx)
    }
}

impl<S> fmt::Debug for UntilTriggered<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntilTriggered")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
