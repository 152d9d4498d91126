//! The lifespan's futures: [`Start`], [`Teardown`] and [`LifespanRun`].

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use event_listener::EventListener;
use pin_project_lite::pin_project;

use super::report::SharedError;
use super::{
    shutdown_reason, Entry, Lifespan, LifespanError, LifespanReport, Slot, StepOutcome, StepPhase,
    StepReport, StopOutput,
};
use crate::runtime::Sleep;
use crate::tasks::catch::panic_message;
use crate::TriggeredOwned;

pin_project! {
    /// Future returned by [`Lifespan::start`].
    ///
    /// Resolves to the started resource, or to a [`LifespanError`] naming the
    /// step. Before it is first polled, [`start_timeout`](Start::start_timeout)
    /// and [`stop_timeout`](Start::stop_timeout) set this step's own timeouts.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// use steward_core::testing::TestRuntime;
    /// use steward_core::{Lifespan, LifespanError, Shutdown};
    ///
    /// let rt = TestRuntime::new();
    /// let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
    /// let never = futures_lite::future::pending::<Result<(), String>>();
    /// let err = rt
    ///     .block_on(lifespan.start("db", never, |()| async {}).start_timeout(Duration::from_secs(3)))
    ///     .unwrap_err();
    /// assert!(matches!(err, LifespanError::TimedOut { .. }));
    /// assert_eq!(rt.elapsed(), Duration::from_secs(3));
    /// # }
    /// ```
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct Start<F, S> {
        #[pin]
        future: F,
        lifespan: Lifespan,
        name: String,
        // `None` once the future has completed.
        stop: Option<S>,
        start_timeout: Duration,
        stop_timeout: Duration,
        triggered: TriggeredOwned,
        timer: Option<Sleep>,
        began: Option<Instant>,
        // Entered around each poll of `future`: the user's log lines carry the step's name.
        span: tracing::Span,
    }
}

impl<F, S> Start<F, S> {
    pub(super) fn new(
        lifespan: Lifespan,
        name: String,
        future: F,
        stop: S,
        start_timeout: Duration,
        stop_timeout: Duration,
    ) -> Self {
        let triggered = lifespan.shutdown().clone().triggered_owned();
        let span = tracing::info_span!("lifespan_step", name = %name, phase = "start");
        Self {
            future,
            lifespan,
            name,
            stop: Some(stop),
            start_timeout,
            stop_timeout,
            triggered,
            timer: None,
            began: None,
            span,
        }
    }

    /// Sets this step's start timeout (the lifespan's default otherwise).
    ///
    /// Counted from the first poll. Has no effect once polled.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let lifespan = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new());
    /// let start = lifespan
    ///     .start("migrations", async { Ok::<_, String>(()) }, |()| async {})
    ///     .start_timeout(Duration::from_secs(600));
    /// rt.block_on(start).unwrap();
    /// # }
    /// ```
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Sets this step's stop timeout (the lifespan's default otherwise).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let lifespan = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new());
    /// let start = lifespan
    ///     .start("journal", async { Ok::<_, String>(()) }, |()| async {})
    ///     .stop_timeout(Duration::from_secs(15)); // a long final flush
    /// rt.block_on(start).unwrap();
    /// # }
    /// ```
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }
}

impl<T, E, F, S, SF> Future for Start<F, S>
where
    F: Future<Output = Result<T, E>>,
    E: Into<Box<dyn Error + Send + Sync>>,
    T: Clone + Send + 'static,
    S: FnOnce(T) -> SF + Send + 'static,
    SF: Future + Send + 'static,
    SF::Output: StopOutput,
{
    type Output = Result<T, LifespanError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        assert!(this.stop.is_some(), "`Start` polled after completion");
        let lifespan: &Lifespan = this.lifespan;
        let name: &str = this.name;
        let began = match *this.began {
            Some(began) => began,
            None => {
                if lifespan.is_closed() {
                    *this.stop = None;
                    let step = name.to_owned();
                    return Poll::Ready(Err(LifespanError::Closed { step }));
                }
                let now = lifespan.rt().now();
                *this.began = Some(now);
                *this.timer = Some(lifespan.rt().sleep(*this.start_timeout));
                lifespan.step_began(name);
                now
            }
        };
        let end = |outcome: StepOutcome, error: LifespanError| {
            let duration = lifespan.rt().now() - began;
            lifespan.record(StepReport::new(name, StepPhase::Start, outcome, duration));
            Poll::Ready(Err(error))
        };

        // The trigger first: once it has fired, the start is never polled again.
        if Pin::new(this.triggered).poll(cx).is_ready() {
            *this.stop = None;
            let reason = shutdown_reason(lifespan.shutdown());
            let error = LifespanError::Interrupted {
                step: name.to_owned(),
                reason: reason.clone(),
            };
            return end(StepOutcome::Interrupted(reason), error);
        }

        let mut future = this.future;
        let polled = {
            let _entered = this.span.enter();
            catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)))
        };
        match polled {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(Ok(resource))) => {
                let stop = this.stop.take().expect("checked above");
                let duration = lifespan.rt().now() - began;
                let step =
                    StepReport::new(name, StepPhase::Start, StepOutcome::Completed, duration);
                lifespan.record(step);
                let entry = Entry::new(name.to_owned(), *this.stop_timeout, resource.clone(), stop);
                return Poll::Ready(if lifespan.register(entry) {
                    Ok(resource)
                } else {
                    Err(LifespanError::Closed {
                        step: name.to_owned(),
                    })
                });
            }
            Ok(Poll::Ready(Err(error))) => {
                *this.stop = None;
                let source: SharedError = Arc::from(error.into());
                let error = LifespanError::Failed {
                    step: name.to_owned(),
                    source: Arc::clone(&source),
                };
                return end(StepOutcome::Failed(source), error);
            }
            Err(panic) => {
                *this.stop = None;
                let message = panic_message(&*panic);
                let error = LifespanError::Panicked {
                    step: name.to_owned(),
                    message: message.clone(),
                };
                return end(StepOutcome::Panicked(message), error);
            }
        }

        let timer = this.timer.as_mut().expect("armed on first poll");
        if Pin::new(timer).poll(cx).is_ready() {
            *this.stop = None;
            let error = LifespanError::TimedOut {
                step: name.to_owned(),
                timeout: *this.start_timeout,
            };
            return end(StepOutcome::TimedOut, error);
        }
        Poll::Pending
    }
}

impl<F, S> fmt::Debug for Start<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Start")
            .field("name", &self.name)
            .field("start_timeout", &self.start_timeout)
            .field("stop_timeout", &self.stop_timeout)
            .field("began", &self.began.is_some())
            .field("done", &self.stop.is_none())
            .finish_non_exhaustive()
    }
}

/// Future returned by [`Lifespan::teardown`] and [`Lifespan::teardown_until`].
///
/// Begins the teardown on its first poll (or joins the one that has begun)
/// and resolves to the report of the whole lifespan once every stop has
/// ended. The teardown itself runs on the runtime: dropping this future cuts
/// nothing.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// let rt = steward_core::testing::TestRuntime::new();
/// let lifespan = steward_core::Lifespan::new(rt.handle(), steward_core::Shutdown::new());
/// let teardown: steward_core::Teardown = lifespan.teardown();
/// assert!(rt.block_on(teardown).is_clean());
/// # }
/// ```
#[must_use = "futures do nothing unless you .await or poll them"]
pub struct Teardown {
    lifespan: Lifespan,
    deadline: Option<Instant>,
    slot: Option<Arc<Slot>>,
    listener: Option<EventListener>,
}

impl Teardown {
    pub(super) fn new(lifespan: Lifespan, deadline: Option<Instant>) -> Self {
        Self {
            lifespan,
            deadline,
            slot: None,
            listener: None,
        }
    }
}

impl Future for Teardown {
    type Output = LifespanReport;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LifespanReport> {
        let this = self.get_mut();
        let slot = this
            .slot
            .get_or_insert_with(|| this.lifespan.begin_teardown(this.deadline));
        // Check, listen, check again, wait: the job fills the slot before it notifies.
        loop {
            if let Some(report) = slot.report() {
                this.listener = None;
                return Poll::Ready(report);
            }
            match &mut this.listener {
                None => this.listener = Some(slot.done.listen()),
                Some(listener) => {
                    ready!(Pin::new(listener).poll(cx));
                    this.listener = None;
                }
            }
        }
    }
}

impl fmt::Debug for Teardown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Teardown")
            .field("deadline", &self.deadline)
            .field("begun", &self.slot.is_some())
            .finish_non_exhaustive()
    }
}

pin_project! {
    /// Future returned by [`Lifespan::run`].
    ///
    /// Polls the body (catching a panic), then the lifespan's [`Teardown`],
    /// then resolves to the body's output or resumes its panic.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::panic::AssertUnwindSafe;
    /// use futures_lite::FutureExt;
    /// use steward_core::testing::TestRuntime;
    /// use steward_core::{Lifespan, Shutdown};
    ///
    /// let rt = TestRuntime::new();
    /// let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
    /// let run = lifespan.run(|lifespan| async move {
    ///     lifespan.start("db", async { Ok::<_, String>(()) }, |()| async {}).await.unwrap();
    ///     panic!("bug in the body");
    /// });
    /// let caught = rt.block_on(AssertUnwindSafe(run).catch_unwind());
    /// assert!(caught.is_err()); // the panic, resumed after the teardown:
    /// assert_eq!(lifespan.report().to_string(), "db: started in 0ns\ndb: stopped in 0ns");
    /// # }
    /// ```
    #[must_use = "futures do nothing unless you .await or poll them"]
    pub struct LifespanRun<Fut: Future> {
        // Declared first: dropped first, with the body's clones of the resources.
        #[pin]
        body: Fut,
        body_done: bool,
        output: Option<std::thread::Result<Fut::Output>>,
        teardown: Teardown,
        on_drop: DetachOnDrop,
    }
}

impl<Fut: Future> LifespanRun<Fut> {
    pub(super) fn new(lifespan: Lifespan, body: Fut) -> Self {
        Self {
            body,
            body_done: false,
            output: None,
            teardown: lifespan.teardown(),
            on_drop: DetachOnDrop(lifespan),
        }
    }
}

impl<Fut: Future> Future for LifespanRun<Fut> {
    type Output = Fut::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Fut::Output> {
        let this = self.project();
        if !*this.body_done {
            let mut body = this.body;
            match catch_unwind(AssertUnwindSafe(|| body.as_mut().poll(cx))) {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready(out)) => *this.output = Some(Ok(out)),
                Err(panic) => {
                    tracing::error!(
                        "lifespan: the body panicked ({}); tearing down before resuming the panic",
                        panic_message(&*panic)
                    );
                    *this.output = Some(Err(panic));
                }
            }
            *this.body_done = true;
        }
        ready!(Pin::new(this.teardown).poll(cx));
        match this.output.take() {
            Some(Ok(out)) => Poll::Ready(out),
            Some(Err(panic)) => resume_unwind(panic),
            None => panic!("`LifespanRun` polled after completion"),
        }
    }
}

impl<Fut: Future> fmt::Debug for LifespanRun<Fut> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LifespanRun")
            .field("body_done", &self.body_done)
            .field("teardown", &self.teardown)
            .finish_non_exhaustive()
    }
}

/// Hands the teardown to the runtime when a [`LifespanRun`] is dropped
/// before its teardown began.
struct DetachOnDrop(Lifespan);

impl Drop for DetachOnDrop {
    fn drop(&mut self) {
        self.0.detach_teardown("a `Lifespan::run` future");
    }
}
