//! The whole sequence (`App::serve`) on every runtime: startup, ready, the
//! trigger, readiness failing at once, the pre-stop delay, tasks stopped
//! within the budget, the lifespan torn down in reverse, the report.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward_core::app::Startup;
use steward_core::probes::Phase;
use steward_core::{App, Exit, Reason};
use steward_tests::conformance;

type Log = Arc<Mutex<Vec<String>>>;

fn log(log: &Log, line: impl Into<String>) {
    log.lock().unwrap().push(line.into());
}

conformance!(clean_sequence_in_order, |env| async move {
    let events: Log = Arc::default();
    let ev = events.clone();
    let app = App::new()
        .grace(Duration::from_secs(10))
        .pre_stop(Duration::from_millis(50));
    let report = app
        .serve(env.rt.clone(), move |cx| async move {
            for name in ["db", "cache"] {
                let (on_start, on_stop) = (ev.clone(), ev.clone());
                cx.lifespan()
                    .start(
                        name,
                        async move {
                            log(&on_start, format!("start {name}"));
                            Ok::<_, std::io::Error>(())
                        },
                        move |()| async move { log(&on_stop, format!("stop {name}")) },
                    )
                    .await?;
            }
            assert_eq!(cx.probes().phase(), Phase::Starting);
            let (worker_log, probes) = (ev.clone(), cx.probes().clone());
            cx.tasks().start("worker", move |stop| async move {
                stop.triggered().await;
                // Readiness failed before the task was asked to stop.
                assert_eq!(probes.phase(), Phase::Draining);
                log(&worker_log, "worker stopped");
            })?;
            let (trigger, rt) = (cx.shutdown().clone(), cx.runtime().clone());
            let probes = cx.probes().clone();
            let ev = ev.clone();
            cx.runtime().spawn(async move {
                rt.sleep(Duration::from_millis(10)).await;
                log(&ev, format!("phase {:?}", probes.phase()));
                trigger.trigger(Reason::Signal(15));
            });
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .await;
    let events = events.lock().unwrap().clone();
    assert_eq!(
        events,
        [
            "start db",
            "start cache",
            "phase Running",
            "worker stopped",
            "stop cache",
            "stop db"
        ]
    );
    assert_eq!(report.exit_code(), 0, "{report}");
    assert_eq!(report.reason(), Some(&Reason::Signal(15)));
    assert!(report.startup().is_done());
    assert!(matches!(
        report.tasks().get("worker").unwrap().exit(),
        Exit::Completed | Exit::Stopped
    ));
    assert!(
        report.took() >= Duration::from_millis(50),
        "pre-stop delay kept"
    );
    if env.is_virtual() {
        assert_eq!(report.took(), Duration::from_millis(50));
    }
});

conformance!(failed_startup_tears_down_and_exits_1, |env| async move {
    let events: Log = Arc::default();
    let ev = events.clone();
    let report = App::new()
        .serve(env.rt.clone(), move |cx| async move {
            let on_stop = ev.clone();
            cx.lifespan()
                .start(
                    "journal",
                    async { Ok::<_, std::io::Error>(()) },
                    move |()| async move { log(&on_stop, "stop journal") },
                )
                .await?;
            cx.lifespan()
                .start(
                    "listener",
                    async { Err::<(), _>(std::io::Error::other("address in use")) },
                    |()| async {},
                )
                .await?;
            Ok::<_, steward_core::LifespanError>(())
        })
        .await;
    assert_eq!(*events.lock().unwrap(), ["stop journal"]);
    assert_eq!(report.exit_code(), 1);
    match report.startup() {
        Startup::Failed(e) => assert!(e.contains("listener"), "{e}"),
        other => panic!("startup: {other:?}"),
    }
    assert!(report.to_string().contains("journal"), "{report}");
});

conformance!(stuck_task_is_aborted_at_the_budget, |env| async move {
    let report = App::new()
        .grace(Duration::from_millis(200))
        .serve(env.rt.clone(), |cx| async move {
            cx.tasks()
                .start("stubborn", |_stop| futures_lite::future::pending::<()>())?;
            cx.shutdown().trigger(Reason::Requested);
            Ok::<_, steward_core::StartError>(())
        })
        .await;
    assert_eq!(report.exit_code(), 1, "{report}");
    assert!(matches!(
        report.tasks().get("stubborn").unwrap().exit(),
        Exit::Aborted
    ));
    assert!(report.took() >= Duration::from_millis(200));
    if env.is_virtual() {
        assert_eq!(report.took(), Duration::from_millis(200));
    }
});

conformance!(trigger_during_startup_interrupts_it, |env| async move {
    let report = App::new()
        .serve(env.rt.clone(), |cx| async move {
            cx.shutdown().trigger(Reason::Signal(2));
            futures_lite::future::pending::<()>().await; // a start that never ends
            Ok::<_, std::io::Error>(())
        })
        .await;
    assert_eq!(report.startup(), &Startup::Interrupted);
    assert_eq!(report.exit_code(), 0, "{report}");
});

conformance!(escalation_exits_1, |env| async move {
    let report = App::new()
        .serve(env.rt.clone(), |cx| async move {
            cx.tasks()
                .task("critical")
                .critical()
                .start(|_stop| async { Err::<(), _>(std::io::Error::other("lost the lease")) })?;
            Ok::<_, steward_core::StartError>(())
        })
        .await;
    assert!(
        matches!(report.reason(), Some(Reason::TaskFailed { .. })),
        "{report}"
    );
    assert_eq!(report.exit_code(), 1);
});

conformance!(
    escalation_fails_the_tasks_liveness_check,
    |env| async move {
        let seen: Arc<Mutex<Option<steward_core::health::Status>>> = Arc::default();
        let out = seen.clone();
        let report = App::new()
            .serve(env.rt.clone(), move |cx| async move {
                let (health, stop) = (cx.health().clone(), cx.shutdown().clone());
                let before = health
                    .report(&steward_core::health::Select::tagged(
                        steward_core::health::LIVE,
                    ))
                    .await;
                assert_eq!(before.status(), steward_core::health::Status::Healthy);
                cx.runtime().spawn(async move {
                    stop.triggered().await;
                    let live = health
                        .report(&steward_core::health::Select::tagged(
                            steward_core::health::LIVE,
                        ))
                        .await;
                    let tasks = live
                        .get(steward_core::app::TASKS_CHECK)
                        .expect("the tasks check");
                    *out.lock().unwrap() = Some(tasks.status());
                });
                cx.tasks().task("lease").critical().start(|_stop| async {
                    Err::<(), _>(std::io::Error::other("lost the lease"))
                })?;
                Ok::<_, steward_core::StartError>(())
            })
            .await;
        assert_eq!(report.exit_code(), 1);
        let rt = env.rt.clone();
        for _ in 0..1000 {
            if seen.lock().unwrap().is_some() {
                break;
            }
            rt.sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(
            *seen.lock().unwrap(),
            Some(steward_core::health::Status::Unhealthy)
        );
    }
);
