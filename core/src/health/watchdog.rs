use std::fmt;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{CheckOutcome, HealthCheck};
use crate::runtime::RuntimeHandle;
use crate::sync::{lock, Mutex};

/// A liveness check that fails when the runtime stops scheduling tasks on time.
///
/// It spawns a heartbeat task that sleeps `period` again and again and
/// measures how late each sleep wakes: a runtime whose threads are blocked
/// (a synchronous call on an executor thread, a busy loop, a deadlock)
/// wakes it late, or not at all. The check is unhealthy when the worst
/// lateness seen since its previous run, or the time the next heartbeat is
/// overdue right now, passes `threshold`. So one long stall fails one run of
/// the check, and Kubernetes' failure threshold (3 probes by default)
/// decides whether that is worth a restart.
///
/// Defaults: a heartbeat every 100 ms, a threshold of 1 s. Register it
/// tagged [`LIVE`](crate::health::LIVE): a stalled runtime is what a restart fixes.
/// The heartbeat task ends once the check is dropped.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use steward_core::health::{Check, Health, StallWatchdog, Status};
/// use steward_core::testing::TestRuntime;
///
/// let rt = TestRuntime::new();
/// let health = Health::new(rt.handle());
/// let watchdog = StallWatchdog::new(&rt.handle());
/// health.register(Check::new("runtime", watchdog).live()).unwrap();
/// let report = rt.block_on(health.refresh());
/// assert_eq!(report.status(), Status::Healthy);
/// # }
/// ```
pub struct StallWatchdog {
    beat: Arc<Beat>,
    rt: RuntimeHandle,
}

struct Beat {
    period: Duration,
    threshold: Duration,
    state: Mutex<BeatState>,
}

struct BeatState {
    /// When the last heartbeat woke (or the watchdog started).
    last: Instant,
    /// The worst lateness since the check last ran.
    worst: Duration,
}

impl StallWatchdog {
    /// The default heartbeat period.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::health::StallWatchdog::DEFAULT_PERIOD.as_millis(), 100);
    /// ```
    pub const DEFAULT_PERIOD: Duration = Duration::from_millis(100);
    /// The default lateness past which the runtime counts as stalled.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::health::StallWatchdog::DEFAULT_THRESHOLD.as_secs(), 1);
    /// ```
    pub const DEFAULT_THRESHOLD: Duration = Duration::from_secs(1);

    /// Starts a heartbeat on `rt` with the default period and threshold.
    ///
    /// # Examples
    ///
    /// See [`StallWatchdog`].
    #[must_use]
    pub fn new(rt: &RuntimeHandle) -> Self {
        Self::with_limits(rt, Self::DEFAULT_PERIOD, Self::DEFAULT_THRESHOLD)
    }

    /// Starts a heartbeat on `rt` every `period` (at least 1 ms), failing
    /// when it wakes more than `threshold` late.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::time::Duration;
    /// use steward_core::health::StallWatchdog;
    ///
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let watchdog =
    ///     StallWatchdog::with_limits(&rt.handle(), Duration::from_millis(50), Duration::from_millis(500));
    /// assert_eq!(watchdog.threshold(), Duration::from_millis(500));
    /// # }
    /// ```
    #[must_use]
    pub fn with_limits(rt: &RuntimeHandle, period: Duration, threshold: Duration) -> Self {
        let beat = Arc::new(Beat {
            period: period.max(Duration::from_millis(1)),
            threshold,
            state: Mutex::new(BeatState {
                last: rt.now(),
                worst: Duration::ZERO,
            }),
        });
        rt.spawn(heartbeat(Arc::downgrade(&beat), rt.clone()));
        Self {
            beat,
            rt: rt.clone(),
        }
    }

    /// The lateness past which the check fails.
    ///
    /// # Examples
    ///
    /// See [`StallWatchdog::with_limits`].
    #[must_use]
    pub fn threshold(&self) -> Duration {
        self.beat.threshold
    }

    /// The worst lateness since the check last ran, counting a heartbeat
    /// overdue now; does not reset it.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// let rt = steward_core::testing::TestRuntime::new();
    /// let watchdog = steward_core::health::StallWatchdog::new(&rt.handle());
    /// rt.advance(std::time::Duration::from_secs(1)); // heartbeats on time
    /// assert_eq!(watchdog.lateness(), std::time::Duration::ZERO);
    /// # }
    /// ```
    #[must_use]
    pub fn lateness(&self) -> Duration {
        self.measure(false)
    }

    fn measure(&self, reset: bool) -> Duration {
        let now = self.rt.now();
        let mut state = lock(&self.beat.state);
        let overdue = now
            .saturating_duration_since(state.last)
            .saturating_sub(self.beat.period);
        let worst = state.worst.max(overdue);
        if reset {
            state.worst = Duration::ZERO;
        }
        worst
    }
}

async fn heartbeat(beat: Weak<Beat>, rt: RuntimeHandle) {
    loop {
        let Some(period) = beat.upgrade().map(|b| b.period) else {
            return;
        };
        let before = rt.now();
        rt.sleep(period).await;
        let after = rt.now();
        let late = after
            .saturating_duration_since(before)
            .saturating_sub(period);
        let Some(beat) = beat.upgrade() else {
            return;
        };
        let mut state = lock(&beat.state);
        state.last = after;
        state.worst = state.worst.max(late);
        drop(state);
        if late > beat.threshold {
            tracing::warn!(late = ?late, "runtime stall: a timer woke {late:?} late");
        }
    }
}

impl HealthCheck for StallWatchdog {
    async fn check(&self) -> CheckOutcome {
        let late = self.measure(true);
        if late > self.beat.threshold {
            CheckOutcome::unhealthy(format!(
                "runtime stalled: a heartbeat was {late:?} late (threshold {:?})",
                self.beat.threshold
            ))
        } else {
            CheckOutcome::healthy().with_details(format!("worst heartbeat lateness {late:?}"))
        }
    }
}

impl fmt::Debug for StallWatchdog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StallWatchdog")
            .field("period", &self.beat.period)
            .field("threshold", &self.beat.threshold)
            .finish_non_exhaustive()
    }
}
