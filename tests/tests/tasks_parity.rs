//! The task registry's tools for users coming from tokio-util's
//! `TaskTracker`, on every runtime: `reopen`, tokens held by any value,
//! tracked futures that keep their output.

use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use steward_core::{Exit, Reason, Shutdown, StartError, Tasks};
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

conformance!(reopen_admits_tasks_and_wait_follows, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let start = env.rt.now();
    let rt = env.rt.clone();
    tasks.spawn(async move { rt.sleep(ms(10)).await }).unwrap();
    assert!(tasks.close());
    tasks.wait().await;
    assert_time(&env, env.rt.now() - start, ms(10));

    assert!(tasks.reopen());
    assert!(!tasks.is_closed());
    let rt = env.rt.clone();
    tasks.spawn(async move { rt.sleep(ms(5)).await }).unwrap();
    tasks.close();
    tasks.wait().await;
    assert_time(&env, env.rt.now() - start, ms(15));
    assert!(tasks.is_empty());

    // A shutdown is final.
    let report = tasks.shutdown(Duration::from_secs(1)).await;
    assert!(report.is_clean(), "{report}");
    assert!(!tasks.reopen());
    assert_eq!(tasks.spawn(async {}), Err(StartError::Closed));
});

conformance!(
    a_token_held_by_a_thread_holds_the_shutdown,
    |env| async move {
        let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
        let (go, wait_go) = mpsc::channel::<()>();
        let token = tasks.token();
        let worker = std::thread::spawn(move || {
            wait_go.recv().unwrap();
            drop(token);
        });
        tasks.close();
        // Usable after close, as tokio-util's.
        let late = tasks.token();
        assert_eq!(tasks.len(), 2);
        drop(late);
        assert_eq!(tasks.len(), 1);

        let mut stop = tasks.shutdown(Duration::from_secs(3600));
        // The token holds the shutdown: polled, it waits.
        assert!(futures_lite::future::poll_once(&mut stop).await.is_none());
        // The thread lets go, and is joined before the shutdown is awaited:
        // the virtual clock, which moves whenever the runtime is idle, must
        // not jump over the grace while the thread is still to drop it.
        go.send(()).unwrap();
        worker.join().unwrap();
        let report = stop.await;
        assert!(report.is_clean(), "{report}");
        assert!(report.tasks().is_empty(), "a token is not a task: {report}");
        assert!(tasks.is_empty());
    }
);

conformance!(tracked_outputs_are_kept_or_reported, |env| async move {
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());

    let rt = env.rt.clone();
    let sum = tasks.track_output(async move {
        rt.sleep(ms(5)).await;
        20 + 22
    });
    let start = env.rt.now();
    assert_eq!(sum.unwrap().await, Some(42));
    assert_time(&env, env.rt.now() - start, ms(5));
    assert!(tasks.is_empty());

    let output = Arc::new(Mutex::new(None));
    let pending = futures_lite::future::pending::<u32>;
    let forever = tasks.track_output(pending()).unwrap();
    let forever_line = line!() - 1;
    let out = Arc::clone(&output);
    let stored = Shutdown::new();
    let storing = stored.guard();
    env.rt.spawn(async move {
        let forever = forever.await;
        *out.lock().unwrap() = Some(forever);
        drop(storing);
    });

    let start = env.rt.now();
    let report = tasks.shutdown(ms(50)).await;
    assert_time(&env, env.rt.now() - start, ms(50));
    assert_eq!(report.tasks().len(), 1, "{report}");
    let aborted = &report.tasks()[0];
    assert!(matches!(aborted.exit(), Exit::Aborted), "{report}");
    let at = format!("task tracked at {}:{forever_line}:", file!());
    assert!(aborted.name().starts_with(&at), "{report}");
    // The aborted future resolved to `None` for its caller.
    stored.trigger(Reason::Requested);
    stored.drained().await;
    assert_eq!(*output.lock().unwrap(), Some(None));
    assert_eq!(
        tasks.track_output(async {}).unwrap_err(),
        StartError::Closed
    );
});

conformance!(
    a_closed_registry_refuses_track_output_until_reopened,
    |env| async move {
        let service = Shutdown::new();
        let tasks = Tasks::new(env.rt.clone(), service.clone());
        tasks.close();
        assert!(matches!(
            tasks.track_output(async { 1 }),
            Err(StartError::Closed)
        ));
        assert!(tasks.reopen());
        let one = tasks.track_output(async { 1 }).unwrap();
        assert_eq!(one.await, Some(1));
        service.trigger(Reason::Requested);
        tasks.close();
        tasks.wait().await;
    }
);
