//! Helpers shared by the health, probes and HTTP tests.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use steward_core::health::{CheckOutcome, HealthCheck};
use steward_core::RuntimeHandle;

/// Polls every future concurrently; outputs in order.
pub async fn join_all<F: Future + Unpin>(futures: Vec<F>) -> Vec<F::Output> {
    let mut slots: Vec<(Option<F>, Option<F::Output>)> =
        futures.into_iter().map(|f| (Some(f), None)).collect();
    futures_lite::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, out) in &mut slots {
            if let Some(f) = future {
                match Pin::new(f).poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *future = None;
                    }
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    slots.into_iter().map(|(_, out)| out.unwrap()).collect()
}

/// A check that counts its runs, takes `work` of the runtime's time, and
/// answers what `outcome` holds.
#[derive(Clone)]
pub struct Counting {
    pub runs: Arc<AtomicUsize>,
    rt: RuntimeHandle,
    work: Duration,
    outcome: Arc<std::sync::Mutex<CheckOutcome>>,
}

impl Counting {
    pub fn new(rt: &RuntimeHandle, work: Duration) -> Self {
        Self {
            runs: Arc::new(AtomicUsize::new(0)),
            rt: rt.clone(),
            work,
            outcome: Arc::new(std::sync::Mutex::new(CheckOutcome::healthy())),
        }
    }

    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    pub fn set(&self, outcome: CheckOutcome) {
        *self.outcome.lock().unwrap() = outcome;
    }
}

impl HealthCheck for Counting {
    async fn check(&self) -> CheckOutcome {
        self.runs.fetch_add(1, Ordering::SeqCst);
        if !self.work.is_zero() {
            self.rt.sleep(self.work).await;
        }
        self.outcome.lock().unwrap().clone()
    }
}

/// A check answering a fixed outcome.
pub fn fixed(outcome: CheckOutcome) -> impl HealthCheck {
    move || {
        let outcome = outcome.clone();
        async move { outcome }
    }
}

/// The events logged while `f` runs on this thread: (level, fields).
pub fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, Vec<(tracing::Level, String)>) {
    use std::fmt::Write;
    use tracing::field::{Field, Visit};
    use tracing::{span, Event, Metadata, Subscriber};

    type Log = Arc<std::sync::Mutex<Vec<(tracing::Level, String)>>>;
    struct Capture(Log);
    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, "{}={:?} ", field.name(), value);
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
            span::Id::from_u64(1)
        }
        fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
        fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields(String::new());
            event.record(&mut fields);
            self.0
                .lock()
                .unwrap()
                .push((*event.metadata().level(), fields.0));
        }
        fn enter(&self, _: &span::Id) {}
        fn exit(&self, _: &span::Id) {}
    }

    let log: Log = Arc::default();
    let out = tracing::subscriber::with_default(Capture(log.clone()), f);
    let logs = log.lock().unwrap().clone();
    (out, logs)
}
