//! The shutdown scope's parity tools, poll by poll: identity, drop guards,
//! `try_guard`, size hints, the holders' report (the straggler event is in
//! `straggler.rs`, a process of its own).

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use futures_lite::{stream, Stream, StreamExt};
use steward_core::{
    DropGuard, DropGuardRef, Guarded, HolderGroup, Holders, Reason, RunUntilTriggeredOwned,
    ScopeState, Shutdown, ShutdownError, TriggeredReason, UntilTriggered, WrapTrigger,
};

// The hash is the scope's address, which its interior state never changes.
#[allow(clippy::mutable_key_type)]
#[test]
fn handles_hash_and_compare_by_identity() {
    let a = Shutdown::new();
    let child = a.child();
    let mut seen = HashMap::new();
    seen.insert(a.clone(), "root");
    seen.insert(child.clone(), "child");
    assert_eq!(seen.get(&a), Some(&"root"));
    assert_eq!(seen.get(&child), Some(&"child"));
    assert_eq!(seen.get(&Shutdown::new()), None);
    assert_eq!(a, a.guard().shutdown());
    assert_ne!(a, child);
    let set: HashSet<Shutdown> = (0..3).map(|_| a.clone()).collect();
    assert_eq!(set.len(), 1);
}

#[test]
fn drop_guards_trigger_unless_disarmed() {
    let shutdown = Shutdown::new();
    let guard = shutdown.clone().drop_guard();
    let handle = guard.disarm();
    assert!(handle.ptr_eq(&shutdown));
    assert!(!shutdown.is_triggered());
    assert!(!shutdown.drop_guard_ref().disarm().is_triggered());
    assert!(!shutdown.is_triggered());

    {
        let _guard = shutdown.drop_guard_ref().with_reason(Reason::Signal(1));
    }
    assert_eq!(shutdown.reason(), Some(Reason::Signal(1)));
    // A second guard on a triggered scope keeps the first reason.
    drop(shutdown.clone().drop_guard().with_reason(Reason::Requested));
    assert_eq!(shutdown.reason(), Some(Reason::Signal(1)));
}

#[test]
fn a_panic_unwinding_past_a_drop_guard_triggers() {
    let shutdown = Shutdown::new();
    let guard = shutdown.clone().drop_guard();
    let panicked = std::panic::catch_unwind(move || {
        let _guard = guard;
        panic!("boom");
    });
    assert!(panicked.is_err());
    assert_eq!(shutdown.reason(), Some(Reason::Requested));
}

#[test]
fn wrap_trigger_passes_the_output_on_after_triggering() {
    let shutdown = Shutdown::new();
    let mut cx = Context::from_waker(Waker::noop());
    let mut wrapped = pin!(shutdown.wrap_trigger(Reason::Requested, async { 3 }));
    assert_eq!(wrapped.as_mut().poll(&mut cx), Poll::Ready(3));
    assert!(shutdown.is_triggered());
}

#[test]
fn triggered_reason_waits_then_gives_the_first_reason() {
    let shutdown = Shutdown::new();
    let child = shutdown.child();
    let mut cx = Context::from_waker(Waker::noop());
    let mut wait = pin!(child.triggered_reason());
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
    child.trigger(Reason::Signal(2));
    shutdown.trigger(Reason::Signal(15));
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(Reason::Signal(2)));
}

#[test]
fn try_guard_holds_the_ancestors_and_refuses_after_the_drain() {
    let root = Shutdown::new();
    let child = root.child();
    let guard = child.try_guard().unwrap();
    root.trigger(Reason::Requested);
    assert_eq!(root.state(), ScopeState::Draining);
    assert_eq!(child.state(), ScopeState::Draining);
    assert_eq!(guard.location().file(), file!());
    drop(guard);
    assert_eq!(root.state(), ScopeState::Drained);
    assert_eq!(child.try_guard().unwrap_err(), ShutdownError::Drained);
    assert_eq!(root.try_guard().unwrap_err(), ShutdownError::Drained);
    assert_eq!(root.guard_count(), 0);
    assert!(std::error::Error::source(&ShutdownError::Drained).is_none());
}

#[test]
fn until_triggered_keeps_the_inner_upper_bound() {
    let shutdown = Shutdown::new();
    let mut items = shutdown.until_triggered(stream::iter(0..10));
    assert_eq!(items.size_hint(), (0, Some(10)));
    let endless = shutdown.until_triggered(stream::repeat(1));
    assert_eq!(endless.size_hint(), (0, None));
    futures_lite::future::block_on(async {
        assert_eq!(items.next().await, Some(0));
        assert_eq!(items.size_hint(), (0, Some(9)));
        shutdown.trigger(Reason::Requested);
        assert_eq!(items.next().await, None);
    });
    assert_eq!(items.size_hint(), (0, Some(0)));

    let other = Shutdown::new();
    let mut numbers = other.until_triggered(0..3);
    assert_eq!(numbers.size_hint(), (0, Some(3)));
    assert_eq!(numbers.by_ref().count(), 3);
    assert_eq!(numbers.size_hint(), (0, Some(0)));
}

#[test]
fn guarded_readers_and_writers_pass_through() {
    use futures_lite::{AsyncBufReadExt, AsyncWriteExt};
    let shutdown = Shutdown::new();
    futures_lite::future::block_on(async {
        let lines: Vec<String> = shutdown
            .guarded(&b"a\nb\n"[..])
            .lines()
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(lines, ["a", "b"]);
        let mut out = shutdown.guarded(Vec::new());
        out.write_all(b"bytes").await.unwrap();
        out.close().await.unwrap();
        assert_eq!(out.into_inner(), b"bytes");
    });
    assert_eq!(shutdown.guard_count(), 0);
}

#[test]
fn guarded_passes_size_hints_and_releases_on_drop() {
    let shutdown = Shutdown::new();
    let items = shutdown.guarded(stream::iter(0..4));
    assert_eq!(items.size_hint(), (4, Some(4)));
    let numbers = shutdown.guarded(0..2);
    assert_eq!(Iterator::size_hint(&numbers), (2, Some(2)));
    assert_eq!(shutdown.guard_count(), 2);
    assert_eq!(shutdown.holders_report().groups().len(), 2);
    drop((items, numbers));
    shutdown.trigger(Reason::Requested);
    assert!(shutdown.is_drained());
}

#[test]
fn the_report_groups_by_location_longest_held_first() {
    let shutdown = Shutdown::new();
    let first = shutdown.guard();
    let before = shutdown.holders_report();
    assert_eq!(
        before.to_string(),
        format!(
            "1 guard holds the scope open\n  {}: 1 guard",
            first.location()
        )
    );
    assert_eq!(before.groups()[0].longest(), None);

    shutdown.trigger(Reason::Requested);
    // A real pause, so that the guards below have held the drain for less
    // time than `first` by at least that much (the clock is monotonic).
    std::thread::sleep(std::time::Duration::from_millis(2));
    let later: Vec<_> = (0..2).map(|_| shutdown.child().guard()).collect();
    let report = shutdown.holders_report();
    let groups = report.groups();
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].location(), first.location());
    assert_eq!((groups[1].count(), groups[1].held().len()), (2, 2));
    assert!(groups[0].longest() > groups[1].longest());
    assert!(groups[1].held()[0] >= groups[1].held()[1]);
    let text = report.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "3 guards hold the scope open");
    let first_at = format!("  {}: 1 guard, held ", first.location());
    assert!(lines[1].starts_with(&first_at), "{text}");
    assert!(lines[2].contains(": 2 guards, held "), "{text}");
    assert_eq!(lines[2].matches(", ").count(), 2, "{text}");
    drop((first, later));
    assert_eq!(
        shutdown.holders_report().to_string(),
        "no guard holds the scope open"
    );
}

#[test]
fn a_child_triggered_alone_reports_held_times_only_for_itself() {
    let root = Shutdown::new();
    let child = root.child();
    let _running = root.guard();
    let _stopping = child.guard();
    child.trigger(Reason::Requested);
    let report = root.holders_report();
    assert_eq!(report.len(), 2);
    let held: Vec<usize> = report.groups().iter().map(|g| g.held().len()).collect();
    assert_eq!(held, [1, 0], "the triggered child's guard first");
}

#[test]
fn new_handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    type Fut = std::future::Ready<()>;
    send_sync::<DropGuard>();
    send_sync::<DropGuardRef<'static>>();
    send_sync::<WrapTrigger<Fut>>();
    send_sync::<TriggeredReason<'static>>();
    send_sync::<RunUntilTriggeredOwned<Fut>>();
    send_sync::<Guarded<Fut>>();
    send_sync::<Holders>();
    send_sync::<HolderGroup>();
    send_sync::<ScopeState>();
    send_sync::<ShutdownError>();
    send_sync::<UntilTriggered<std::ops::Range<u32>>>();
}
