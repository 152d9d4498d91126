//! The straggler event: a guard dropped after the trigger is a `tracing`
//! debug event.
//!
//! A test binary of its own, with this one test: `tracing` caches each
//! callsite's interest process-wide, and another test firing the same
//! callsite on another thread with no subscriber could cache "never" while
//! this test's scoped subscriber is being set up (it flaked in CI that way).

use std::sync::{Arc, Mutex};

use steward_core::{Reason, Shutdown};

/// Records the message and fields of every event.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<String>>,
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0 += &format!("{}={:?} ", field.name(), value);
            }
        }
        let mut fields = Fields(format!("{} ", event.metadata().target()));
        event.record(&mut fields);
        self.events.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_guard_dropped_after_the_trigger_is_a_debug_event() {
    let recorder = Arc::new(Recorder::default());
    tracing::subscriber::with_default(Arc::clone(&recorder), || {
        let shutdown = Shutdown::new();
        drop(shutdown.guard()); // before the trigger: not a straggler
        let straggler = shutdown.child().guard();
        let line = straggler.location().line();
        shutdown.trigger(Reason::Requested);
        drop(straggler);
        let events = recorder.events.lock().unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert!(
            events[0].starts_with("steward_core::shutdown "),
            "{events:?}"
        );
        assert!(
            events[0].contains("shutdown guard released after the trigger"),
            "{events:?}"
        );
        assert!(events[0].contains(&format!(":{line}:")), "{events:?}");
        assert!(events[0].contains("held=Some("), "{events:?}");
    });
}
