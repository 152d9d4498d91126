use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use steward_core::runtime::Sleep;
use steward_core::RuntimeHandle;

/// hyper's [`Timer`](hyper::rt::Timer) on steward's runtime contract: the
/// header-read timeout runs on whatever runtime the [`RuntimeHandle`] wraps.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// use steward_hyper::RuntimeTimer;
///
/// let rt = steward_core::testing::TestRuntime::new();
/// let timer = RuntimeTimer::new(rt.handle());
/// rt.block_on(timer.sleep(Duration::from_secs(30)));
/// assert_eq!(rt.elapsed(), Duration::from_secs(30));
/// ```
#[derive(Clone)]
pub struct RuntimeTimer {
    rt: RuntimeHandle,
}

impl RuntimeTimer {
    /// A timer sleeping on `rt`.
    ///
    /// # Examples
    ///
    /// See [`RuntimeTimer`].
    #[must_use]
    pub fn new(rt: RuntimeHandle) -> Self {
        Self { rt }
    }
}

impl hyper::rt::Timer for RuntimeTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(RuntimeSleep(Mutex::new(self.rt.sleep(duration))))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(RuntimeSleep(Mutex::new(self.rt.sleep_until(deadline))))
    }

    fn now(&self) -> Instant {
        self.rt.now()
    }
}

impl fmt::Debug for RuntimeTimer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeTimer").finish_non_exhaustive()
    }
}

/// hyper wants its sleeps `Sync`; steward's are only `Send`. The mutex is
/// never contended: only the one task polling the sleep locks it.
struct RuntimeSleep(Mutex<Sleep>);

impl Future for RuntimeSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut sleep = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Pin::new(&mut *sleep).poll(cx)
    }
}

impl hyper::rt::Sleep for RuntimeSleep {}
