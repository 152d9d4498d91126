//! Blocking work in the task registry, on every runtime:
//! `Tasks::spawn_blocking` and `Tasks::start_blocking` are counted until
//! their closure returns, their panics are reported, and a closure past its
//! grace (it cannot be aborted) is reported by name.
//!
//! A blocked closure is released by the test through a channel, never by a
//! sleep, so each scenario reads the same on a loaded machine.

use std::pin::pin;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use futures_lite::future::poll_once;
use steward_core::testing::TestRuntime;
use steward_core::{Exit, Report, Shutdown, StartError, Tasks};
use steward_tests::{conformance, Env, Kind};

conformance!(blocking_work_is_counted_in_wait, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let (go_unnamed, wait_unnamed) = mpsc::channel::<()>();
    let (go_named, wait_named) = mpsc::channel::<()>();
    let (done, finished) = mpsc::channel::<&str>();
    let done2 = done.clone();
    tasks
        .spawn_blocking(move || {
            wait_unnamed.recv().unwrap();
            done.send("unnamed").unwrap();
        })
        .unwrap();
    tasks
        .start_blocking("import", move |_stop| {
            wait_named.recv().unwrap();
            done2.send("import").unwrap();
        })
        .unwrap();
    assert_eq!(tasks.len(), 2);
    assert!(tasks.is_running("import"));
    assert_eq!(
        tasks.start_blocking("import", |_| ()),
        Err(StartError::AlreadyRunning("import".into()))
    );
    tasks.close();
    assert_eq!(tasks.spawn_blocking(|| ()), Err(StartError::Closed));
    assert_eq!(
        tasks.start_blocking("late", |_| ()),
        Err(StartError::Closed)
    );

    let mut wait = pin!(tasks.wait());
    assert!(poll_once(wait.as_mut()).await.is_none(), "two closures run");
    go_unnamed.send(()).unwrap();
    assert_eq!(finished.recv().unwrap(), "unnamed");
    assert!(
        poll_once(wait.as_mut()).await.is_none(),
        "`import` still runs"
    );
    go_named.send(()).unwrap();
    wait.await;
    assert_eq!(finished.try_recv().unwrap(), "import");
    assert!(tasks.is_empty());

    let report = tasks.shutdown(Duration::from_secs(1)).await;
    assert!(report.is_clean(), "{report}");
    assert!(matches!(
        report.get("import").unwrap().exit(),
        Exit::Completed
    ));
});

conformance!(blocking_panics_and_errors_are_reported, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tasks.on_failure(move |name, exit| log.lock().unwrap().push(format!("{name}: {exit}")));

    tasks
        .start_blocking("parser", |_stop| -> () { panic!("bad header {}", 7) })
        .unwrap();
    tasks
        .start_blocking("loader", |_stop| Err::<(), _>("corrupt snapshot"))
        .unwrap();
    tasks
        .spawn_blocking(|| -> () { panic!("unnamed boom") })
        .unwrap();
    tasks.close();
    tasks.wait().await;

    let report = tasks.shutdown(Duration::from_secs(1)).await;
    assert!(!report.is_clean(), "{report}");
    assert!(
        matches!(report.get("parser").unwrap().exit(), Exit::Panicked(m) if m == "bad header 7"),
        "{report}"
    );
    assert_eq!(
        report.get("loader").unwrap().exit().to_string(),
        "failed: corrupt snapshot"
    );
    assert_eq!(report.unnamed_failures(), 1, "{report}");
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[1], "loader: failed: corrupt snapshot");
    assert_eq!(seen[2], "parser: panicked: bad header 7");
    assert!(
        seen[0].starts_with("blocking task at ") && seen[0].ends_with("panicked: unnamed boom"),
        "{seen:?}"
    );
});

conformance!(a_blocking_task_stops_on_its_signal, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let (started, running) = mpsc::channel::<()>();
    tasks
        .start_blocking("compactor", move |stop| {
            started.send(()).unwrap();
            while !stop.is_triggered() {
                std::thread::yield_now(); // one synchronous step
            }
        })
        .unwrap();
    running.recv().unwrap();
    let grace = Duration::from_secs(30);
    let report = tasks.shutdown(grace).await;
    assert!(report.is_clean(), "{report}");
    let compactor = report.get("compactor").unwrap();
    assert!(matches!(compactor.exit(), Exit::Stopped), "{report}");
    if env.is_virtual() {
        // A blocking job takes no virtual time: the clock waited for it.
        assert_eq!(report.took(), Duration::ZERO);
    } else {
        assert!(report.took() < grace, "{report}");
    }
});

/// The overrun on a real runtime: the closures block until the report is in.
async fn overrun(env: Env) {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let release = block_both(&tasks);
    let grace = Duration::from_millis(200);
    let start = env.rt.now();
    let report = tasks.shutdown(grace).await;
    let took = env.rt.now() - start;
    assert!(took >= grace + Tasks::ABANDON_AFTER, "{took:?}");
    assert!(
        took < Duration::from_secs(30),
        "the shutdown waited: {took:?}"
    );
    check_abandoned(&tasks, &report);
    release();
    tasks.wait().await;
    check_overran(&tasks.shutdown(grace).await);
}

/// Starts `flush` (named) and one unnamed job, both deaf to their stop and
/// blocked until the returned closure is called.
fn block_both(tasks: &Tasks) -> impl FnOnce() {
    let (release_named, named_blocked) = mpsc::channel::<()>();
    let (release_unnamed, unnamed_blocked) = mpsc::channel::<()>();
    tasks
        .start_blocking("flush", move |_stop| named_blocked.recv().unwrap())
        .unwrap();
    tasks
        .spawn_blocking(move || unnamed_blocked.recv().unwrap())
        .unwrap();
    move || {
        release_named.send(()).unwrap();
        release_unnamed.send(()).unwrap();
    }
}

fn check_abandoned(tasks: &Tasks, report: &Report) {
    assert!(!report.is_clean(), "{report}");
    let flush = report.get("flush").unwrap();
    assert!(matches!(flush.exit(), Exit::Abandoned), "{report}");
    let abandoned: Vec<_> = report.abandoned().map(|t| t.name().to_owned()).collect();
    assert_eq!(abandoned, ["flush"]);
    assert_eq!(report.abandoned_unnamed(), 1, "{report}");
    assert!(report.to_string().contains("flush: abandoned"), "{report}");
    // Still counted: the abort could not reach the closures.
    assert_eq!(tasks.len(), 2);
}

/// It ended, past its grace: the next report says so.
fn check_overran(again: &Report) {
    assert!(
        matches!(again.get("flush").unwrap().exit(), Exit::Overran),
        "{again}"
    );
    assert!(!again.is_clean(), "{again}");
}

mod a_blocking_overrun_is_reported_by_name {
    use super::*;

    #[test]
    fn smol() {
        steward_tests::run(Kind::Smol, overrun);
    }

    #[test]
    fn tokio() {
        steward_tests::run(Kind::Tokio, overrun);
    }

    /// On virtual time `block_on` holds the clock while a blocking job runs,
    /// so the test moves it with `advance`: exact times.
    #[test]
    fn virtual_time() {
        let rt = TestRuntime::new();
        let tasks = Tasks::new(rt.handle(), Shutdown::new());
        let release = block_both(&tasks);
        let grace = Duration::from_millis(200);
        let (tx, reports) = mpsc::channel();
        let all = tasks.clone();
        rt.handle()
            .spawn(async move { tx.send(all.shutdown(grace).await).unwrap() });
        rt.advance(grace + Tasks::ABANDON_AFTER - Duration::from_millis(1));
        assert!(reports.try_recv().is_err(), "not before its abandon time");
        rt.advance(Duration::from_millis(1));
        let report = reports.try_recv().unwrap();
        assert_eq!(report.took(), grace + Tasks::ABANDON_AFTER);
        check_abandoned(&tasks, &report);
        release();
        rt.block_on(tasks.wait());
        check_overran(&rt.block_on(tasks.shutdown(grace)));
    }
}

/// A runtime that refuses blocking work, as one shutting down does: it drops
/// the job unrun.
#[derive(Debug)]
struct Refusing(steward_core::RuntimeHandle);

impl steward_core::runtime::Runtime for Refusing {
    fn spawn(&self, task: steward_core::runtime::BoxFuture<()>) {
        steward_core::runtime::Runtime::spawn(&self.0, task);
    }
    fn sleep(&self, duration: Duration) -> steward_core::runtime::BoxFuture<()> {
        steward_core::runtime::Runtime::sleep(&self.0, duration)
    }
    fn now(&self) -> std::time::Instant {
        self.0.now()
    }
    fn spawn_blocking(&self, job: steward_core::runtime::BoxBlocking) {
        drop(job);
    }
}

conformance!(blocking_work_dropped_unrun_is_reported, |env| async move {
    let rt = steward_core::RuntimeHandle::new(Refusing(env.rt.clone()));
    let tasks = Tasks::new(rt, Shutdown::new());
    tasks.start_blocking("export", |_stop| ()).unwrap();
    tasks.spawn_blocking(|| ()).unwrap();
    assert!(tasks.is_empty(), "a dropped job releases its count");
    let report = tasks.shutdown(Duration::from_secs(1)).await;
    assert!(!report.is_clean(), "{report}");
    assert!(
        matches!(report.get("export").unwrap().exit(), Exit::Aborted),
        "{report}"
    );
    let unnamed = report
        .tasks()
        .iter()
        .find(|t| t.name().starts_with("blocking task at "))
        .unwrap_or_else(|| panic!("the unnamed job is named by its place: {report}"));
    assert!(matches!(unnamed.exit(), Exit::Aborted), "{report}");
    assert!(unnamed.name().contains("tasks_blocking.rs:"), "{report}");
});
