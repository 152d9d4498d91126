//! The task registry on every runtime: named tasks, stop and abort, panics,
//! supervision, critical tasks, periodic jobs, shielded work, many tasks.
//!
//! On the virtual-time runtime every time is asserted exactly; on smol and
//! tokio, where timers only promise not to fire early, the same times are
//! lower bounds.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward_core::{
    Exit, MissedTick, Periodic, Reason, Restart, ShieldError, Shutdown, StartError, Tasks,
};
use steward_tests::{conformance, Env};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Asserts `got` is `want` on virtual time, and at least `want` elsewhere.
fn assert_time(env: &Env, got: Duration, want: Duration) {
    if env.is_virtual() {
        assert_eq!(got, want, "on virtual time");
    } else {
        assert!(got >= want, "{got:?} < {want:?} on {:?}", env.kind);
    }
}

/// Sets its flag when dropped: proves a destructor ran.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Panics with `msg` (a function, so that the task's output stays `()`).
fn explode(msg: &str) {
    panic!("{msg}");
}

/// A one-shot latch for scenarios: `Shutdown` used as an event.
fn latch() -> Shutdown {
    Shutdown::new()
}

conformance!(duplicate_names_are_refused, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    tasks
        .start("worker", |stop| async move { stop.triggered().await })
        .unwrap();
    assert_eq!(
        tasks.start("worker", |_| async {}),
        Err(StartError::AlreadyRunning("worker".into()))
    );
    assert_eq!(tasks.names(), ["worker"]);
    // Once it ended, the name may be used again.
    let report = tasks.stop("worker", Duration::from_secs(5)).await.unwrap();
    assert!(matches!(report.exit(), Exit::Stopped), "{report}");
    assert!(!tasks.is_running("worker"));
    tasks
        .start("worker", |stop| async move { stop.triggered().await })
        .unwrap();
    assert!(tasks.is_running("worker"));
    let report = tasks.shutdown(Duration::from_secs(5)).await;
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.tasks().len(), 1);
    assert_eq!(tasks.start("late", |_| async {}), Err(StartError::Closed));
    assert_eq!(tasks.spawn(async {}), Err(StartError::Closed));
});

conformance!(deaf_task_is_aborted_at_the_grace, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    tasks
        .start("deaf", move |_stop| async move {
            let _flag = flag;
            futures_lite::future::pending::<()>().await;
        })
        .unwrap();
    let t0 = env.rt.now();
    let report = tasks.stop("deaf", ms(50)).await.unwrap();
    assert_time(&env, env.rt.now() - t0, ms(50));
    assert!(matches!(report.exit(), Exit::Aborted), "{report}");
    assert!(dropped.load(Ordering::SeqCst), "the task's destructor ran");
    assert_time(&env, report.stop_took().unwrap(), ms(50));
    assert!(!tasks.is_running("deaf"));
});

conformance!(shutdown_aborts_at_one_deadline, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    tasks
        .start("deaf", move |_stop| async move {
            let _flag = flag;
            futures_lite::future::pending::<()>().await;
        })
        .unwrap();
    let rt = env.rt.clone();
    tasks
        .start("slow", move |stop| async move {
            stop.triggered().await;
            rt.sleep(ms(30)).await; // finishes the item in hand
        })
        .unwrap();
    tasks.spawn(futures_lite::future::pending::<()>()).unwrap();
    let t0 = env.rt.now();
    let report = tasks.shutdown(ms(80)).await;
    assert_time(&env, env.rt.now() - t0, ms(80));
    assert_time(&env, report.took(), ms(80));
    assert!(dropped.load(Ordering::SeqCst));
    assert!(tasks.is_empty());
    let slow = report.get("slow").unwrap();
    assert!(matches!(slow.exit(), Exit::Stopped), "{report}");
    assert_time(&env, slow.stop_took().unwrap(), ms(30));
    assert!(matches!(report.get("deaf").unwrap().exit(), Exit::Aborted));
    assert_eq!(report.aborted().count(), 2, "{report}");
    let spawned = report
        .aborted()
        .find(|t| t.name().starts_with("task spawned at "))
        .expect("the unnamed task is reported");
    assert!(spawned.name().contains("tasks.rs"), "{}", spawned.name());
    assert!(!report.is_clean());
    let text = report.to_string();
    assert!(text.starts_with("3 tasks: 1 stopped, 2 aborted;"), "{text}");
});

conformance!(panicking_tasks_are_caught_and_reported, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tasks.on_failure(move |name, exit| log.lock().unwrap().push(format!("{name}: {exit}")));
    let done = latch();
    let guard = done.guard();
    tasks
        .start("boom", move |_stop| async move {
            let _guard = guard;
            explode(&format!("kaboom {}", 42));
        })
        .unwrap();
    let guard = done.guard();
    tasks
        .spawn(async move {
            let _guard = guard;
            explode("unnamed");
        })
        .unwrap();
    done.trigger(Reason::Requested);
    done.drained().await;
    // The registry still works after the panics.
    tasks
        .start("after", |stop| async move { stop.triggered().await })
        .unwrap();
    let report = tasks.shutdown(Duration::from_secs(5)).await;
    match report.get("boom").unwrap().exit() {
        Exit::Panicked(msg) => assert_eq!(msg, "kaboom 42"),
        other => panic!("expected a panic, got {other:?}"),
    }
    assert!(matches!(report.get("after").unwrap().exit(), Exit::Stopped));
    assert_eq!(report.unnamed_failures(), 1);
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], "boom: panicked: kaboom 42");
    assert!(seen[1].starts_with("task spawned at "), "{seen:?}");
    assert!(seen[1].ends_with(": panicked: unnamed"), "{seen:?}");
});

conformance!(failing_task_backs_off_then_escalates, |env| async move {
    let service = Shutdown::new();
    let tasks = Tasks::new(env.rt.clone(), service.clone());
    let runs = Arc::new(Mutex::new(Vec::new()));
    let t0 = env.rt.now();
    let (rt, log) = (env.rt.clone(), runs.clone());
    let policy = Restart::on_failure()
        .backoff(ms(10), Duration::from_secs(30))
        .jitter(0.0);
    tasks
        .supervise("flaky", policy, move |_stop| {
            log.lock().unwrap().push(rt.now() - t0);
            async { Err::<(), _>("connection refused") }
        })
        .unwrap();
    service.triggered().await;
    let runs = runs.lock().unwrap().clone();
    // Fails at once; restarts 10, 20, 40, 80, 160 ms later; the 6th failure
    // is past the budget of 5 restarts in 60 s.
    let want = [0, 10, 30, 70, 150, 310].map(ms);
    assert_eq!(runs.len(), want.len(), "{runs:?}");
    for (got, want) in runs.iter().zip(want) {
        assert_time(&env, *got, want);
    }
    assert_time(&env, env.rt.now() - t0, ms(310));
    assert_eq!(
        service.reason(),
        Some(Reason::TaskFailed {
            task: "flaky".into(),
            error: "connection refused (restart budget of 5 in 60s spent)".into()
        })
    );
    assert_eq!(tasks.escalated(), ["flaky"]);
    let report = tasks.shutdown(Duration::from_secs(1)).await;
    let flaky = report.get("flaky").unwrap();
    assert!(matches!(flaky.exit(), Exit::Failed(_)), "{report}");
    assert_eq!(flaky.restarts(), 5);
});

conformance!(restarts_stop_once_shutdown_begins, |env| async move {
    let service = Shutdown::new();
    let tasks = Tasks::new(env.rt.clone(), service.clone());
    let runs = Arc::new(AtomicUsize::new(0));
    let failed = latch();
    let (count, fail) = (runs.clone(), failed.clone());
    let policy = Restart::always().backoff(Duration::from_secs(3600), Duration::from_secs(3600));
    tasks
        .supervise("retry", policy, move |_stop| {
            count.fetch_add(1, Ordering::SeqCst);
            fail.trigger(Reason::Requested);
            async { Err::<(), _>("no") }
        })
        .unwrap();
    failed.triggered().await;
    // The supervisor sleeps an hour before the restart; the service's
    // shutdown wakes it and no restart happens.
    let t0 = env.rt.now();
    service.trigger(Reason::Signal(15));
    let report = tasks.shutdown(Duration::from_secs(5)).await;
    assert!(env.rt.now() - t0 < Duration::from_secs(60));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(report.get("retry").unwrap().restarts(), 0);
    assert!(tasks.escalated().is_empty());
});

conformance!(critical_task_exit_triggers_shutdown, |env| async move {
    let service = Shutdown::new();
    let tasks = Tasks::new(env.rt.clone(), service.clone());
    // A critical task stopped on request does not escalate.
    tasks
        .task("polite")
        .critical()
        .start(|stop| async move { stop.triggered().await })
        .unwrap();
    let report = tasks.stop("polite", Duration::from_secs(5)).await.unwrap();
    assert!(matches!(report.exit(), Exit::Stopped));
    assert!(!service.is_triggered());
    // One that returns on its own does, even without an error.
    let rt = env.rt.clone();
    // Read before the start: the task may sleep at once on another thread.
    let t0 = env.rt.now();
    tasks
        .task("server")
        .critical()
        .start(move |_stop| async move { rt.sleep(ms(20)).await })
        .unwrap();
    service.triggered().await;
    assert_time(&env, env.rt.now() - t0, ms(20));
    assert_eq!(
        service.reason(),
        Some(Reason::TaskFailed {
            task: "server".into(),
            error: "critical task ended: completed".into()
        })
    );
    assert_eq!(tasks.escalated(), ["server"]);
});

/// Runs a 20 ms periodic job whose first run takes 50 ms under `policy`, and
/// returns the start times of its first `n` runs.
async fn periodic_starts(env: &Env, policy: MissedTick, n: usize) -> Vec<Duration> {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let starts = Arc::new(Mutex::new(Vec::new()));
    let running = Arc::new(AtomicBool::new(false));
    let enough = latch();
    let t0 = env.rt.now();
    let (rt, log, enough_tx) = (env.rt.clone(), starts.clone(), enough.clone());
    tasks
        .periodic(
            "job",
            Periodic::new(ms(20)).missed_tick(policy),
            move || {
                let (rt, log, running, enough) =
                    (rt.clone(), log.clone(), running.clone(), enough_tx.clone());
                async move {
                    assert!(!running.swap(true, Ordering::SeqCst), "runs overlapped");
                    let first = {
                        let mut log = log.lock().unwrap();
                        log.push(rt.now() - t0);
                        if log.len() >= n {
                            enough.trigger(Reason::Requested);
                        }
                        log.len() == 1
                    };
                    if first {
                        rt.sleep(ms(50)).await;
                    }
                    running.store(false, Ordering::SeqCst);
                }
            },
        )
        .unwrap();
    enough.triggered().await;
    let report = tasks.shutdown(Duration::from_secs(5)).await;
    assert!(report.is_clean(), "{report}");
    let starts = starts.lock().unwrap();
    starts[..n].to_vec()
}

fn assert_starts(env: &Env, got: &[Duration], want: &[u64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_time(env, *g, ms(*w));
    }
    assert!(got.windows(2).all(|w| w[0] <= w[1]), "{got:?}");
}

conformance!(periodic_delay_after_a_slow_run, |env| async move {
    let got = periodic_starts(&env, MissedTick::Delay, 4).await;
    assert_starts(&env, &got, &[0, 50, 70, 90]);
});

conformance!(periodic_skip_after_a_slow_run, |env| async move {
    let got = periodic_starts(&env, MissedTick::Skip, 4).await;
    assert_starts(&env, &got, &[0, 60, 80, 100]);
});

conformance!(periodic_burst_after_a_slow_run, |env| async move {
    let got = periodic_starts(&env, MissedTick::Burst, 5).await;
    assert_starts(&env, &got, &[0, 50, 50, 60, 80]);
});

conformance!(
    periodic_failures_are_reported_and_the_loop_goes_on,
    |env| async move {
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        let failures = Arc::new(Mutex::new(Vec::new()));
        let log = failures.clone();
        tasks.on_failure(move |name, exit| log.lock().unwrap().push(format!("{name}: {exit}")));
        let runs = Arc::new(AtomicUsize::new(0));
        let enough = latch();
        let (count, enough_tx, rt) = (runs.clone(), enough.clone(), env.rt.clone());
        let schedule = Periodic::new(ms(10)).timeout(ms(25));
        tasks
            .periodic("job", schedule, move || {
                let n = count.fetch_add(1, Ordering::SeqCst);
                if n == 3 {
                    enough_tx.trigger(Reason::Requested);
                }
                let rt = rt.clone();
                async move {
                    match n {
                        0 => Err("bad input".to_owned()),
                        1 => panic!("bug"),
                        2 => {
                            rt.sleep(Duration::from_secs(3600)).await;
                            Ok(())
                        }
                        _ => Ok(()),
                    }
                }
            })
            .unwrap();
        enough.triggered().await;
        let report = tasks.shutdown(Duration::from_secs(5)).await;
        assert!(matches!(report.get("job").unwrap().exit(), Exit::Stopped));
        let failures = failures.lock().unwrap().clone();
        assert_eq!(
            failures,
            [
                "job: failed: bad input",
                "job: panicked: bug",
                "job: failed: the run timed out after 25ms"
            ]
        );
    }
);

conformance!(periodic_stop_wakes_the_sleep_at_once, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    tasks
        .every("hourly", Duration::from_secs(3600), || async {})
        .unwrap();
    // Let the first run happen, then stop during the hour's wait.
    env.rt.sleep(ms(5)).await;
    let t0 = env.rt.now();
    let report = tasks.shutdown(Duration::from_secs(5)).await;
    assert!(env.rt.now() - t0 < Duration::from_secs(5));
    let hourly = report.get("hourly").unwrap();
    assert!(matches!(hourly.exit(), Exit::Stopped));
    assert_time(&env, hourly.stop_took().unwrap(), Duration::ZERO);
});

conformance!(
    periodic_run_in_progress_finishes_within_grace,
    |env| async move {
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        let started = latch();
        let finished = Arc::new(AtomicBool::new(false));
        // When the run in progress began its 40 ms of work.
        let began = Arc::new(std::sync::Mutex::new(None));
        let (rt, started_tx, done, began_tx) = (
            env.rt.clone(),
            started.clone(),
            finished.clone(),
            began.clone(),
        );
        tasks
            .every("flush", Duration::from_secs(3600), move || {
                let (rt, started, done, began) = (
                    rt.clone(),
                    started_tx.clone(),
                    done.clone(),
                    began_tx.clone(),
                );
                async move {
                    *began.lock().unwrap() = Some(rt.now());
                    started.trigger(Reason::Requested);
                    rt.sleep(ms(40)).await;
                    done.store(true, Ordering::SeqCst);
                }
            })
            .unwrap();
        started.triggered().await;
        let stop_began = env.rt.now();
        let report = tasks.shutdown(Duration::from_secs(5)).await;
        let stop_ended = env.rt.now();
        assert!(finished.load(Ordering::SeqCst));
        let flush = report.get("flush").unwrap();
        assert!(matches!(flush.exit(), Exit::Stopped), "{report}");
        let took = flush.stop_took().unwrap();
        if env.is_virtual() {
            // The stop came at the instant the run began: it took the run's 40 ms.
            assert_eq!(took, ms(40), "on virtual time");
        } else {
            // On real time the stop begins a moment after the run did, by
            // however long the test's thread took to be scheduled: assert
            // the order, which load cannot change. The shutdown returned no
            // earlier than the run's end, and its figure is within the
            // shutdown's own span.
            let began = began.lock().unwrap().expect("the run began");
            assert!(
                stop_ended >= began + ms(40),
                "returned before the run ended"
            );
            assert!(
                took <= stop_ended - stop_began,
                "{took:?} on {:?}",
                env.kind
            );
        }
    }
);

conformance!(shield_survives_its_callers_drop, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let flushed = Arc::new(AtomicBool::new(false));
    let shielded = latch();
    // When the cleanup began its 30 ms of work.
    let began = Arc::new(std::sync::Mutex::new(None));
    let (handle, rt, done, shielded_tx, began_tx) = (
        tasks.clone(),
        env.rt.clone(),
        flushed.clone(),
        shielded.clone(),
        began.clone(),
    );
    // A request handler shields its cleanup, then is cancelled while it waits.
    tasks
        .start("request", move |_stop| async move {
            let cleanup = handle.shield(async move {
                *began_tx.lock().unwrap() = Some(rt.now());
                rt.sleep(ms(30)).await;
                done.store(true, Ordering::SeqCst);
            });
            shielded_tx.trigger(Reason::Requested);
            cleanup.await
        })
        .unwrap();
    shielded.triggered().await;
    let t0 = env.rt.now();
    let request = tasks.stop("request", Duration::ZERO).await.unwrap();
    assert!(matches!(request.exit(), Exit::Aborted));
    assert!(!flushed.load(Ordering::SeqCst));
    // The shutdown waits for the shielded cleanup.
    let report = tasks.shutdown(Duration::from_secs(5)).await;
    assert!(flushed.load(Ordering::SeqCst));
    let began = began.lock().unwrap().expect("the cleanup began");
    if env.is_virtual() {
        assert_eq!(env.rt.now() - t0, ms(30), "on virtual time");
    } else {
        // The cleanup may begin before `t0` is read, by however long the
        // test's thread took to be scheduled: assert the order instead.
        assert!(
            env.rt.now() >= began + ms(30),
            "returned before the cleanup ended"
        );
    }
    assert_eq!(report.aborted().count(), 1, "{report}"); // the request, not the shield
});

conformance!(
    shield_that_overruns_is_aborted_and_reported,
    |env| async move {
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        let rt = env.rt.clone();
        let stuck = tasks.shield(async move { rt.sleep(Duration::from_secs(3600)).await });
        let t0 = env.rt.now();
        let report = tasks.shutdown(ms(25)).await;
        assert_time(&env, env.rt.now() - t0, ms(25));
        let shield = report.aborted().next().expect("the shield is reported");
        assert!(shield.name().starts_with("shield at "), "{report}");
        assert!(shield.name().contains("tasks.rs"), "{report}");
        assert_eq!(stuck.await, Err(ShieldError::Aborted));
        // Shielding is never refused, even after the shutdown began.
        assert_eq!(tasks.shield(async { 5 }).await, Ok(5));
    }
);

conformance!(
    hundred_thousand_tasks_spawned_and_drained,
    |env| async move {
        const N: usize = 100_000;
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..N {
            let ran = ran.clone();
            tasks
                .spawn(async move {
                    futures_lite::future::yield_now().await;
                    ran.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap();
        }
        tasks.close();
        tasks.wait().await;
        assert_eq!(ran.load(Ordering::Relaxed), N);
        assert_eq!(tasks.len(), 0);
        assert_eq!(Arc::strong_count(&ran), 1, "every task's memory was freed");
        let report = tasks.shutdown(Duration::from_secs(1)).await;
        assert!(report.is_clean());
        assert!(report.tasks().is_empty());
    }
);

conformance!(
    hundred_thousand_tracked_futures_spawned_and_waited_for,
    |env| async move {
        const N: usize = 100_000;
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        let ran = Arc::new(AtomicUsize::new(0));
        for _ in 0..N {
            let ran = ran.clone();
            let tracked = tasks
                .track(async move {
                    futures_lite::future::yield_now().await;
                    ran.fetch_add(1, Ordering::Relaxed);
                })
                .unwrap();
            env.rt.spawn(tracked);
        }
        tasks.close();
        tasks.wait().await;
        assert_eq!(ran.load(Ordering::Relaxed), N);
        assert_eq!(tasks.len(), 0);
        assert_eq!(Arc::strong_count(&ran), 1, "every task's memory was freed");
        let report = tasks.shutdown(Duration::from_secs(1)).await;
        assert!(report.is_clean());
        assert!(report.tasks().is_empty());
    }
);

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Tasks>();
    // They hold the runtime's `Sleep`, which is `Send` only.
    send::<steward_core::Stop>();
    send::<steward_core::StopAll>();
    send_sync::<steward_core::Wait<'static>>();
    send_sync::<steward_core::Shielded<u32>>();
    send_sync::<steward_core::Tracked<futures_lite::future::Ready<()>>>();
    send_sync::<steward_core::Report>();
    send_sync::<steward_core::TaskReport>();
    send_sync::<Restart>();
    send_sync::<Periodic>();
}

conformance!(
    a_stop_during_the_backoff_reports_stopped,
    |env| async move {
        let service = Shutdown::new();
        let tasks = Tasks::new(env.rt.clone(), service.clone());
        let failed = latch();
        let fail = failed.clone();
        let policy = Restart::on_failure().backoff(Duration::from_secs(5), Duration::from_secs(5));
        tasks
            .supervise("flaky", policy, move |_stop| {
                fail.trigger(Reason::Requested);
                async { Err::<(), _>("refused") }
            })
            .unwrap();
        failed.triggered().await;
        // The failed run ends just after the latch: then the 5 s backoff starts.
        env.rt.sleep(ms(500)).await;
        let report = tasks.stop("flaky", Duration::from_secs(1)).await.unwrap();
        assert!(matches!(report.exit(), Exit::Stopped), "{report}");
        let report = tasks.shutdown(Duration::from_secs(1)).await;
        assert!(report.is_clean(), "{report}");
    }
);

conformance!(
    clean_returns_under_always_do_not_spend_the_budget,
    |env| async move {
        let service = Shutdown::new();
        let tasks = Tasks::new(env.rt.clone(), service.clone());
        let runs = Arc::new(AtomicUsize::new(0));
        let count = runs.clone();
        // A poller that returns at once: restarted every 10 ms, well past a
        // budget of 2 restarts in 60 s.
        let policy = Restart::always()
            .backoff(ms(10), ms(10))
            .jitter(0.0)
            .budget(2, Duration::from_secs(60));
        tasks
            .supervise("poller", policy, move |_stop| {
                count.fetch_add(1, Ordering::SeqCst);
                async {}
            })
            .unwrap();
        env.rt.sleep(ms(200)).await;
        assert!(!service.is_triggered(), "clean returns escalated");
        assert!(tasks.escalated().is_empty());
        assert!(runs.load(Ordering::SeqCst) >= 5);
        let report = tasks.shutdown(Duration::from_secs(1)).await;
        assert!(report.is_clean(), "{report}");
    }
);

conformance!(
    a_critical_supervised_task_escalates_once,
    |env| async move {
        let service = Shutdown::new();
        let tasks = Tasks::new(env.rt.clone(), service.clone());
        let escalations = Arc::new(AtomicUsize::new(0));
        let count = escalations.clone();
        let policy = Restart::on_failure()
            .backoff(ms(1), ms(1))
            .jitter(0.0)
            .budget(1, Duration::from_secs(60));
        tasks
            .task("consumer")
            .critical()
            .supervise(policy, |_stop| async { Err::<(), _>("gone") })
            .unwrap();
        let watched = service.clone();
        env.rt.spawn(async move {
            watched.triggered().await;
            count.fetch_add(1, Ordering::SeqCst);
        });
        service.triggered().await;
        let report = tasks.shutdown(Duration::from_secs(1)).await;
        match service.reason() {
            Some(Reason::TaskFailed { task, error }) => {
                assert_eq!(task, "consumer");
                assert!(error.contains("restart budget"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(tasks.escalated(), ["consumer"]);
        assert!(!report.is_clean());
    }
);

/// A future ready at once whose destructor panics.
struct PanicsWhenDropped;

impl std::future::Future for PanicsWhenDropped {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        explode("dropped after it finished");
    }
}

conformance!(
    a_panic_in_the_drop_of_a_finished_task_is_caught,
    |env| async move {
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        tasks.spawn(PanicsWhenDropped).unwrap();
        env.rt.spawn(tasks.track(PanicsWhenDropped).unwrap());
        let report = tasks.shutdown(Duration::from_secs(1)).await;
        assert_eq!(report.unnamed_failures(), 2, "{report}");
    }
);

conformance!(
    a_task_blocked_past_its_grace_is_not_reported_stopped,
    |env| async move {
        if env.is_virtual() {
            return; // nothing blocks a thread on virtual time
        }
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        tasks
            .start("blocker", |stop| async move {
                stop.triggered().await;
                std::thread::sleep(ms(300)); // a blocking flush, past the grace
            })
            .unwrap();
        let t0 = std::time::Instant::now();
        let first = tasks.stop("blocker", ms(20)).await.unwrap();
        // Given up on after the grace and `ABANDON_AFTER`, not after the block.
        assert!(
            matches!(first.exit(), Exit::Abandoned | Exit::Overran),
            "{first}"
        );
        // Whatever that first look said, once the call returns the task's end is
        // recorded as late, never as a clean stop.
        let report = tasks.shutdown(Duration::from_secs(5)).await;
        let blocker = report.get("blocker").unwrap();
        assert!(matches!(blocker.exit(), Exit::Overran), "{report}");
        assert!(!report.is_clean());
        assert!(t0.elapsed() >= ms(300));
    }
);

conformance!(shutdown_gives_up_on_a_blocked_task, |env| async move {
    if env.is_virtual() {
        return; // nothing blocks a thread on virtual time
    }
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    tasks
        .start("blocker", move |stop| async move {
            stop.triggered().await;
            std::thread::sleep(Duration::from_secs(2)); // a blocking flush
        })
        .unwrap();
    let t0 = std::time::Instant::now();
    let report = tasks.shutdown(ms(50)).await;
    let blocker = report.get("blocker").unwrap();
    assert!(!report.is_clean());
    if env.kind == steward_tests::Kind::Tokio {
        // The scenario runs on its own thread: the shutdown gives up on the
        // blocked worker after 50 ms + `ABANDON_AFTER`, long before 2 s.
        assert!(matches!(blocker.exit(), Exit::Abandoned), "{report}");
        assert!(
            report.to_string().contains("blocker: abandoned"),
            "{report}"
        );
        assert!(t0.elapsed() < Duration::from_secs(1), "{:?}", t0.elapsed());
    } else {
        // The smol harness may run the task on the scenario's own thread,
        // which then cannot look before the block ends: late, either way.
        assert!(
            matches!(blocker.exit(), Exit::Abandoned | Exit::Overran),
            "{report}"
        );
    }
});

conformance!(
    /// A task whose thread is held past the grace and `Tasks::ABANDON_AFTER` is
    /// reported abandoned; when its thread comes back it is dropped at its next
    /// poll, never run on, and the next report has it aborted. Its executor is a
    /// thread of the test's own (`track` runs on any executor), held by a
    /// channel until the report is in: nothing else is blocked, on any runtime,
    /// and no timing decides the outcome.
    an_abandoned_task_is_dropped_when_its_thread_comes_back,
    |env| async move {
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        let entered = latch();
        let (release, held) = std::sync::mpsc::channel::<()>();
        let ran_on = Arc::new(AtomicBool::new(false));
        let dropped = Arc::new(AtomicBool::new(false));
        let task = {
            let (entered, ran_on) = (entered.clone(), ran_on.clone());
            let guard = DropFlag(dropped.clone());
            tasks
                .track(async move {
                    let _guard = guard;
                    entered.trigger(Reason::Requested);
                    held.recv().unwrap(); // a synchronous call holds the thread
                    futures_lite::future::yield_now().await;
                    ran_on.store(true, Ordering::SeqCst);
                })
                .unwrap()
        };
        let executor = std::thread::spawn(move || futures_lite::future::block_on(task));
        entered.triggered().await;
        let report = tasks.shutdown(ms(20)).await;
        assert_eq!(report.abandoned_unnamed(), 1, "{report}");
        assert_eq!(report.aborted().count(), 0, "{report}");
        release.send(()).unwrap();
        executor.join().unwrap();
        assert!(dropped.load(Ordering::SeqCst));
        assert!(
            !ran_on.load(Ordering::SeqCst),
            "the abandoned task ran on after its report"
        );
        assert_eq!(tasks.len(), 0);
        let again = tasks.shutdown(ms(20)).await;
        assert_eq!(again.aborted().count(), 1, "{again}");
        assert_eq!(again.abandoned_unnamed(), 0, "{again}");
    }
);

/// A runtime that is dropped with shielded work still pending drops that
/// work: its handle then resolves. Shown on tokio, whose runtime drops every
/// task it holds when dropped (a smol executor or the virtual-time runtime
/// held by its own tasks' handles is not dropped while they live).
#[test]
fn a_shielded_handle_resolves_when_the_runtime_drops_the_work() {
    // A runtime of its own, dropped with the shielded work pending.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let handle = steward_tokio::TokioRuntime::new(rt.handle().clone()).handle();
    let tasks = Tasks::new(handle.clone(), Shutdown::new());
    let clock = handle.clone();
    let shielded = tasks.shield(async move {
        clock.sleep(Duration::from_secs(3600)).await;
        1
    });
    rt.block_on(async { tokio::task::yield_now().await });
    drop(rt);
    assert_eq!(
        futures_lite::future::block_on(shielded),
        Err(ShieldError::Dropped)
    );
}
