//! The shutdown scope's tools for users coming from tokio-util, async-shutdown
//! and swansong, on every runtime: drop guards, `wrap_trigger`, `try_guard`,
//! `state`, `guarded`, `until_triggered` on readers, writers and iterators,
//! the holders' report.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::io::{AsyncBufRead, AsyncRead, AsyncWrite};
use futures_lite::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, StreamExt};
use steward_core::{Reason, ScopeState, Shutdown, ShutdownError};
use steward_tests::conformance;

conformance!(a_drop_guard_triggers_when_its_task_ends, |env| async move {
    let shutdown = Shutdown::new();
    let critical = shutdown
        .clone()
        .drop_guard()
        .with_reason(Reason::Fatal("consumer ended".into()));
    let rt = env.rt.clone();
    let start = env.rt.now();
    env.rt.spawn(async move {
        let _critical = critical;
        rt.sleep(Duration::from_millis(10)).await;
    });
    let reason = shutdown.triggered_reason().await;
    assert_eq!(reason, Reason::Fatal("consumer ended".into()));
    let took = env.rt.now() - start;
    assert!(took >= Duration::from_millis(10), "{took:?}");
    if env.is_virtual() {
        assert_eq!(took, Duration::from_millis(10));
    }

    // A disarmed guard, dropped with its task, triggers nothing.
    let other = Shutdown::new();
    let done = Shutdown::new();
    let guard = other.clone().drop_guard();
    let finished = done.clone().drop_guard();
    env.rt.spawn(async move {
        let _handle = guard.disarm();
        drop(finished);
    });
    done.triggered().await;
    assert!(!other.is_triggered());
});

conformance!(
    wrap_trigger_fires_on_completion_and_on_drop,
    |env| async move {
        let shutdown = Shutdown::new();
        let rt = env.rt.clone();
        env.rt
            .spawn(shutdown.wrap_trigger(Reason::Requested, async move {
                rt.sleep(Duration::from_millis(5)).await;
            }));
        assert_eq!(shutdown.triggered_reason().await, Reason::Requested);

        // A task cut by another scope's trigger drops its wrapped future
        // unfinished: that triggers too. `run_until_triggered_owned` is
        // `'static`, so it can be spawned.
        let stop = Shutdown::new();
        let critical = Shutdown::new();
        let forever = critical.wrap_trigger(
            Reason::Fatal("listener gone".into()),
            futures_lite::future::pending::<()>(),
        );
        let cut = Arc::new(AtomicBool::new(false));
        let cut_seen = Arc::clone(&cut);
        let wait = stop.clone().run_until_triggered_owned(forever);
        let finished = Shutdown::new();
        let task_done = finished.guard();
        env.rt.spawn(async move {
            cut_seen.store(wait.await.is_none(), Ordering::SeqCst);
            drop(task_done);
        });
        assert!(!critical.is_triggered());
        stop.trigger(Reason::Requested);
        assert_eq!(
            critical.triggered_reason().await,
            Reason::Fatal("listener gone".into())
        );
        finished.trigger(Reason::Requested);
        finished.drained().await;
        assert!(cut.load(Ordering::SeqCst));
    }
);

conformance!(try_guard_refuses_only_after_the_drain, |env| async move {
    let shutdown = Shutdown::new();
    assert_eq!(shutdown.state(), ScopeState::Running);
    let first = shutdown.try_guard().expect("running");
    shutdown.trigger(Reason::Requested);
    assert_eq!(shutdown.state(), ScopeState::Draining);

    // While draining, tasks may still take guards.
    let admitted = Arc::new(AtomicUsize::new(0));
    for i in 0..5u64 {
        let scope = shutdown.clone();
        let rt = env.rt.clone();
        let admitted = Arc::clone(&admitted);
        let guard = scope.try_guard().expect("draining");
        env.rt.spawn(async move {
            rt.sleep(Duration::from_millis(1 + i)).await;
            admitted.fetch_add(1, Ordering::SeqCst);
            drop(guard);
        });
    }
    drop(first);
    shutdown.drained().await;
    assert_eq!(admitted.load(Ordering::SeqCst), 5);
    assert_eq!(shutdown.state(), ScopeState::Drained);
    assert_eq!(shutdown.try_guard().unwrap_err(), ShutdownError::Drained);
    assert!(shutdown.is_drained(), "a refused guard holds nothing");
});

conformance!(guarded_values_hold_the_drain, |env| async move {
    let shutdown = Shutdown::new();
    let flushed = Arc::new(AtomicBool::new(false));
    let rt = env.rt.clone();
    let flag = Arc::clone(&flushed);
    env.rt.spawn(shutdown.guarded(async move {
        rt.sleep(Duration::from_millis(20)).await;
        flag.store(true, Ordering::SeqCst);
    }));
    let buffer = shutdown.guarded(vec![1u8]);
    let start = env.rt.now();
    shutdown.trigger(Reason::Requested);
    assert_eq!(shutdown.guard_count(), 2);
    assert_eq!(buffer.len(), 1, "derefs to the value");
    assert_eq!(buffer.into_inner(), [1]);

    shutdown.drained().await;
    assert!(flushed.load(Ordering::SeqCst));
    let took = env.rt.now() - start;
    assert!(took < Duration::from_secs(60), "{took:?}");
    if env.is_virtual() {
        assert_eq!(took, Duration::from_millis(20));
    }
});

/// A reader and a writer that never become ready (and never wake anyone).
struct Stalled;

impl AsyncRead for Stalled {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
}

impl AsyncBufRead for Stalled {
    fn poll_fill_buf(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        Poll::Pending
    }
    fn consume(self: Pin<&mut Self>, _: usize) {}
}

impl AsyncWrite for Stalled {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, _: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Pending
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

conformance!(
    until_triggered_ends_readers_writers_and_iterators,
    |env| async move {
        let shutdown = Shutdown::new();
        let done = Shutdown::new();
        let outcomes = Arc::new(std::sync::Mutex::new(Vec::new()));

        // A read blocked on a stalled peer ends with end-of-file.
        let mut reader = shutdown.until_triggered(Stalled);
        let (out, guard) = (Arc::clone(&outcomes), done.guard());
        env.rt.spawn(async move {
            let mut buf = [0u8; 16];
            let n = reader.read(&mut buf).await.unwrap();
            out.lock().unwrap().push(format!("read {n}"));
            drop(guard);
        });

        // Lines from a stalled buffered reader end.
        let mut lines = shutdown.until_triggered(Stalled).lines();
        let (out, guard) = (Arc::clone(&outcomes), done.guard());
        env.rt.spawn(async move {
            assert!(lines.next().await.is_none());
            out.lock().unwrap().push("lines ended".to_owned());
            drop(guard);
        });

        // A write blocked on a stalled peer fails with a typed error.
        let mut writer = shutdown.until_triggered(Stalled);
        let (out, guard) = (Arc::clone(&outcomes), done.guard());
        env.rt.spawn(async move {
            let err = writer.write_all(b"bytes").await.unwrap_err();
            let inner = err
                .get_ref()
                .and_then(|e| e.downcast_ref::<ShutdownError>());
            assert_eq!(inner, Some(&ShutdownError::Triggered));
            writer.flush().await.expect("flushes after the trigger");
            out.lock().unwrap().push(format!("write {:?}", err.kind()));
            drop(guard);
        });

        // An endless iterator stops at the next item after the trigger.
        let numbers = shutdown.until_triggered(0u64..);
        let (out, guard, rt) = (Arc::clone(&outcomes), done.guard(), env.rt.clone());
        env.rt.spawn(async move {
            let mut taken = 0u64;
            for n in numbers {
                taken = n + 1;
                rt.sleep(Duration::from_millis(1)).await;
            }
            assert!(taken >= 1);
            out.lock().unwrap().push("iterator ended".to_owned());
            drop(guard);
        });

        env.rt.sleep(Duration::from_millis(10)).await;
        shutdown.trigger(Reason::Requested);
        done.trigger(Reason::Requested);
        done.drained().await;
        let mut outcomes = outcomes.lock().unwrap().clone();
        outcomes.sort();
        assert_eq!(
            outcomes,
            [
                "iterator ended",
                "lines ended",
                "read 0",
                "write BrokenPipe"
            ]
        );
    }
);

conformance!(
    the_holders_report_names_who_holds_a_drain,
    |env| async move {
        let shutdown = Shutdown::new();
        let release = Shutdown::new();
        let early = shutdown.guard();
        let early_line = line!() - 1;
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let guard = shutdown.child().guard();
            let wait = release.clone();
            tasks.push(guard.location().line());
            env.rt.spawn(async move {
                wait.triggered().await;
                drop(guard);
            });
        }
        let before = shutdown.holders_report();
        assert_eq!(before.len(), 4);
        assert!(before.groups().iter().all(|g| g.held().is_empty()));

        shutdown.trigger(Reason::Requested);
        let late = shutdown.guard();
        assert_eq!(shutdown.guard_count(), 5);

        let report = shutdown.holders_report();
        assert_eq!(report.len(), 5);
        assert_eq!(report.groups().len(), 3);
        let by_line = |line: u32| {
            report
                .groups()
                .iter()
                .find(|g| g.location().line() == line)
                .expect("a group for the line")
        };
        assert_eq!(by_line(early_line).count(), 1);
        assert_eq!(by_line(tasks[0]).count(), 3);
        assert_eq!(by_line(tasks[0]).held().len(), 3);
        // Taken before the trigger: held up the drain since the trigger; taken
        // after it: since it was taken (real time, on every runtime).
        let late_held = by_line(late.location().line()).longest().unwrap();
        assert!(by_line(early_line).longest().unwrap() >= late_held);
        let text = report.to_string();
        assert!(
            text.starts_with("5 guards hold the scope open\n  "),
            "{text}"
        );
        assert!(text.contains(": 3 guards, held "), "{text}");

        drop((early, late));
        release.trigger(Reason::Requested);
        shutdown.drained().await;
        assert!(shutdown.holders_report().is_empty());
        assert_eq!(shutdown.guard_count(), 0);
    }
);
