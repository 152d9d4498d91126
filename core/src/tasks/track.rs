//! [`Tracked`]: an unnamed task as a typed future, for the caller to spawn.
//!
//! # Invariants
//!
//! - A `Tracked` holds one count in the registry's tracker from
//!   [`Tasks::track`](crate::Tasks::track) until it ends or is dropped,
//!   whichever comes first, and never more than one: the count lives in the
//!   [`Token`] of its `site`, which removes it when dropped.
//! - The task's future is dropped before its count is released (field
//!   order), and on completion it is already gone (`CatchUnwind` drops it
//!   when it resolves).
//! - Its end is recorded (logged, reported, kept for the report) *before*
//!   the token is dropped, so whoever sees the tracker idle finds the record.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use event_listener::EventListener;
use pin_project_lite::pin_project;

use super::catch::{poll_guarded, CatchUnwind, Outcome, OPEN_EPOCH};
use super::registry::Token;
use super::report::Exit;
use super::TaskOutput;

pin_project! {
    /// Future returned by [`Tasks::track`](crate::Tasks::track): an unnamed
    /// task, counted by its registry, to be spawned on any runtime.
    ///
    /// It resolves to `()` once the task has ended, however it ended: a
    /// failure or a panic is logged and reported as for
    /// [`Tasks::spawn`](crate::Tasks::spawn), and an abort (a shutdown's
    /// grace ran out) drops the task and resolves at once. Dropping it
    /// before that drops the task and uncounts it, without a report.
    ///
    /// It is the task plus two words (16 bytes on 64-bit targets); once the
    /// task has been pending, its bookkeeping moves to one small allocation
    /// beside the listener on the abort switch.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let tasks = steward_core::Tasks::new(rt.handle(), steward_core::Shutdown::new());
    /// let tracked: steward_core::Tracked<_> = tasks.track(async { 1 + 1; })?;
    /// assert_eq!(tasks.len(), 1);
    /// futures_lite::future::block_on(tracked);
    /// assert_eq!(tasks.len(), 0);
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct Tracked<F> {
        // Fields drop in this order: the task before its count, so that a
        // waiter woken by the count finds the task's destructors run.
        #[pin]
        future: CatchUnwind<F>,
        // The count, where the task was made, and the abort listener.
        site: Site,
    }
}

impl<F> Tracked<F> {
    /// Wraps `future`, already counted by the token's registry.
    pub(super) fn new(token: Token, at: &'static Location<'static>, future: F) -> Self {
        Self {
            future: CatchUnwind::new(future),
            site: Site::Fresh(token, at),
        }
    }
}

impl<F> Future for Tracked<F>
where
    F: Future,
    F::Output: TaskOutput,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        poll_unnamed(this.site, this.future, cx)
    }
}

pin_project! {
    /// [`Tracked`] as [`Tasks::spawn`](crate::Tasks::spawn) boxes it: the
    /// abort listener inline (three words beside the task), since the box
    /// is made anyway. A task that waits then allocates nothing more.
    pub(super) struct Spawned<F> {
        // The task before its count, as in `Tracked`.
        #[pin]
        future: CatchUnwind<F>,
        site: Inline,
    }
}

impl<F> Spawned<F> {
    /// Wraps `future`, already counted by the token's registry.
    pub(super) fn new(token: Token, at: &'static Location<'static>, future: F) -> Self {
        Self {
            future: CatchUnwind::new(future),
            site: Inline {
                token: Some(token),
                at,
                listener: None,
            },
        }
    }
}

impl<F> Future for Spawned<F>
where
    F: Future,
    F::Output: TaskOutput,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        poll_unnamed(this.site, this.future, cx)
    }
}

/// One poll of an unnamed task: guarded, and once it ends, its end recorded
/// and then its count given back.
fn poll_unnamed<F, K>(
    site: &mut K,
    future: Pin<&mut CatchUnwind<F>>,
    cx: &mut Context<'_>,
) -> Poll<()>
where
    F: Future,
    F::Output: TaskOutput,
    K: Keeper,
{
    let Some(outcome) = site.poll(future, cx) else {
        // Polled again after it resolved: as `CatchUnwind` does.
        return Poll::Pending;
    };
    let exit = match outcome {
        Poll::Pending => return Poll::Pending,
        Poll::Ready(Outcome::Done(out)) => match out.into_result() {
            Ok(()) => None,
            Err(e) => Some(Exit::Failed(Arc::from(e))),
        },
        Poll::Ready(Outcome::Panicked(msg)) => Some(Exit::Panicked(msg)),
        Poll::Ready(Outcome::Aborted) => Some(Exit::Aborted),
    };
    // Record the end, then uncount it (the token's drop).
    if let Some((token, at)) = site.end() {
        if let Some(exit) = exit {
            token.finish("task spawned", at, exit);
        }
    }
    Poll::Ready(())
}

/// An unnamed task's bookkeeping: its count, where it was made, the
/// listener on the abort switch.
pub(super) trait Keeper {
    /// One poll of `future`, guarded (panics caught, the abort honoured):
    /// `None` once ended.
    fn poll<F: Future>(
        &mut self,
        future: Pin<&mut CatchUnwind<F>>,
        cx: &mut Context<'_>,
    ) -> Option<Poll<Outcome<F::Output>>>;

    /// Ends the task: the count (still held) and where it was made; the
    /// listener is dropped. `None` if it had ended already.
    fn end(&mut self) -> Option<(Token, &'static Location<'static>)>;
}

/// [`Spawned`]'s bookkeeping: all inline.
pub(super) struct Inline {
    /// `None` once ended.
    token: Option<Token>,
    at: &'static Location<'static>,
    listener: Option<EventListener>,
}

impl Keeper for Inline {
    fn poll<F: Future>(
        &mut self,
        future: Pin<&mut CatchUnwind<F>>,
        cx: &mut Context<'_>,
    ) -> Option<Poll<Outcome<F::Output>>> {
        let token = self.token.as_ref()?;
        // Counted while the registry was open: see `OPEN_EPOCH`.
        Some(poll_guarded(
            &token.0.abort,
            OPEN_EPOCH,
            &mut self.listener,
            future,
            cx,
        ))
    }

    fn end(&mut self) -> Option<(Token, &'static Location<'static>)> {
        self.listener = None;
        self.token.take().map(|token| (token, self.at))
    }
}

/// An unnamed tracked task's bookkeeping, in two words beside the task.
///
/// The count in the registry ([`Token`]) and where the task was made; once
/// the task has been pending, the same moved into one allocation with the
/// listener on the registry's abort switch (a task that ends in its first
/// poll never allocates here). `Parked(None)` once ended: the count is
/// given back. Two variants around one niche keep it at 16 bytes.
pub(super) enum Site {
    /// Counted, never pending yet.
    Fresh(Token, &'static Location<'static>),
    /// Pending once at least, or ended (`None`).
    Parked(Option<Box<Parked>>),
}

/// What a pending [`Site`] keeps.
pub(super) struct Parked {
    token: Token,
    at: &'static Location<'static>,
    listener: Option<EventListener>,
}

impl Keeper for Site {
    fn poll<F: Future>(
        &mut self,
        future: Pin<&mut CatchUnwind<F>>,
        cx: &mut Context<'_>,
    ) -> Option<Poll<Outcome<F::Output>>> {
        match self {
            Site::Fresh(token, _) => {
                let mut listener = None;
                // Every task tracked here was counted while the registry was
                // open: see `OPEN_EPOCH`.
                let polled = poll_guarded(&token.0.abort, OPEN_EPOCH, &mut listener, future, cx);
                if polled.is_pending() {
                    if let Site::Fresh(token, at) = std::mem::replace(self, Site::Parked(None)) {
                        *self = Site::Parked(Some(Box::new(Parked {
                            token,
                            at,
                            listener,
                        })));
                    }
                }
                Some(polled)
            }
            Site::Parked(Some(parked)) => Some(poll_guarded(
                &parked.token.0.abort,
                OPEN_EPOCH,
                &mut parked.listener,
                future,
                cx,
            )),
            Site::Parked(None) => None,
        }
    }

    fn end(&mut self) -> Option<(Token, &'static Location<'static>)> {
        match std::mem::replace(self, Site::Parked(None)) {
            Site::Fresh(token, at) => Some((token, at)),
            Site::Parked(Some(parked)) => {
                let Parked { token, at, .. } = *parked;
                Some((token, at))
            }
            Site::Parked(None) => None,
        }
    }
}

impl Site {
    /// Where the task was made; `None` once ended.
    pub(super) fn at(&self) -> Option<&'static Location<'static>> {
        match self {
            Site::Fresh(_, at) => Some(at),
            Site::Parked(Some(parked)) => Some(parked.at),
            Site::Parked(None) => None,
        }
    }
}

impl<F> fmt::Debug for Tracked<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Tracked");
        d.field("ended", &self.site.at().is_none());
        if let Some(at) = self.site.at() {
            d.field("at", &format_args!("{at}"));
        }
        d.finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn two_words_beside_the_task() {
        let word = std::mem::size_of::<usize>();
        assert_eq!(std::mem::size_of::<Site>(), 2 * word);
        let task = async {};
        fn tracked_size<F>(_: &F) -> usize {
            std::mem::size_of::<Tracked<F>>()
        }
        // `async {}` is one byte: a detached task capturing one `Arc` is as large.
        assert_eq!(tracked_size(&task), 3 * word);
        // What `Tasks::spawn` boxes: three words beside the task.
        assert_eq!(std::mem::size_of::<Inline>(), 3 * word);
        // What a waiting `Tracked` moves into its box.
        assert_eq!(std::mem::size_of::<Parked>(), 3 * word);
    }

    #[cfg(feature = "test-util")]
    #[test]
    fn the_bookkeeping_is_boxed_at_the_first_pending_only() {
        let rt = crate::testing::TestRuntime::new();
        let tasks = crate::Tasks::new(rt.handle(), crate::Shutdown::new());
        let mut done = Box::pin(tasks.track(async {}).unwrap());
        let mut waits = Box::pin(tasks.track(futures_lite::future::pending::<()>()).unwrap());
        let fresh = |t: &Site| matches!(t, Site::Fresh(..));
        assert!(fresh(&done.site) && fresh(&waits.site));
        fn once<T: Future<Output = ()>>(t: Pin<&mut T>) -> Option<()> {
            futures_lite::future::block_on(futures_lite::future::poll_once(t))
        }
        assert_eq!(once(done.as_mut()), Some(()));
        assert!(
            matches!(done.site, Site::Parked(None)),
            "ended, never boxed"
        );
        assert_eq!(once(waits.as_mut()), None);
        assert!(matches!(waits.site, Site::Parked(Some(_))));
        assert_eq!(tasks.len(), 1);
        drop(waits);
        assert!(tasks.is_empty());
    }
}
