use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls every future of a set concurrently and yields their outputs in order.
///
/// The set is small (one future per check), so each wake-up polls every
/// future still pending rather than tracking which one was woken.
pub(crate) struct JoinAll<F: Future> {
    slots: Vec<Slot<F>>,
    pending: usize,
}

enum Slot<F: Future> {
    Pending(Pin<Box<F>>),
    Done(Option<F::Output>),
}

pub(crate) fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> JoinAll<F> {
    let slots: Vec<_> = futures
        .into_iter()
        .map(|f| Slot::Pending(Box::pin(f)))
        .collect();
    JoinAll {
        pending: slots.len(),
        slots,
    }
}

impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        for slot in &mut this.slots {
            if let Slot::Pending(future) = slot {
                if let Poll::Ready(out) = future.as_mut().poll(cx) {
                    *slot = Slot::Done(Some(out));
                    this.pending -= 1;
                }
            }
        }
        if this.pending > 0 {
            return Poll::Pending;
        }
        let outputs = this
            .slots
            .iter_mut()
            .filter_map(|slot| match slot {
                Slot::Done(out) => out.take(),
                Slot::Pending(_) => None,
            })
            .collect();
        Poll::Ready(outputs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_lite::future;

    #[test]
    fn yields_outputs_in_order_whatever_the_completion_order() {
        let slow = |n: u32, yields: u32| async move {
            for _ in 0..yields {
                future::yield_now().await;
            }
            n
        };
        let out = future::block_on(join_all([slow(1, 3), slow(2, 0), slow(3, 1)]));
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn empty_set_is_ready_at_once() {
        let out = future::block_on(join_all(Vec::<future::Ready<()>>::new()));
        assert!(out.is_empty());
    }
}
