//! The shutdown scope on every runtime: trigger and wait, child scopes,
//! guards and drain across spawned tasks, many waiters, racing threads.
//!
//! A scenario that loses a wake-up hangs; the harness turns a hang into a
//! failure after [`steward_tests::WATCHDOG`] of real time.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use steward_core::{Reason, Shutdown};
use steward_tests::conformance;

conformance!(waiters_before_and_after_the_trigger, |env| async move {
    let shutdown = Shutdown::new();
    let woke = Arc::new(AtomicUsize::new(0));
    let done = Shutdown::new();
    for _ in 0..10 {
        let wait = shutdown.clone().triggered_owned();
        let woke = Arc::clone(&woke);
        let guard = done.guard();
        env.rt.spawn(async move {
            wait.await;
            woke.fetch_add(1, Ordering::SeqCst);
            drop(guard);
        });
    }

    let trigger = shutdown.clone();
    let rt = env.rt.clone();
    let start = env.rt.now();
    env.rt.spawn(async move {
        rt.sleep(Duration::from_millis(10)).await;
        trigger.trigger(Reason::Signal(15));
    });
    shutdown.triggered().await;
    if env.is_virtual() {
        assert_eq!(env.rt.now() - start, Duration::from_millis(10));
    }
    assert_eq!(shutdown.reason(), Some(Reason::Signal(15)));
    assert!(!shutdown.trigger(Reason::Requested));

    // A waiter that comes after the trigger is ready at once.
    shutdown.triggered().await;
    done.trigger(Reason::Requested);
    done.drained().await;
    assert_eq!(woke.load(Ordering::SeqCst), 10);
});

conformance!(run_until_triggered_cuts_a_long_wait, |env| async move {
    let shutdown = Shutdown::new();
    let trigger = shutdown.clone();
    let rt = env.rt.clone();
    // The trigger waits for `go`, so that on a loaded machine it cannot come
    // before the quick future below has finished.
    let go = Shutdown::new();
    let started = go.clone();
    let start = Arc::new(Mutex::new(None));
    let start_at = start.clone();
    env.rt.spawn(async move {
        started.triggered().await;
        *start_at.lock().unwrap() = Some(rt.now());
        rt.sleep(Duration::from_millis(20)).await;
        trigger.trigger(Reason::Requested);
    });

    let quick = shutdown
        .run_until_triggered(env.rt.sleep(Duration::from_millis(1)))
        .await;
    assert_eq!(quick, Some(()));
    go.trigger(Reason::Requested);
    let long = shutdown
        .run_until_triggered(env.rt.sleep(Duration::from_secs(3600)))
        .await;
    assert_eq!(long, None);
    let start = start.lock().unwrap().expect("the trigger task started");
    let took = env.rt.now() - start;
    assert!(took >= Duration::from_millis(20), "{took:?}");
    assert!(took < Duration::from_secs(3600), "{took:?}");
    if env.is_virtual() {
        assert_eq!(took, Duration::from_millis(20));
    }
});

conformance!(
    child_scopes_stop_alone_or_with_the_parent,
    |env| async move {
        let root = Shutdown::new();
        let stopped = Arc::new(Mutex::new(Vec::new()));
        let children: Vec<Shutdown> = (0..3).map(|_| root.child()).collect();
        for (i, child) in children.iter().enumerate() {
            let wait = child.clone();
            let guard = child.guard();
            let stopped = Arc::clone(&stopped);
            env.rt.spawn(async move {
                wait.triggered().await;
                stopped.lock().unwrap().push((i, wait.reason()));
                drop(guard);
            });
        }

        // One child stops alone: its task ends, the parent and siblings go on.
        children[1].trigger(Reason::Requested);
        children[1].drained().await;
        assert_eq!(*stopped.lock().unwrap(), [(1, Some(Reason::Requested))]);
        assert!(!root.is_triggered());
        assert!(!children[0].is_triggered() && !children[2].is_triggered());

        // The parent's trigger stops the rest with its reason and drains them.
        root.trigger(Reason::Signal(2));
        root.drained().await;
        let mut stopped = stopped.lock().unwrap().clone();
        stopped.sort_by_key(|(i, _)| *i);
        assert_eq!(
            stopped,
            [
                (0, Some(Reason::Signal(2))),
                (1, Some(Reason::Requested)),
                (2, Some(Reason::Signal(2))),
            ]
        );
    }
);

conformance!(guards_hold_the_drain_across_tasks, |env| async move {
    let shutdown = Shutdown::new();
    let finished = Arc::new(AtomicUsize::new(0));
    for i in 1..=20u64 {
        // Guards on scopes two levels down hold the root's drain too.
        let scope = if i % 2 == 0 {
            shutdown.clone()
        } else {
            shutdown.child().child()
        };
        let guard = scope.guard();
        let rt = env.rt.clone();
        let finished = Arc::clone(&finished);
        env.rt.spawn(async move {
            scope.triggered().await;
            rt.sleep(Duration::from_millis(i)).await; // finish the work in hand
            finished.fetch_add(1, Ordering::SeqCst);
            drop(guard);
        });
    }
    assert_eq!(shutdown.holders().len(), 20);

    let start = env.rt.now();
    shutdown.trigger(Reason::Requested);
    assert!(!shutdown.is_drained());
    shutdown.drained().await;
    assert_eq!(finished.load(Ordering::SeqCst), 20);
    assert!(shutdown.holders().is_empty());
    let took = env.rt.now() - start;
    assert!(took >= Duration::from_millis(20), "{took:?}");
    if env.is_virtual() {
        assert_eq!(took, Duration::from_millis(20));
    }
});

conformance!(a_drain_waited_for_in_a_task, |env| async move {
    let shutdown = Shutdown::new();
    let guard = shutdown.child().guard();
    // A scope is also the simplest runtime-neutral one-shot event.
    let reported = Shutdown::new();
    let report = reported.clone();
    let drained = shutdown.clone();
    env.rt.spawn(async move {
        drained.drained().await;
        report.trigger(Reason::Requested);
    });
    let rt = env.rt.clone();
    let release = shutdown.clone();
    env.rt.spawn(async move {
        release.triggered().await;
        rt.sleep(Duration::from_millis(5)).await;
        drop(guard);
    });
    shutdown.trigger(Reason::Requested);
    reported.triggered().await;
    assert!(shutdown.is_drained());
});

/// Wraps a future and counts the wake-ups delivered to it, and how often it
/// returned `Pending`.
struct CountWakes<F> {
    future: Pin<Box<F>>,
    counts: Arc<Counts>,
}

struct Counts {
    wakes: AtomicUsize,
    pending: AtomicUsize,
    expected: usize,
    all_pending: Shutdown,
}

struct CountingWaker {
    inner: Waker,
    counts: Arc<Counts>,
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.counts.wakes.fetch_add(1, Ordering::SeqCst);
        self.inner.wake_by_ref();
    }
}

impl<F: Future> Future for CountWakes<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let waker = Waker::from(Arc::new(CountingWaker {
            inner: cx.waker().clone(),
            counts: Arc::clone(&self.counts),
        }));
        let poll = self.future.as_mut().poll(&mut Context::from_waker(&waker));
        if poll.is_pending() {
            let pending = self.counts.pending.fetch_add(1, Ordering::SeqCst) + 1;
            if pending == self.counts.expected {
                self.counts.all_pending.trigger(Reason::Requested);
            }
        }
        poll
    }
}

conformance!(many_waiters_are_each_woken_exactly_once, |env| async move {
    const WAITERS: usize = 100_000;
    let root = Shutdown::new();
    let scopes: Vec<Shutdown> = (0..10).map(|_| root.child()).collect();
    let done = Shutdown::new();
    let counts = Arc::new(Counts {
        wakes: AtomicUsize::new(0),
        pending: AtomicUsize::new(0),
        expected: WAITERS,
        all_pending: Shutdown::new(),
    });
    let completed = Arc::new(AtomicUsize::new(0));
    for i in 0..WAITERS {
        // Half wait on the root, half on its children (woken by the walk).
        let scope = if i % 2 == 0 {
            root.clone()
        } else {
            scopes[i % 10].clone()
        };
        let waiter = CountWakes {
            future: Box::pin(scope.triggered_owned()),
            counts: Arc::clone(&counts),
        };
        let completed = Arc::clone(&completed);
        let guard = done.guard();
        env.rt.spawn(async move {
            waiter.await;
            completed.fetch_add(1, Ordering::SeqCst);
            drop(guard);
        });
    }

    // Every waiter is registered before the trigger, so each needs one wake.
    counts.all_pending.triggered().await;
    root.trigger(Reason::Requested);
    done.trigger(Reason::Requested);
    done.drained().await;
    assert_eq!(completed.load(Ordering::SeqCst), WAITERS);
    assert_eq!(
        counts.pending.load(Ordering::SeqCst),
        WAITERS,
        "one pending poll each"
    );
    assert_eq!(
        counts.wakes.load(Ordering::SeqCst),
        WAITERS,
        "one wake each"
    );
});

conformance!(trigger_races_waiters_from_many_threads, |env| async move {
    const ROUNDS: usize = 10_000;
    const TASKS: usize = 3;
    const THREADS: usize = 4;

    // Trigger threads outside the runtime, each fed scopes to trigger.
    let triggers: Vec<(mpsc::Sender<Shutdown>, std::thread::JoinHandle<()>)> = (0..THREADS)
        .map(|_| {
            let (tx, rx) = mpsc::channel::<Shutdown>();
            let thread = std::thread::spawn(move || {
                for scope in rx {
                    scope.trigger(Reason::Requested);
                }
            });
            (tx, thread)
        })
        .collect();

    let woken = Arc::new(AtomicUsize::new(0));
    for round in 0..ROUNDS {
        let scope = Shutdown::new();
        let done = Shutdown::new();
        // Waiters created on the runtime's threads race the trigger below.
        for _ in 0..TASKS {
            let scope = scope.clone();
            let woken = Arc::clone(&woken);
            let guard = done.guard();
            env.rt.spawn(async move {
                scope.triggered().await;
                woken.fetch_add(1, Ordering::SeqCst);
                drop(guard);
            });
        }
        triggers[round % THREADS]
            .0
            .send(scope.clone())
            .expect("trigger thread alive");
        // And one created right here, racing it too (on a child, to race the walk).
        scope.child().triggered().await;
        done.trigger(Reason::Requested);
        done.drained().await;
    }
    assert_eq!(woken.load(Ordering::SeqCst), ROUNDS * TASKS);

    for (tx, thread) in triggers {
        drop(tx);
        thread.join().expect("trigger thread");
    }
});
