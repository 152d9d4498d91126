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
use steward_core::http::{Endpoints, Request};
use steward_core::testing::TestRuntime;
use steward_core::{App, Context, Reason, Restart};

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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The startup of the scripted service: a resource, four tasks, three
/// checks, probe answers; then 5 s of running and a trigger.
async fn script(cx: Context) -> Result<(), BoxError> {
    let clock = cx.runtime().clone();
    // A resource: 3 s to start, 1 s to stop.
    let (up, down) = (clock.clone(), clock.clone());
    let start = async move {
        up.sleep(3 * SEC).await;
        Ok::<_, String>(())
    };
    let stop = move |()| async move { down.sleep(SEC).await };
    cx.lifespan().start("db-pool", start, stop).await?;
    // Completes on its own after 1 s.
    cx.tasks().start("once", move |_stop| async move {
        clock.sleep(SEC).await;
    })?;
    // Runs until stopped.
    cx.tasks()
        .start("worker", |stop| async move { stop.triggered().await })?;
    // Fails twice, then runs until stopped.
    let attempts = Arc::new(AtomicUsize::new(0));
    let policy = Restart::on_failure().jitter(0.0);
    cx.tasks().supervise("flaky", policy, move |stop| {
        let n = attempts.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < 2 {
                return Err("refused");
            }
            stop.triggered().await;
            Ok(())
        }
    })?;
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
    // Before ready: /readyz answers 503; /livez 200.
    let endpoints = Endpoints::new(cx.probes().clone());
    assert_eq!(
        endpoints.respond(&Request::get("/readyz")).await.status(),
        503
    );
    assert_eq!(
        endpoints.respond(&Request::get("/livez")).await.status(),
        200
    );
    assert_eq!(
        endpoints.respond(&Request::get("/livez")).await.status(),
        200
    );
    cx.runtime().sleep(5 * SEC).await;
    cx.shutdown().trigger(Reason::Requested);
    Ok(())
}

#[test]
fn a_scripted_lifecycle_records_tasks_checks_probes_and_phases() {
    let values = Values::default();
    let rt = TestRuntime::new();
    let app = App::new().grace(10 * SEC).pre_stop(SEC);
    let report =
        metrics::with_local_recorder(&values, || rt.block_on(app.serve(rt.handle(), script)));
    assert_eq!(report.exit_code(), 1, "{report}"); // `stuck` was aborted

    // Lifecycle, on the virtual clock: 3 s lifespan start + 2 s checks + 5 s
    // sleep; then 1 s pre-stop, the tasks until the grace minus the
    // teardown's reserve (a fifth: 2 s), and 1 s of teardown.
    assert_eq!(values.get("steward_lifecycle_phase{}"), Some(2.0));
    assert_eq!(values.get("steward_startup_duration_seconds{}"), Some(10.0));
    let drain = |phase: &str| {
        values.get(&format!(
            "steward_shutdown_duration_seconds{{phase={phase}}}"
        ))
    };
    assert_eq!(drain("pre_stop"), Some(1.0));
    assert_eq!(drain("tasks"), Some(7.0));
    assert_eq!(drain("teardown"), Some(1.0));
    let step = |phase: &str| {
        values.samples(&format!(
            "steward_lifespan_step_duration_seconds{{phase={phase},step=db-pool}}"
        ))
    };
    assert_eq!(step("start"), [3.0]);
    assert_eq!(step("stop"), [1.0]);
    let answers = |probe: &str, code: u16| {
        values.get(&format!(
            "steward_probe_responses_total{{code={code},probe={probe}}}"
        ))
    };
    assert_eq!(answers("readyz", 503), Some(1.0));
    assert_eq!(answers("livez", 200), Some(2.0));

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
