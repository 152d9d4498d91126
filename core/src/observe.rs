//! Metrics, through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`): the application installs any recorder (Prometheus, StatsD,
//! OpenTelemetry) and steward's figures go to it. Without the feature the
//! recording calls are empty inline functions: nothing to pay.
//!
//! Names follow Prometheus' conventions (`_total` counters, `_seconds`
//! units). Every metric steward records:
//!
//! | Name | Kind | Labels | What |
//! |---|---|---|---|
//! | `steward_tasks_started_total` | counter | `task` | a named task started (restarts not included) |
//! | `steward_tasks_restarted_total` | counter | `task` | a supervised task restarted |
//! | `steward_tasks_ended_total` | counter | `task`, `outcome` | a named task ended: `completed`, `stopped`, `failed`, `panicked`, `aborted`, `overran` |
//! | `steward_tasks_running` | gauge | `task` | named tasks running (1 or 0 per name) |
//! | `steward_health_check_status` | gauge | `check` | the last result: 1 healthy, 0.5 degraded, 0 unhealthy |
//! | `steward_health_check_duration_seconds` | histogram | `check` | how long each run took |
//! | `steward_health_check_timeouts_total` | counter | `check` | runs that timed out |
//! | `steward_probe_responses_total` | counter | `probe`, `code` | probe answers (of checks run): `probe` is `livez`, `readyz`, `startupz` or `healthz` (also `/health`), `code` 200 or 503 |
//! | `steward_lifecycle_phase` | gauge | | 0 starting, 1 running, 2 draining |
//! | `steward_startup_duration_seconds` | gauge | | from the start to ready |
//! | `steward_shutdown_duration_seconds` | gauge | `phase` | how long each phase of the drain took: `pre_stop`, `tasks` (with the wait for guards), `teardown` |
//! | `steward_lifespan_step_duration_seconds` | histogram | `step`, `phase` | each lifespan step's start or stop (`phase` `start` / `stop`) |
//!
//! A task the shutdown gave up on (reported as abandoned: its thread is
//! blocked) has not ended: it stays in `steward_tasks_running`, and its end
//! is counted if it ever returns (as `overran`).

use std::time::Duration;

use crate::health::Status;
use crate::probes::Phase;
use crate::tasks::Exit;

/// The `outcome` label of an [`Exit`].
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn outcome(exit: &Exit) -> &'static str {
    match exit {
        Exit::Completed => "completed",
        Exit::Failed(_) => "failed",
        Exit::Panicked(_) => "panicked",
        Exit::Stopped => "stopped",
        Exit::Aborted => "aborted",
        Exit::Overran => "overran",
        // Never recorded: an abandoned task has not ended (see above).
        Exit::Abandoned => "abandoned",
    }
}

/// A named task started.
#[inline]
pub(crate) fn task_started(name: &str) {
    #[cfg(feature = "metrics")]
    {
        let task = name.to_owned();
        metrics::counter!("steward_tasks_started_total", "task" => task.clone()).increment(1);
        metrics::gauge!("steward_tasks_running", "task" => task).increment(1.0);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = name;
}

/// A supervised task restarted.
#[inline]
pub(crate) fn task_restarted(name: &str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("steward_tasks_restarted_total", "task" => name.to_owned()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = name;
}

/// A named task ended with `exit`.
#[inline]
pub(crate) fn task_ended(name: &str, exit: &Exit) {
    #[cfg(feature = "metrics")]
    {
        let task = name.to_owned();
        metrics::counter!(
            "steward_tasks_ended_total",
            "task" => task.clone(),
            "outcome" => outcome(exit),
        )
        .increment(1);
        metrics::gauge!("steward_tasks_running", "task" => task).decrement(1.0);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (name, exit);
}

/// A health check ran: its status, how long it took, whether it timed out.
#[inline]
pub(crate) fn check_ran(name: &str, status: Status, took: Duration, timed_out: bool) {
    #[cfg(feature = "metrics")]
    {
        let check = name.to_owned();
        let value = match status {
            Status::Healthy => 1.0,
            Status::Degraded => 0.5,
            Status::Unhealthy => 0.0,
        };
        metrics::gauge!("steward_health_check_status", "check" => check.clone()).set(value);
        metrics::histogram!("steward_health_check_duration_seconds", "check" => check.clone())
            .record(took.as_secs_f64());
        if timed_out {
            metrics::counter!("steward_health_check_timeouts_total", "check" => check).increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (name, status, took, timed_out);
}

/// A probe answered `code`.
#[inline]
pub(crate) fn probe_answered(endpoint: &'static str, code: u16) {
    #[cfg(feature = "metrics")]
    metrics::counter!(
        "steward_probe_responses_total",
        "probe" => endpoint,
        "code" => code.to_string(),
    )
    .increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (endpoint, code);
}

/// The service's phase.
#[inline]
pub(crate) fn phase(phase: Phase) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("steward_lifecycle_phase").set(phase as usize as f64);
    #[cfg(not(feature = "metrics"))]
    let _ = phase;
}

/// Startup took `took`.
#[inline]
pub(crate) fn startup(took: Duration) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("steward_startup_duration_seconds").set(took.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = took;
}

/// A phase of the drain (`pre_stop`, `tasks`, `teardown`) took `took`.
#[inline]
pub(crate) fn shutdown_phase(phase: &'static str, took: Duration) {
    #[cfg(feature = "metrics")]
    metrics::gauge!("steward_shutdown_duration_seconds", "phase" => phase).set(took.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (phase, took);
}

/// A lifespan step's start or stop (`phase`) took `took`.
#[inline]
pub(crate) fn lifespan_step(step: &str, phase: &'static str, took: Duration) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(
        "steward_lifespan_step_duration_seconds",
        "step" => step.to_owned(),
        "phase" => phase,
    )
    .record(took.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (step, phase, took);
}
