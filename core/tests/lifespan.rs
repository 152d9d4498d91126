//! `Lifespan` on the virtual-time runtime: orders, outcomes and exact times.

#![cfg(feature = "test-util")]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::FutureExt;
use steward_core::testing::TestRuntime;
use steward_core::{
    Lifespan, LifespanError, LifespanReport, LifespanRun, Reason, RuntimeHandle, Shutdown, Start,
    StepOutcome, StepPhase, StepReport, Teardown,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// What happened, and when (ms of virtual time since the test began).
#[derive(Clone)]
struct Events {
    rt: RuntimeHandle,
    t0: Instant,
    log: Arc<Mutex<Vec<(String, u64)>>>,
}

impl Events {
    fn new(rt: &RuntimeHandle) -> Self {
        Self {
            rt: rt.clone(),
            t0: rt.now(),
            log: Arc::default(),
        }
    }

    fn push(&self, what: String) {
        let at = (self.rt.now() - self.t0).as_millis() as u64;
        self.log.lock().unwrap().push((what, at));
    }

    fn take(&self) -> Vec<(String, u64)> {
        std::mem::take(&mut self.log.lock().unwrap())
    }
}

fn ev(list: &[(&str, u64)]) -> Vec<(String, u64)> {
    list.iter().map(|(s, t)| ((*s).to_owned(), *t)).collect()
}

/// Starts `name`, taking `start_ms` to start and `stop_ms` to stop.
async fn resource(
    lifespan: &Lifespan,
    events: &Events,
    name: &'static str,
    start_ms: u64,
    stop_ms: u64,
) -> Result<&'static str, LifespanError> {
    let (on_start, on_stop) = (events.clone(), events.clone());
    lifespan
        .start(
            name,
            async move {
                on_start.push(format!("start {name}"));
                on_start.rt.sleep(ms(start_ms)).await;
                on_start.push(format!("started {name}"));
                Ok::<_, String>(name)
            },
            move |name| async move {
                on_stop.push(format!("stop {name}"));
                on_stop.rt.sleep(ms(stop_ms)).await;
                on_stop.push(format!("stopped {name}"));
            },
        )
        .await
}

fn summary(report: &LifespanReport) -> Vec<String> {
    report.steps().iter().map(ToString::to_string).collect()
}

fn setup() -> (TestRuntime, RuntimeHandle, Shutdown, Lifespan, Events) {
    let rt = TestRuntime::new();
    let handle = rt.handle();
    let shutdown = Shutdown::new();
    let lifespan = Lifespan::new(handle.clone(), shutdown.clone());
    let events = Events::new(&handle);
    (rt, handle, shutdown, lifespan, events)
}

#[test]
fn starts_in_order_and_tears_down_in_reverse() {
    let (rt, handle, _shutdown, lifespan, events) = setup();
    let out = rt.block_on(lifespan.run(|ls| {
        let events = events.clone();
        async move {
            let a = resource(&ls, &events, "a", 10, 1).await?;
            let b = resource(&ls, &events, "b", 20, 2).await?;
            let c = resource(&ls, &events, "c", 30, 3).await?;
            handle.sleep(ms(100)).await; // the service runs
            events.push("body done".into());
            Ok::<_, LifespanError>([a, b, c])
        }
    }));
    assert_eq!(out.unwrap(), ["a", "b", "c"]);
    assert_eq!(
        events.take(),
        ev(&[
            ("start a", 0),
            ("started a", 10),
            ("start b", 10),
            ("started b", 30),
            ("start c", 30),
            ("started c", 60),
            ("body done", 160),
            ("stop c", 160),
            ("stopped c", 163),
            ("stop b", 163),
            ("stopped b", 165),
            ("stop a", 165),
            ("stopped a", 166),
        ])
    );
    let report = lifespan.report();
    assert!(report.is_clean());
    assert_eq!(
        report.to_string(),
        "a: started in 10ms\nb: started in 20ms\nc: started in 30ms\n\
         c: stopped in 3ms\nb: stopped in 2ms\na: stopped in 1ms"
    );
    assert!(lifespan.is_closed());
    assert!(lifespan.is_empty());
    assert_eq!(rt.elapsed(), ms(166));
}

#[test]
fn failed_start_tears_down_the_started_in_reverse_and_names_the_step() {
    let (rt, handle, _shutdown, lifespan, events) = setup();
    let out = rt.block_on(lifespan.run(|ls| {
        let events = events.clone();
        async move {
            resource(&ls, &events, "a", 10, 1).await?;
            resource(&ls, &events, "b", 10, 1).await?;
            ls.start(
                "c",
                async move {
                    handle.sleep(ms(5)).await;
                    Err::<(), _>(std::io::Error::other("connection refused"))
                },
                |()| async {},
            )
            .await?;
            Ok::<(), LifespanError>(())
        }
    }));
    let err = out.unwrap_err();
    assert_eq!(err.step(), "c");
    assert!(matches!(err, LifespanError::Failed { .. }));
    assert_eq!(err.to_string(), "start of `c` failed: connection refused");
    let source = std::error::Error::source(&err).expect("the start's error");
    assert_eq!(source.to_string(), "connection refused");
    assert_eq!(
        events.take(),
        ev(&[
            ("start a", 0),
            ("started a", 10),
            ("start b", 10),
            ("started b", 20),
            ("stop b", 25),
            ("stopped b", 26),
            ("stop a", 26),
            ("stopped a", 27),
        ])
    );
    assert_eq!(
        summary(&lifespan.report()),
        [
            "a: started in 10ms",
            "b: started in 10ms",
            "c: start after 5ms failed: connection refused",
            "b: stopped in 1ms",
            "a: stopped in 1ms",
        ]
    );
    assert!(!lifespan.report().is_clean());
}

#[test]
fn timed_out_start_ends_at_exactly_its_timeout() {
    let (rt, _handle, _shutdown, lifespan, events) = setup();
    let out = rt.block_on(lifespan.run(|ls| {
        let events = events.clone();
        async move {
            resource(&ls, &events, "a", 10, 1).await?;
            ls.start(
                "b",
                futures_lite::future::pending::<Result<(), String>>(),
                |()| async {},
            )
            .start_timeout(Duration::from_secs(3))
            .await
        }
    }));
    let err = out.unwrap_err();
    assert!(
        matches!(&err, LifespanError::TimedOut { step, timeout } if step == "b" && *timeout == Duration::from_secs(3)),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "start of `b` timed out after 3s");
    let report = lifespan.report();
    let b = &report.steps()[1];
    assert_eq!((b.name.as_str(), b.phase), ("b", StepPhase::Start));
    assert!(matches!(b.outcome, StepOutcome::TimedOut));
    assert_eq!(b.duration, Duration::from_secs(3));
    assert_eq!(
        events.take(),
        ev(&[
            ("start a", 0),
            ("started a", 10),
            ("stop a", 3010),
            ("stopped a", 3011)
        ])
    );
}

#[test]
fn default_start_timeout_applies_when_none_is_set() {
    let (rt, _handle, _shutdown, lifespan, _events) = setup();
    let lifespan = lifespan.with_start_timeout(Duration::from_secs(7));
    let err = rt
        .block_on(lifespan.start(
            "slow",
            futures_lite::future::pending::<Result<(), String>>(),
            |()| async {},
        ))
        .unwrap_err();
    assert!(matches!(err, LifespanError::TimedOut { .. }));
    assert_eq!(rt.elapsed(), Duration::from_secs(7));

    let (rt, _handle, _shutdown, lifespan, _events) = setup();
    let never = futures_lite::future::pending::<Result<(), String>>();
    rt.block_on(lifespan.start("slow", never, |()| async {}))
        .unwrap_err();
    assert_eq!(rt.elapsed(), Lifespan::DEFAULT_START_TIMEOUT);
}

#[test]
fn panic_in_the_body_tears_down_then_resumes_the_panic() {
    let (rt, handle, _shutdown, lifespan, events) = setup();
    let run = lifespan.run(|ls| {
        let events = events.clone();
        async move {
            resource(&ls, &events, "a", 10, 1).await.unwrap();
            resource(&ls, &events, "b", 10, 1).await.unwrap();
            handle.sleep(ms(30)).await;
            panic!("bug in the body");
        }
    });
    let panic = rt
        .block_on(AssertUnwindSafe(run).catch_unwind())
        .unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"bug in the body"));
    assert_eq!(
        events.take(),
        ev(&[
            ("start a", 0),
            ("started a", 10),
            ("start b", 10),
            ("started b", 20),
            ("stop b", 50),
            ("stopped b", 51),
            ("stop a", 51),
            ("stopped a", 52),
        ])
    );
    assert!(lifespan.report().is_clean());
}

#[test]
fn trigger_during_startup_interrupts_the_start_and_tears_down() {
    let (rt, handle, shutdown, lifespan, events) = setup();
    let trigger = shutdown.clone();
    let timer = handle.clone();
    handle.spawn(async move {
        timer.sleep(Duration::from_secs(2)).await;
        trigger.trigger(Reason::Signal(15));
    });
    let polled_after = Arc::new(AtomicBool::new(false));
    let flag = polled_after.clone();
    let out = rt.block_on(lifespan.run(|ls| {
        let events = events.clone();
        async move {
            resource(&ls, &events, "a", 10, 1).await?;
            let started = resource(&ls, &events, "b", 10_000, 1).await;
            assert!(matches!(started, Err(LifespanError::Interrupted { .. })));
            // Once triggered, nothing more starts: the start future is never polled.
            let late = ls
                .start(
                    "c",
                    async move {
                        flag.store(true, Ordering::SeqCst);
                        Ok::<_, String>(())
                    },
                    |()| async {},
                )
                .await;
            assert!(matches!(late, Err(LifespanError::Interrupted { .. })));
            started
        }
    }));
    let err = out.unwrap_err();
    assert!(
        matches!(&err, LifespanError::Interrupted { step, reason } if step == "b" && *reason == Reason::Signal(15))
    );
    assert_eq!(
        err.to_string(),
        "start of `b` interrupted by shutdown: signal 15 (SIGTERM)"
    );
    assert!(!polled_after.load(Ordering::SeqCst));
    assert_eq!(
        events.take(),
        ev(&[
            ("start a", 0),
            ("started a", 10),
            ("start b", 10),
            ("stop a", 2000),
            ("stopped a", 2001),
        ])
    );
    assert_eq!(
        summary(&lifespan.report()),
        [
            "a: started in 10ms",
            "b: start after 1.99s interrupted by shutdown: signal 15 (SIGTERM)",
            "c: start after 0ns interrupted by shutdown: signal 15 (SIGTERM)",
            "a: stopped in 1ms",
        ]
    );
}

#[test]
fn a_hanging_stop_is_cut_at_its_timeout_and_the_rest_still_run() {
    let (rt, handle, _shutdown, lifespan, events) = setup();
    let report = rt.block_on(async {
        resource(&lifespan, &events, "a", 0, 1).await.unwrap();
        let on_stop = events.clone();
        lifespan
            .start("b", async { Ok::<_, String>(()) }, move |()| async move {
                on_stop.push("stop b".into());
                futures_lite::future::pending::<()>().await;
            })
            .stop_timeout(Duration::from_secs(2))
            .await
            .unwrap();
        resource(&lifespan, &events, "c", 0, 3).await.unwrap();
        let _ = handle;
        lifespan.teardown().await
    });
    assert_eq!(
        events.take(),
        ev(&[
            ("start a", 0),
            ("started a", 0),
            ("start c", 0),
            ("started c", 0),
            ("stop c", 0),
            ("stopped c", 3),
            ("stop b", 3),
            ("stop a", 2003),
            ("stopped a", 2004),
        ])
    );
    let stops: Vec<String> = summary(&report).split_off(3);
    assert_eq!(
        stops,
        [
            "c: stopped in 3ms",
            "b: stop timed out after 2s",
            "a: stopped in 1ms"
        ]
    );
}

#[test]
fn a_deadline_bounds_the_whole_teardown() {
    let (rt, handle, _shutdown, lifespan, events) = setup();
    let report = rt.block_on(async {
        resource(&lifespan, &events, "a", 0, 2000).await.unwrap();
        // Finishes on its first poll: still runs past the deadline.
        let on_stop = events.clone();
        lifespan
            .start(
                "instant",
                async { Ok::<_, String>(()) },
                move |()| async move {
                    on_stop.push("stopped instant".into());
                },
            )
            .await
            .unwrap();
        resource(&lifespan, &events, "b", 0, 2000).await.unwrap();
        resource(&lifespan, &events, "c", 0, 2000).await.unwrap();
        events.take();
        lifespan
            .teardown_until(handle.now() + Duration::from_secs(3))
            .await
    });
    assert_eq!(rt.elapsed(), Duration::from_secs(3));
    assert_eq!(
        events.take(),
        ev(&[
            ("stop c", 0),
            ("stopped c", 2000),
            ("stop b", 2000),
            ("stopped instant", 3000),
            ("stop a", 3000),
        ])
    );
    assert_eq!(
        summary(&report).split_off(4),
        [
            "c: stopped in 2s",
            "b: stop timed out after 1s",
            "instant: stopped in 0ns",
            "a: stop timed out after 0ns",
        ]
    );
}

#[test]
fn the_teardown_budget_bounds_run() {
    let (rt, handle, _shutdown, lifespan, events) = setup();
    let lifespan = lifespan
        .with_teardown_budget(Duration::from_secs(1))
        .with_stop_timeout(Duration::from_secs(60));
    rt.block_on(lifespan.run(|ls| async move {
        resource(&ls, &events, "a", 0, 5000).await.unwrap();
        handle.sleep(Duration::from_secs(10)).await; // not counted in the budget
    }));
    assert_eq!(rt.elapsed(), Duration::from_secs(11));
    assert_eq!(summary(&lifespan.report())[1], "a: stop timed out after 1s");
}

#[test]
fn stop_errors_and_panics_are_reported_and_the_rest_still_run() {
    let (rt, _handle, _shutdown, lifespan, events) = setup();
    let report = rt.block_on(async {
        resource(&lifespan, &events, "a", 0, 0).await.unwrap();
        lifespan
            .start("fails", async { Ok::<_, String>(()) }, |()| async {
                Err::<(), _>(std::io::Error::other("flush failed"))
            })
            .await
            .unwrap();
        lifespan
            .start("panics", async { Ok::<_, String>(()) }, |()| async {
                stop_bug();
            })
            .await
            .unwrap();
        lifespan
            .start(
                "panics early",
                async { Ok::<_, String>(()) },
                |()| -> futures_lite::future::Ready<()> { panic!("closure bug") },
            )
            .await
            .unwrap();
        lifespan.teardown().await
    });
    let stops = summary(&report).split_off(4);
    assert_eq!(
        stops,
        [
            "panics early: stop after 0ns panicked: closure bug",
            "panics: stop after 0ns panicked: stop bug",
            "fails: stop after 0ns failed: flush failed",
            "a: stopped in 0ns",
        ]
    );
    assert!(matches!(
        report.steps()[6].outcome,
        StepOutcome::Failed(ref e) if e.to_string() == "flush failed"
    ));
    assert_eq!(events.take().last().unwrap().0, "stopped a");
}

fn stop_bug() {
    panic!("stop bug")
}

fn start_bug() -> Result<(), String> {
    panic!("start bug")
}

#[test]
fn a_panicking_start_is_an_error_naming_the_step() {
    let (rt, _handle, _shutdown, lifespan, _events) = setup();
    let err = rt
        .block_on(lifespan.start("db", async { start_bug() }, |()| async {}))
        .unwrap_err();
    assert!(
        matches!(&err, LifespanError::Panicked { step, message } if step == "db" && message == "start bug")
    );
    assert!(matches!(
        lifespan.report().steps()[0].outcome,
        StepOutcome::Panicked(_)
    ));
}

#[test]
fn a_dropped_lifespan_hands_its_teardown_to_the_runtime() {
    let (rt, _handle, shutdown, lifespan, events) = setup();
    let warnings = Warnings::default();
    tracing::subscriber::with_default(warnings.clone(), || {
        rt.block_on(async {
            resource(&lifespan, &events, "a", 0, 5).await.unwrap();
            resource(&lifespan, &events, "b", 0, 5).await.unwrap();
        });
        events.take();
        drop(lifespan);
        assert_eq!(warnings.take().len(), 1, "the drop is logged");
        // The teardown holds a guard on the scope: draining waits for it.
        shutdown.trigger(Reason::Requested);
        rt.block_on(shutdown.drained());
    });
    assert_eq!(
        events.take(),
        ev(&[
            ("stop b", 0),
            ("stopped b", 5),
            ("stop a", 5),
            ("stopped a", 10)
        ])
    );
}

#[test]
fn a_dropped_run_hands_its_teardown_to_the_runtime() {
    let (rt, handle, shutdown, lifespan, events) = setup();
    let warnings = Warnings::default();
    tracing::subscriber::with_default(warnings.clone(), || {
        let body_events = events.clone();
        let mut run = Box::pin(lifespan.run(|ls| async move {
            resource(&ls, &body_events, "a", 0, 5).await.unwrap();
            futures_lite::future::pending::<()>().await;
        }));
        // Poll the run until its resource started, then drop it mid-body.
        rt.block_on(async {
            futures_lite::future::poll_once(run.as_mut()).await;
            handle.sleep(ms(1)).await;
        });
        assert_eq!(lifespan.len(), 1);
        drop(run);
        assert_eq!(warnings.take().len(), 1, "the drop is logged");
        assert!(lifespan.is_closed(), "even though a handle is left");
        shutdown.trigger(Reason::Requested);
        rt.block_on(shutdown.drained());
    });
    assert_eq!(
        events.take(),
        ev(&[
            ("start a", 0),
            ("started a", 0),
            ("stop a", 1),
            ("stopped a", 6)
        ])
    );
    assert!(lifespan.report().is_clean());
}

#[test]
fn a_dropped_teardown_future_cuts_nothing() {
    let (rt, handle, _shutdown, lifespan, events) = setup();
    rt.block_on(async {
        resource(&lifespan, &events, "a", 0, 5).await.unwrap();
        // Stop waiting after 1 ms; the teardown goes on.
        let waited = handle.timeout(ms(1), lifespan.teardown()).await;
        assert!(waited.is_err());
        let report = lifespan.teardown().await; // joins the same teardown
        assert_eq!(summary(&report)[1], "a: stopped in 5ms");
    });
    assert_eq!(rt.elapsed(), ms(5));
}

#[test]
fn start_after_the_teardown_is_refused() {
    let (rt, _handle, _shutdown, lifespan, _events) = setup();
    rt.block_on(lifespan.teardown());
    let err = rt
        .block_on(lifespan.start("late", async { Ok::<_, String>(()) }, |()| async {}))
        .unwrap_err();
    assert!(matches!(&err, LifespanError::Closed { step } if step == "late"));
    assert!(lifespan.report().steps().is_empty());
}

#[test]
fn a_resource_that_finishes_starting_during_the_teardown_is_stopped() {
    let (rt, handle, _shutdown, lifespan, events) = setup();
    let ls = lifespan.clone();
    let start_events = events.clone();
    let result = Arc::new(Mutex::new(None));
    let out = result.clone();
    handle.spawn(async move {
        let r = resource(&ls, &start_events, "late", 1000, 5).await;
        *out.lock().unwrap() = Some(r);
    });
    rt.block_on(async {
        handle.sleep(ms(500)).await;
        lifespan.teardown().await; // nothing registered yet: ends at once
        handle.sleep(ms(1000)).await;
    });
    assert!(matches!(
        result.lock().unwrap().take(),
        Some(Err(LifespanError::Closed { .. }))
    ));
    assert_eq!(
        events.take(),
        ev(&[
            ("start late", 0),
            ("started late", 1000),
            ("stop late", 1000),
            ("stopped late", 1005),
        ])
    );
}

#[test]
fn the_resource_is_handed_back_and_its_clone_goes_to_stop() {
    let (rt, _handle, _shutdown, lifespan, _events) = setup();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    rt.block_on(async {
        let journal = lifespan
            .start(
                "journal",
                async { Ok::<_, String>(Arc::new(Mutex::new(vec!["opened"]))) },
                move |journal: Arc<Mutex<Vec<&'static str>>>| async move {
                    sink.lock().unwrap().extend(journal.lock().unwrap().clone());
                },
            )
            .await
            .unwrap();
        journal.lock().unwrap().push("written by the body");
        drop(journal);
        lifespan.teardown().await;
    });
    assert_eq!(*seen.lock().unwrap(), ["opened", "written by the body"]);
}

#[test]
fn concurrent_teardowns_share_one() {
    let (rt, handle, _shutdown, lifespan, events) = setup();
    let (r1, r2) = rt.block_on(async {
        resource(&lifespan, &events, "a", 0, 5).await.unwrap();
        let other = lifespan.clone();
        let _ = handle;
        futures_lite::future::zip(lifespan.teardown(), other.teardown()).await
    });
    assert_eq!(r1.to_string(), r2.to_string());
    assert_eq!(rt.elapsed(), ms(5));
    assert_eq!(
        events
            .take()
            .iter()
            .filter(|(e, _)| e == "stopped a")
            .count(),
        1
    );
}

#[test]
fn a_teardown_with_nothing_started_ends_at_once() {
    let (rt, _handle, _shutdown, lifespan, _events) = setup();
    let report = rt.block_on(lifespan.teardown());
    assert!(report.steps().is_empty() && report.is_clean());
    assert_eq!(report.to_string(), "");
}

#[test]
fn reports_merge_and_print() {
    let step = StepReport::new(
        "we\nird",
        StepPhase::Stop,
        StepOutcome::Failed(Arc::new(std::io::Error::other("a\r\nb"))),
        ms(3),
    );
    assert_eq!(step.to_string(), "we ird: stop after 3ms failed: a  b");
    let mut all = vec![step];
    all.extend(LifespanReport::default().into_steps());
    assert_eq!(all.len(), 1);
}

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Lifespan>();
    send_sync::<Teardown>();
    send_sync::<LifespanReport>();
    send_sync::<StepReport>();
    send_sync::<LifespanError>();

    let rt = TestRuntime::new();
    let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
    let start: Start<_, _> = lifespan.start("a", async { Ok::<_, String>(()) }, |()| async {});
    send(&start);
    let run: LifespanRun<_> = lifespan.run(|_| async {});
    send(&run);
    assert_future(start);
    assert_future(run);
}

fn assert_future<F: Future>(_: F) {}

#[test]
fn debug_shows_observable_state() {
    let rt = TestRuntime::new();
    let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
    assert_eq!(
        format!("{lifespan:?}"),
        "Lifespan { started: Some(0), closed: Some(false), .. }"
    );
    let start = lifespan.start("a", async { Ok::<_, String>(()) }, |()| async {});
    assert!(format!("{start:?}").starts_with("Start { name: \"a\""));
}

/// A tracing subscriber that keeps the messages of warnings.
#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl Warnings {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl tracing::Subscriber for Warnings {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        *metadata.level() == tracing::Level::WARN
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        self.0.lock().unwrap().push(message.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
