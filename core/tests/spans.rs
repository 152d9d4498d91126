//! Spans: a task's run, a check's run and a lifespan step's start and stop
//! each run inside a `tracing` span (`task`, `check`, `lifespan_step`) with a
//! `name` field, so the user's own log lines inside carry the name.
#![cfg(all(feature = "test-util", not(loom)))]

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steward_core::health::{Check, CheckOutcome, Health};
use steward_core::testing::TestRuntime;
use steward_core::{Lifespan, Shutdown, Tasks};
use tracing::field::{Field, Visit};
use tracing::{span, Event, Metadata, Subscriber};

/// One captured event: its message and the spans it was inside, outermost
/// first, each as `span_name{field=value ...}`.
#[derive(Debug, Clone)]
struct Captured {
    message: String,
    scope: Vec<String>,
}

#[derive(Default)]
struct State {
    spans: HashMap<u64, String>,
    next: u64,
    // The test runtime polls everything on the test's thread: one stack.
    stack: Vec<u64>,
    events: Vec<Captured>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<State>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={} ", field.name(), value);
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &span::Attributes<'_>) -> span::Id {
        let mut fields = Fields(String::new());
        attrs.record(&mut fields);
        let text = format!("{}{{{}}}", attrs.metadata().name(), fields.0.trim_end());
        let mut state = self.0.lock().unwrap();
        state.next += 1;
        let id = state.next;
        state.spans.insert(id, text);
        span::Id::from_u64(id)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let mut state = self.0.lock().unwrap();
        let scope = state
            .stack
            .iter()
            .map(|id| state.spans[id].clone())
            .collect();
        state.events.push(Captured {
            message: fields.0,
            scope,
        });
    }
    fn enter(&self, id: &span::Id) {
        self.0.lock().unwrap().stack.push(id.into_u64());
    }
    fn exit(&self, id: &span::Id) {
        let mut state = self.0.lock().unwrap();
        let top = state.stack.pop();
        assert_eq!(top, Some(id.into_u64()), "spans exited out of order");
    }
}

impl Capture {
    /// The scope of the one event whose message contains `text`.
    fn scope_of(&self, text: &str) -> Vec<String> {
        let state = self.0.lock().unwrap();
        let found: Vec<_> = state
            .events
            .iter()
            .filter(|e| e.message.contains(text))
            .collect();
        assert_eq!(found.len(), 1, "{text}: {:#?}", state.events);
        found[0].scope.clone()
    }
}

#[test]
fn a_users_event_inside_a_task_carries_the_tasks_name() {
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(capture.clone());
    let rt = TestRuntime::new();
    let tasks = Tasks::new(rt.handle(), Shutdown::new());
    let clock = rt.handle();
    tasks
        .start("mailer", move |_stop| async move {
            tracing::info!("before the sleep");
            clock.sleep(Duration::from_secs(1)).await;
            tracing::info!("after the sleep");
            Ok::<(), std::io::Error>(())
        })
        .unwrap();
    tracing::info!("outside");
    tasks.close();
    rt.block_on(tasks.wait());
    assert_eq!(capture.scope_of("before the sleep"), ["task{name=mailer}"]);
    // Still inside after the task was parked and polled again.
    assert_eq!(capture.scope_of("after the sleep"), ["task{name=mailer}"]);
    assert!(capture.scope_of("outside").is_empty());
}

#[test]
fn a_users_event_inside_a_check_carries_the_checks_name() {
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(capture.clone());
    let rt = TestRuntime::new();
    let health = Health::new(rt.handle());
    let check = || async {
        tracing::info!("pinging the database");
        CheckOutcome::healthy()
    };
    health.register(Check::new("db", check)).unwrap();
    rt.block_on(health.refresh());
    assert_eq!(capture.scope_of("pinging the database"), ["check{name=db}"]);
}

#[test]
fn a_users_event_inside_a_lifespan_step_carries_the_steps_name() {
    let capture = Capture::default();
    let _default = tracing::subscriber::set_default(capture.clone());
    let rt = TestRuntime::new();
    let lifespan = Lifespan::new(rt.handle(), Shutdown::new());
    let start = async {
        tracing::info!("connecting");
        Ok::<_, String>(())
    };
    let stop = |()| async {
        tracing::info!("closing");
    };
    rt.block_on(lifespan.start("pool", start, stop)).unwrap();
    rt.block_on(lifespan.teardown());
    assert_eq!(
        capture.scope_of("connecting"),
        ["lifespan_step{name=pool phase=start}"]
    );
    assert_eq!(
        capture.scope_of("closing"),
        ["lifespan_step{name=pool phase=stop}"]
    );
}
