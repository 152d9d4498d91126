//! `Lifespan` on every runtime: ordered start, reverse teardown on every exit
//! path, timeouts, shutdown during startup, and a dropped lifespan.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_lite::FutureExt;
use steward_core::{Lifespan, LifespanError, Reason, Shutdown, StepOutcome, StepPhase};
use steward_tests::conformance;

/// What happened, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, what: impl Into<String>) {
        self.0.lock().unwrap().push(what.into());
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

/// Starts `name` at once; its stop logs `stop <name>`.
async fn resource(
    lifespan: &Lifespan,
    log: &Log,
    name: &'static str,
) -> Result<&'static str, LifespanError> {
    let (on_start, on_stop) = (log.clone(), log.clone());
    lifespan
        .start(
            name,
            async move {
                on_start.push(format!("start {name}"));
                Ok::<_, String>(name)
            },
            move |name| async move { on_stop.push(format!("stop {name}")) },
        )
        .await
}

conformance!(
    starts_in_order_and_tears_down_in_reverse,
    |env| async move {
        let lifespan = Lifespan::new(env.rt.clone(), Shutdown::new());
        let log = Log::default();
        let body_log = log.clone();
        let out = lifespan
            .run(|ls| async move {
                for name in ["a", "b", "c"] {
                    resource(&ls, &body_log, name).await?;
                }
                body_log.push("body done");
                Ok::<_, LifespanError>(7)
            })
            .await;
        assert_eq!(out.unwrap(), 7);
        assert_eq!(
            log.take(),
            [
                "start a",
                "start b",
                "start c",
                "body done",
                "stop c",
                "stop b",
                "stop a"
            ]
        );
        let report = lifespan.report();
        assert!(report.is_clean());
        assert_eq!(report.steps().len(), 6);
        assert!(report.steps()[3..]
            .iter()
            .all(|s| s.phase == StepPhase::Stop));
    }
);

conformance!(
    failed_start_tears_down_the_started_and_names_the_step,
    |env| async move {
        let lifespan = Lifespan::new(env.rt.clone(), Shutdown::new());
        let log = Log::default();
        let body_log = log.clone();
        let out = lifespan
            .run(|ls| async move {
                resource(&ls, &body_log, "a").await?;
                resource(&ls, &body_log, "b").await?;
                ls.start(
                    "c",
                    async { Err::<(), _>(std::io::Error::other("refused")) },
                    |()| async {},
                )
                .await?;
                body_log.push("unreachable");
                Ok::<_, LifespanError>(())
            })
            .await;
        let err = out.unwrap_err();
        assert_eq!(err.step(), "c");
        assert_eq!(err.to_string(), "start of `c` failed: refused");
        assert_eq!(log.take(), ["start a", "start b", "stop b", "stop a"]);
    }
);

conformance!(timed_out_start_fails_at_its_timeout, |env| async move {
    let lifespan = Lifespan::new(env.rt.clone(), Shutdown::new());
    let timeout = Duration::from_millis(20);
    let began = env.rt.now();
    let err = lifespan
        .start(
            "slow",
            futures_lite::future::pending::<Result<(), String>>(),
            |()| async {},
        )
        .start_timeout(timeout)
        .await
        .unwrap_err();
    let took = env.rt.now() - began;
    assert!(matches!(err, LifespanError::TimedOut { .. }), "{err:?}");
    assert!(took >= timeout, "took {took:?}");
    let report = lifespan.report();
    let step = &report.steps()[0];
    assert!(matches!(step.outcome, StepOutcome::TimedOut));
    if env.is_virtual() {
        assert_eq!(took, timeout);
        assert_eq!(step.duration, timeout);
    }
});

conformance!(
    trigger_during_startup_stops_starting_and_tears_down,
    |env| async move {
        let shutdown = Shutdown::new();
        let lifespan = Lifespan::new(env.rt.clone(), shutdown.clone());
        let log = Log::default();

        // Once the slow start has begun, something sends SIGTERM.
        let began = Shutdown::new();
        let (wait, trigger) = (began.clone(), shutdown.clone());
        env.rt.spawn(async move {
            wait.triggered().await;
            trigger.trigger(Reason::Signal(15));
        });

        let body_log = log.clone();
        let out = lifespan
            .run(|ls| async move {
                resource(&ls, &body_log, "a").await?;
                ls.start(
                    "slow",
                    async move {
                        began.trigger(Reason::Requested);
                        futures_lite::future::pending::<Result<(), String>>().await
                    },
                    |()| async {},
                )
                .await?;
                resource(&ls, &body_log, "never").await?;
                Ok::<_, LifespanError>(())
            })
            .await;
        let err = out.unwrap_err();
        assert!(
            matches!(&err, LifespanError::Interrupted { step, reason } if step == "slow" && *reason == Reason::Signal(15)),
            "{err:?}"
        );
        assert_eq!(log.take(), ["start a", "stop a"]);
    }
);

conformance!(
    panic_in_the_body_tears_down_then_resumes,
    |env| async move {
        let lifespan = Lifespan::new(env.rt.clone(), Shutdown::new());
        let log = Log::default();
        let body_log = log.clone();
        let run = lifespan.run(|ls| async move {
            resource(&ls, &body_log, "a").await.unwrap();
            resource(&ls, &body_log, "b").await.unwrap();
            panic!("bug in the body");
        });
        let panic = AssertUnwindSafe(run).catch_unwind().await.unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"bug in the body"));
        assert_eq!(log.take(), ["start a", "start b", "stop b", "stop a"]);
    }
);

conformance!(
    a_dropped_lifespan_is_torn_down_on_the_runtime,
    |env| async move {
        let shutdown = Shutdown::new();
        let lifespan = Lifespan::new(env.rt.clone(), shutdown.clone());
        let log = Log::default();
        resource(&lifespan, &log, "a").await.unwrap();
        resource(&lifespan, &log, "b").await.unwrap();
        drop(lifespan);
        // The teardown holds the scope open until it is done.
        shutdown.trigger(Reason::Requested);
        shutdown.drained().await;
        assert_eq!(log.take(), ["start a", "start b", "stop b", "stop a"]);
    }
);

conformance!(
    a_hanging_stop_is_cut_and_the_rest_still_run,
    |env| async move {
        let lifespan = Lifespan::new(env.rt.clone(), Shutdown::new());
        let log = Log::default();
        resource(&lifespan, &log, "a").await.unwrap();
        let timeout = Duration::from_millis(20);
        lifespan
            .start("hangs", async { Ok::<_, String>(()) }, |()| {
                futures_lite::future::pending::<()>()
            })
            .stop_timeout(timeout)
            .await
            .unwrap();
        resource(&lifespan, &log, "c").await.unwrap();
        let began = env.rt.now();
        let report = lifespan.teardown().await;
        let took = env.rt.now() - began;
        assert_eq!(log.take(), ["start a", "start c", "stop c", "stop a"]);
        let hung = &report.steps()[4];
        assert_eq!(hung.name, "hangs");
        assert!(matches!(hung.outcome, StepOutcome::TimedOut));
        assert!(hung.duration >= timeout && took >= timeout);
        if env.is_virtual() {
            assert_eq!((hung.duration, took), (timeout, timeout));
        }
        assert!(report.steps()[5].outcome.is_completed());
    }
);

conformance!(a_deadline_bounds_the_whole_teardown, |env| async move {
    let lifespan = Lifespan::new(env.rt.clone(), Shutdown::new());
    for name in ["a", "b"] {
        lifespan
            .start(name, async { Ok::<_, String>(()) }, |()| {
                futures_lite::future::pending::<()>()
            })
            .await
            .unwrap();
    }
    let budget = Duration::from_millis(30);
    let began = env.rt.now();
    let report = lifespan.teardown_until(began + budget).await;
    let took = env.rt.now() - began;
    assert!(report.steps()[2..]
        .iter()
        .all(|s| matches!(s.outcome, StepOutcome::TimedOut)));
    assert!(took >= budget, "took {took:?}");
    if env.is_virtual() {
        assert_eq!(took, budget);
    }
});
