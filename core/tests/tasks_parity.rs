//! The task registry's parity tools, poll by poll: `wait` after an idle
//! moment, `reopen`, tokens, `track_output`.

#![cfg(feature = "test-util")]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use steward_core::testing::TestRuntime;
use steward_core::{Shutdown, StartError, TaskToken, Tasks, TrackedOutput};

fn registry() -> (TestRuntime, Tasks) {
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    (rt, tasks)
}

#[test]
fn a_woken_waiter_is_not_put_back_by_a_later_token_or_reopen() {
    let (_rt, tasks) = registry();
    let mut cx = Context::from_waker(Waker::noop());
    let work = tasks.token();
    tasks.close();
    let mut wait = pin!(tasks.wait());
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);

    drop(work); // idle: the waiter is notified
    let late = tasks.token(); // then busy again, before it is polled
    assert!(tasks.reopen());
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(()));

    // A wait begun now waits for the new count and the next close.
    let mut next = pin!(tasks.wait());
    assert_eq!(next.as_mut().poll(&mut cx), Poll::Pending);
    drop(late);
    assert_eq!(next.as_mut().poll(&mut cx), Poll::Pending, "open");
    tasks.close();
    assert_eq!(next.as_mut().poll(&mut cx), Poll::Ready(()));
}

#[test]
fn reopen_only_reopens_a_closed_registry_before_its_shutdown() {
    let (rt, tasks) = registry();
    assert!(!tasks.reopen(), "open already");
    tasks.close();
    assert!(tasks.reopen());
    tasks.spawn(async {}).unwrap();
    rt.run_until_idle();
    let stop = tasks.shutdown(Duration::from_secs(1));
    assert!(!tasks.reopen(), "refused from the call on");
    rt.block_on(stop);
    assert!(!tasks.reopen());
    assert!(tasks.is_closed());
    assert_eq!(tasks.spawn(async {}), Err(StartError::Closed));
}

#[test]
fn tokens_count_clone_and_outlive_close() {
    let (rt, tasks) = registry();
    tasks.close();
    let token = tasks.token();
    let clone = token.clone();
    assert_eq!(tasks.len(), 2);
    assert!(token.tasks().ptr_eq(&tasks));
    assert!(format!("{token:?}").contains("len: 2"));
    drop(token);
    assert_eq!(tasks.len(), 1);
    let mut cx = Context::from_waker(Waker::noop());
    let mut wait = pin!(tasks.wait());
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Pending);
    drop(clone);
    assert_eq!(wait.as_mut().poll(&mut cx), Poll::Ready(()));
    rt.run_until_idle();
}

#[test]
fn track_output_counts_until_it_resolves_or_is_dropped() {
    let (_rt, tasks) = registry();
    let mut cx = Context::from_waker(Waker::noop());
    let unused = tasks.track_output(async { 1 }).unwrap();
    assert_eq!(tasks.len(), 1);
    drop(unused);
    assert!(tasks.is_empty());

    let mut value = pin!(tasks.track_output(async { String::from("kept") }).unwrap());
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        value.as_mut().poll(&mut cx),
        Poll::Ready(Some("kept".into()))
    );
    assert!(tasks.is_empty());
    assert_eq!(value.as_mut().poll(&mut cx), Poll::Pending, "polled again");
}

#[test]
fn a_panic_in_track_output_resolves_to_none_and_is_counted() {
    let (rt, tasks) = registry();
    let boom = tasks
        .track_output(async {
            if true {
                panic!("boom");
            }
            1
        })
        .unwrap();
    assert_eq!(rt.block_on(boom), None);
    tasks.close();
    let report = rt.block_on(tasks.shutdown(Duration::from_secs(1)));
    assert!(!report.is_clean(), "{report}");
}

#[test]
fn new_task_handles_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<TaskToken>();
    send_sync::<TrackedOutput<std::future::Ready<u8>>>();
}
