//! The log of last resort: with no `tracing` subscriber installed,
//! [`Lifecycle::run`](super::Lifecycle::run) installs this one, so that the
//! service's warnings and errors (a failed task, a restart, an escalation, a
//! check turning unhealthy, a failed startup) still reach stderr.
//!
//! It writes WARN and ERROR events only, one line each (`WARN target:
//! message key=value ...`), and nothing of spans. A program that installs
//! its own subscriber before `run` never sees it.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// Installs [`Stderr`] as the global subscriber when none is set; returns
/// whether it did (then WARN and ERROR events go to stderr).
pub(super) fn install_if_unset() -> bool {
    !tracing::dispatcher::has_been_set() && tracing::subscriber::set_global_default(Stderr).is_ok()
}

/// WARN and ERROR events to stderr, one line each.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stderr;

impl Stderr {
    fn wanted(level: &Level) -> bool {
        // Levels compare by verbosity: ERROR < WARN < INFO.
        *level <= Level::WARN
    }
}

impl Subscriber for Stderr {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.is_event() && Self::wanted(metadata.level()) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && Self::wanted(metadata.level())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::WARN)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Spans are disabled above; an id is still owed to the caller.
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut line = Line::default();
        event.record(&mut line);
        let text = format!(
            "{:>5} {}: {}{}\n",
            meta.level(),
            meta.target(),
            line.message,
            line.fields
        );
        // One write, so that lines from several threads do not interleave;
        // a closed stderr is no reason to fail the service.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event's message and its other fields, as `key=value`.
#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warn_and_error_events_are_wanted_info_is_not() {
        assert!(Stderr::wanted(&Level::ERROR));
        assert!(Stderr::wanted(&Level::WARN));
        assert!(!Stderr::wanted(&Level::INFO));
        assert!(!Stderr::wanted(&Level::DEBUG));
    }

    #[test]
    fn a_line_holds_the_message_then_the_fields() {
        let dispatch = tracing::Dispatch::new(Capture::default());
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::warn!(task = "consumer", error = %"refused", "task failed");
        });
        let capture = dispatch.downcast_ref::<Capture>().unwrap();
        assert_eq!(
            *capture.0.lock().unwrap(),
            ["task failed task=consumer error=refused"]
        );
    }

    /// Records lines as `Stderr` builds them, instead of writing them.
    #[derive(Default)]
    struct Capture(std::sync::Mutex<Vec<String>>);

    impl Subscriber for Capture {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            Stderr.enabled(metadata)
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut line = Line::default();
            event.record(&mut line);
            self.0
                .lock()
                .unwrap()
                .push(format!("{}{}", line.message, line.fields));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}
