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

/// Asserts `got` is `want` on virtual time, and at least `want` elsewhere.
fn assert_time(env: &steward_tests::Env, got: Duration, want: Duration) {
    if env.is_virtual() {
        assert_eq!(got, want, "on virtual time");
    } else {
        assert!(got >= want, "{got:?} < {want:?} on {:?}", env.kind);
    }
}

conformance!(
    the_app_waits_for_a_guard_released_in_time,
    |env| async move {
        let released = Arc::new(Mutex::new(false));
        let released_tx = released.clone();
        let report = App::new()
            .grace(Duration::from_secs(5))
            .serve(env.rt.clone(), |cx| async move {
                let guard = cx.shutdown().guard();
                let (rt, shutdown) = (cx.runtime().clone(), cx.shutdown().clone());
                cx.runtime().spawn(async move {
                    shutdown.triggered().await;
                    rt.sleep(Duration::from_millis(300)).await; // the request in flight
                    *released_tx.lock().unwrap() = true;
                    drop(guard);
                });
                cx.shutdown().trigger(Reason::Requested);
                Ok::<_, std::io::Error>(())
            })
            .await;
        assert_eq!(report.exit_code(), 0, "{report}");
        assert!(report.guards().is_empty());
        // The App returned only once the guard was released (on real time the
        // sleep may begin a moment before the App reads its trigger instant,
        // so the order is asserted there, the exact time on virtual time).
        assert!(
            *released.lock().unwrap(),
            "returned before the guard was released"
        );
        if env.is_virtual() {
            assert_eq!(report.took(), Duration::from_millis(300), "on virtual time");
        }
    }
);

conformance!(
    a_guard_held_past_the_budget_is_named_and_exits_1,
    |env| async move {
        let report = App::new()
            .grace(Duration::from_millis(400))
            .serve(env.rt.clone(), |cx| async move {
                let guard = cx.shutdown().guard();
                let rt = cx.runtime().clone();
                cx.runtime().spawn(async move {
                    let _guard = guard; // work in flight that never ends
                    rt.sleep(Duration::from_secs(3600)).await;
                });
                cx.shutdown().trigger(Reason::Requested);
                Ok::<_, std::io::Error>(())
            })
            .await;
        assert_eq!(report.exit_code(), 1, "{report}");
        assert_eq!(report.guards().len(), 1, "{report}");
        assert!(report.guards()[0].contains("tests/app.rs"), "{report}");
        assert!(report.to_string().contains("guards still held"), "{report}");
        assert_time(&env, report.took(), Duration::from_millis(400));
        assert!(report.took() < Duration::from_secs(5), "{report}");
    }
);

conformance!(
    a_deaf_task_leaves_the_teardown_its_reserve,
    |env| async move {
        let report = App::new()
            .grace(Duration::from_secs(1)) // a fifth, 200 ms, kept for the teardown
            .serve(env.rt.clone(), |cx| async move {
                let rt = cx.runtime().clone();
                cx.lifespan()
                    .start(
                        "journal",
                        async { Ok::<_, std::io::Error>(()) },
                        move |()| async move {
                            rt.sleep(Duration::from_millis(150)).await; // the final flush
                        },
                    )
                    .await?;
                cx.tasks()
                    .start("deaf", |_stop| futures_lite::future::pending::<()>())?;
                cx.shutdown().trigger(Reason::Requested);
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
            .await;
        assert_eq!(report.exit_code(), 1, "{report}");
        assert!(matches!(
            report.tasks().get("deaf").unwrap().exit(),
            Exit::Aborted
        ));
        let stop = report.lifespan().steps().last().unwrap();
        assert_eq!(stop.name, "journal");
        assert!(stop.outcome.is_completed(), "{report}");
        assert!(report.took() < Duration::from_secs(5), "{report}");
        if env.is_virtual() {
            let deaf = report.tasks().get("deaf").unwrap();
            assert_eq!(deaf.stop_took(), Some(Duration::from_millis(800)));
            assert_eq!(report.took(), Duration::from_millis(950));
        }
    }
);

conformance!(the_reserve_can_be_set_to_zero, |env| async move {
    let report = App::new()
        .grace(Duration::from_secs(1))
        .teardown_reserve(Duration::ZERO)
        .serve(env.rt.clone(), |cx| async move {
            let rt = cx.runtime().clone();
            cx.lifespan()
                .start(
                    "journal",
                    async { Ok::<_, std::io::Error>(()) },
                    move |()| async move {
                        rt.sleep(Duration::from_millis(150)).await;
                    },
                )
                .await?;
            cx.tasks()
                .start("deaf", |_stop| futures_lite::future::pending::<()>())?;
            cx.shutdown().trigger(Reason::Requested);
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .await;
    // The deaf task used the whole budget: the journal's stop got none.
    let stop = report.lifespan().steps().last().unwrap();
    assert!(!stop.outcome.is_completed(), "{report}");
    assert_eq!(report.exit_code(), 1);
});

conformance!(
    a_signal_during_a_lifespan_step_is_not_a_failure,
    |env| async move {
        let report = App::new()
            .serve(env.rt.clone(), |cx| async move {
                let (rt, shutdown) = (cx.runtime().clone(), cx.shutdown().clone());
                cx.runtime().spawn(async move {
                    rt.sleep(Duration::from_millis(100)).await;
                    shutdown.trigger(Reason::Signal(15)); // SIGTERM while starting
                });
                let rt = cx.runtime().clone();
                let warmup = async move {
                    rt.sleep(Duration::from_secs(3)).await;
                    Ok::<_, std::io::Error>(())
                };
                cx.lifespan().start("warmup", warmup, |()| async {}).await?;
                Ok::<_, steward_core::LifespanError>(())
            })
            .await;
        assert_eq!(report.startup(), &Startup::Interrupted, "{report}");
        assert_eq!(report.exit_code(), 0, "{report}");
    }
);

conformance!(
    a_failure_after_a_fault_is_still_a_failure,
    |env| async move {
        let report = App::new()
            .serve(env.rt.clone(), |cx| async move {
                cx.shutdown().trigger(Reason::Fatal("disk gone".into()));
                Err::<(), _>(std::io::Error::other("cannot open the journal"))
            })
            .await;
        assert!(matches!(report.startup(), Startup::Failed(_)), "{report}");
        assert_eq!(report.exit_code(), 1);
    }
);

conformance!(a_stop_during_a_restart_backoff_exits_0, |env| async move {
    let report = App::new()
        .serve(env.rt.clone(), |cx| async move {
            let policy = steward_core::Restart::on_failure()
                .backoff(Duration::from_secs(5), Duration::from_secs(5))
                .jitter(0.0);
            cx.tasks()
                .supervise("flaky", policy, |_stop| async { Err::<(), _>("refused") })?;
            let (rt, shutdown) = (cx.runtime().clone(), cx.shutdown().clone());
            cx.runtime().spawn(async move {
                rt.sleep(Duration::from_millis(100)).await; // inside the backoff
                shutdown.trigger(Reason::Signal(15));
            });
            Ok::<_, steward_core::StartError>(())
        })
        .await;
    assert_eq!(report.exit_code(), 0, "{report}");
    assert!(
        matches!(report.tasks().get("flaky").unwrap().exit(), Exit::Stopped),
        "{report}"
    );
    assert!(report.took() < Duration::from_secs(4), "{report}");
});

conformance!(background_checks_stop_at_the_drain, |env| async move {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use steward_core::health::{Check, Status};

    let runs = Arc::new(AtomicUsize::new(0));
    let at_trigger = Arc::new(AtomicUsize::new(0));
    let (count, total, seen) = (runs.clone(), runs.clone(), at_trigger.clone());
    let report = App::new()
        .grace(Duration::from_secs(5))
        .serve(env.rt.clone(), move |cx| async move {
            let check = move || {
                count.fetch_add(1, Ordering::SeqCst);
                async { Status::Healthy }
            };
            cx.health()
                .register(Check::new("db", check).every(Duration::from_millis(20)))?;
            let rt = cx.runtime().clone();
            cx.lifespan()
                .start(
                    "db",
                    async { Ok::<_, std::io::Error>(()) },
                    move |()| async move {
                        rt.sleep(Duration::from_millis(300)).await; // a slow close
                    },
                )
                .await?;
            let (rt, shutdown) = (cx.runtime().clone(), cx.shutdown().clone());
            cx.runtime().spawn(async move {
                rt.sleep(Duration::from_millis(100)).await;
                seen.store(runs.load(Ordering::SeqCst), Ordering::SeqCst);
                shutdown.trigger(Reason::Requested);
            });
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .await;
    assert_eq!(report.exit_code(), 0, "{report}");
    let (before, after) = (
        at_trigger.load(Ordering::SeqCst),
        total.load(Ordering::SeqCst),
    );
    assert!(before >= 1, "it ran while the service ran");
    // While the db closed for 300 ms, the 20 ms check ran at most once more
    // (one run may have been under way at the trigger).
    assert!(
        after <= before + 1,
        "the refresh went on during the drain: {before} then {after}"
    );
});

conformance!(
    livez_stays_healthy_while_draining_after_an_escalation,
    |env| async move {
        use steward_core::app::TASKS_CHECK;
        use steward_core::health::{Select, Status};
        use steward_core::probes::Probe;

        let seen = Arc::new(Mutex::new(None));
        let out = seen.clone();
        let report = App::new()
            .serve(env.rt.clone(), move |cx| async move {
                cx.tasks()
                    .task("server")
                    .critical()
                    .start(|_stop| async { Err::<(), _>("address in use") })?;
                let probes = cx.probes().clone();
                let health = cx.health().clone();
                let shutdown = cx.shutdown().clone();
                // A guard: the App's drain waits for this probe to be recorded.
                let guard = shutdown.guard();
                cx.runtime().spawn(async move {
                    shutdown.triggered().await; // the escalation
                    let live = probes.report(Probe::Live, &Select::all()).await;
                    let all = health.report(&Select::all()).await;
                    *out.lock().unwrap() =
                        Some((live.status(), all.get(TASKS_CHECK).map(|r| r.status())));
                    drop(guard);
                });
                Ok::<_, steward_core::StartError>(())
            })
            .await;
        assert_eq!(report.exit_code(), 1, "{report}");
        let (live, tasks) = seen.lock().unwrap().take().expect("probed while draining");
        assert_eq!(live, Status::Healthy, "a draining service is live");
        assert_eq!(
            tasks,
            Some(Status::Unhealthy),
            "the tasks check names the escalation"
        );
    }
);

conformance!(
    a_task_stopped_on_purpose_earlier_leaves_the_report_clean,
    |env| async move {
        let report = App::new()
            .serve(env.rt.clone(), |cx| async move {
                cx.tasks()
                    .start("migration", |stop| async move { stop.triggered().await })?;
                let stopped = cx.tasks().stop("migration", Duration::from_secs(1)).await;
                assert!(matches!(stopped.unwrap().exit(), Exit::Stopped));
                cx.shutdown().trigger(Reason::Signal(15));
                Ok::<_, steward_core::StartError>(())
            })
            .await;
        assert_eq!(report.exit_code(), 0, "{report}");
    }
);
