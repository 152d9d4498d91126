//! Supervision: when a named task is restarted, after how long, and when its
//! failures escalate to the service's shutdown.
//!
//! The model is Erlang/OTP's: a restart *intensity* (at most `budget`
//! restarts within `period`) past which the supervisor gives up and the
//! failure escalates. The backoff follows the same window: the `k`-th restart
//! still inside the window waits `initial · 2^k`, capped at `max`, so a task
//! that has been quiet for a whole period starts again from `initial`.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::registry::{attempt, Control, Inner};
use super::report::Exit;
use super::TaskOutput;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    Never,
    OnFailure,
    Always,
}

/// When and how a supervised task is restarted.
///
/// Three policies: [`Restart::never`], [`Restart::on_failure`] (an error or a
/// panic) and [`Restart::always`] (also after it returns `Ok`). Each restart
/// waits an exponential backoff (default 100 ms doubling up to 30 s, each
/// delay shortened by up to 10 % at random so that a fleet does not retry in
/// step). At most `budget` restarts after a failure may happen within `period` (default 5 in
/// 60 s, after Erlang/OTP); the next failure *escalates*: the service's
/// shutdown is triggered with [`Reason::TaskFailed`](crate::Reason::TaskFailed)
/// and [`Tasks::escalated`](crate::Tasks::escalated) names the task.
///
/// No restart happens once a stop was asked for, the registry is closed or
/// the service's shutdown is triggered: a sleeping backoff ends at once.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::time::Duration;
/// use steward_core::testing::TestRuntime;
/// use steward_core::{Reason, Restart, Shutdown, Tasks};
///
/// let rt = TestRuntime::new();
/// let service = Shutdown::new();
/// let tasks = Tasks::new(rt.handle(), service.clone());
/// let policy = Restart::on_failure()
///     .backoff(Duration::from_secs(1), Duration::from_secs(60))
///     .jitter(0.0) // exact delays, for this example
///     .budget(2, Duration::from_secs(60));
/// tasks
///     .supervise("flaky", policy, |_stop| async { Err::<(), _>("connection refused") })
///     .unwrap();
///
/// // Fails at 0 s, restarts at 1 s and 3 s, then escalates.
/// rt.block_on(service.triggered());
/// assert_eq!(rt.elapsed(), Duration::from_secs(3));
/// assert!(matches!(service.reason(), Some(Reason::TaskFailed { .. })));
/// assert_eq!(tasks.escalated(), ["flaky"]);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Restart {
    when: When,
    initial: Duration,
    max: Duration,
    jitter: f64,
    budget: u32,
    period: Duration,
}

impl Restart {
    const fn with(when: When) -> Self {
        Self {
            when,
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            jitter: 0.1,
            budget: 5,
            period: Duration::from_secs(60),
        }
    }

    /// Never restart: the task runs once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(steward_core::Restart::never(), steward_core::Restart::default());
    /// ```
    #[must_use]
    pub const fn never() -> Self {
        Self::with(When::Never)
    }

    /// Restart after the task returns an error or panics.
    ///
    /// # Examples
    ///
    /// See [`Restart`].
    #[must_use]
    pub const fn on_failure() -> Self {
        Self::with(When::OnFailure)
    }

    /// Restart whenever the task ends on its own, with or without an error.
    ///
    /// A clean return is the task's rhythm, not a failure: it restarts after
    /// the first backoff delay (no doubling) and does not count against the
    /// restart budget, so a poller that returns `Ok` at once runs forever.
    /// Errors and panics back off and spend the budget as with
    /// [`Restart::on_failure`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use steward_core::{testing::TestRuntime, Restart, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// let runs = Arc::new(AtomicU32::new(0));
    /// let counter = runs.clone();
    /// tasks
    ///     .supervise("tick", Restart::always().jitter(0.0), move |_stop| {
    ///         counter.fetch_add(1, Ordering::SeqCst);
    ///         async {}
    ///     })
    ///     .unwrap();
    /// rt.advance(Duration::from_millis(350)); // runs at 0, 100, 200 and 300 ms
    /// assert_eq!(runs.load(Ordering::SeqCst), 4);
    /// # }
    /// ```
    #[must_use]
    pub const fn always() -> Self {
        Self::with(When::Always)
    }

    /// The first delay and the cap of the exponential backoff.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = steward_core::Restart::on_failure()
    ///     .backoff(Duration::from_millis(10), Duration::from_secs(1));
    /// # drop(policy);
    /// ```
    #[must_use]
    pub const fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial = initial;
        self.max = max;
        self
    }

    /// The share of each delay taken off at random, between 0.0 (exact
    /// delays) and 1.0 (anywhere between zero and the delay); default 0.1.
    ///
    /// # Examples
    ///
    /// ```
    /// let exact = steward_core::Restart::on_failure().jitter(0.0);
    /// # drop(exact);
    /// ```
    #[must_use]
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self
    }

    /// At most `restarts` restarts within any `period`; past that, escalate.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let strict = steward_core::Restart::on_failure().budget(1, Duration::from_secs(300));
    /// # drop(strict);
    /// ```
    #[must_use]
    pub const fn budget(mut self, restarts: u32, period: Duration) -> Self {
        self.budget = restarts;
        self.period = period;
        self
    }

    fn restarts_after(&self, exit: &Exit) -> bool {
        match self.when {
            When::Never => false,
            When::OnFailure => matches!(exit, Exit::Failed(_) | Exit::Panicked(_)),
            When::Always => !matches!(exit, Exit::Aborted),
        }
    }

    /// The delay before the restart that follows `recent` restarts in the window.
    fn delay(&self, recent: usize, rng: &mut Rng) -> Duration {
        let factor = 1u32.checked_shl(u32::try_from(recent).unwrap_or(u32::MAX));
        let delay = factor
            .and_then(|f| self.initial.checked_mul(f))
            .map_or(self.max, |d| d.min(self.max));
        if self.jitter == 0.0 {
            return delay;
        }
        delay.mul_f64(1.0 - self.jitter * rng.next_unit())
    }
}

impl Default for Restart {
    /// [`Restart::never`].
    fn default() -> Self {
        Self::never()
    }
}

/// A small xorshift generator for jitter, seeded from std's per-process
/// random hasher keys: no dependency, and no need for cryptographic quality.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(salt: &str) -> Self {
        let mut hasher = RandomState::new().build_hasher();
        salt.hash(&mut hasher);
        Instant::now().hash(&mut hasher);
        Self(hasher.finish() | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in [0, 1).
    pub(crate) fn next_unit(&mut self) -> f64 {
        // The top 53 bits, as a fraction of 2^53: exact in an f64.
        #[allow(clippy::cast_precision_loss)]
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        unit
    }
}

impl fmt::Debug for Rng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rng").finish_non_exhaustive()
    }
}

/// Runs a supervised task: attempts, backoffs, budget and escalation.
///
/// Returns the last attempt's exit.
pub(crate) async fn supervise<F, Fut>(
    inner: Arc<Inner>,
    control: Arc<Control>,
    policy: Restart,
    mut make: F,
) -> Exit
where
    F: FnMut(crate::Shutdown) -> Fut,
    Fut: Future,
    Fut::Output: TaskOutput,
{
    let mut rng = Rng::new(&control.name);
    let mut window: VecDeque<Instant> = VecDeque::new();
    loop {
        let stop = control.stop.clone();
        // The call to `make` happens inside the attempt's first poll, so a
        // panic in it is caught like one in the future.
        let exit = attempt(&inner, &control, async { make(stop).await }).await;
        if !inner.may_restart(&control) || !policy.restarts_after(&exit) {
            return exit;
        }
        // A clean return (`Restart::always`) is the task's normal rhythm, not
        // a failure: it restarts after the first backoff step and does not
        // count against the budget, which is for failures.
        let delay = if exit.is_failure() {
            let now = inner.rt.now();
            while window
                .front()
                .is_some_and(|t| now.saturating_duration_since(*t) >= policy.period)
            {
                window.pop_front();
            }
            if window.len() >= policy.budget as usize {
                let cause = match &exit {
                    Exit::Failed(e) => e.to_string(),
                    other => other.to_string(),
                };
                let why = format!(
                    "{cause} (restart budget of {} in {:?} spent)",
                    policy.budget, policy.period
                );
                inner.escalate(&control.name, why);
                return exit;
            }
            let delay = policy.delay(window.len(), &mut rng);
            window.push_back(now);
            tracing::warn!(task = %control.name, exit = %exit, delay = ?delay, "restarting task");
            delay
        } else {
            let delay = policy.delay(0, &mut rng);
            tracing::debug!(task = %control.name, exit = %exit, delay = ?delay, "restarting task");
            delay
        };
        let sleep = inner.rt.sleep(delay);
        let stopped = futures_lite::future::or(
            async {
                sleep.await;
                false
            },
            futures_lite::future::or(
                async {
                    control.stop.triggered().await;
                    true
                },
                async {
                    inner.service.triggered().await;
                    true
                },
            ),
        )
        .await;
        // A stop (or the service's shutdown) during the backoff is a stop:
        // the failure before it was handled (it was within the budget), and
        // nothing was running when the stop came.
        if stopped || !inner.may_restart(&control) {
            return Exit::Stopped;
        }
        control.count_restart();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap() {
        let p = Restart::on_failure()
            .jitter(0.0)
            .backoff(Duration::from_millis(100), Duration::from_secs(1));
        let mut rng = Rng::new("t");
        let delays: Vec<_> = (0..6).map(|k| p.delay(k, &mut rng).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.delay(200, &mut rng), Duration::from_secs(1));
    }

    #[test]
    fn jitter_only_shortens() {
        let p = Restart::on_failure().jitter(0.5);
        let mut rng = Rng::new("t");
        for _ in 0..1000 {
            let d = p.delay(0, &mut rng);
            assert!(
                d <= Duration::from_millis(100) && d > Duration::from_millis(50),
                "{d:?}"
            );
        }
        assert_eq!(Restart::on_failure().jitter(f64::NAN).jitter, 0.0);
        assert_eq!(Restart::on_failure().jitter(7.0).jitter, 1.0);
    }

    #[test]
    fn policies_pick_what_restarts() {
        let failed = Exit::Panicked("x".into());
        assert!(!Restart::never().restarts_after(&failed));
        assert!(Restart::on_failure().restarts_after(&failed));
        assert!(!Restart::on_failure().restarts_after(&Exit::Completed));
        assert!(Restart::always().restarts_after(&Exit::Completed));
    }
}
