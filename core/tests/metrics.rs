//! The `metrics` feature: after a scripted lifecycle on the virtual-time
//! runtime, a recorder holds the task and health-check figures that
//! `steward_core::observe` documents.
#![cfg(all(feature = "metrics", feature = "test-util", not(loom)))]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use steward_core::health::{Check, CheckOutcome};
use steward_core::testing::TestRuntime;
use steward_core::{App, Reason, Restart};

/// Every value recorded, by `name{label=value,...}` (labels sorted).
#[derive(Clone, Default)]
struct Values(Arc<Mutex<BTreeMap<String, Vec<f64>>>>);

/// One metric: its key in [`Values`], and the kind of value it keeps.
struct Slot {
    key: String,
    values: Values,
}

impl Slot {
    fn update(&self, f: impl FnOnce(&mut Vec<f64>)) {
        f(self
            .values
            .0
            .lock()
            .unwrap()
            .entry(self.key.clone())
            .or_default());
    }
}

impl CounterFn for Slot {
    fn increment(&self, value: u64) {
        self.update(|v| match v.first_mut() {
            Some(total) => *total += value as f64,
            None => v.push(value as f64),
        });
    }
    fn absolute(&self, value: u64) {
        self.update(|v| *v = vec![value as f64]);
    }
}

impl GaugeFn for Slot {
    fn increment(&self, value: f64) {
        self.update(|v| match v.first_mut() {
            Some(now) => *now += value,
            None => v.push(value),
        });
    }
    fn decrement(&self, value: f64) {
        GaugeFn::increment(self, -value);
    }
    fn set(&self, value: f64) {
        self.update(|v| *v = vec![value]);
    }
}

impl HistogramFn for Slot {
    fn record(&self, value: f64) {
        self.update(|v| v.push(value));
    }
}

impl Values {
    fn slot(&self, key: &Key) -> Arc<Slot> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        Arc::new(Slot {
            key: format!("{}{{{}}}", key.name(), labels.join(",")),
            values: self.clone(),
        })
    }

    /// The one value of a counter or gauge (absent: `None`).
    fn get(&self, key: &str) -> Option<f64> {
        let values = self.0.lock().unwrap();
        values.get(key).map(|v| {
            assert_eq!(v.len(), 1, "{key}: {v:?}");
            v[0]
        })
    }

    /// Every sample of a histogram.
    fn samples(&self, key: &str) -> Vec<f64> {
        self.0.lock().unwrap().get(key).cloned().unwrap_or_default()
    }
}

impl Recorder for Values {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.slot(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.slot(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.slot(key))
    }
}

const SEC: Duration = Duration::from_secs(1);

#[test]
fn a_scripted_lifecycle_records_tasks_and_checks() {
    let values = Values::default();
    let rt = TestRuntime::new();
    let report = metrics::with_local_recorder(&values, || {
        rt.block_on(
            App::new()
                .grace(10 * SEC)
                .serve(rt.handle(), |cx| async move {
                    let clock = cx.runtime().clone();
                    // Completes on its own after 1 s.
                    cx.tasks().start("once", move |_stop| async move {
                        clock.sleep(SEC).await;
                    })?;
                    // Runs until stopped.
                    cx.tasks()
                        .start("worker", |stop| async move { stop.triggered().await })?;
                    // Fails twice, then runs until stopped.
                    let attempts = Arc::new(AtomicUsize::new(0));
                    cx.tasks().supervise(
                        "flaky",
                        Restart::on_failure().jitter(0.0),
                        move |stop| {
                            let n = attempts.fetch_add(1, Ordering::SeqCst);
                            async move {
                                if n < 2 {
                                    return Err("refused");
                                }
                                stop.triggered().await;
                                Ok(())
                            }
                        },
                    )?;
                    // Ignores its stop: aborted at the end of the grace.
                    cx.tasks()
                        .start("stuck", |_stop| futures_lite::future::pending::<()>())?;
                    let health = cx.health();
                    let db = || async { CheckOutcome::healthy() };
                    health.register(Check::new("db", db))?;
                    let replica = || async { CheckOutcome::degraded("lagging") };
                    health.register(Check::new("replica", replica))?;
                    let hung = || futures_lite::future::pending::<CheckOutcome>();
                    health.register(Check::new("hung", hung).timeout(2 * SEC))?;
                    health.refresh().await;
                    cx.runtime().sleep(5 * SEC).await;
                    cx.shutdown().trigger(Reason::Requested);
                    Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
                }),
        )
    });
    assert_eq!(report.exit_code(), 1, "{report}"); // `stuck` was aborted

    for task in ["once", "worker", "flaky", "stuck"] {
        let started = format!("steward_tasks_started_total{{task={task}}}");
        assert_eq!(values.get(&started), Some(1.0), "{task}");
        let running = format!("steward_tasks_running{{task={task}}}");
        assert_eq!(values.get(&running), Some(0.0), "{task}");
    }
    let ended = |task: &str, outcome: &str| {
        values.get(&format!(
            "steward_tasks_ended_total{{outcome={outcome},task={task}}}"
        ))
    };
    assert_eq!(ended("once", "completed"), Some(1.0));
    assert_eq!(ended("worker", "stopped"), Some(1.0));
    assert_eq!(ended("flaky", "stopped"), Some(1.0));
    assert_eq!(ended("stuck", "aborted"), Some(1.0));
    assert_eq!(
        values.get("steward_tasks_restarted_total{task=flaky}"),
        Some(2.0)
    );
    assert_eq!(
        values.get("steward_tasks_restarted_total{task=worker}"),
        None
    );

    assert_eq!(
        values.get("steward_health_check_status{check=db}"),
        Some(1.0)
    );
    assert_eq!(
        values.get("steward_health_check_status{check=replica}"),
        Some(0.5)
    );
    assert_eq!(
        values.get("steward_health_check_status{check=hung}"),
        Some(0.0)
    );
    assert_eq!(
        values.get("steward_health_check_timeouts_total{check=hung}"),
        Some(1.0)
    );
    assert_eq!(
        values.get("steward_health_check_timeouts_total{check=db}"),
        None
    );
    // Virtual time: exact durations.
    assert_eq!(
        values.samples("steward_health_check_duration_seconds{check=hung}"),
        [2.0]
    );
    assert_eq!(
        values.samples("steward_health_check_duration_seconds{check=db}"),
        [0.0]
    );
}
