//! One registered check: its last result, its single-flight runs and its
//! background refresh loop.
//!
//! # Invariants
//!
//! - At most one run of a check is in flight (`State::running`); whoever
//!   wants a newer result than the last joins that run instead of starting
//!   another, so a flood of probes costs one run.
//! - A run is a task of its own on the runtime, not part of the probe that
//!   asked for it: a probe that gives up (a client hanging up) neither
//!   cancels the run nor leaves `running` set. If the runtime drops the task
//!   unfinished, its guard records a result and clears `running`.
//! - `runs` counts finished runs. A waiter notes it, listens on `done` under
//!   the state lock, and returns once it has grown; the finisher updates the
//!   state under the lock and notifies after releasing it, so no wake-up is
//!   lost.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use event_listener::Event;
use futures_lite::FutureExt;
use tracing::Instrument;

use super::check::DynCheck;
use super::{Check, CheckOutcome, CheckResult, Refresh, Status};
use crate::runtime::RuntimeHandle;
use crate::sync::{lock, Mutex};
use crate::tasks::catch::panic_message;
use crate::Shutdown;

/// A result older than this many background intervals is stale.
const STALE_AFTER_INTERVALS: u32 = 3;

pub(crate) struct Entry {
    pub(crate) name: Arc<str>,
    pub(crate) tags: Box<[String]>,
    critical: bool,
    timeout: Duration,
    refresh: Refresh,
    check: Arc<dyn DynCheck>,
    rt: RuntimeHandle,
    state: Mutex<State>,
    /// Notified (all) after each finished run.
    done: Event,
}

struct State {
    last: Option<Last>,
    running: bool,
    runs: u64,
}

struct Last {
    result: CheckResult,
    /// When the run finished, on the runtime's clock.
    at: Instant,
}

impl Entry {
    pub(crate) fn new(check: Check, rt: RuntimeHandle) -> Self {
        Self {
            name: check.name.into(),
            tags: check.tags.into_boxed_slice(),
            critical: check.critical,
            timeout: check.timeout,
            refresh: check.refresh,
            check: check.check,
            rt,
            state: Mutex::new(State {
                last: None,
                running: false,
                runs: 0,
            }),
            done: Event::new(),
        }
    }

    pub(crate) fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }

    /// The result a probe sees now: the cached one for a background check
    /// (pending or stale as the case may be), a fresh-enough one for an
    /// inline check, running it if needed.
    pub(crate) async fn current(self: Arc<Self>) -> CheckResult {
        match self.refresh {
            Refresh::Background { every } => self.cached(every),
            Refresh::Inline { cache } => self.fresh(Some(cache)).await,
        }
    }

    fn cached(&self, every: Duration) -> CheckResult {
        let now = self.rt.now();
        let state = lock(&self.state);
        let Some(last) = &state.last else {
            return self.pending();
        };
        let age = now.saturating_duration_since(last.at);
        if age > every.saturating_mul(STALE_AFTER_INTERVALS) {
            let mut stale = last.result.clone();
            stale.status = Status::Unhealthy;
            stale.error = Some(format!("stale: last run finished {age:.1?} ago"));
            return stale;
        }
        last.result.clone()
    }

    fn pending(&self) -> CheckResult {
        CheckResult {
            critical: self.critical,
            ..CheckResult::synthetic(
                Arc::clone(&self.name),
                Status::Unhealthy,
                Some("pending: not run yet".into()),
            )
        }
    }

    /// A result younger than `max_age`: the last one if it is, else that of
    /// the run in flight (joined, even if it began before this call), else
    /// that of a run this call starts. With `None`, never the last one: the
    /// next run to finish answers.
    ///
    /// Cancel-safe: dropping it leaves any run it started going.
    pub(crate) async fn fresh(self: Arc<Self>, max_age: Option<Duration>) -> CheckResult {
        let mut after = None;
        loop {
            let now = self.rt.now();
            let (listener, start) = {
                let mut state = lock(&self.state);
                if let Some(last) = &state.last {
                    let young =
                        max_age.is_some_and(|max| now.saturating_duration_since(last.at) < max);
                    let newer = after.is_some_and(|runs| state.runs > runs);
                    if young || newer {
                        return last.result.clone();
                    }
                }
                after.get_or_insert(state.runs);
                let start = !state.running;
                state.running = true;
                (self.done.listen(), start)
            };
            if start {
                self.spawn_run();
            }
            listener.await;
        }
    }

    fn spawn_run(self: &Arc<Self>) {
        let run = Run {
            entry: Some(Arc::clone(self)),
            started: self.rt.now(),
        };
        self.rt.spawn(run.execute());
    }

    async fn execute(&self) -> (CheckResult, Instant) {
        let start = self.rt.now();
        let span = tracing::info_span!("check", name = %self.name);
        let run = AssertUnwindSafe(Arc::clone(&self.check).run())
            .catch_unwind()
            .instrument(span);
        let mut timed_out = false;
        let outcome = match self.rt.timeout(self.timeout, run).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(panic)) => {
                CheckOutcome::unhealthy(format!("panicked: {}", panic_message(&*panic)))
            }
            Err(_) => {
                timed_out = true;
                CheckOutcome::unhealthy(format!("timed out after {:?}", self.timeout))
            }
        };
        let end = self.rt.now();
        let (status, error, details) = outcome.into_parts();
        let took = end.saturating_duration_since(start);
        crate::observe::check_ran(&self.name, status, took, timed_out);
        let result = CheckResult {
            name: Arc::clone(&self.name),
            critical: self.critical,
            status,
            latency: end.saturating_duration_since(start),
            error,
            details,
            checked_at: Some(SystemTime::now()),
        };
        (result, end)
    }

    fn finish(&self, result: CheckResult, at: Instant) {
        let (status, error) = (result.status, result.error.clone());
        let previous = {
            let mut state = lock(&self.state);
            let previous = state.last.as_ref().map(|l| l.result.status);
            state.last = Some(Last { result, at });
            state.running = false;
            state.runs += 1;
            previous
        };
        self.log(previous, status, error.as_deref());
        self.done.notify(usize::MAX);
    }

    /// Logs a change of status (and every failed run at debug level): the
    /// error texts that the HTTP face withholds end up here.
    fn log(&self, previous: Option<Status>, status: Status, error: Option<&str>) {
        let name = &*self.name;
        let error = error.unwrap_or("");
        if previous == Some(status) {
            if status != Status::Healthy {
                tracing::debug!(check = name, %status, error, "health check still failing");
            }
            return;
        }
        let from = previous.map_or("pending", Status::as_str);
        match status {
            Status::Healthy => {
                tracing::info!(check = name, from, "health check is healthy");
            }
            Status::Degraded | Status::Unhealthy => {
                tracing::warn!(check = name, from, %status, error, "health check is {status}");
            }
        }
    }

    /// Runs the check now, then every `every`, until `stop` is triggered or
    /// the entry is gone.
    pub(crate) fn spawn_refresh(self: &Arc<Self>, stop: Shutdown) {
        let Refresh::Background { every } = self.refresh else {
            return;
        };
        let weak = Arc::downgrade(self);
        let rt = self.rt.clone();
        self.rt.spawn(async move {
            loop {
                let Some(entry) = weak.upgrade() else {
                    return;
                };
                entry.fresh(None).await; // consumes the strong handle

                if stop.run_until_triggered(rt.sleep(every)).await.is_none() {
                    return;
                }
            }
        });
    }
}

/// One run in flight; if dropped before it finished (its runtime shut
/// down), it still records a result so that no waiter hangs.
struct Run {
    entry: Option<Arc<Entry>>,
    /// When it was spawned: the time a cancelled run is recorded at, since a
    /// runtime being torn down may not answer `now`.
    started: Instant,
}

impl Run {
    async fn execute(mut self) {
        let Some(entry) = self.entry.clone() else {
            return;
        };
        let (result, at) = entry.execute().await;
        self.entry = None;
        entry.finish(result, at);
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            let mut result = entry.pending();
            result.error = Some("cancelled: the runtime dropped the run".into());
            entry.finish(result, self.started);
        }
    }
}
