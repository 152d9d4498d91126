//! The health-check registry on the virtual-time runtime: timeouts, panics,
//! stale and pending results, single flight, concurrency, aggregation.
#![cfg(feature = "test-util")]

mod health_support;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use health_support::{capture_logs, fixed, join_all, Counting};
use steward_core::health::{
    Check, CheckOutcome, Health, HealthCheck, RegisterError, Select, StallWatchdog, Status,
    Tripwire,
};
use steward_core::runtime::{BoxFuture, Runtime};
use steward_core::testing::TestRuntime;
use steward_core::{Reason, RuntimeHandle, Shutdown};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

fn setup() -> (TestRuntime, Health) {
    let rt = TestRuntime::new();
    let health = Health::new(rt.handle());
    (rt, health)
}

/// Sets a flag when dropped: shows a check's future was dropped, not leaked.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_hung_check_times_out_is_dropped_and_does_not_stop_the_others() {
    let (rt, health) = setup();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let hung = move || {
        let guard = DropFlag(flag.clone());
        async move {
            let _guard = guard;
            futures_lite::future::pending::<CheckOutcome>().await
        }
    };
    health
        .register(Check::new("hung", hung).timeout(2 * SEC))
        .unwrap();
    health
        .register(Check::new("ok", fixed(CheckOutcome::healthy())))
        .unwrap();

    let report = rt.block_on(health.refresh());
    assert_eq!(rt.elapsed(), 2 * SEC);
    let hung = report.get("hung").unwrap();
    assert_eq!(hung.status(), Status::Unhealthy);
    assert_eq!(hung.error(), Some("timed out after 2s"));
    assert_eq!(hung.latency(), 2 * SEC);
    assert!(
        dropped.load(Ordering::SeqCst),
        "the timed-out run was left running"
    );
    assert_eq!(report.get("ok").unwrap().status(), Status::Healthy);
    assert_eq!(report.status(), Status::Unhealthy);
}

#[test]
fn the_default_timeout_is_five_seconds() {
    let (rt, health) = setup();
    let hung = || futures_lite::future::pending::<CheckOutcome>();
    health.register(Check::new("hung", hung)).unwrap();
    let report = rt.block_on(health.refresh());
    assert_eq!(rt.elapsed(), 5 * SEC);
    assert_eq!(report.checks()[0].error(), Some("timed out after 5s"));
}

#[test]
fn a_panicking_check_is_unhealthy_under_its_own_name() {
    let (rt, health) = setup();
    let in_future = || async {
        if true {
            panic!("boom in the future");
        }
        CheckOutcome::healthy()
    };
    let in_closure = || -> futures_lite::future::Ready<CheckOutcome> {
        panic!("{} in the closure", "boom");
    };
    health.register(Check::new("future", in_future)).unwrap();
    health.register(Check::new("closure", in_closure)).unwrap();
    health
        .register(Check::new("fine", fixed(CheckOutcome::healthy())))
        .unwrap();

    let report = rt.block_on(health.refresh());
    let future = report.get("future").unwrap();
    assert_eq!(future.status(), Status::Unhealthy);
    assert_eq!(future.error(), Some("panicked: boom in the future"));
    let closure = report.get("closure").unwrap();
    assert_eq!(closure.error(), Some("panicked: boom in the closure"));
    assert_eq!(report.get("fine").unwrap().status(), Status::Healthy);

    // The registry still works: the next refresh runs them all again.
    let again = rt.block_on(health.refresh());
    assert_eq!(
        again.get("future").unwrap().error(),
        Some("panicked: boom in the future")
    );
}

#[test]
fn a_check_never_run_is_pending() {
    let (rt, health) = setup();
    health
        .register(Check::new("db", fixed(CheckOutcome::healthy())))
        .unwrap();
    // Nothing has run yet: the background refresh is spawned, not polled.
    let report = futures_lite::future::block_on(health.report(&Select::all()));
    let db = report.get("db").unwrap();
    assert_eq!(db.status(), Status::Unhealthy);
    assert_eq!(db.error(), Some("pending: not run yet"));
    assert_eq!(db.checked_at(), None);
    assert_eq!(report.status(), Status::Unhealthy);

    rt.run_until_idle();
    let report = rt.block_on(health.report(&Select::all()));
    assert_eq!(report.status(), Status::Healthy);
    assert!(report.get("db").unwrap().checked_at().is_some());
}

#[test]
fn a_result_older_than_three_intervals_is_stale() {
    let (rt, health) = setup();
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    // The first run answers at once; every later one hangs until its timeout.
    let check = move || {
        let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if !first {
                futures_lite::future::pending::<()>().await;
            }
            CheckOutcome::healthy().with_details("v1")
        }
    };
    health
        .register(Check::new("db", check).every(SEC).timeout(20 * SEC))
        .unwrap();

    rt.advance(3 * SEC); // the second run started at 1 s and hangs
    let report = rt.block_on(health.report(&Select::all()));
    assert_eq!(
        report.status(),
        Status::Healthy,
        "3 intervals old is not stale yet"
    );

    rt.advance(MS);
    let report = rt.block_on(health.report(&Select::all()));
    let db = report.get("db").unwrap();
    assert_eq!(db.status(), Status::Unhealthy);
    assert_eq!(db.error(), Some("stale: last run finished 3.0s ago"));
    assert_eq!(db.details(), Some("v1"));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[test]
fn a_background_check_runs_once_per_interval_however_many_probes() {
    let (rt, health) = setup();
    let handle = rt.handle();
    let db = Counting::new(&handle, 5 * MS);
    let cache = Counting::new(&handle, 5 * MS);
    health
        .register(Check::new("db", db.clone()).ready())
        .unwrap();
    health
        .register(Check::new("cache", cache.clone()).ready())
        .unwrap();
    rt.run_until_idle();

    for round in 1..=3 {
        let probes = (0..1000)
            .map(|_| health.report(&Select::tagged("ready")))
            .collect();
        let reports = rt.block_on(join_all(probes));
        assert!(reports.iter().all(|r| r.checks().len() == 2));
        assert_eq!((db.runs(), cache.runs()), (round, round));
        rt.advance(10 * SEC + 5 * MS); // the default interval, after the 5 ms run
    }
}

#[test]
fn an_inline_check_runs_once_for_a_flood_of_probes() {
    let (rt, health) = setup();
    let handle = rt.handle();
    let db = Counting::new(&handle, 10 * MS);
    health
        .register(Check::new("db", db.clone()).inline(SEC))
        .unwrap();
    assert_eq!(
        db.runs(),
        0,
        "an inline check does not run in the background"
    );

    let flood = || (0..1000).map(|_| health.report(&Select::all())).collect();
    let reports = rt.block_on(join_all(flood()));
    assert_eq!(db.runs(), 1);
    assert_eq!(rt.elapsed(), 10 * MS);
    assert!(reports.iter().all(|r| r.status() == Status::Healthy));

    // Within the cache: served again, no run.
    rt.block_on(join_all(flood()));
    assert_eq!(db.runs(), 1);

    // Past it: one more run for the next flood.
    rt.advance(SEC);
    rt.block_on(join_all(flood()));
    assert_eq!(db.runs(), 2);
}

#[test]
fn a_run_survives_the_probe_that_started_it() {
    let (rt, health) = setup();
    let db = Counting::new(&rt.handle(), 10 * MS);
    health
        .register(Check::new("db", db.clone()).inline(SEC))
        .unwrap();
    {
        let mut probe = health.report(&Select::all());
        let polled = futures_lite::future::block_on(futures_lite::future::poll_once(&mut probe));
        assert!(polled.is_none());
    } // the client hung up
    rt.advance(10 * MS);
    let report = rt.block_on(health.report(&Select::all()));
    assert_eq!(report.status(), Status::Healthy);
    assert_eq!(
        db.runs(),
        1,
        "the dropped probe's run answered the next one"
    );
}

#[test]
fn a_hundred_checks_of_one_millisecond_take_one_millisecond() {
    let (rt, health) = setup();
    let handle = rt.handle();
    let checks: Vec<Counting> = (0..100).map(|_| Counting::new(&handle, MS)).collect();
    for (i, check) in checks.iter().enumerate() {
        health
            .register(Check::new(format!("c{i}"), check.clone()).inline(SEC))
            .unwrap();
    }
    let report = rt.block_on(health.report(&Select::all()));
    assert_eq!(report.checks().len(), 100);
    assert_eq!(report.status(), Status::Healthy);
    assert_eq!(rt.elapsed(), MS);
    assert!(report.checks().iter().all(|c| c.latency() == MS));
    assert!(checks.iter().all(|c| c.runs() == 1));

    let report = rt.block_on(health.refresh());
    assert_eq!(report.checks().len(), 100);
    assert_eq!(rt.elapsed(), 2 * MS);
}

#[test]
fn the_worst_status_wins_and_non_critical_failures_degrade() {
    let cases: &[(&[(Status, bool)], Status)] = &[
        (&[], Status::Healthy),
        (&[(Status::Healthy, true)], Status::Healthy),
        (
            &[(Status::Healthy, true), (Status::Degraded, true)],
            Status::Degraded,
        ),
        (
            &[(Status::Degraded, true), (Status::Unhealthy, true)],
            Status::Unhealthy,
        ),
        (
            &[(Status::Healthy, true), (Status::Unhealthy, false)],
            Status::Degraded,
        ),
        (&[(Status::Degraded, false)], Status::Degraded),
        (
            &[(Status::Unhealthy, false), (Status::Unhealthy, false)],
            Status::Degraded,
        ),
        (
            &[(Status::Unhealthy, false), (Status::Unhealthy, true)],
            Status::Unhealthy,
        ),
    ];
    for (checks, expected) in cases {
        let (rt, health) = setup();
        for (i, &(status, critical)) in checks.iter().enumerate() {
            health
                .register(Check::new(format!("c{i}"), fixed(status.into())).critical(critical))
                .unwrap();
        }
        let report = rt.block_on(health.refresh());
        assert_eq!(report.status(), *expected, "{checks:?}");
        for (result, &(status, critical)) in report.checks().iter().zip(checks.iter()) {
            assert_eq!((result.status(), result.is_critical()), (status, critical));
        }
    }
}

#[test]
fn outcomes_carry_errors_details_latency_and_time() {
    let (rt, health) = setup();
    let handle = rt.handle();
    let slow = move || {
        let handle = handle.clone();
        async move {
            handle.sleep(250 * MS).await;
            CheckOutcome::degraded("replica lag 12 s").with_details("lag=12")
        }
    };
    health.register(Check::new("replica", slow)).unwrap();
    health
        .register(Check::new("io", || async {
            Err::<(), _>(std::io::Error::other("connection refused"))
        }))
        .unwrap();
    let before = std::time::SystemTime::now();
    let report = rt.block_on(health.refresh());
    let replica = report.get("replica").unwrap();
    assert_eq!(replica.status(), Status::Degraded);
    assert_eq!(replica.error(), Some("replica lag 12 s"));
    assert_eq!(replica.details(), Some("lag=12"));
    assert_eq!(replica.latency(), 250 * MS);
    assert!(replica.checked_at().unwrap() >= before);
    let io = report.get("io").unwrap();
    assert_eq!(
        (io.status(), io.error()),
        (Status::Unhealthy, Some("connection refused"))
    );
}

#[test]
fn names_are_validated_and_unique() {
    let (_rt, health) = setup();
    let ok = || async { Status::Healthy };
    for bad in [
        "",
        "a/b",
        "/",
        "cr\rhere",
        "lf\nhere",
        "tab\there",
        "startup",
        "shutdown",
    ] {
        let err = health.register(Check::new(bad, ok)).unwrap_err();
        assert!(
            matches!(err, RegisterError::InvalidName { .. }),
            "{bad:?}: {err}"
        );
    }
    health.register(Check::new("db", ok)).unwrap();
    let err = health.register(Check::new("db", ok)).unwrap_err();
    assert_eq!(err, RegisterError::DuplicateName { name: "db".into() });
    assert_eq!(
        err.to_string(),
        "a health check named \"db\" is registered already"
    );
    let err = health
        .register(Check::new("busy", ok).every(Duration::ZERO))
        .unwrap_err();
    assert!(matches!(err, RegisterError::ZeroInterval { .. }));
    health
        .register(Check::new("naïve name with spaces", ok))
        .unwrap();
    assert_eq!(health.len(), 2);
}

#[test]
fn transitions_are_logged_not_every_run() {
    let (rt, health) = setup();
    let db = Counting::new(&rt.handle(), Duration::ZERO);
    health
        .register(Check::new("db", db.clone()).inline(Duration::ZERO))
        .unwrap();
    let (_, logs) = capture_logs(|| {
        rt.block_on(health.refresh()); // pending → healthy
        rt.block_on(health.refresh()); // healthy again: nothing
        db.set(CheckOutcome::unhealthy("connection refused"));
        rt.block_on(health.refresh()); // healthy → unhealthy
        rt.block_on(health.refresh()); // still failing: debug only
        db.set(CheckOutcome::healthy());
        rt.block_on(health.refresh()); // recovered
    });
    let notable: Vec<_> = logs
        .iter()
        .filter(|(level, _)| *level <= tracing::Level::INFO)
        .collect();
    assert_eq!(notable.len(), 3, "{logs:#?}");
    assert_eq!(notable[0].0, tracing::Level::INFO);
    assert_eq!(notable[1].0, tracing::Level::WARN);
    assert!(
        notable[1].1.contains("connection refused"),
        "{:?}",
        notable[1]
    );
    assert!(notable[1].1.contains("check=\"db\""), "{:?}", notable[1]);
    assert_eq!(notable[2].0, tracing::Level::INFO);
}

#[test]
fn dropping_the_registry_stops_its_refresh_loops() {
    let (rt, health) = setup();
    let db = Counting::new(&rt.handle(), Duration::ZERO);
    health
        .register(Check::new("db", db.clone()).every(SEC))
        .unwrap();
    rt.advance(5 * SEC);
    assert_eq!(db.runs(), 6);
    drop(health);
    rt.advance(60 * SEC);
    assert_eq!(db.runs(), 6);
}

#[test]
fn a_run_dropped_by_its_runtime_still_answers() {
    let rt = TestRuntime::new();
    let handle = rt.handle();
    let health = Health::new(handle.clone());
    let hung = || futures_lite::future::pending::<CheckOutcome>();
    health.register(Check::new("hung", hung)).unwrap();
    rt.run_until_idle(); // the run is in flight
    drop(rt); // the runtime goes away with it
    let report = futures_lite::future::block_on(health.report(&Select::all()));
    let hung = report.get("hung").unwrap();
    assert_eq!(hung.status(), Status::Unhealthy);
    assert_eq!(hung.error(), Some("cancelled: the runtime dropped the run"));
}

/// A runtime whose sleeps wake `lag` late: a stalled executor, simulated.
#[derive(Clone)]
struct Laggy {
    inner: RuntimeHandle,
    lag_ms: Arc<AtomicU64>,
}

impl Runtime for Laggy {
    fn spawn(&self, task: BoxFuture<()>) {
        self.inner.spawn(task);
    }
    fn sleep(&self, duration: Duration) -> BoxFuture<()> {
        let lag = Duration::from_millis(self.lag_ms.load(Ordering::SeqCst));
        Box::pin(self.inner.sleep(duration + lag))
    }
    fn now(&self) -> Instant {
        self.inner.now()
    }
}

#[test]
fn the_stall_watchdog_fails_when_the_runtime_wakes_late() {
    let rt = TestRuntime::new();
    let lag_ms = Arc::new(AtomicU64::new(0));
    let laggy = RuntimeHandle::new(Laggy {
        inner: rt.handle(),
        lag_ms: lag_ms.clone(),
    });
    let watchdog = StallWatchdog::with_limits(&laggy, 100 * MS, SEC);
    let health = Health::new(rt.handle());
    health
        .register(
            Check::new("runtime", watchdog)
                .live()
                .inline(Duration::ZERO),
        )
        .unwrap();

    rt.advance(SEC);
    let report = rt.block_on(health.refresh());
    assert_eq!(report.status(), Status::Healthy, "{report:?}");

    // One heartbeat wakes 1.5 s late.
    lag_ms.store(1500, Ordering::SeqCst);
    rt.advance(200 * MS);
    lag_ms.store(0, Ordering::SeqCst);
    rt.advance(2 * SEC);
    let report = rt.block_on(health.refresh());
    let runtime = report.get("runtime").unwrap();
    assert_eq!(runtime.status(), Status::Unhealthy);
    assert_eq!(
        runtime.error(),
        Some("runtime stalled: a heartbeat was 1.5s late (threshold 1s)")
    );

    // The stall is reported once; the runtime is punctual again.
    let report = rt.block_on(health.refresh());
    assert_eq!(report.status(), Status::Healthy);
}

#[test]
fn the_stall_watchdog_fails_while_a_heartbeat_is_overdue() {
    let rt = TestRuntime::new();
    let lag_ms = Arc::new(AtomicU64::new(0));
    let laggy = RuntimeHandle::new(Laggy {
        inner: rt.handle(),
        lag_ms: lag_ms.clone(),
    });
    let watchdog = StallWatchdog::with_limits(&laggy, 100 * MS, SEC);
    rt.advance(150 * MS);
    lag_ms.store(60_000, Ordering::SeqCst); // the next heartbeat wakes a minute late
    rt.advance(100 * MS);
    assert_eq!(watchdog.lateness(), Duration::ZERO);
    rt.advance(2 * SEC);
    assert!(watchdog.lateness() > SEC, "{:?}", watchdog.lateness());
    let outcome = rt.block_on(watchdog.check());
    assert_eq!(outcome.status(), Status::Unhealthy);
}

#[test]
fn the_stall_watchdog_heartbeat_ends_with_the_check() {
    let rt = TestRuntime::new();
    let ticks = Arc::new(AtomicUsize::new(0));
    #[derive(Clone)]
    struct Counted(RuntimeHandle, Arc<AtomicUsize>);
    impl Runtime for Counted {
        fn spawn(&self, task: BoxFuture<()>) {
            self.0.spawn(task);
        }
        fn sleep(&self, duration: Duration) -> BoxFuture<()> {
            self.1.fetch_add(1, Ordering::SeqCst);
            Box::pin(self.0.sleep(duration))
        }
        fn now(&self) -> Instant {
            self.0.now()
        }
    }
    let counted = RuntimeHandle::new(Counted(rt.handle(), ticks.clone()));
    let watchdog = StallWatchdog::new(&counted);
    rt.advance(SEC);
    let while_alive = ticks.load(Ordering::SeqCst);
    assert!(while_alive >= 10, "{while_alive}");
    drop(watchdog);
    rt.advance(SEC);
    assert_eq!(ticks.load(Ordering::SeqCst), while_alive);
}

#[test]
fn a_tripwire_fails_liveness_for_good() {
    let (rt, health) = setup();
    let escalations = Shutdown::new();
    let wire = Tripwire::watching(escalations.clone());
    health
        .register(
            Check::new("tasks", wire.clone())
                .live()
                .inline(Duration::ZERO),
        )
        .unwrap();
    assert_eq!(
        rt.block_on(health.report(&Select::tagged("live"))).status(),
        Status::Healthy
    );
    escalations.trigger(Reason::TaskFailed {
        task: "mailer".into(),
        error: "5 failures in 60 s".into(),
    });
    let report = rt.block_on(health.report(&Select::tagged("live")));
    assert_eq!(report.status(), Status::Unhealthy);
    assert_eq!(
        report.checks()[0].error(),
        Some("task `mailer` failed: 5 failures in 60 s")
    );
    assert!(wire.is_tripped());
}

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Health>();
    send_sync::<Tripwire>();
    send_sync::<StallWatchdog>();
    send_sync::<steward_core::health::Report>();
    send_sync::<Select>();
    send::<steward_core::health::ReportFuture>();
    send::<Check>();
}
