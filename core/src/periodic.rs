//! Periodic jobs: [`Periodic`], run by [`Tasks::every`] and [`Tasks::periodic`].
//!
//! A periodic job is a named task whose body is a schedule loop: wait for the
//! next tick (or the stop signal, whichever comes first), run the job once,
//! pick the next tick by the missed-tick policy. Runs are awaited one after
//! the other, so they never overlap.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::tasks::{attempt, Control, Inner, Rng};
use crate::{Exit, StartError, TaskOutput, Tasks};

/// When the first run of a [`Periodic`] job happens.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use steward_core::{FirstRun, Periodic};
///
/// let hourly = Periodic::new(Duration::from_secs(3600)).first_run(FirstRun::AfterInterval);
/// # drop(hourly);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FirstRun {
    /// At once (the default).
    #[default]
    Now,
    /// One interval after the job is started.
    AfterInterval,
}

/// What a [`Periodic`] job does about ticks it missed because a run took
/// longer than the interval.
///
/// With a 100 ms interval and a first run that takes 250 ms:
///
/// | policy | next runs start at |
/// |---|---|
/// | `Delay` (default) | 250, 350, 450 ms: at once, then the interval counts from there |
/// | `Skip` | 300, 400, 500 ms: the missed ticks are dropped, the schedule kept |
/// | `Burst` | 250, then back-to-back until caught up with 300, 400 ms |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use steward_core::{MissedTick, Periodic};
///
/// let aligned = Periodic::new(Duration::from_secs(60)).missed_tick(MissedTick::Skip);
/// # drop(aligned);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum MissedTick {
    /// Run the missed ticks back-to-back to catch up.
    Burst,
    /// Drop the missed ticks; run at the next tick of the original schedule.
    Skip,
    /// Run at once, and count the next interval from this run.
    #[default]
    Delay,
}

/// The schedule of a periodic job: every `interval`, with a first-run rule,
/// a missed-tick policy, optional jitter and an optional per-run timeout.
///
/// A run that fails, panics or times out is logged, passed to the failure
/// hook ([`Tasks::on_failure`]) and the schedule goes on. The job's task
/// stops with the registry ([`Tasks::stop`], [`Tasks::shutdown`]): its stop
/// signal wakes the wait for the next tick at once; a run in progress is
/// left to finish within the grace period.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "test-util")] {
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use std::time::Duration;
/// use steward_core::{testing::TestRuntime, FirstRun, Periodic, Shutdown, Tasks};
///
/// let rt = TestRuntime::new();
/// let tasks = Tasks::new(rt.handle(), Shutdown::new());
/// let runs = Arc::new(AtomicU32::new(0));
/// let counter = runs.clone();
/// let schedule = Periodic::new(Duration::from_secs(10))
///     .first_run(FirstRun::AfterInterval)
///     .timeout(Duration::from_secs(2));
/// tasks.periodic("refresh-cache", schedule, move || {
///     counter.fetch_add(1, Ordering::SeqCst);
///     async {}
/// })?;
///
/// rt.advance(Duration::from_secs(35)); // runs at 10, 20 and 30 s
/// assert_eq!(runs.load(Ordering::SeqCst), 3);
/// let report = rt.block_on(tasks.shutdown(Duration::from_secs(1)));
/// assert_eq!(report.get("refresh-cache").unwrap().stop_took(), Some(Duration::ZERO));
/// # }
/// # Ok::<(), steward_core::StartError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Periodic {
    interval: Duration,
    first: FirstRun,
    missed: MissedTick,
    jitter: Duration,
    timeout: Option<Duration>,
}

impl Periodic {
    /// Every `interval`: first run now, missed ticks delayed, no jitter, no timeout.
    ///
    /// # Panics
    ///
    /// If `interval` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// let every_second = steward_core::Periodic::new(std::time::Duration::from_secs(1));
    /// # drop(every_second);
    /// ```
    #[must_use]
    pub const fn new(interval: Duration) -> Self {
        assert!(!interval.is_zero(), "a periodic interval must not be zero");
        Self {
            interval,
            first: FirstRun::Now,
            missed: MissedTick::Delay,
            jitter: Duration::ZERO,
            timeout: None,
        }
    }

    /// When the first run happens.
    ///
    /// # Examples
    ///
    /// See [`FirstRun`].
    #[must_use]
    pub const fn first_run(mut self, first: FirstRun) -> Self {
        self.first = first;
        self
    }

    /// What to do about missed ticks.
    ///
    /// # Examples
    ///
    /// See [`MissedTick`].
    #[must_use]
    pub const fn missed_tick(mut self, policy: MissedTick) -> Self {
        self.missed = policy;
        self
    }

    /// Starts each run up to `max` late, at random, so that many instances do
    /// not hit a shared dependency in step. The schedule itself does not drift.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let spread = steward_core::Periodic::new(Duration::from_secs(60)).jitter(Duration::from_secs(5));
    /// # drop(spread);
    /// ```
    #[must_use]
    pub const fn jitter(mut self, max: Duration) -> Self {
        self.jitter = max;
        self
    }

    /// Gives each run at most `limit`; a run that takes longer is dropped and
    /// reported as failed.
    ///
    /// # Examples
    ///
    /// See [`Periodic`].
    #[must_use]
    pub const fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The schedule loop, run as a named task's body.
    async fn run<F, Fut>(self, inner: Arc<Inner>, control: Arc<Control>, mut job: F) -> Exit
    where
        F: FnMut() -> Fut,
        Fut: Future,
        Fut::Output: TaskOutput,
    {
        let rt = &inner.rt;
        let mut rng = Rng::new(&control.name);
        let mut next = rt.now()
            + match self.first {
                FirstRun::Now => Duration::ZERO,
                FirstRun::AfterInterval => self.interval,
            };
        loop {
            let wake = next + self.jitter.mul_f64(rng.next_unit());
            if wake > rt.now() {
                let tick = control.stop.run_until_triggered(rt.sleep_until(wake));
                if tick.await.is_none() {
                    return Exit::Stopped;
                }
            } else if control.stop.is_triggered() {
                return Exit::Stopped;
            }
            // The job is called inside the attempt's first poll, so that a
            // panic in the call is caught like one in its future.
            let one_run = async { job().await };
            match self.timeout {
                None => {
                    attempt(&inner, &control, one_run).await;
                }
                Some(limit) => {
                    let timed = rt.timeout(limit, attempt(&inner, &control, one_run));
                    if timed.await.is_err() {
                        let exit = Exit::Failed(Arc::new(RunTimedOut(limit)));
                        inner.report_failure(&control.name, &exit);
                    }
                }
            }
            next = self.next_tick(next, rt.now());
        }
    }

    /// The tick after `scheduled`, given that the last run ended at `now`.
    fn next_tick(
        &self,
        scheduled: std::time::Instant,
        now: std::time::Instant,
    ) -> std::time::Instant {
        let on_time = scheduled + self.interval;
        if on_time >= now {
            return on_time;
        }
        match self.missed {
            MissedTick::Burst => on_time,
            MissedTick::Delay => now,
            MissedTick::Skip => {
                let late = (now - on_time).as_nanos();
                let step = self.interval.as_nanos();
                let ticks = late.div_ceil(step);
                let ticks = u32::try_from(ticks).unwrap_or(u32::MAX);
                on_time + self.interval.saturating_mul(ticks)
            }
        }
    }
}

/// A periodic run that took longer than its timeout.
#[derive(Debug)]
struct RunTimedOut(Duration);

impl fmt::Display for RunTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the run timed out after {:?}", self.0)
    }
}

impl std::error::Error for RunTimedOut {}

impl Tasks {
    /// Runs `job` every `interval` as the named task `name`, with the
    /// defaults of [`Periodic::new`].
    ///
    /// # Errors
    ///
    /// As [`Tasks::start`].
    ///
    /// # Panics
    ///
    /// If `interval` is zero.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(feature = "test-util")] {
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use steward_core::{testing::TestRuntime, Shutdown, Tasks};
    ///
    /// let rt = TestRuntime::new();
    /// let tasks = Tasks::new(rt.handle(), Shutdown::new());
    /// let beats = Arc::new(AtomicU32::new(0));
    /// let counter = beats.clone();
    /// tasks.every("heartbeat", Duration::from_secs(1), move || {
    ///     counter.fetch_add(1, Ordering::SeqCst);
    ///     async {}
    /// })?;
    /// rt.advance(Duration::from_millis(2500)); // runs at 0, 1 and 2 s
    /// assert_eq!(beats.load(Ordering::SeqCst), 3);
    /// # }
    /// # Ok::<(), steward_core::StartError>(())
    /// ```
    pub fn every<F, Fut>(
        &self,
        name: impl Into<String>,
        interval: Duration,
        job: F,
    ) -> Result<(), StartError>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        self.periodic(name, Periodic::new(interval), job)
    }

    /// Runs `job` on `schedule` as the named task `name`.
    ///
    /// # Errors
    ///
    /// As [`Tasks::start`].
    ///
    /// # Examples
    ///
    /// See [`Periodic`].
    pub fn periodic<F, Fut>(
        &self,
        name: impl Into<String>,
        schedule: Periodic,
        job: F,
    ) -> Result<(), StartError>
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future + Send + 'static,
        Fut::Output: TaskOutput,
    {
        self.spawn_named(name.into(), false, move |inner, control| {
            schedule.run(inner, control, job)
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn missed_ticks_follow_the_policy() {
        let t0 = Instant::now();
        let ms = |n| Duration::from_millis(n);
        let p = |m| Periodic::new(ms(100)).missed_tick(m);
        // On time: the next tick of the schedule, whatever the policy.
        for m in [MissedTick::Burst, MissedTick::Skip, MissedTick::Delay] {
            assert_eq!(p(m).next_tick(t0, t0 + ms(30)), t0 + ms(100));
        }
        // A first run from 0 to 250 ms.
        assert_eq!(
            p(MissedTick::Burst).next_tick(t0, t0 + ms(250)),
            t0 + ms(100)
        );
        assert_eq!(
            p(MissedTick::Delay).next_tick(t0, t0 + ms(250)),
            t0 + ms(250)
        );
        assert_eq!(
            p(MissedTick::Skip).next_tick(t0, t0 + ms(250)),
            t0 + ms(300)
        );
        assert_eq!(
            p(MissedTick::Skip).next_tick(t0, t0 + ms(300)),
            t0 + ms(300)
        );
    }

    #[test]
    #[should_panic(expected = "must not be zero")]
    fn zero_interval_panics() {
        let _ = Periodic::new(Duration::ZERO);
    }
}
