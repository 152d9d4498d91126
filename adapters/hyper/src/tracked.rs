//! A connection's service, wrapped to tell the connection table when a
//! request is in hand, and to end the connection after its last allowed
//! request (`Connection: close` on that answer: hyper then reads no further
//! pipelined request and closes once the answer is written).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use hyper::header::{HeaderValue, CONNECTION};
use pin_project_lite::pin_project;

use crate::table::Tracker;

pub(crate) struct Tracked<S> {
    inner: S,
    tracker: Tracker,
    max_requests: usize,
}

impl<S> Tracked<S> {
    pub(crate) fn new(inner: S, tracker: Tracker, max_requests: usize) -> Self {
        Self {
            inner,
            tracker,
            max_requests,
        }
    }
}

impl<S, B, R> hyper::service::Service<hyper::Request<B>> for Tracked<S>
where
    S: hyper::service::Service<hyper::Request<B>, Response = hyper::Response<R>>,
{
    type Response = hyper::Response<R>;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn call(&self, request: hyper::Request<B>) -> Self::Future {
        let seen = self.tracker.start();
        TrackedFuture {
            inner: self.inner.call(request),
            last: seen >= self.max_requests,
            done: Done(Some(self.tracker.clone())),
        }
    }
}

pin_project! {
    /// The inner service's future; marks the request done when it resolves
    /// or is dropped.
    pub(crate) struct TrackedFuture<F> {
        #[pin]
        inner: F,
        last: bool,
        done: Done,
    }
}

/// Ends the request once (when the answer is produced, or on drop).
pub(crate) struct Done(Option<Tracker>);

impl Drop for Done {
    fn drop(&mut self) {
        if let Some(tracker) = self.0.take() {
            tracker.end();
        }
    }
}

impl<F, R, E> Future for TrackedFuture<F>
where
    F: Future<Output = Result<hyper::Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut result = ready!(this.inner.poll(cx));
        if *this.last {
            if let Ok(response) = &mut result {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
        }
        if let Some(tracker) = this.done.0.take() {
            tracker.end();
        }
        Poll::Ready(result)
    }
}
