//! The shutdown scope without a runtime: `block_on` from futures-lite, and
//! futures polled by hand with wakers that count their wake-ups.

#![cfg(not(loom))]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use futures_lite::future::block_on;
use futures_lite::{stream, StreamExt};
use steward_core::{
    Drained, Reason, RunUntilTriggered, Shutdown, ShutdownGuard, Triggered, TriggeredOwned,
    UntilTriggered,
};

/// A waker that counts how often it is woken.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Counter {
    fn waker() -> (Arc<Counter>, Waker) {
        let counter = Arc::new(Counter::default());
        (Arc::clone(&counter), Waker::from(counter))
    }

    fn count(&self) -> usize {
        // SeqCst: tests read the count on the thread that woke it or after a
        // join; the strongest ordering keeps the reasoning trivial.
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // SeqCst: see `count`.
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn poll_once<F: Future + Unpin>(future: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(waker))
}

/// Runs `f` on a thread with a small stack and fails (rather than hangs or
/// overflows unnoticed) if it does not finish within a generous bound.
fn on_thread(stack: usize, f: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .stack_size(stack)
        .spawn(move || {
            f();
            let _ = done_tx.send(());
        })
        .expect("spawn test thread");
    match done_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("the test thread hung"),
    }
}

#[test]
fn first_reason_wins() {
    let shutdown = Shutdown::new();
    assert_eq!(shutdown.reason(), None);
    assert!(shutdown.trigger(Reason::Signal(15)));
    assert!(!shutdown.trigger(Reason::Fatal("later".into())));
    assert!(!shutdown.clone().trigger(Reason::Requested));
    assert_eq!(shutdown.reason(), Some(Reason::Signal(15)));
    assert!(shutdown.is_triggered());
}

#[test]
fn child_of_a_triggered_scope_starts_triggered() {
    let root = Shutdown::new();
    root.trigger(Reason::Signal(2));
    let child = root.child();
    assert!(child.is_triggered());
    assert_eq!(child.reason(), Some(Reason::Signal(2)));
    let grandchild = child.child();
    assert_eq!(grandchild.reason(), Some(Reason::Signal(2)));
    block_on(grandchild.triggered());
    assert!(!child.trigger(Reason::Requested), "already triggered");
}

#[test]
fn parent_trigger_reaches_every_descendant_with_its_reason() {
    let root = Shutdown::new();
    let child = root.child();
    let grandchild = child.child();
    let sibling = root.child();
    root.trigger(Reason::Signal(15));
    for scope in [&child, &grandchild, &sibling] {
        assert_eq!(scope.reason(), Some(Reason::Signal(15)));
    }
}

#[test]
fn a_child_triggered_alone_leaves_its_parent_untouched() {
    let root = Shutdown::new();
    let child = root.child();
    let grandchild = child.child();
    let sibling = root.child();

    assert!(child.trigger(Reason::Requested));
    assert!(grandchild.is_triggered());
    assert!(child.is_drained());
    assert!(!root.is_triggered());
    assert!(!sibling.is_triggered());
    assert_eq!(root.reason(), None);
    assert!(!root.is_drained());

    // The parent triggers later; the child keeps its own reason, and so does
    // its subtree.
    assert!(root.trigger(Reason::Signal(15)));
    assert_eq!(child.reason(), Some(Reason::Requested));
    assert_eq!(grandchild.reason(), Some(Reason::Requested));
    assert_eq!(sibling.reason(), Some(Reason::Signal(15)));
}

#[test]
fn a_dropped_child_detaches() {
    let root = Shutdown::new();
    let child = root.child();
    let guard = child.guard();
    assert_eq!(root.holders().len(), 1);
    drop(guard);
    drop(child);
    assert!(root.holders().is_empty());

    // Many children come and go; none is left holding or being walked.
    for _ in 0..100_000 {
        let child = root.child();
        drop(child.guard());
    }
    let batch: Vec<Shutdown> = (0..100_000).map(|_| root.child()).collect();
    drop(batch);
    assert!(root.holders().is_empty());
    assert!(root.trigger(Reason::Requested));
    assert!(root.is_drained());
    block_on(root.drained());
}

#[test]
fn a_deep_tree_is_triggered_and_dropped_without_recursion() {
    const DEPTH: usize = 10_000;
    on_thread(64 * 1024, || {
        // Dropped root first: the leaf's drop unlinks the whole chain.
        let mut chain = vec![Shutdown::new()];
        for _ in 0..DEPTH {
            let next = chain.last().unwrap().child();
            chain.push(next);
        }
        let root = chain[0].clone();
        let leaf = chain[DEPTH].clone();
        let guard = leaf.guard();
        assert_eq!(root.holders().len(), 1);

        assert!(root.trigger(Reason::Signal(15)));
        assert_eq!(leaf.reason(), Some(Reason::Signal(15)));
        assert!(!root.is_drained());
        drop(guard);
        assert!(root.is_drained());
        block_on(root.drained());
        assert!(!root.trigger(Reason::Requested));

        drop(root);
        drop(chain);
        drop(leaf);

        // Dropped leaf first, then the root's handle frees the rest.
        let root = Shutdown::new();
        let mut leaf = root.child();
        for _ in 0..DEPTH {
            leaf = leaf.child();
        }
        leaf.trigger(Reason::Requested);
        drop(root);
        drop(leaf);
    });
}

#[test]
fn a_wide_tree_is_triggered() {
    let root = Shutdown::new();
    let children: Vec<Shutdown> = (0..100_000).map(|_| root.child()).collect();
    let guards: Vec<ShutdownGuard> = children.iter().step_by(1000).map(Shutdown::guard).collect();
    assert!(root.trigger(Reason::Signal(2)));
    assert!(children
        .iter()
        .all(|c| c.reason() == Some(Reason::Signal(2))));
    assert!(!root.is_drained());
    assert_eq!(root.holders().len(), 100);
    drop(guards);
    assert!(root.is_drained());
}

#[test]
fn guards_on_children_hold_the_parents_drain() {
    let root = Shutdown::new();
    let child = root.child();
    let grandchild = child.child();
    let child_guard = child.guard();
    let grandchild_guard = grandchild.guard();

    let (counter, waker) = Counter::waker();
    let mut drained = root.drained();
    assert!(poll_once(&mut drained, &waker).is_pending());

    root.trigger(Reason::Requested);
    assert!(poll_once(&mut drained, &waker).is_pending());
    assert!(!child.is_drained());

    drop(child_guard);
    assert!(!root.is_drained());
    assert!(!child.is_drained(), "the grandchild still holds the child");
    assert!(poll_once(&mut drained, &waker).is_pending());

    drop(grandchild_guard);
    assert!(grandchild.is_drained() && child.is_drained() && root.is_drained());
    assert_eq!(poll_once(&mut drained, &waker), Poll::Ready(()));
    assert!(counter.count() >= 1);
}

#[test]
fn a_child_drains_alone_without_draining_its_untriggered_parent() {
    let root = Shutdown::new();
    let child = root.child();
    let guard = child.guard();
    child.trigger(Reason::Requested);
    assert!(!child.is_drained());
    drop(guard);
    block_on(child.drained());
    assert!(!root.is_drained());
    root.trigger(Reason::Requested);
    assert!(root.is_drained());
}

#[test]
fn a_guard_taken_after_the_drain_holds_it_again() {
    let shutdown = Shutdown::new();
    shutdown.trigger(Reason::Requested);
    assert!(shutdown.is_drained());
    let guard = shutdown.child().guard();
    assert!(!shutdown.is_drained());

    let (counter, waker) = Counter::waker();
    let mut drained = shutdown.drained();
    assert!(poll_once(&mut drained, &waker).is_pending());
    drop(guard);
    assert_eq!(counter.count(), 1);
    assert_eq!(poll_once(&mut drained, &waker), Poll::Ready(()));
}

#[test]
fn holders_lists_where_live_guards_were_taken() {
    let root = Shutdown::new();
    let child = root.child();
    let (first, first_line) = (child.guard(), line!());
    let (second, second_line) = (root.guard(), line!());
    let (clone, clone_line) = (first.clone(), line!());

    let mut lines: Vec<u32> = root.holders().iter().map(|l| l.line()).collect();
    lines.sort_unstable();
    assert_eq!(lines, [first_line, second_line, clone_line]);
    assert!(root.holders().iter().all(|l| l.file() == file!()));
    assert_eq!(
        child.holders().len(),
        2,
        "a child lists only its own subtree"
    );
    assert_eq!(first.location().line(), first_line);
    assert_eq!(clone.location().line(), clone_line);

    drop(first);
    let lines: Vec<u32> = root.holders().iter().map(|l| l.line()).collect();
    assert_eq!(lines.len(), 2);
    assert!(!lines.contains(&first_line));
    drop((second, clone));
    assert!(root.holders().is_empty());
}

#[test]
fn triggered_is_cancel_safe() {
    let shutdown = Shutdown::new();
    let (dropped, dropped_waker) = Counter::waker();
    let mut first = shutdown.triggered();
    assert!(poll_once(&mut first, &dropped_waker).is_pending());
    drop(first);

    let (counter, waker) = Counter::waker();
    let mut second = shutdown.triggered();
    assert!(poll_once(&mut second, &waker).is_pending());
    shutdown.trigger(Reason::Requested);
    assert_eq!(dropped.count(), 0, "a dropped future is not woken");
    assert_eq!(counter.count(), 1);
    assert_eq!(poll_once(&mut second, &waker), Poll::Ready(()));
    assert_eq!(
        poll_once(&mut second, &waker),
        Poll::Ready(()),
        "ready stays ready"
    );

    // Dropping a future that was woken but not polled loses nothing.
    let root = Shutdown::new();
    let mut woken = root.triggered();
    assert!(poll_once(&mut woken, &waker).is_pending());
    root.trigger(Reason::Requested);
    drop(woken);
    block_on(root.triggered());
    block_on(root.clone().triggered_owned());
}

#[test]
fn drained_is_cancel_safe() {
    let shutdown = Shutdown::new();
    let guard = shutdown.guard();
    shutdown.trigger(Reason::Requested);
    let (counter, waker) = Counter::waker();
    let mut first = shutdown.drained();
    assert!(poll_once(&mut first, &waker).is_pending());
    drop(first);
    let mut second = shutdown.drained();
    assert!(poll_once(&mut second, &waker).is_pending());
    drop(guard);
    assert_eq!(counter.count(), 1);
    assert_eq!(poll_once(&mut second, &waker), Poll::Ready(()));
}

#[test]
fn each_waiter_is_woken_exactly_once() {
    let root = Shutdown::new();
    let child = root.child();
    let guard = child.guard();

    let mut waiters: Vec<(Arc<Counter>, Waker, TriggeredOwned)> = (0..100)
        .map(|i| {
            let (counter, waker) = Counter::waker();
            let scope = if i % 2 == 0 { &root } else { &child };
            (counter, waker, scope.clone().triggered_owned())
        })
        .collect();
    let mut drains: Vec<(Arc<Counter>, Waker, Drained<'_>)> = (0..100)
        .map(|_| {
            let (counter, waker) = Counter::waker();
            (counter, waker, root.drained())
        })
        .collect();
    for (_, waker, future) in &mut waiters {
        assert!(poll_once(future, waker).is_pending());
    }
    for (_, waker, future) in &mut drains {
        assert!(poll_once(future, waker).is_pending());
    }

    assert!(root.trigger(Reason::Requested));
    assert!(!root.trigger(Reason::Requested));
    assert!(!child.trigger(Reason::Requested));
    assert!(waiters.iter().all(|(c, _, _)| c.count() == 1));
    assert!(
        drains.iter().all(|(c, _, _)| c.count() == 0),
        "a guard lives"
    );

    // Holds come and go; only the drain itself wakes the drained waiters.
    let other = child.guard();
    drop(guard);
    assert!(drains.iter().all(|(c, _, _)| c.count() == 0));
    drop(other);
    assert!(drains.iter().all(|(c, _, _)| c.count() == 1));
    drop(child.guard());

    for (counter, waker, future) in &mut waiters {
        assert_eq!(poll_once(future, waker), Poll::Ready(()));
        assert_eq!(counter.count(), 1);
    }
    for (counter, waker, future) in &mut drains {
        assert_eq!(poll_once(future, waker), Poll::Ready(()));
        assert_eq!(counter.count(), 1);
    }
}

#[test]
fn the_latest_waker_is_the_one_woken() {
    let shutdown = Shutdown::new();
    let (old, old_waker) = Counter::waker();
    let (new, new_waker) = Counter::waker();
    let mut triggered = shutdown.triggered();
    assert!(poll_once(&mut triggered, &old_waker).is_pending());
    assert!(poll_once(&mut triggered, &new_waker).is_pending());
    shutdown.trigger(Reason::Requested);
    assert_eq!((old.count(), new.count()), (0, 1));
}

#[test]
fn run_until_triggered_stops_a_pending_future() {
    let shutdown = Shutdown::new();
    let (counter, waker) = Counter::waker();
    let mut run = shutdown.run_until_triggered(futures_lite::future::pending::<u8>());
    assert!(poll_once(&mut run, &waker).is_pending());
    shutdown.trigger(Reason::Requested);
    assert_eq!(counter.count(), 1);
    assert_eq!(poll_once(&mut run, &waker), Poll::Ready(None));

    let fresh = Shutdown::new();
    assert_eq!(block_on(fresh.run_until_triggered(async { 5 })), Some(5));
}

#[test]
fn until_triggered_ends_a_stream_without_losing_an_item() {
    let shutdown = Shutdown::new();
    let mut items = shutdown.until_triggered(stream::iter(0..));
    assert_eq!(block_on(items.next()), Some(0));
    assert_eq!(block_on(items.next()), Some(1));
    shutdown.trigger(Reason::Requested);
    assert_eq!(block_on(items.next()), None);
    assert_eq!(block_on(items.next()), None, "stays ended");

    let finite = Shutdown::new();
    let collected: Vec<i32> = block_on(finite.until_triggered(stream::iter(0..3)).collect());
    assert_eq!(collected, [0, 1, 2]);
}

#[test]
fn handles_compare_by_scope() {
    let a = Shutdown::default();
    let b = a.clone();
    assert!(a.ptr_eq(&b));
    assert!(!a.ptr_eq(&Shutdown::new()));
    assert!(a.guard().shutdown().ptr_eq(&a));
    b.trigger(Reason::Requested);
    assert!(a.is_triggered());
}

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Shutdown>();
    send_sync::<ShutdownGuard>();
    send_sync::<Reason>();
    send_sync::<Triggered<'static>>();
    send_sync::<TriggeredOwned>();
    send_sync::<Drained<'static>>();
    send_sync::<RunUntilTriggered<'static, std::future::Ready<()>>>();
    send_sync::<UntilTriggered<stream::Iter<std::ops::Range<u32>>>>();
}

/// A waker that formats every handle and future when woken. It is woken from
/// inside `trigger` and a guard's drop: had either woken while holding a lock
/// that a `Debug` takes, it would deadlock (and the test would fail on its
/// timeout). It takes no guard of the scope itself: event-listener wakes under
/// its own lock, so a waker must not notify the event that woke it.
struct Formatter {
    shutdown: Shutdown,
    guard: ShutdownGuard,
    out: std::sync::Mutex<Vec<String>>,
}

impl Wake for Formatter {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let s = &self.shutdown;
        let lines = [
            format!("{s:?}"),
            format!("{:?}", self.guard),
            format!("{:?}", s.triggered()),
            format!("{:?}", s.clone().triggered_owned()),
            format!("{:?}", s.drained()),
            format!("{:?}", s.run_until_triggered(async {})),
            format!("{:?}", s.until_triggered(stream::iter(0..1))),
        ];
        self.out.lock().unwrap().extend(lines);
    }
}

#[test]
fn debug_shows_state_and_never_locks() {
    on_thread(2 * 1024 * 1024, || {
        let shutdown = Shutdown::new();
        let other = Shutdown::new();
        let formatter = Arc::new(Formatter {
            shutdown: shutdown.clone(),
            guard: other.guard(),
            out: std::sync::Mutex::new(Vec::new()),
        });
        let waker = Waker::from(Arc::clone(&formatter));

        let guard = shutdown.guard();
        let mut triggered = shutdown.triggered();
        assert!(poll_once(&mut triggered, &waker).is_pending());
        shutdown.trigger(Reason::Requested);
        let mut drained = shutdown.drained();
        assert!(poll_once(&mut drained, &waker).is_pending());
        drop(guard);

        let out = formatter.out.lock().unwrap();
        assert_eq!(out.len(), 14, "woken twice: {out:?}");
        assert_eq!(out[0], "Shutdown { triggered: true, holds: 1, .. }");
        let location = format!("ShutdownGuard {{ location: {}:", file!());
        assert!(out[1].starts_with(&location), "{}", out[1]);
        assert!(out[1].ends_with("triggered: false, .. }"));
        assert_eq!(out[2], "Triggered { triggered: true, .. }");
        assert_eq!(out[3], "TriggeredOwned { triggered: true, .. }");
        assert_eq!(out[4], "Drained { drained: false, .. }");
        assert_eq!(
            out[5],
            "RunUntilTriggered { triggered: Triggered { triggered: true, .. }, .. }"
        );
        assert_eq!(out[6], "UntilTriggered { done: false, .. }");
        assert_eq!(out[7], "Shutdown { triggered: true, holds: 0, .. }");
        assert_eq!(out[11], "Drained { drained: true, .. }");
    });
}
