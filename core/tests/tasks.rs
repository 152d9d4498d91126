//! The task registry on the virtual-time runtime: the defaults of
//! supervision and periodic jobs to the exact virtual millisecond, and what
//! the conformance suite cannot see on real clocks.

#![cfg(all(feature = "test-util", not(loom)))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward_core::testing::TestRuntime;
use steward_core::{Exit, FirstRun, Periodic, Reason, Restart, Shutdown, StartError, Tasks};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Starts a supervised task that fails at once, run after run, and returns
/// the virtual times of its runs.
fn failing(tasks: &Tasks, rt: &TestRuntime, policy: Restart) -> Arc<Mutex<Vec<Duration>>> {
    let runs = Arc::new(Mutex::new(Vec::new()));
    let (log, clock) = (runs.clone(), rt.handle());
    let t0 = clock.now();
    tasks
        .supervise("flaky", policy, move |_stop| {
            log.lock().unwrap().push(clock.now() - t0);
            async { Err::<(), _>("refused") }
        })
        .unwrap();
    runs
}

#[test]
fn default_backoff_and_budget() {
    let rt = TestRuntime::new();
    let service = Shutdown::new();
    let tasks = Tasks::new(rt.handle(), service.clone());
    let runs = failing(&tasks, &rt, Restart::on_failure().jitter(0.0));
    rt.block_on(service.triggered());
    // 100 ms doubling; 5 restarts in 60 s, the 6th failure escalates.
    let want = [0, 100, 300, 700, 1500, 3100].map(ms);
    assert_eq!(*runs.lock().unwrap(), want);
    assert_eq!(rt.elapsed(), ms(3100));
    assert_eq!(tasks.escalated(), ["flaky"]);
    assert!(matches!(
        service.reason(),
        Some(Reason::TaskFailed { ref task, .. }) if task == "flaky"
    ));
}

#[test]
fn backoff_is_capped_at_thirty_seconds() {
    let rt = TestRuntime::new();
    let service = Shutdown::new();
    let tasks = Tasks::new(rt.handle(), service.clone());
    let policy = Restart::on_failure()
        .jitter(0.0)
        .budget(12, Duration::from_secs(3600));
    let runs = failing(&tasks, &rt, policy);
    rt.block_on(service.triggered());
    let runs = runs.lock().unwrap();
    let gaps: Vec<_> = runs.windows(2).map(|w| w[1] - w[0]).collect();
    let want: Vec<_> = [
        100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000, 30000,
    ]
    .map(ms)
    .to_vec();
    assert_eq!(gaps, want);
}

#[test]
fn default_jitter_shortens_each_delay_by_at_most_a_tenth() {
    let rt = TestRuntime::new();
    let service = Shutdown::new();
    let tasks = Tasks::new(rt.handle(), service.clone());
    let runs = failing(&tasks, &rt, Restart::on_failure());
    rt.block_on(service.triggered());
    let runs = runs.lock().unwrap();
    let nominal = [100, 200, 400, 800, 1600].map(ms);
    for (w, nominal) in runs.windows(2).zip(nominal) {
        let gap = w[1] - w[0];
        assert!(
            gap <= nominal && gap >= nominal.mul_f64(0.9),
            "{gap:?} vs {nominal:?}"
        );
    }
}

#[test]
fn a_quiet_period_restores_the_budget() {
    let rt = TestRuntime::new();
    let service = Shutdown::new();
    let tasks = Tasks::new(rt.handle(), service.clone());
    let clock = rt.handle();
    // Fails after 20 s of work each run: at most 3 restarts in any 60 s.
    tasks
        .supervise(
            "slow-fail",
            Restart::on_failure().jitter(0.0),
            move |_stop| {
                let clock = clock.clone();
                async move {
                    clock.sleep(Duration::from_secs(20)).await;
                    Err::<(), _>("lost the lease")
                }
            },
        )
        .unwrap();
    rt.advance(Duration::from_secs(600));
    assert!(!service.is_triggered());
    assert!(tasks.escalated().is_empty());
    // The window never fills, so the delays stay short.
    let report = rt.block_on(tasks.shutdown(Duration::from_secs(1)));
    let task = report.get("slow-fail").unwrap();
    assert!(task.restarts() >= 28, "{task}");
}

#[test]
fn stop_during_backoff_ends_the_task_at_once() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let policy = Restart::on_failure()
        .jitter(0.0)
        .backoff(Duration::from_secs(3600), Duration::from_secs(3600));
    let runs = failing(&tasks, &rt, policy);
    rt.run_until_idle();
    let report = rt
        .block_on(tasks.stop("flaky", Duration::from_secs(5)))
        .unwrap();
    assert_eq!(rt.elapsed(), Duration::ZERO);
    assert_eq!(runs.lock().unwrap().len(), 1);
    // The failure before the backoff was handled (within the budget): a stop
    // during the backoff is a stop.
    assert!(matches!(report.exit(), Exit::Stopped), "{report}");
    assert_eq!(report.restarts(), 0);
}

#[test]
fn supervised_critical_task_escalates_once() {
    let rt = TestRuntime::new();
    let service = Shutdown::new();
    let tasks = Tasks::new(rt.handle(), service.clone());
    tasks
        .task("core")
        .critical()
        .supervise(
            Restart::on_failure()
                .jitter(0.0)
                .budget(1, Duration::from_secs(60)),
            |_| async { Err::<(), _>("x") },
        )
        .unwrap();
    rt.block_on(service.triggered());
    assert_eq!(rt.elapsed(), ms(100));
    rt.run_until_idle();
    assert_eq!(tasks.escalated(), ["core"]);
}

#[test]
fn memory_is_freed_when_a_task_ends_not_at_wait() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let held = Arc::new(());
    for _ in 0..100 {
        let held = held.clone();
        tasks
            .spawn(async move {
                futures_lite::future::yield_now().await;
                drop(held);
            })
            .unwrap();
    }
    assert_eq!(tasks.len(), 100);
    rt.run_until_idle();
    assert_eq!(tasks.len(), 0);
    assert_eq!(Arc::strong_count(&held), 1);
    assert!(!tasks.is_closed());
}

#[test]
fn periodic_first_run_after_one_interval_and_jitter_bounds() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let starts = Arc::new(Mutex::new(Vec::new()));
    let (log, clock) = (starts.clone(), rt.handle());
    let schedule = Periodic::new(ms(100))
        .first_run(FirstRun::AfterInterval)
        .jitter(ms(10));
    tasks
        .periodic("jittery", schedule, move || {
            log.lock().unwrap().push(clock.now());
            async {}
        })
        .unwrap();
    let t0 = rt.handle().now();
    rt.advance(ms(1010)); // the 10th tick is at 1000 ms, plus under 10 ms

    let starts = starts.lock().unwrap();
    assert_eq!(starts.len(), 10);
    for (k, at) in starts.iter().enumerate() {
        let tick = ms(100) * (k as u32 + 1);
        let off = *at - t0;
        assert!(off >= tick && off < tick + ms(10), "run {k} at {off:?}");
    }
}

#[test]
fn periodic_timeout_drops_the_run_and_keeps_the_schedule() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let runs = Arc::new(AtomicUsize::new(0));
    let (count, clock) = (runs.clone(), rt.handle());
    tasks
        .periodic("hung", Periodic::new(ms(100)).timeout(ms(30)), move || {
            count.fetch_add(1, Ordering::SeqCst);
            let clock = clock.clone();
            async move { clock.sleep(Duration::from_secs(3600)).await }
        })
        .unwrap();
    rt.advance(ms(450)); // runs at 0, 100, 200, 300, 400; each cut at +30 ms
    assert_eq!(runs.load(Ordering::SeqCst), 5);
}

#[test]
fn unknown_or_ended_task_cannot_be_stopped_and_reports_repeat() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    assert!(rt.block_on(tasks.stop("nobody", ms(1))).is_none());
    tasks.start("once", |_| async {}).unwrap();
    rt.run_until_idle();
    assert!(rt.block_on(tasks.stop("once", ms(1))).is_none());
    let first = rt.block_on(tasks.shutdown(ms(10)));
    let again = rt.block_on(tasks.shutdown(ms(10)));
    assert!(matches!(first.get("once").unwrap().exit(), Exit::Completed));
    assert_eq!(first.to_string(), again.to_string());
}

#[test]
fn a_panicking_hook_is_contained() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    tasks.on_failure(|_, _| panic!("hook bug"));
    tasks
        .start("fails", |_| async { Err::<(), _>("x") })
        .unwrap();
    rt.run_until_idle();
    let report = rt.block_on(tasks.shutdown(ms(10)));
    assert!(matches!(
        report.get("fails").unwrap().exit(),
        Exit::Failed(_)
    ));
}

#[test]
fn a_panic_in_the_task_factory_is_caught() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let explode = |_: Shutdown| -> futures_lite::future::Ready<()> { panic!("no config") };
    tasks.start("eager", explode).unwrap();
    rt.run_until_idle();
    let report = rt.block_on(tasks.shutdown(ms(10)));
    assert!(
        matches!(report.get("eager").unwrap().exit(), Exit::Panicked(m) if m == "no config"),
        "{report}"
    );
}

/// Sets its flag when dropped.
struct SetOnDrop(Arc<AtomicUsize>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn tracked_futures_are_counted_until_they_end_and_waited_for() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let go = Shutdown::new();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let (go, ran) = (go.clone(), ran.clone());
        let tracked = tasks
            .track(async move {
                go.triggered().await;
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        rt.handle().spawn(tracked);
    }
    assert_eq!(tasks.len(), 3);
    assert!(tasks.close());
    assert_eq!(tasks.track(async {}).unwrap_err(), StartError::Closed);
    rt.run_until_idle();
    assert_eq!(tasks.len(), 3, "still running after the close");
    go.trigger(Reason::Requested);
    rt.block_on(tasks.wait());
    assert_eq!(ran.load(Ordering::SeqCst), 3);
    assert_eq!(tasks.len(), 0);
    assert_eq!(Arc::strong_count(&ran), 1, "the futures were dropped");
}

#[test]
fn a_dropped_tracked_future_is_uncounted_polled_or_not() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = SetOnDrop(dropped.clone());
    let unpolled = tasks.track(async move { drop(guard) }).unwrap();
    let guard = SetOnDrop(dropped.clone());
    let mut pending = Box::pin(
        tasks
            .track(async move {
                let _guard = guard;
                futures_lite::future::pending::<()>().await;
            })
            .unwrap(),
    );
    assert!(rt
        .block_on(futures_lite::future::poll_once(pending.as_mut()))
        .is_none());
    assert_eq!(tasks.len(), 2);
    drop(unpolled);
    assert_eq!(tasks.len(), 1);
    drop(pending);
    assert_eq!(tasks.len(), 0);
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
    tasks.close();
    rt.block_on(tasks.wait());
    let report = rt.block_on(tasks.shutdown(ms(10)));
    assert!(
        report.is_clean(),
        "a dropped future is not reported: {report}"
    );
}

/// Records the registry's count at the moment it is dropped.
struct LenOnDrop(Tasks, Arc<AtomicUsize>);

impl Drop for LenOnDrop {
    fn drop(&mut self) {
        self.1.store(self.0.len(), Ordering::SeqCst);
    }
}

#[test]
fn a_dropped_tracked_future_is_dropped_before_it_is_uncounted() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let len_at_drop = Arc::new(AtomicUsize::new(usize::MAX));
    let guard = LenOnDrop(tasks.clone(), len_at_drop.clone());
    let tracked = tasks.track(async move { drop(guard) }).unwrap();
    drop(tracked);
    assert_eq!(
        len_at_drop.load(Ordering::SeqCst),
        1,
        "still counted while dropped"
    );
    assert_eq!(tasks.len(), 0);
}

#[test]
fn a_tracked_future_uncounts_itself_when_it_ends_not_when_dropped() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let mut tracked = Box::pin(tasks.track(async {}).unwrap());
    rt.block_on(tracked.as_mut());
    assert_eq!(tasks.len(), 0, "ended, though its future is still held");
    // Polled again after it ended: it stays pending and counts nothing.
    assert!(rt
        .block_on(futures_lite::future::poll_once(tracked.as_mut()))
        .is_none());
    drop(tracked);
    assert_eq!(tasks.len(), 0);
    assert!(format!("{:?}", tasks.track(async {}).unwrap()).contains("ended: false"));
}

/// Panics with `boom {n}`, typed as a task that returns `()`.
fn explode(n: u32) {
    panic!("boom {n}");
}

#[test]
fn tracked_panics_and_errors_are_caught_and_reported() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tasks.on_failure(move |name, exit| log.lock().unwrap().push(format!("{name}: {exit}")));
    rt.handle()
        .spawn(tasks.track(async { explode(7) }).unwrap());
    rt.handle()
        .spawn(tasks.track(async { Err::<(), _>("refused") }).unwrap());
    rt.handle()
        .spawn(tasks.track(async { Ok::<(), &str>(()) }).unwrap());
    rt.run_until_idle();
    assert_eq!(tasks.len(), 0);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].starts_with("task spawned at "), "{seen:?}");
    assert!(seen[0].contains("tasks.rs"), "{seen:?}");
    assert!(seen[0].ends_with("panicked: boom 7"), "{seen:?}");
    assert!(seen[1].ends_with("failed: refused"), "{seen:?}");
    let report = rt.block_on(tasks.shutdown(ms(10)));
    assert_eq!(report.unnamed_failures(), 2);
}

#[test]
fn a_tracked_future_is_dropped_when_the_grace_runs_out() {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = SetOnDrop(dropped.clone());
    let tracked = tasks
        .track(async move {
            let _guard = guard;
            futures_lite::future::pending::<()>().await;
        })
        .unwrap();
    rt.handle().spawn(tracked);
    rt.run_until_idle();
    let report = rt.block_on(tasks.shutdown(ms(500)));
    assert_eq!(rt.elapsed(), ms(500));
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(tasks.len(), 0);
    let aborted: Vec<_> = report.aborted().collect();
    assert_eq!(aborted.len(), 1, "{report}");
    assert!(
        aborted[0].name().starts_with("task spawned at "),
        "{report}"
    );
    assert!(aborted[0].name().contains("tasks.rs"), "{report}");
    assert!(matches!(aborted[0].exit(), Exit::Aborted));
}
