//! Spans on every runtime: a user's event inside a task, a check and a
//! lifespan step carries that work's name, whichever thread polls it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use steward_core::health::{Check, CheckOutcome, Health};
use steward_core::{Lifespan, Shutdown, Tasks};
use steward_tests::{conformance, Env};
use tracing::field::{Field, Visit};
use tracing::{span, Event, Metadata, Subscriber};

/// A global subscriber: spans by id, a stack of entered spans per thread,
/// and every event with the spans it was inside (outermost first).
#[derive(Default)]
struct Capture {
    spans: Mutex<(u64, HashMap<u64, String>)>,
    events: Mutex<Vec<(String, Vec<String>)>>,
}

thread_local! {
    static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={} ", field.name(), value);
    }
}

impl Subscriber for &'static Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, attrs: &span::Attributes<'_>) -> span::Id {
        let mut fields = Fields(String::new());
        attrs.record(&mut fields);
        let text = format!("{}{{{}}}", attrs.metadata().name(), fields.0.trim_end());
        let mut spans = self.spans.lock().unwrap();
        spans.0 += 1;
        let id = spans.0;
        spans.1.insert(id, text);
        span::Id::from_u64(id)
    }
    fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
    fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let stack = STACK.with(|s| s.borrow().clone());
        let scope = {
            let spans = self.spans.lock().unwrap();
            stack.iter().map(|id| spans.1[id].clone()).collect()
        };
        self.events.lock().unwrap().push((fields.0, scope));
    }
    fn enter(&self, id: &span::Id) {
        STACK.with(|s| s.borrow_mut().push(id.into_u64()));
    }
    fn exit(&self, id: &span::Id) {
        STACK.with(|s| {
            let top = s.borrow_mut().pop();
            assert_eq!(top, Some(id.into_u64()), "spans exited out of order");
        });
    }
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::default());
        tracing::subscriber::set_global_default(capture).expect("the only subscriber");
        capture
    })
}

/// The spans of the one event whose message contains `text`.
fn scope_of(text: &str) -> Vec<String> {
    let events = capture().events.lock().unwrap();
    let found: Vec<_> = events.iter().filter(|(m, _)| m.contains(text)).collect();
    assert_eq!(found.len(), 1, "{text}: {events:#?}");
    found[0].1.clone()
}

/// A name unique to this runtime's run of a scenario.
fn unique(env: &Env, what: &str) -> String {
    format!("{what}-{:?}", env.kind).to_lowercase()
}

conformance!(a_users_event_in_a_task_carries_its_name, |env| async move {
    capture();
    let tasks = Tasks::new(env.rt.clone(), Shutdown::new());
    let name = unique(&env, "mailer");
    let (clock, who) = (env.rt.clone(), name.clone());
    tasks
        .start(name.clone(), move |_stop| async move {
            tracing::info!("{who}: before the sleep");
            clock.sleep(Duration::from_millis(5)).await;
            tracing::info!("{who}: after the sleep");
        })
        .unwrap();
    tasks.close();
    tasks.wait().await;
    let want = [format!("task{{name={name}}}")];
    assert_eq!(scope_of(&format!("{name}: before the sleep")), want);
    assert_eq!(scope_of(&format!("{name}: after the sleep")), want);
});

conformance!(
    a_users_event_in_a_check_carries_its_name,
    |env| async move {
        capture();
        let health = Health::new(env.rt.clone());
        let name = unique(&env, "db");
        let who = name.clone();
        let check = move || {
            let who = who.clone();
            async move {
                tracing::info!("{who}: pinging");
                CheckOutcome::healthy()
            }
        };
        health.register(Check::new(name.clone(), check)).unwrap();
        health.refresh().await;
        let want = [format!("check{{name={name}}}")];
        assert_eq!(scope_of(&format!("{name}: pinging")), want);
    }
);

conformance!(
    a_users_event_in_a_lifespan_step_carries_its_name,
    |env| async move {
        capture();
        let lifespan = Lifespan::new(env.rt.clone(), Shutdown::new());
        let name = unique(&env, "pool");
        let (up, down) = (name.clone(), name.clone());
        let start = async move {
            tracing::info!("{up}: connecting");
            Ok::<_, String>(())
        };
        let stop = move |()| async move { tracing::info!("{down}: closing") };
        lifespan.start(name.clone(), start, stop).await.unwrap();
        lifespan.teardown().await;
        let start = [format!("lifespan_step{{name={name} phase=start}}")];
        assert_eq!(scope_of(&format!("{name}: connecting")), start);
        let stop = [format!("lifespan_step{{name={name} phase=stop}}")];
        assert_eq!(scope_of(&format!("{name}: closing")), stop);
    }
);
