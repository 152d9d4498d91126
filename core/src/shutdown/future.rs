use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use event_listener::{Event, EventListener};
use futures_lite::Stream;
use pin_project_lite::pin_project;

use super::{Inner, Shutdown};

impl Shutdown {
    /// Waits until the scope is triggered.
    ///
    /// Ready at once when the scope is triggered already. Waiting costs no
    /// lock: one listener on the scope's event.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future unregisters its listener and loses
    /// nothing; a new call waits again.
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
            listener: None,
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
            listener: None,
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

    /// Wraps `stream` so that it ends once the scope is triggered.
    ///
    /// The trigger is checked before each poll of the stream: an item already
    /// taken is never lost, and none is taken after the trigger.
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
    /// shutdown.trigger(Reason::Requested);
    /// assert_eq!(items.next().await, None);
    /// # });
    /// ```
    pub fn until_triggered<S: Stream>(&self, stream: S) -> UntilTriggered<S> {
        UntilTriggered {
            triggered: self.clone().triggered_owned(),
            stream,
            done: false,
        }
    }
}

/// Polls `listener` on `event` until `ready(inner)` holds: check → mark the
/// scope waited → listen → check → wait, the only way a waiter can never
/// miss a notification (see the module's invariants).
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

fn poll_triggered(
    inner: &Inner,
    listener: &mut Option<EventListener>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    poll_until(inner, |i| &i.triggered, Inner::is_triggered, listener, cx)
}

pin_project! {
    /// Future returned by [`Shutdown::triggered`].
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct Triggered<'a> {
        inner: &'a Inner,
        listener: Option<EventListener>,
    }
}

impl Future for Triggered<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        poll_triggered(this.inner, this.listener, cx)
    }
}

impl fmt::Debug for Triggered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Triggered")
            .field("triggered", &self.inner.is_triggered())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// Future returned by [`Shutdown::triggered_owned`].
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct TriggeredOwned {
        inner: Arc<Inner>,
        listener: Option<EventListener>,
    }
}

impl Future for TriggeredOwned {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        poll_triggered(this.inner, this.listener, cx)
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
    /// Stream returned by [`Shutdown::until_triggered`].
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
}

impl<S> fmt::Debug for UntilTriggered<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntilTriggered")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
