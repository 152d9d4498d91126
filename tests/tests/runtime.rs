//! The runtime contract itself, on every runtime: spawn, sleep, now, timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use steward_core::{Reason, Shutdown};
use steward_tests::conformance;

conformance!(spawned_task_runs, |env| async move {
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    env.rt.spawn(async move {
        stop.trigger(Reason::Requested);
    });
    shutdown.triggered().await;
});

conformance!(sleep_advances_clock, |env| async move {
    let start = env.rt.now();
    env.rt.sleep(Duration::from_millis(20)).await;
    let took = env.rt.now() - start;
    assert!(took >= Duration::from_millis(20), "slept {took:?}");
    if env.is_virtual() {
        assert_eq!(took, Duration::from_millis(20));
    }
});

conformance!(timeout_fires_and_passes, |env| async move {
    let out = env
        .rt
        .timeout(
            Duration::from_millis(10),
            futures_lite::future::pending::<()>(),
        )
        .await;
    assert!(out.is_err());
    let out = env.rt.timeout(Duration::from_secs(30), async { 5 }).await;
    assert_eq!(out, Ok(5));
});

conformance!(many_spawned_tasks_all_run, |env| async move {
    let count = Arc::new(AtomicUsize::new(0));
    let shutdown = Shutdown::new();
    for _ in 0..1000 {
        let count = count.clone();
        let guard = shutdown.guard();
        env.rt.spawn(async move {
            count.fetch_add(1, Ordering::SeqCst);
            drop(guard);
        });
    }
    shutdown.trigger(Reason::Requested);
    shutdown.drained().await;
    assert_eq!(count.load(Ordering::SeqCst), 1000);
});

conformance!(timers_fire_in_deadline_order, |env| async move {
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let done = Shutdown::new();
    for ms in [30u64, 10, 20] {
        let order = order.clone();
        let rt = env.rt.clone();
        let guard = done.guard();
        env.rt.spawn(async move {
            rt.sleep(Duration::from_millis(ms)).await;
            order.lock().unwrap().push(ms);
            drop(guard);
        });
    }
    done.trigger(Reason::Requested);
    done.drained().await;
    let order = order.lock().unwrap().clone();
    if env.is_virtual() {
        assert_eq!(order, vec![10, 20, 30]);
    } else {
        // Real timers may come due together on a loaded machine, and two
        // workers may then run them in either order: only the set is certain.
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![10, 20, 30]);
    }
});
