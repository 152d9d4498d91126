//! Panics caught around a task's poll, and the abort switch that drops a task.
//!
//! Both live inside the future that is handed to the runtime, so they behave
//! the same on every runtime: a panic never reaches the executor (smol would
//! lose it, tokio would keep it in a `JoinHandle` nobody reads), and an abort
//! drops the task's future on the executor's own thread, running its
//! destructors there.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use event_listener::{Event, EventListener};
use pin_project_lite::pin_project;

use crate::sync::{AtomicUsize, Ordering};

/// The text of a panic payload: the message of `panic!("...")`, or a
/// placeholder for a payload that is not a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any> (a panic payload that is not a string)".to_owned()
    }
}

/// Drops `value` in place, catching a panic from its destructor.
///
/// Returns the panic's message, if the destructor panicked.
fn drop_caught<F>(mut slot: Pin<&mut Option<F>>) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| slot.set(None)))
        .err()
        .map(|p| panic_message(&*p))
}

pin_project! {
    /// Polls a future with its panics caught; on a panic the future is dropped.
    ///
    /// Resolves to `Ok(output)` or `Err(panic message)`.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        future: Option<F>,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(future: F) -> Self {
        Self {
            future: Some(future),
        }
    }

    /// Drops the inner future now (destructor panics caught and logged).
    fn abort(self: Pin<&mut Self>) {
        if let Some(msg) = drop_caught(self.project().future) {
            tracing::warn!(panic = %msg, "a task's destructor panicked while it was aborted");
        }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut future = self.project().future;
        let Some(inner) = future.as_mut().as_pin_mut() else {
            // Polled again after it resolved: a bug in the caller, not the task.
            return Poll::Pending;
        };
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => {
                // The finished future's destructor may panic too: caught here,
                // so that it never reaches the executor.
                match drop_caught(future) {
                    None => Poll::Ready(Ok(out)),
                    Some(msg) => {
                        drop(out);
                        Poll::Ready(Err(format!("panicked while dropped: {msg}")))
                    }
                }
            }
            Err(payload) => {
                let msg = panic_message(&*payload);
                if let Some(again) = drop_caught(future) {
                    tracing::warn!(panic = %again, "a panicked task's destructor panicked too");
                }
                Poll::Ready(Err(msg))
            }
        }
    }
}

/// The switch that tells tasks to drop themselves.
///
/// A level rather than a flag, with an epoch. A named task's cell is raised
/// once and never lowered. The registry's own cell is raised by a shutdown
/// for the time it drains the aborted tasks and lowered after, so that
/// shielded work begun later is not dropped at birth; two shutdowns that
/// overlap each hold it raised.
///
/// Lowering must not un-abort a task that was there: a task whose thread
/// was blocked past [`Tasks::ABANDON_AFTER`](crate::Tasks::ABANDON_AFTER)
/// sees the abort only when its thread comes back, maybe after the
/// lowering, and must be dropped then, not run on. So each task keeps the
/// epoch it was born in ([`AbortCell::epoch`]), and every lowering moves the
/// epoch on in the same atomic step: a task is aborted while the level is
/// raised, and for ever once the epoch has moved past its birth. Tasks born
/// after a lowering run normally.
///
/// # Invariants
///
/// `state` packs the level (the holders of a raise not yet lowered) in its
/// low half and the epoch (lowerings so far, wrapping) in its high half.
/// `raise` adds one to the level and then notifies; `lower` adds one to
/// the epoch and takes one from the level in one `fetch_add`, so no reader
/// ever sees the level down without the epoch moved. A [`Guarded`] task
/// checks, listens, and checks again, so it never misses a raise; a
/// lowering needs no notification (it never turns an abort off for a task
/// that was there).
pub(crate) struct AbortCell {
    /// The level and the epoch, see the invariants.
    state: AtomicUsize,
    event: Event,
}

/// Bits of [`AbortCell`]'s state that hold the level (the rest: the epoch).
const LEVEL_BITS: u32 = usize::BITS / 2;
/// The level's mask.
const LEVEL: usize = (1 << LEVEL_BITS) - 1;
/// One epoch.
const EPOCH: usize = 1 << LEVEL_BITS;

/// The epoch of every task counted through `Tracker::try_add` (spawned,
/// tracked, named), without reading the cell: such a task was counted while
/// the registry was open, so before any shutdown closed it, and every raise
/// of the registry's cell (and so every lowering) comes after that close,
/// which a shutdown's seal makes final. Only work counted on a closed
/// registry ([`Tasks::shield`](crate::Tasks::shield)) reads its epoch. A
/// named task's own cell is never lowered: its epoch stays this one.
pub(crate) const OPEN_EPOCH: usize = 0;

impl AbortCell {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicUsize::new(0),
            event: Event::new(),
        }
    }

    /// Aborts every task watching this cell, until [`AbortCell::lower`];
    /// and those born before the lowering for ever.
    pub(crate) fn raise(&self) {
        // SeqCst: the raise must be visible to a task woken by the
        // notification below, and to one that checks after it listened.
        let prev = self.state.fetch_add(1, Ordering::SeqCst);
        debug_assert!(prev & LEVEL != LEVEL, "abort level overflow");
        self.event.notify(usize::MAX);
    }

    /// Raises the level until the returned guard is dropped.
    pub(crate) fn raise_until_drop(&self) -> Raised<'_> {
        self.raise();
        Raised(self)
    }

    /// Undoes one [`AbortCell::raise`] for tasks born from now on; the
    /// tasks born before stay aborted (the epoch moves on with the level).
    fn lower(&self) {
        // SeqCst: ordered after the drain that the lowering follows. One
        // read-modify-write for both halves: a reader that sees the level
        // down sees the epoch moved, so a task born before is still aborted.
        // The epoch wraps around at the top of the word (`is_set` compares
        // it for equality, so only 2^32 lowerings during one task's life on
        // 64-bit targets, 2^16 on 32-bit, would read as none).
        self.state.fetch_add(EPOCH - 1, Ordering::SeqCst);
    }

    /// The epoch a task born now belongs to: pass it to
    /// [`AbortCell::is_set`].
    pub(crate) fn epoch(&self) -> usize {
        // SeqCst: as in `is_set`; a task that reads an epoch before a
        // lowering is aborted by it, one that reads it after is not.
        self.state.load(Ordering::SeqCst) >> LEVEL_BITS
    }

    /// Whether a task born in epoch `born` is to be dropped.
    pub(crate) fn is_set(&self, born: usize) -> bool {
        // SeqCst: pairs with `raise`; a task that listened and then reads
        // the level at 0 is certain to be notified by the next raise.
        let state = self.state.load(Ordering::SeqCst);
        state & LEVEL != 0 || state >> LEVEL_BITS != born
    }
}

impl fmt::Debug for AbortCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a snapshot for display.
        let state = self.state.load(Ordering::Relaxed);
        f.debug_struct("AbortCell")
            .field("level", &(state & LEVEL))
            .field("epoch", &(state >> LEVEL_BITS))
            .finish()
    }
}

/// Lowers its [`AbortCell`] when dropped (even when the shutdown that raised
/// it is itself dropped halfway).
pub(crate) struct Raised<'a>(&'a AbortCell);

impl Drop for Raised<'_> {
    fn drop(&mut self) {
        self.0.lower();
    }
}

/// How a guarded task ended.
#[derive(Debug)]
pub(crate) enum Outcome<T> {
    /// It resolved.
    Done(T),
    /// It panicked with this message.
    Panicked(String),
    /// It was dropped by its abort switch.
    Aborted,
}

pin_project! {
    /// A task's future as the runtime sees it: panics caught, droppable by an
    /// [`AbortCell`].
    ///
    /// The listener on the abort event is only made once the task first
    /// returns `Pending`: a task that completes in its first poll costs no
    /// allocation here.
    pub(crate) struct Guarded<'a, F> {
        abort: &'a AbortCell,
        // The abort's epoch when the task was made (see `AbortCell`).
        born: usize,
        listener: Option<EventListener>,
        #[pin]
        future: CatchUnwind<F>,
    }
}

impl<'a, F> Guarded<'a, F> {
    /// `future`, dropped when `abort` is set for a task born in epoch
    /// `born` ([`AbortCell::epoch`], read when the task was counted).
    pub(crate) fn new(abort: &'a AbortCell, born: usize, future: F) -> Self {
        Self {
            abort,
            born,
            listener: None,
            future: CatchUnwind::new(future),
        }
    }
}

impl<F: Future> Future for Guarded<'_, F> {
    type Output = Outcome<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        poll_guarded(this.abort, *this.born, this.listener, this.future, cx)
    }
}

/// One poll of a guarded task: `future` with its panics caught, dropped
/// when `abort` is set for a task born in epoch `born`. `listener` is the caller's slot for the listener on
/// the abort event, made only once the task first returns `Pending`.
///
/// Shared by [`Guarded`] (which borrows its cell) and
/// [`Tracked`](super::Tracked) (which owns the registry it reads it from).
pub(crate) fn poll_guarded<F: Future>(
    abort: &AbortCell,
    born: usize,
    listener: &mut Option<EventListener>,
    mut future: Pin<&mut CatchUnwind<F>>,
    cx: &mut Context<'_>,
) -> Poll<Outcome<F::Output>> {
    if abort.is_set(born) {
        future.abort();
        return Poll::Ready(Outcome::Aborted);
    }
    match future.as_mut().poll(cx) {
        Poll::Ready(Ok(out)) => return Poll::Ready(Outcome::Done(out)),
        Poll::Ready(Err(msg)) => return Poll::Ready(Outcome::Panicked(msg)),
        Poll::Pending => {}
    }
    loop {
        match listener {
            None => *listener = Some(abort.event.listen()),
            Some(l) => {
                if Pin::new(l).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                *listener = None;
            }
        }
        if abort.is_set(born) {
            future.abort();
            return Poll::Ready(Outcome::Aborted);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[test]
    fn panic_is_caught_with_its_message() {
        let out = futures_lite::future::block_on(CatchUnwind::new(async {
            panic!("boom {}", 7);
        }));
        assert_eq!(out, Err::<(), _>("boom 7".to_owned()));
        let out = futures_lite::future::block_on(CatchUnwind::new(async {
            std::panic::panic_any(5_u8);
        }));
        assert!(out.unwrap_err().contains("not a string"));
    }

    /// A future that is ready at once and panics when dropped.
    struct PanicOnDrop;
    impl Future for PanicOnDrop {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
    }
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("drop of a finished task");
        }
    }

    #[test]
    fn a_panic_in_the_drop_of_a_finished_future_is_caught() {
        let out = futures_lite::future::block_on(CatchUnwind::new(PanicOnDrop));
        assert_eq!(
            out,
            Err("panicked while dropped: drop of a finished task".to_owned())
        );
    }

    #[test]
    fn abort_drops_a_pending_future() {
        let cell = AbortCell::new();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        let mut fut = Box::pin(Guarded::new(&cell, cell.epoch(), async move {
            let _guard = guard;
            futures_lite::future::pending::<()>().await;
        }));
        assert!(
            futures_lite::future::block_on(futures_lite::future::poll_once(fut.as_mut())).is_none()
        );
        assert!(!dropped.load(std::sync::atomic::Ordering::SeqCst));
        cell.raise();
        let out = futures_lite::future::block_on(fut.as_mut());
        assert!(matches!(out, Outcome::Aborted));
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
    }
}
